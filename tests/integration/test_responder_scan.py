"""Scanners see every port open: `nmap -sS -p-` reports all 65535 ports open except the excluded ones (which the
kernel still resets: the firewall exempts them), and masscan finds every port of a range. Bounded: nmap at
--min-rate 15000 with at most 3 retries (~5 s), masscan at 5000 pps over 3000 ports."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from responder_env import Responder  # noqa: E402
from lurkertest import SENSOR_V4, Topology  # noqa: E402

EXCLUDED = {22} | set(range(8000, 8010))
# a scanner this fast is one source: lift the per-source limit (default 1000/s), keep the global one
YAML = "  exclude_ports: [22, \"8000-8009\"]\n  source_rate_limit: 1000000\n  source_burst: 100000\n"


class ScanTest(unittest.TestCase):
    engine = "raw"  # responder.engine

    def setUp(self):
        self.topo = Topology(ipv6=False)
        self.topo.up()
        self.addCleanup(self.topo.down)

    def test_nmap_all_ports_open_but_excluded(self):
        t = self.topo
        with Responder(t, engine=self.engine, responder_yaml=YAML) as r:
            # -T4 (max RTT 1.25 s) and 3 retries: on a loaded 2-core machine -T5's 300 ms RTT cap loses answers
            out = t.ns(t.attacker, "nmap", "-sS", "-p-", "-n", "-Pn", "--min-rate", "15000", "-T4",
                       "--max-retries", "3", "--host-timeout", "60s", "-oG", "-", SENSOR_V4, timeout=90).stdout
            c = r.counters()
        ports_line = re.search(r"Ports: (.*?)(\t|$)", out, re.M).group(1)
        states = {int(p.split("/")[0]): p.split("/")[1] for p in ports_line.split(", ")}
        open_ports = {p for p, s in states.items() if s == "open"}
        counts = {k: c[k] for k in ("syn_seen", "synack_sent", "pcap_drops", "port_excluded", "rate_limited_global")}
        self.assertEqual(len(open_ports), 65535 - len(EXCLUDED), "missing: %s; responder %s" % (
            sorted(set(range(1, 65536)) - EXCLUDED - open_ports)[:20], counts))
        self.assertEqual(open_ports & EXCLUDED, set())
        # nmap lists the excluded ports as closed: the kernel's RSTs for them came through the firewall
        self.assertEqual({p: states.get(p) for p in EXCLUDED}, {p: "closed" for p in EXCLUDED})
        self.assertGreaterEqual(c["port_excluded"], len(EXCLUDED))
        self.assertGreaterEqual(c["synack_sent"], 65535 - len(EXCLUDED))
        self.assertEqual(c["send_errors"], 0)

    def test_masscan_finds_every_port_of_a_range(self):
        t = self.topo
        with Responder(t, engine=self.engine, responder_yaml=YAML) as responder:
            r = t.ns(t.attacker, "masscan", "-p1-3000", "--rate", "5000", "--wait", "1", "-e", t.a_if, SENSOR_V4,
                     timeout=60, check=False)
            c = responder.counters()
        found = {int(p) for p in re.findall(r"Discovered open port (\d+)/tcp", r.stdout)}
        expected = set(range(1, 3001)) - EXCLUDED
        counts = {k: c[k] for k in ("syn_seen", "synack_sent", "pcap_drops", "port_excluded", "rate_limited_global")}
        self.assertEqual(len(found), len(expected), "missing %s; responder %s; masscan: %s" % (
            sorted(expected - found)[:20], counts, r.stderr[-300:]))
        self.assertEqual(found, expected)


class ScanTestTc(ScanTest):
    """The same with engine: tc (the BPF program answers the SYNs)."""
    engine = "tc"


if __name__ == "__main__":
    unittest.main()
