"""Helpers shared by lurker's integration tests: a two-namespace topology, processes stopped by PID, configs.

Topology (names unique per test run, so tests never collide with each other or with the demo):

    attacker netns  lk<tag>a   veth a<tag>  198.51.100.2/24  2001:db8:a::2/64
         |                                   default route onlink via the sensor
    sensor netns    lk<tag>s   veth s<tag>  203.0.113.10/24  2001:db8:5::10/64
                                             default route onlink via the attacker, so replies to *spoofed*
                                             sources reach the attacker's MAC (no ARP answer exists for them)

Offloads are off on both ends (otherwise locally generated packets are captured with partial checksums and as
64 KB super-packets) and reverse-path filtering is off. Nothing here routes anywhere but between the two namespaces.
"""
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.environ.get("LURKER_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BIN") or os.path.join(ROOT, "bin")
BUILD = os.environ.get("BUILD") or os.path.join(ROOT, "build")
DEBIAN_PY = "/usr/bin/python3"  # Debian's python, which has python3-dpkt and python3-scapy

ATTACKER_V4 = "198.51.100.2"
SENSOR_V4 = "203.0.113.10"
ATTACKER_V6 = "2001:db8:a::2"
SENSOR_V6 = "2001:db8:5::10"


def sh(*args, check=True, capture=True, timeout=60, input=None):
    """Runs a command (argv list); returns CompletedProcess. Raises with stderr on failure when check."""
    r = subprocess.run(list(args), capture_output=capture, text=True, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (r.returncode, " ".join(args), r.stdout or "",
                                                               r.stderr or ""))
    return r


def run(argv, **kw):
    """subprocess.run with the output captured as text and a five-minute timeout, unless kw says otherwise."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(argv, **kw)


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def start_logged(procs, argv, log_path, what, event="event=start "):
    """Starts argv under procs with its stderr appended to log_path; returns it once the log holds event (or it
    has exited: the caller's checks then fail on its log)."""
    with open(log_path, "a") as log:
        p = procs.start(argv, stderr=log)

    def started():
        with open(log_path) as f:
            return event in f.read() or p.poll() is not None
    wait_for(started, 15, what="%s start" % what)
    return p


class Processes:
    """Everything a test starts, stopped by PID at the end (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.procs = []

    def start(self, argv, stdout=None, stderr=None, **kw):
        p = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL, stderr=stderr or subprocess.DEVNULL,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        return p.returncode

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)
        self.procs = []


class Topology:
    def __init__(self, tag=None, ipv6=True):
        self.tag = tag or secrets.token_hex(3)
        self.attacker = "lk%sa" % self.tag
        self.sensor = "lk%ss" % self.tag
        self.a_if = "a%s" % self.tag
        self.s_if = "s%s" % self.tag
        self.ipv6 = ipv6
        self.up_done = False

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()

    def up(self):
        for ns in (self.attacker, self.sensor):
            sh("ip", "netns", "add", ns)
        self.up_done = True
        sh("ip", "link", "add", self.a_if, "netns", self.attacker, "type", "veth", "peer", "name", self.s_if,
           "netns", self.sensor)
        for ns, ifname, v4, v6, peer4, peer6 in (
                (self.attacker, self.a_if, ATTACKER_V4, ATTACKER_V6, SENSOR_V4, SENSOR_V6),
                (self.sensor, self.s_if, SENSOR_V4, SENSOR_V6, ATTACKER_V4, ATTACKER_V6)):
            self.ns(ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
            # no duplicate-address detection: otherwise IPv6 is mute for 1-2 s after the link comes up, while the
            # link-local address neighbour discovery needs is still "tentative"
            self.ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.%s.accept_dad=0" % ifname, "net.ipv6.conf.%s.dad_transmits=0" % ifname,
                    check=False)
            self.ns(ns, "ip", "link", "set", "lo", "up")
            self.ns(ns, "ip", "addr", "add", v4 + "/24", "dev", ifname)
            if self.ipv6:
                self.ns(ns, "ip", "-6", "addr", "add", v6 + "/64", "dev", ifname, "nodad")
            self.ns(ns, "ip", "link", "set", ifname, "up")
            self.ns(ns, "sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % ifname)
            self.ns(ns, "ethtool", "-K", ifname, "gro", "off", "gso", "off", "tso", "off", "tx", "off", "rx", "off",
                    check=False)
            self.ns(ns, "ip", "route", "add", "default", "via", peer4, "dev", ifname, "onlink")
            if self.ipv6:
                self.ns(ns, "ip", "-6", "route", "add", "default", "via", peer6, "dev", ifname, "onlink")

    def down(self):
        if not self.up_done:
            return
        for ns in (self.attacker, self.sensor):
            # any process still inside the namespace is a leak of the test; kill it by PID
            r = sh("ip", "netns", "pids", ns, check=False)
            for pid in (r.stdout or "").split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)
        self.up_done = False

    def ns(self, ns, *args, **kw):
        return sh("ip", "netns", "exec", ns, *args, **kw)

    def in_ns(self, ns, argv):
        """argv prefixed to run inside namespace ns (for Popen)."""
        return ["ip", "netns", "exec", ns] + list(argv)


def write_config(path, shm_name, spool, interface, addresses=(SENSOR_V4,), extra="", spool_quota=None):
    """Writes a lurker.yaml for a test. `extra` is YAML text appended verbatim (top-level keys or sections)."""
    lines = [
        "sensor_id: test-sensor",
        "log_level: debug",
        "interface: %s" % interface,
        "addresses: [%s]" % ", ".join(addresses),
        "user: \"\"",
        "keep_identity: true",
        "shm_name: %s" % shm_name,
        "spool:",
        "  directory: %s" % spool,
    ] + (["  quota: %s" % spool_quota] if spool_quota else [])
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + with_test_defaults(extra))
    return path


# Defaults of the tests, unless `extra` sets the key itself: one pcap per flow (the tests written before batches
# count files per flow; the batch tests set capturer.batch_interval), and normal scheduling, because this machine
# is shared and SCHED_IDLE would let anyone's load starve the capturer and shipper for seconds (test_privileges
# checks that the shipped default, sched_idle: true, takes effect).
TEST_DEFAULTS = {"capturer": {"batch_interval": "0", "sched_idle": "false"}, "shipper": {"sched_idle": "false"}}


def with_test_defaults(extra):
    out = extra
    for section, keys in TEST_DEFAULTS.items():
        add = ["  %s: %s" % (k, v) for k, v in keys.items() if not re.search(r"(?m)^\s+%s:" % k, extra)]
        if not add:
            continue
        m = re.search(r"(?m)^%s:[ \t]*\n" % section, out)
        if m:
            out = out[:m.end()] + "\n".join(add) + "\n" + out[m.end():]
        else:
            out = out + ("" if out.endswith("\n") or not out else "\n") + "%s:\n" % section + "\n".join(add) + "\n"
    return out


def unique_shm_name():
    return "/lurker-test-%s" % secrets.token_hex(4)


def remove_shm(name):
    try:
        os.unlink("/dev/shm/" + name.lstrip("/"))
    except FileNotFoundError:
        pass


def ctl_status_json(shm_name):
    r = sh(os.path.join(BIN, "lurker-ctl"), "--shm", shm_name, "status", "--json", check=False)
    return json.loads(r.stdout)


# tshark's -o settings that validate the IPv4 and TCP checksums (ip/tcp.checksum.status: 1 good, 0 bad)
CHECK_CHECKSUMS = ("ip.check_checksum:TRUE", "tcp.check_checksum:TRUE")


def tshark_fields(pcap, fields, display_filter=None, prefs=()):
    """Rows of the given tshark fields (list of lists of strings); prefs: tshark -o settings (CHECK_CHECKSUMS).
    Two minutes for a large pcap on a busy machine."""
    argv = ["tshark", "-n", "-r", pcap, "-T", "fields", "-E", "separator=\t"]
    for pref in prefs:
        argv += ["-o", pref]
    for f in fields:
        argv += ["-e", f]
    if display_filter:
        argv += ["-Y", display_filter]
    r = sh(*argv, timeout=120)
    return [line.split("\t") for line in r.stdout.splitlines()]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A test's HTTP stand-in: no access log; reply(code, body) sends body (str or bytes) with its length."""

    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="text/plain"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def build_fuzzers(targets):
    """build-fuzz/fuzz/TARGET for each target, by the Makefile's rules (clang, libFuzzer, ASan and UBSan)."""
    r = subprocess.run(["make", "-s", "-C", ROOT, "-j2", "FUZZ=1"] + ["build-fuzz/fuzz/" + t for t in targets],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("fuzz build failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])


def run_fuzzer(test, target, seconds, work, max_len, seeds=None):
    """A bounded libFuzzer run of build-fuzz/fuzz/TARGET on a new corpus in work, seeded from the directory seeds
    (read only) if it exists; test fails on a crash, a sanitizer report or a run that did not finish."""
    corpus = os.path.join(work, target)
    os.makedirs(corpus, exist_ok=True)
    argv = [os.path.join(ROOT, "build-fuzz", "fuzz", target), "-max_total_time=%d" % seconds, "-rss_limit_mb=1024",
            "-max_len=%d" % max_len, "-timeout=10", "-artifact_prefix=%s/" % work, corpus]
    argv += [seeds] if seeds and os.path.isdir(seeds) else []
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, env=env)
    test.assertEqual(r.returncode, 0, r.stderr[-4000:])
    test.assertNotIn("runtime error", r.stderr)
    test.assertRegex(r.stderr, r"Done \d+ runs")


class TempDir:
    def __init__(self, prefix="lurker-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class Supervisor:
    """responder, capturer and shipper under a real supervisord, as on a sensor host.

    supervisord runs in the test's own namespace; responder and capturer are started through `ip netns exec SENSOR`
    (which execs them, so supervisord still holds their PIDs) because they need the monitored interface; the
    shipper stays outside, where S3 (moto on this namespace's loopback) is reachable, as on a real host where the
    shipper uses the management path. Programs restart on their own unless `autorestart=False`. `env` is passed to
    the programs (e.g. AWS credentials for the shipper). Stopped by PID with the test's Processes."""

    IN_SENSOR_NS = ("responder", "capturer")

    PROGRAMS = ("responder", "capturer", "shipper")

    def __init__(self, topo, procs, config, work, env=None, autorestart=True, programs=PROGRAMS):
        self.topo, self.procs, self.config, self.work = topo, procs, config, work
        self.env = env or {}
        self.autorestart = autorestart
        self.programs = programs
        self.logs = os.path.join(work, "logs")
        self.conf = os.path.join(work, "supervisord.conf")
        self.proc = None

    def write_conf(self):
        os.makedirs(self.logs, exist_ok=True)
        # supervisord interpolates %(...)s in values: double every % it should keep
        env_line = ",".join('%s="%s"' % (k, v.replace('"', '').replace("%", "%%")) for k, v in self.env.items())
        sections = ["""[supervisord]
nodaemon=true
logfile=%(logs)s/supervisord.log
pidfile=%(work)s/supervisord.pid
[unix_http_server]
file=%(work)s/supervisor.sock
[supervisorctl]
serverurl=unix://%(work)s/supervisor.sock
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
""" % {"logs": self.logs, "work": self.work}]
        for name in self.programs:
            sections.append("""[program:lurker-%(name)s]
command=%(netns)s%(bin)s/lurker-%(name)s -c %(config)s
autorestart=%(restart)s
startsecs=1
startretries=1000
stopsignal=TERM
stopwaitsecs=20
redirect_stderr=true
stdout_logfile=%(logs)s/%(name)s.log
%(env)s
""" % {"name": name, "bin": BIN, "config": self.config, "logs": self.logs,
       "netns": ("ip netns exec %s " % self.topo.sensor) if name in self.IN_SENSOR_NS else "",
       "restart": "true" if self.autorestart else "false",
       "env": ("environment=" + env_line) if env_line else ""})
        with open(self.conf, "w") as f:
            f.write("\n".join(sections))

    def start(self, timeout=30):
        self.write_conf()
        self.proc = self.procs.start(["supervisord", "-c", self.conf])
        wait_for(lambda: self.status().count("RUNNING") == len(self.programs), timeout=timeout,
                 what="%d programs RUNNING under supervisord" % len(self.programs))

    def ctl(self, *args):
        return sh("supervisorctl", "-c", self.conf, *args, check=False)

    def status(self):
        return self.ctl("status").stdout

    def pid(self, name):
        r = self.ctl("pid", "lurker-" + name)
        try:
            return int(r.stdout.strip())
        except ValueError:
            return 0

    def kill9(self, name):
        pid = self.pid(name)
        if pid > 0:
            os.kill(pid, signal.SIGKILL)
        return pid

    def log(self, name):
        try:
            with open(os.path.join(self.logs, name + ".log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None:
            self.procs.stop(self.proc, timeout=60)
            self.proc = None
