"""Least privilege of the running sensor: responder, capturer and shipper under supervisord with `user: nobody`.
Each process that handles attacker bytes runs as nobody with no capabilities, no_new_privs and a seccomp filter
(what the filters refuse is tested in tests/unit/common/test_sandbox.c, Landlock's write confinement too). The responder's
root parent is the one exception by design: it holds no socket and only removes the firewall rules at exit."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402


def status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def sockets(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


class PrivilegesTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="lurker-priv-")
        os.chmod(self.work, 0o755)
        self.procs = lt.Processes()
        self.topo = lt.Topology()
        self.topo.up()
        self.shm = lt.unique_shm_name()
        self.config = os.path.join(self.work, "lurker.yaml")
        lt.write_config(self.config, self.shm, os.path.join(self.work, "spool"), self.topo.s_if, extra="""
queue_slots: 64
capturer:
  sched_idle: true
shipper:
  storage: local
  archive_dir: %s
  sched_idle: true
""" % os.path.join(self.work, "archive"))
        with open(self.config) as f:
            text = f.read().replace('user: ""', "user: nobody")
        with open(self.config, "w") as f:
            f.write(text)
        self.sup = lt.Supervisor(self.topo, self.procs, self.config, self.work)

    def tearDown(self):
        self.sup.stop()
        self.procs.stop_all()
        self.topo.down()
        lt.remove_shm(self.shm)
        shutil.rmtree(self.work, ignore_errors=True)

    def assert_confined(self, name, pid):
        st = status(pid)
        self.assertNotEqual(st["Uid"].split()[0], "0", "%s runs as root" % name)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(int(st[cap], 16), 0, "%s keeps %s %s" % (name, cap, st[cap]))
        self.assertEqual(st["NoNewPrivs"], "1", name)
        self.assertEqual(st["Seccomp"], "2", "%s has no seccomp filter" % name)

    def policies(self, pid):
        """The scheduling policy of every thread of pid (0 SCHED_OTHER, 5 SCHED_IDLE)."""
        out = set()
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/sched" % (pid, tid)) as f:
                out.update(int(line.split(":")[1]) for line in f if line.startswith("policy"))
        return out

    def test_capturer_and_shipper_yield_the_cpu_to_the_responder(self):
        self.sup.start()
        lt.wait_for(lambda: lt.ctl_status_json(self.shm).get("healthy"), timeout=20, what="healthy sensor")
        self.assertEqual(self.policies(self.sup.pid("capturer")), {5}, "capturer threads not all SCHED_IDLE")
        self.assertEqual(self.policies(self.sup.pid("shipper")), {5}, "shipper threads not all SCHED_IDLE")
        self.assertEqual(self.policies(children(self.sup.pid("responder"))[0]), {0}, "responder not SCHED_OTHER")

    def test_every_process_runs_unprivileged_and_confined(self):
        self.sup.start()
        lt.wait_for(lambda: lt.ctl_status_json(self.shm).get("healthy"), timeout=20, what="healthy sensor")
        self.assert_confined("shipper", self.sup.pid("shipper"))
        parent = self.sup.pid("responder")
        workers = children(parent)
        self.assertEqual(len(workers), 1, "the responder's root parent has one worker")
        self.assert_confined("responder worker", workers[0])
        self.assertEqual(sockets(parent), 0, "the responder's root parent holds a socket")
        self.assert_confined("capturer", self.sup.pid("capturer"))
        # and, confined, the sensor does its job: a handshake completes and the flow reaches the archive
        r = self.topo.ns(self.topo.attacker, "nc", "-z", "-w", "2", lt.SENSOR_V4, "31337", check=False)
        self.assertEqual(r.returncode, 0, "no handshake with a confined responder")
        # counters reach the shared memory on the responder's next publication, not at once
        lt.wait_for(lambda: lt.ctl_status_json(self.shm)["counters"]["synack_sent"] >= 1, timeout=5,
                    what="synack_sent counted")


if __name__ == "__main__":
    unittest.main()
