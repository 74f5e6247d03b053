"""Starting lurker-responder in a test topology, and reading what it did (integration tests and the benchmark)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from lurkertest import (BIN, BUILD, DEBIAN_PY, SENSOR_V4, Processes, TempDir, Topology,  # noqa: E402
                        ctl_status_json, remove_shm, sh, start_logged, unique_shm_name, wait_for, write_config)

HELPERS = os.path.dirname(os.path.abspath(__file__))
SYNPROBE = os.path.join(HELPERS, "responder_synprobe.py")
SYNFLOOD = os.path.join(BUILD, "helpers", "responder_synflood")


class Responder:
    """lurker-responder in the sensor namespace of topology `topo`, stopped (SIGTERM, by PID) on exit.
    engine: responder.engine (raw, tc or auto)."""

    def __init__(self, topo, addresses=(SENSOR_V4,), responder_yaml="", user='""', engine="raw"):
        self.topo = topo
        self.addresses = addresses
        self.responder_yaml = "  engine: %s\n" % engine + responder_yaml
        self.user = user
        self.procs = Processes()
        self.tmp = TempDir()
        self.shm = unique_shm_name()
        self.proc = None

    def __enter__(self):
        d = self.tmp.__enter__()
        extra = "responder:\n" + self.responder_yaml if self.responder_yaml else ""
        self.config = write_config(os.path.join(d, "lurker.yaml"), self.shm, d, self.topo.s_if,
                                   addresses=self.addresses, extra=extra)
        if self.user != '""':
            with open(self.config) as f:
                text = f.read().replace('user: ""', "user: %s" % self.user)
            with open(self.config, "w") as f:
                f.write(text)
        self.log_path = os.path.join(d, "responder.log")  # start_beside's name for it
        self.start()
        return self

    def start(self):
        self.proc = self.start_beside("responder")
        if self.proc.poll() is not None:
            raise AssertionError("responder exited: %s" % self.log_text())

    def start_beside(self, program, procs=None, in_sensor_ns=True, log_name=None):
        """lurker-PROGRAM on this responder's configuration (in the sensor namespace unless in_sensor_ns is false),
        logging to LOG_NAME (default PROGRAM.log) beside it; returns once it has logged its start."""
        argv = [os.path.join(BIN, "lurker-" + program), "-c", self.config]
        argv = self.topo.in_ns(self.topo.sensor, argv) if in_sensor_ns else argv
        log_path = os.path.join(os.path.dirname(self.config), (log_name or program) + ".log")
        return start_logged(procs or self.procs, argv, log_path, program)

    def stop(self):
        return self.procs.stop(self.proc)

    def __exit__(self, *exc):
        self.procs.stop_all()
        remove_shm(self.shm)
        self.tmp.__exit__(*exc)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def worker_pid(self):
        """The unprivileged worker: the child of the supervisor (whose pid `ip netns exec` took over)."""
        r = sh("pgrep", "-P", str(self.proc.pid), check=False)
        pids = [int(p) for p in r.stdout.split()]
        return pids[0] if pids else None

    def counters(self, settle=0.6):
        time.sleep(settle)  # the worker publishes its counters every 250 ms
        return ctl_status_json(self.shm)["counters"]

    def nft_ruleset(self):
        return self.topo.ns(self.topo.sensor, "nft", "list", "ruleset").stdout


class SensorRun:
    """A unittest.TestCase mixin for a sensor run shared by a class's tests: an IPv4 topology and cls.procs are set
    up, then the class's run_sensor() (which calls start_responder and starts what else it needs); everything is
    stopped and removed after the class's tests, or at once if run_sensor fails."""
    responder = None

    @classmethod
    def setUpClass(cls):
        cls.topo = Topology(ipv6=False)
        cls.topo.up()
        cls.procs = Processes()
        try:
            cls.run_sensor()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_responder(cls, **kw):
        """The responder (Responder's arguments); cls.spool is its directory, which holds the spool too."""
        cls.responder = Responder(cls.topo, **kw)
        cls.responder.__enter__()
        cls.spool = os.path.dirname(cls.responder.config)
        return cls.responder

    @classmethod
    def spool_pcaps(cls):
        return sorted(os.path.join(cls.spool, n) for n in os.listdir(cls.spool) if n.endswith(".pcap"))

    @classmethod
    def tearDownClass(cls):
        cls.procs.stop_all()
        if cls.responder:
            cls.responder.__exit__(None, None, None)
        cls.topo.down()


def wait_ipv6_ready(topo):
    """Neighbour discovery between the namespaces works only once the link-local addresses have left DAD (~1-2 s
    after link-up); before that the first IPv6 packets queue for a neighbour that never resolves and are dropped."""
    def settled():
        return all("tentative" not in topo.ns(ns, "ip", "-6", "addr", "show", "dev", ifname).stdout
                   for ns, ifname in ((topo.attacker, topo.a_if), (topo.sensor, topo.s_if)))
    wait_for(settled, 10, interval=0.1, what="IPv6 link-local DAD")


def probe(topo, dst, port, optset, sport=None):
    """One SYN with the named option set from the attacker; the answer's fields (see responder_synprobe.py)."""
    return probes(topo, dst, port, [optset], sport)[0]


def probes(topo, dst, port, optsets, sport=None):
    """One SYN per option set (one scapy start for all); the answers in order."""
    import json
    argv = [DEBIAN_PY, SYNPROBE, dst, str(port), ",".join(optsets)] + ([str(sport)] if sport else [])
    return [json.loads(line) for line in topo.ns(topo.attacker, *argv, timeout=60).stdout.splitlines()]


def flood(topo, dst, count, rate, source=None, spoof=None, ports="1-65535", wait_ms=800):
    import json
    argv = [SYNFLOOD, "-i", topo.a_if, "-d", dst, "-n", str(count), "-r", str(rate), "-p", ports, "-w", str(wait_ms)]
    argv += ["-S", spoof] if spoof else ["-s", source]
    return json.loads(topo.ns(topo.attacker, *argv, timeout=120).stdout)


class Capture:
    """tcpdump writing a pcap in a namespace until stopped."""

    def __init__(self, topo, ns, ifname, path, bpf="tcp"):
        self.procs = Processes()
        self.path = path
        # --immediate-mode: packets of the last second are not left in a kernel block that SIGTERM discards
        argv = ["tcpdump", "-i", ifname, "-U", "--immediate-mode", "-n", "-w", path, bpf]
        self.p = self.procs.start(topo.in_ns(ns, argv), stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(path), 5, what="tcpdump start")
        time.sleep(0.3)

    def stop(self):
        time.sleep(0.3)
        self.procs.stop_all()
