"""lurker-ctl against a real segment: the process table, health verdicts and exit codes, JSON, and Prometheus
output checked by the real promtool."""
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402

CTL = os.path.join(lt.BIN, "lurker-ctl")
FIXTURE = os.path.join(lt.BUILD, "helpers", "shm_fixture")


def ctl(shm, *args):
    return subprocess.run([CTL, "--shm", shm] + list(args), capture_output=True, text=True, timeout=10)


class CtlTest(unittest.TestCase):
    def setUp(self):
        self.shm = lt.unique_shm_name()
        self.procs = lt.Processes()

    def tearDown(self):
        self.procs.stop_all()
        lt.remove_shm(self.shm)

    def fixture(self, processes, *counters):
        p = self.procs.start([FIXTURE, self.shm, processes] + list(counters), stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.readline().strip(), b"ready")
        return p

    def assert_reset_removes_the_segment(self):
        r = ctl(self.shm, "reset")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists("/dev/shm" + self.shm))

    def test_no_segment_exits_3(self):
        r = ctl(self.shm, "status")
        self.assertEqual(r.returncode, 3)
        self.assertIn("shared memory %s: No such file or directory" % self.shm, r.stderr)

    def test_all_alive_is_healthy_and_counters_are_shown(self):
        self.fixture("responder,capturer,shipper", "synack_sent=12345", "flows_open=7", "oldest_age=3")
        r = ctl(self.shm, "status")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"responder\s+\d+\s+yes\s+\d+\.\ds ago\s+ok")
        self.assertRegex(r.stdout, r"synack_sent\s+12345")
        j = json.loads(ctl(self.shm, "status", "--json").stdout)
        self.assertTrue(j["healthy"])
        self.assertEqual(j["counters"]["synack_sent"], 12345)
        self.assertEqual(j["counters"]["flows_open"], 7)
        self.assertTrue(all(p["alive"] for p in j["processes"].values()))

    def test_dead_process_is_unhealthy(self):
        self.fixture("responder,shipper")
        capturer = self.fixture("capturer")
        self.assertEqual(ctl(self.shm, "status").returncode, 0)
        self.procs.stop(capturer, sig=9)
        r = ctl(self.shm, "status")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"capturer\s+\d+\s+no\s+.*DEAD")
        j = json.loads(ctl(self.shm, "status", "--json").stdout)
        self.assertFalse(j["healthy"])
        self.assertFalse(j["processes"]["capturer"]["alive"])
        self.assertTrue(j["processes"]["responder"]["healthy"])

    def test_never_started_process_is_unhealthy(self):
        self.fixture("responder,capturer")
        r = ctl(self.shm, "status")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"shipper\s+0\s+no\s+never\s+never started")

    def test_old_backlog_is_unhealthy(self):
        self.fixture("responder,capturer,shipper", "oldest_age=1000")
        self.assertEqual(ctl(self.shm, "status").returncode, 1)
        self.assertEqual(ctl(self.shm, "--max-backlog-age", "2000", "status").returncode, 0)

    def test_prometheus_output_parses_with_promtool(self):
        self.assertTrue(shutil.which("promtool"), "promtool (Debian prometheus) not installed")
        self.fixture("responder,capturer,shipper", "syn_seen=99", "kernel_drops=2", "backlog=4")
        r = ctl(self.shm, "status", "--prometheus")
        self.assertEqual(r.returncode, 0)
        self.assertIn('lurker_syn_seen_total{process="responder"} 99', r.stdout)
        self.assertIn('lurker_backlog{process="shipper"} 4', r.stdout)
        self.assertIn('lurker_process_up{process="capturer"} 1', r.stdout)
        self.assertIn("lurker_healthy{} 1", r.stdout)
        check = subprocess.run(["promtool", "check", "metrics"], input=r.stdout, capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_reset_refuses_while_a_process_lives(self):
        p = self.fixture("shipper")
        r = ctl(self.shm, "reset")
        self.assertEqual(r.returncode, 1)
        self.assertIn("shipper (pid %d) is still running" % p.pid, r.stderr)
        self.procs.stop(p, sig=9)
        self.assert_reset_removes_the_segment()

    def test_a_segment_planted_by_another_user_is_refused_and_reset_removes_it(self):
        # /dev/shm is world-writable: nobody creates the name first, a complete lurker segment
        p = self.procs.start(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", FIXTURE, self.shm,
                              "responder,capturer,shipper"], stdout=subprocess.PIPE)
        self.assertEqual(p.stdout.readline().strip(), b"ready")
        self.assertEqual(os.stat("/dev/shm" + self.shm).st_uid, 65534)
        r = ctl(self.shm, "status")
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("belongs to uid 65534 (nobody)", r.stderr)
        self.assertIn("rm /dev/shm" + self.shm, r.stderr)
        self.procs.stop(p)
        self.assert_reset_removes_the_segment()

    def test_a_made_up_pid_does_not_block_reset_for_ever(self):
        p = self.fixture("shipper")
        self.procs.stop(p, sig=9)
        # pid 1 always exists; a slot holds {int32 pid, u64 started_ns, u64 heartbeat_ns} after a 32-byte header
        slot = 32 + 24 * 2
        with open("/dev/shm" + self.shm, "r+b") as f:
            f.seek(slot)
            f.write(struct.pack("<iIQQ", 1, 0, time.time_ns(), 0))
        r = ctl(self.shm, "status")
        self.assertEqual(r.returncode, 1)
        self.assert_reset_removes_the_segment()


if __name__ == "__main__":
    unittest.main()
