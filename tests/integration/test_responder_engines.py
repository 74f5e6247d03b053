"""The tc engine sends the raw engine's SYN+ACK, field by field. The same SYN variants (option sets, odd and
malformed options, with payload, IPv4 and IPv6; IPv4 with IP options, which the tc engine leaves to the raw path) go
to a responder with engine raw, then to one with engine tc, for each persona; scapy dissects every answer. The values
that depend on the per-start key and the clock are checked against an independent oracle (SipHash-2-4 written here,
the key read from shared memory, the monotonic and unix clocks around each probe): the ISN is the SYN cookie, TSval
is the persona's clock, the IPv6 flow label is the keyed hash, the Windows IP ID counts up from its keyed start; every
other field must be identical between the engines.

The tc engine's own life cycle: kill -9 of the worker leaves no filter and no program behind; a second instance on
the same interface (another shm_name, another address) keeps answering while the first is killed; an 802.1Q-tagged
SYN, which the program leaves alone, is answered once, by the raw path; `auto` falls back
to the raw engine with a log line where the program cannot attach (a tun device has no Ethernet header), and `tc`
refuses to start there."""
import json
import os
import re
import signal
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from responder_env import HELPERS, Responder, probe, wait_ipv6_ready  # noqa: E402
from lurkertest import (ATTACKER_V4, ATTACKER_V6, BUILD, DEBIAN_PY, SENSOR_V4, SENSOR_V6, Topology, sh,  # noqa: E402
                        wait_for)

PROBE = os.path.join(HELPERS, "engine_probe.py")
SHM_KEY = os.path.join(BUILD, "helpers", "shm_key")
PORT = 4433
MASK64 = (1 << 64) - 1


def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK64


def siphash24(key, data):
    """SipHash-2-4 from the paper, independent of common/siphash.h."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [0x736f6d6570736575 ^ k0, 0x646f72616e646f6d ^ k1, 0x6c7967656e657261 ^ k0, 0x7465646279746573 ^ k1]

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & MASK64; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)  # noqa: E702
            v[2] = (v[2] + v[3]) & MASK64; v[3] = rotl(v[3], 16) ^ v[2]  # noqa: E702
            v[0] = (v[0] + v[3]) & MASK64; v[3] = rotl(v[3], 21) ^ v[0]  # noqa: E702
            v[2] = (v[2] + v[1]) & MASK64; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)  # noqa: E702

    tail = len(data) % 8
    for i in range(0, len(data) - tail, 8):
        m = struct.unpack_from("<Q", data, i)[0]
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    last = (len(data) & 0xff) << 56
    for i in range(tail):
        last |= data[len(data) - tail + i] << (8 * i)
    v[3] ^= last
    rounds(2)
    v[0] ^= last
    v[2] ^= 0xff
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def addr16(a):
    import ipaddress
    ip = ipaddress.ip_address(a)
    return ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed


def cookie(key, client, server, sport, dport, coarse):
    msg = addr16(client) + addr16(server) + struct.pack(">HH", sport, dport) + struct.pack("<I", coarse)
    return siphash24(key, msg) & 0xffffffff


def read_key(shm):
    return bytes.fromhex(sh(SHM_KEY, shm).stdout.strip())


def check_and_strip(test, key, persona, dst, probe_line):
    """Checks the key- and clock-dependent fields of one answer against the oracle, returns the rest."""
    f = dict(probe_line["reply"])
    name, sport = probe_line["name"], probe_line["sport"]
    client = ATTACKER_V6 if ":" in dst else ATTACKER_V4
    what = "%s %s %s" % (persona, dst, name)
    coarse = {int(u // 64) for u in probe_line["unix"]}
    isns = {cookie(key, client, dst, sport, PORT, c) for c in coarse}
    test.assertIn(f.pop("tcp.seq"), isns, "ISN is not the SYN cookie: " + what)
    test.assertEqual(f["tcp.ack"], (probe_line["seq"] + 1) & 0xffffffff, what)
    test.assertEqual((f.pop("ip.chksum", "ok"), f.pop("tcp.chksum")), ("ok", "ok"), what)
    uptime = siphash24(key, b"uptime")
    for opt in f["tcp.options"]:
        if opt[0] == "Timestamp":
            lo, hi = (86400000 + uptime % (59 * 86400000) + ns // 1000000 for ns in probe_line["mono_ns"])
            late = (opt[1][0] - lo) & 0xffffffff  # a 32-bit clock: compare modulo 2^32
            test.assertLessEqual(late, hi - lo, "TSval %d not in [%d, %d] mod 2^32: %s" % (opt[1][0], lo, hi, what))
            opt[1][0] = "clock"
    f["tcp.options_bytes"] = "checked above"
    if "ip6.fl" in f:
        label = cookie(key, client, dst, sport, PORT, 0xffffffff) & 0xfffff if persona == "linux" else 0
        test.assertEqual(f.pop("ip6.fl"), label, "flow label: " + what)
    elif persona == "windows":
        start = (uptime >> 32) & 0xffff
        test.assertLess((f.pop("ip.id") - start) & 0xffff, 64, "IP ID not counting from its start: " + what)
    return f


class EngineComparisonTest(unittest.TestCase):
    def setUp(self):
        self.topo = Topology()
        self.topo.up()
        self.addCleanup(self.topo.down)
        wait_ipv6_ready(self.topo)

    def answers(self, engine, persona):
        t = self.topo
        out = {}
        with Responder(t, addresses=(SENSOR_V4, SENSOR_V6), engine=engine,
                       responder_yaml="  persona: %s\n" % persona) as r:
            key = read_key(r.shm)
            for base, dst in ((30000, SENSOR_V4), (40000, SENSOR_V6)):
                lines = t.ns(t.attacker, DEBIAN_PY, PROBE, dst, str(PORT), str(base), timeout=120).stdout
                for line in lines.splitlines():
                    p = json.loads(line)
                    self.assertIsNotNone(p["reply"], "%s %s %s: no answer" % (engine, dst, p["name"]))
                    out[(dst, p["name"])] = check_and_strip(self, key, persona, dst, p)
            c = r.counters()
            self.assertEqual(c["synack_sent"], len(out), (engine, c))
            self.assertEqual(c["tc_passed"], 1 if engine == "tc" else 0, (engine, c))  # the IP-options SYN
            if engine == "tc":
                self.assertIn("event=engine_attached engine=tc", r.log_text())
        return out

    def test_tc_engine_answers_like_the_raw_engine(self):
        for persona in ("linux", "windows", "freebsd"):
            raw = self.answers("raw", persona)
            tc = self.answers("tc", persona)
            self.assertEqual(sorted(raw), sorted(tc))
            self.assertGreaterEqual(len(raw), 29)
            for variant in sorted(raw):
                self.assertEqual(tc[variant], raw[variant], "%s %s" % (persona, variant))


# one 802.1Q-tagged SYN to the sensor's MAC; prints the flags of the TCP answers seen within 2 s
VLAN_SYN = """
import sys, time
from scapy.all import AsyncSniffer, Dot1Q, Ether, IP, TCP, conf, getmacbyip, sendp
conf.verb = 0
iface, dst, mac = sys.argv[1], sys.argv[2], sys.argv[3]
sniffer = AsyncSniffer(iface=iface, filter="tcp and src host %s and src port 8085" % dst)
sniffer.start()
time.sleep(0.3)
sendp(Ether(dst=mac) / Dot1Q(vlan=7) / IP(dst=dst) / TCP(sport=43210, dport=8085, flags="S", seq=1000,
      options=[("MSS", 1460)]), iface=iface)
time.sleep(2)
print(" ".join(str(p[TCP].flags) for p in sniffer.stop()))
"""


def tc_filters(topo, ifname):
    return topo.ns(topo.sensor, "tc", "filter", "show", "dev", ifname, "ingress").stdout


def prog_ids(text):
    return re.findall(r"lurker_synack:\[(\d+)\]", text)


class EngineLifecycleTest(unittest.TestCase):
    def setUp(self):
        self.topo = Topology(ipv6=False)
        self.topo.up()
        self.addCleanup(self.topo.down)

    def test_kill9_of_the_worker_leaves_no_program_attached(self):
        t = self.topo
        with Responder(t, engine="tc") as r:
            self.assertTrue(probe(t, SENSOR_V4, 8081, "linux")["answered"])
            ids = prog_ids(tc_filters(t, t.s_if))
            self.assertEqual(len(ids), 1, tc_filters(t, t.s_if))
            self.assertEqual(sh("bpftool", "prog", "show", "id", ids[0], check=False).returncode, 0)
            os.kill(r.worker_pid(), signal.SIGKILL)
            wait_for(lambda: r.proc.poll() is not None, 10, what="supervisor exit")
            self.assertEqual(prog_ids(tc_filters(t, t.s_if)), [])
            # the kernel frees the program once nothing holds it
            wait_for(lambda: sh("bpftool", "prog", "show", "id", ids[0], check=False).returncode != 0, 5,
                     what="program freed")
            self.assertIn("event=engine_detached engine=tc", r.log_text())
            after = probe(t, SENSOR_V4, 8081, "linux")
            self.assertFalse(after["answered"] and after["flags"] == "SA", after)

    def test_a_second_instance_on_the_interface_is_independent(self):
        t = self.topo
        second = "203.0.113.11"
        t.ns(t.sensor, "ip", "addr", "add", second + "/24", "dev", t.s_if)
        with Responder(t, engine="tc") as first, Responder(t, addresses=(second,), engine="tc") as other:
            self.assertEqual(len(prog_ids(tc_filters(t, t.s_if))), 2, tc_filters(t, t.s_if))
            self.assertTrue(probe(t, SENSOR_V4, 8081, "linux")["answered"])
            self.assertTrue(probe(t, second, 8081, "linux")["answered"])
            os.kill(first.worker_pid(), signal.SIGKILL)
            wait_for(lambda: first.proc.poll() is not None, 10, what="first supervisor exit")
            self.assertEqual(len(prog_ids(tc_filters(t, t.s_if))), 1, tc_filters(t, t.s_if))
            self.assertTrue(probe(t, second, 8082, "mss_ts")["answered"])
            c = other.counters()
            self.assertEqual(c["synack_sent"], 2, c)

    def test_a_vlan_tagged_syn_is_left_to_the_raw_path(self):
        t = self.topo
        mac = t.ns(t.sensor, "cat", "/sys/class/net/%s/address" % t.s_if).stdout.strip()
        with Responder(t, engine="tc") as r:
            seen = t.ns(t.attacker, DEBIAN_PY, "-c", VLAN_SYN, t.a_if, SENSOR_V4, mac, timeout=60).stdout.split()
            c = r.counters()
        self.assertEqual(seen, ["SA"])  # one answer: user space's, through the raw socket
        self.assertEqual((c["syn_seen"], c["synack_sent"]), (1, 1), c)

    def test_auto_falls_back_and_tc_refuses_where_the_program_cannot_attach(self):
        t = self.topo
        tun = "tun" + t.tag
        t.ns(t.sensor, "ip", "tuntap", "add", "dev", tun, "mode", "tun")
        t.ns(t.sensor, "ip", "addr", "add", "192.0.2.1/24", "dev", tun)
        t.ns(t.sensor, "ip", "link", "set", tun, "up")
        t.s_if, saved = tun, t.s_if
        try:
            with Responder(t, addresses=("192.0.2.1",), engine="auto") as r:
                log = r.log_text()
                self.assertIn("event=engine_fallback engine=raw wanted=auto", log)
                self.assertIn("not an Ethernet interface", log)
                self.assertIn("event=start iface=%s engine=raw" % tun, log)
                self.assertEqual(prog_ids(tc_filters(t, tun)), [])
            with self.assertRaises(AssertionError) as refused:
                with Responder(t, addresses=("192.0.2.1",), engine="tc"):
                    pass
            self.assertIn("event=engine_failed engine=tc", str(refused.exception))
        finally:
            t.s_if = saved


if __name__ == "__main__":
    unittest.main()
