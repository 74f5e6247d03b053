"""lurker-responder with real clients: nc, curl and ssh complete handshakes on random ports and send their first
payload (seen by tcpdump in the sensor namespace), over IPv4 and IPv6; the kernel stays silent while it runs and its
rules are gone after it stops (also when the worker is killed); the worker holds no capability; two starts give
unrelated ISNs; a SYN behind IPv6 Hop-by-Hop options gets the SYN+ACK a plain one gets."""
import os
import random
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from responder_env import Capture, Responder, probe, probes, wait_ipv6_ready  # noqa: E402
from lurkertest import SENSOR_V4, SENSOR_V6, Processes, TempDir, Topology, tshark_fields, wait_for  # noqa: E402


class HandshakeTest(unittest.TestCase):
    engine = "raw"  # responder.engine

    def setUp(self):
        ipv6 = self._testMethodName.endswith("v6")
        self.topo = Topology(ipv6=ipv6)
        self.topo.up()
        self.addCleanup(self.topo.down)
        if ipv6:
            wait_ipv6_ready(self.topo)

    def test_clients_complete_handshakes_and_send_payload_v4_and_v6(self):
        t = self.topo
        with TempDir() as d, Responder(t, engine=self.engine, addresses=(SENSOR_V4, SENSOR_V6)) as r:
            cap = Capture(t, t.sensor, t.s_if, os.path.join(d, "s.pcap"))
            ports = random.sample(range(1024, 65535), 6)
            clients = Processes()  # all six at once: each waits for a server that never speaks
            for i, (dst, fam) in enumerate(((SENSOR_V4, "-4"), (SENSOR_V6, "-6"))):
                host = dst if ":" not in dst else "[%s]" % dst
                clients.start(t.in_ns(t.attacker, ["sh", "-c", "printf 'lurker-nc-%d' | timeout 2 nc %s -w 1 %s %d"
                                                   % (i, fam, dst, ports[3 * i])]))
                clients.start(t.in_ns(t.attacker, ["curl", "-s", "-m", "1", "-A", "lurker-curl-%d" % i,
                                                   "http://%s:%d/" % (host, ports[3 * i + 1])]))
                clients.start(t.in_ns(t.attacker, ["timeout", "2", "ssh", "-o", "StrictHostKeyChecking=no", "-o",
                                                   "BatchMode=yes", "-o", "ConnectTimeout=2", "-p",
                                                   str(ports[3 * i + 2]), "probe@" + dst, "true"]))
            for p in clients.procs:
                p.wait(10)
            clients.stop_all()
            cap.stop()
            c = r.counters()
            # every client's handshake completed: its first payload segment reached the sensor
            rows = tshark_fields(cap.path, ["tcp.dstport", "tcp.payload"], "tcp.len > 0")
            payload = {}
            for port, data in rows:
                payload.setdefault(int(port), b"")
                payload[int(port)] += bytes.fromhex(data.replace(":", ""))
            for i in range(2):
                self.assertIn(b"lurker-nc-%d" % i, payload.get(ports[3 * i], b""), payload)
                self.assertIn(b"GET / HTTP/1.1", payload.get(ports[3 * i + 1], b""))
                self.assertIn(b"User-Agent: lurker-curl-%d" % i, payload.get(ports[3 * i + 1], b""))
                self.assertTrue(payload.get(ports[3 * i + 2], b"").startswith(b"SSH-2.0-"), payload)
            # no RST ever left the sensor; the SYN+ACKs were ours
            rst = tshark_fields(cap.path, ["ip.src", "ipv6.src"],
                                "tcp.flags.reset == 1 && (ip.src == %s || ipv6.src == %s)" % (SENSOR_V4, SENSOR_V6))
            self.assertEqual(rst, [])
            self.assertGreaterEqual(c["synack_sent"], 6)
            self.assertEqual(c["syn_seen"], c["synack_sent"])

    def test_rules_installed_then_removed_and_kernel_rst_returns(self):
        t = self.topo
        with Responder(t, engine=self.engine, responder_yaml="  exclude_ports: [8080]\n") as r:
            rules = r.nft_ruleset()
            self.assertIn("table inet lurker_test_", rules)
            self.assertIn("tcp sport != 8080", rules)
            self.assertNotIn(" ct ", rules)
            self.assertEqual(probe(t, SENSOR_V4, 4321, "linux")["flags"], "SA")
            self.assertEqual(probe(t, SENSOR_V4, 8080, "linux")["flags"], "RA")  # excluded: the kernel's RST
            r.stop()
            self.assertNotIn("lurker", r.nft_ruleset())
            self.assertIn("event=firewall_removed", r.log_text())
        # nothing answers now but the kernel, which resets: the rules were what kept it silent
        self.assertEqual(probe(t, SENSOR_V4, 4321, "linux")["flags"], "RA")

    def test_ingress_mode_drops_before_the_kernel_and_cleans_up(self):
        t = self.topo
        with TempDir() as d, Responder(t, engine=self.engine,
                                       responder_yaml="  firewall: ingress\n  exclude_ports: [8080]\n") as r:
            rules = r.nft_ruleset()
            self.assertIn("table netdev lurker_test_", rules)
            self.assertIn('hook ingress device "%s"' % t.s_if, rules)
            cap = Capture(t, t.sensor, t.s_if, os.path.join(d, "s.pcap"))
            answers = probes(t, SENSOR_V4, 4322, ["linux", "nmap"])
            excluded = probe(t, SENSOR_V4, 8080, "nmap")
            cap.stop()
            self.assertEqual([a["flags"] for a in answers], ["SA", "SA"])
            self.assertEqual(excluded["flags"], "RA")  # the excluded port still reaches the kernel
            # the capture saw our SYN+ACKs, and no RST from the sensor but (perhaps) the excluded port's: the
            # kernel never saw the other SYNs
            synacks = tshark_fields(cap.path, ["tcp.srcport"], "tcp.flags.syn == 1 && tcp.flags.ack == 1")
            self.assertEqual(synacks, [["4322"], ["4322"]])
            rst = tshark_fields(cap.path, ["tcp.srcport"], "tcp.flags.reset == 1 && ip.src == %s" % SENSOR_V4)
            self.assertLessEqual({tuple(row) for row in rst}, {("8080",)})
            r.stop()
            self.assertNotIn("lurker", r.nft_ruleset())

    def test_shipped_nftables_file_loads_and_matches_what_lurker_installs(self):
        t = self.topo
        shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "infra", "nftables",
                               "lurker.nft")
        t.ns(t.sensor, "nft", "-f", shipped)
        loaded = t.ns(t.sensor, "nft", "list", "table", "inet", "lurker").stdout
        t.ns(t.sensor, "nft", "delete", "table", "inet", "lurker")
        with Responder(t, engine=self.engine, responder_yaml="  exclude_ports: [22]\n") as r:
            ours = r.nft_ruleset()
        # the same rules (for the IPv4 address both configure) under the instance's own table name
        v4_rules = [line.strip() for line in loaded.splitlines() if "ip saddr" in line]
        self.assertEqual(len(v4_rules), 3, loaded)
        for rule in v4_rules:
            self.assertIn(rule, ours)

    def test_rules_removed_when_the_worker_is_killed(self):
        t = self.topo
        with Responder(t, engine=self.engine) as r:
            worker = r.worker_pid()
            self.assertIsNotNone(worker)
            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: r.proc.poll() is not None, 10, what="supervisor exit")
            self.assertNotEqual(r.proc.returncode, 0)
            self.assertNotIn("lurker", r.nft_ruleset())

    def test_worker_has_no_capabilities(self):
        t = self.topo
        with Responder(t, engine=self.engine, user="nobody") as r:
            worker = r.worker_pid()
            with open("/proc/%d/status" % worker) as f:
                status = f.read()
            caps = dict(re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status, re.M))
            for name in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                self.assertEqual(int(caps[name], 16), 0, "%s=%s" % (name, caps[name]))
            uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
            self.assertEqual(set(uid), {str(__import__("pwd").getpwnam("nobody").pw_uid)})
            self.assertRegex(status, r"NoNewPrivs:\s+1")
            # the supervisor that stays root holds no socket: no attacker byte reaches it
            fds = [os.readlink("/proc/%d/fd/%s" % (r.proc.pid, fd)) for fd in os.listdir("/proc/%d/fd" % r.proc.pid)]
            self.assertEqual([f for f in fds if f.startswith("socket:")], [], fds)
            worker_fds = [os.readlink("/proc/%d/fd/%s" % (worker, fd)) for fd in os.listdir("/proc/%d/fd" % worker)]
            self.assertGreaterEqual(len([f for f in worker_fds if f.startswith("socket:")]), 2, worker_fds)
            # the tc engine's maps are mapped memory, not descriptors: neither process holds a BPF object
            self.assertEqual([f for f in fds + worker_fds if "bpf" in f], [], fds + worker_fds)
            # and it still answers after the drop
            self.assertEqual(probe(t, SENSOR_V4, 2345, "linux")["flags"], "SA")

    def test_two_starts_give_unrelated_isns(self):
        t = self.topo
        isns = []
        for _ in range(2):
            with Responder(t, engine=self.engine):
                isns.append([a["seq"] for a in probes(t, SENSOR_V4, 80, ["nmap", "linux"], sport=40000)])
        # one tuple, two SYNs per start: the same ISN within a start (a cookie), another one after a restart
        self.assertEqual(isns[0][0], isns[0][1])
        self.assertEqual(isns[1][0], isns[1][1])
        self.assertNotEqual(isns[0][0], isns[1][0])

    def test_syn_behind_hop_by_hop_options_is_answered_v6(self):
        # a host's kernel processes Hop-by-Hop options (PadN) and answers the SYN behind them; so does the responder,
        # with the reply it gives the same SYN without them (and no extension header of its own)
        t = self.topo
        with Responder(t, engine=self.engine, addresses=(SENSOR_V4, SENSOR_V6)) as r:
            plain, behind = probes(t, SENSOR_V6, 4444, ["linux", "linux+hbh"])
            self.assertTrue(plain["answered"], plain)
            self.assertTrue(behind["answered"], "no answer to a SYN behind Hop-by-Hop options")
            self.assertEqual(behind["flags"], "SA")
            self.assertEqual(behind["ack"], (behind["syn_seq"] + 1) % 2 ** 32)
            self.assertEqual((behind["sport"], behind["nh"], behind["checksum_ok"]), (4444, 6, True))
            for field in ("window", "ttl", "tc"):
                self.assertEqual(behind[field], plain[field], field)
            # the same options (our timestamp clock moved on between the two; the echoed value is the client's)
            shape = lambda a: [[n, [None, v[1]] if n == "Timestamp" else v] for n, v in a["options"]]
            self.assertEqual(shape(behind), shape(plain))
            self.assertGreaterEqual(r.counters()["synack_sent"], 2)

    def test_syn_with_ip_length_zero_is_not_answered_v4_and_v6(self):
        # a kernel drops a datagram whose IP length field says 0 (only its own TSO/BIG TCP captures look like that):
        # an answer would set lurker apart from a real host
        t = self.topo
        with Responder(t, engine=self.engine, addresses=(SENSOR_V4, SENSOR_V6)) as r:
            for dst in (SENSOR_V4, SENSOR_V6):
                plain, zero = probes(t, dst, 4445, ["linux", "linux+len0"])
                self.assertTrue(plain["answered"], "%s: %s" % (dst, plain))
                self.assertFalse(zero["answered"], "%s: a SYN with IP length 0 was answered: %s" % (dst, zero))
            self.assertGreaterEqual(r.counters()["syn_malformed"], 2)


class HandshakeTestTc(HandshakeTest):
    """The same with engine: tc (the BPF program answers the SYNs)."""
    engine = "tc"


if __name__ == "__main__":
    unittest.main()
