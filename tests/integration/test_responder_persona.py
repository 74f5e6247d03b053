"""The persona against the real thing: the sensor's own Linux kernel listens on an excluded port, lurker answers the
port next to it, and the same SYNs (seven option sets, IPv4 and IPv6) must get the same SYN+ACK from both: window,
options and their order and values (timestamp value aside: each clock is its own), TTL/hop limit, DF and IP ID.
p0f must see the same signature; with persona freebsd, p0f must name FreeBSD. tshark, on a capture of the attacker's
side, must find one SYN+ACK from lurker per SYN, each with good IP and TCP checksums."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from responder_env import Capture, Responder, probes, wait_ipv6_ready  # noqa: E402
from lurkertest import (CHECK_CHECKSUMS, SENSOR_V4, SENSOR_V6, Processes, TempDir, Topology, sh,  # noqa: E402
                        tshark_fields)

OPTSETS = ["linux", "nmap", "none", "mss_ws", "mss_sack", "mss_ts", "windows"]
KERNEL_PORT = 8080
LURKER_PORT = 8081
LISTENER = ("import socket,time\n"
            "s=socket.socket(socket.AF_INET6);s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,0)\n"
            "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('::',%d));s.listen(1024);time.sleep(60)\n"
            % KERNEL_PORT)


def comparable(answer):
    """The fields that must match; the timestamp keeps its echo and drops its own clock value."""
    opts = []
    for name, value in answer["options"]:
        if name == "Timestamp":
            value = ["tsval", value[1]]
        opts.append([name, value])
    keys = ("flags", "window", "ttl", "df", "ip_id", "tc")
    return dict({k: answer.get(k) for k in keys}, options=opts)


def p0f_servers(pcap):
    """(raw_sig, os) of every server-side (SYN+ACK) signature p0f reports, by server port."""
    out = sh("p0f", "-r", pcap, check=False).stdout.split("\n\n")
    found = {}
    for block in out:
        if "| server" not in block or "raw_sig  = 4:" not in block and "raw_sig  = 6:" not in block:
            continue
        fields = {}
        for line in block.splitlines():
            if " = " in line:
                key, value = line.strip("| ").split(" = ", 1)
                fields[key.strip()] = value.strip()
        port = int(fields["server"].rsplit("/", 1)[1])
        found[port] = (fields.get("raw_sig"), fields.get("os"))
    return found


class PersonaTest(unittest.TestCase):
    engine = "raw"  # responder.engine

    def setUp(self):
        ipv6 = self._testMethodName == "test_linux_persona_matches_the_kernel_synack"
        self.topo = Topology(ipv6=ipv6)
        self.topo.up()
        self.addCleanup(self.topo.down)
        if ipv6:
            wait_ipv6_ready(self.topo)
        self.procs = Processes()
        self.addCleanup(self.procs.stop_all)

    def test_linux_persona_matches_the_kernel_synack(self):
        t = self.topo
        self.procs.start(t.in_ns(t.sensor, ["python3", "-c", LISTENER]))
        time.sleep(0.3)
        with TempDir() as d, Responder(t, engine=self.engine, addresses=(SENSOR_V4, SENSOR_V6),
                                       responder_yaml="  exclude_ports: [%d]\n" % KERNEL_PORT):
            ours_pcap = Capture(t, t.attacker, t.a_if, os.path.join(d, "ours.pcap"), "tcp src port %d" % LURKER_PORT)
            for dst in (SENSOR_V4, SENSOR_V6):
                kernel = probes(t, dst, KERNEL_PORT, OPTSETS)
                ours = probes(t, dst, LURKER_PORT, OPTSETS)
                for optset, k, o in zip(OPTSETS, kernel, ours):
                    self.assertTrue(k["answered"] and o["answered"], (dst, optset, k, o))
                    self.assertEqual(comparable(o), comparable(k), "%s %s" % (dst, optset))
            ours_pcap.stop()
            rows = tshark_fields(ours_pcap.path, ["ip.version", "tcp.flags", "tcp.checksum.status",
                                                  "ip.checksum.status"], prefs=CHECK_CHECKSUMS)
            good = (["4", "0x0012", "1", "1"],) * len(OPTSETS) + (["6", "0x0012", "1", ""],) * len(OPTSETS)
            self.assertEqual(tuple(rows), good)
            cap = Capture(t, t.attacker, t.a_if, os.path.join(d, "a.pcap"))
            for port in (KERNEL_PORT, LURKER_PORT):
                t.ns(t.attacker, "curl", "-s", "-m", "1", "http://%s:%d/" % (SENSOR_V4, port), check=False)
            cap.stop()
            sigs = p0f_servers(cap.path)
            self.assertIn(KERNEL_PORT, sigs, sigs)
            self.assertEqual(sigs[LURKER_PORT], sigs[KERNEL_PORT])

    def test_freebsd_and_windows_personas_as_p0f_sees_them(self):
        t = self.topo
        for persona, port in (("freebsd", 8082), ("windows", 8083)):
            with TempDir() as d, Responder(t, engine=self.engine, responder_yaml="  persona: %s\n" % persona):
                cap = Capture(t, t.attacker, t.a_if, os.path.join(d, "a.pcap"))
                t.ns(t.attacker, "curl", "-s", "-m", "1", "http://%s:%d/" % (SENSOR_V4, port), check=False)
                cap.stop()
                raw_sig, os_name = p0f_servers(cap.path)[port]
                if persona == "freebsd":
                    self.assertEqual(os_name, "FreeBSD 9.x", raw_sig)
                    self.assertIn(":65535,6:mss,nop,ws,sok,ts:df:", raw_sig)
                else:
                    # p0f's database has no Windows 10/11 SYN+ACK; check the signature itself
                    self.assertEqual(raw_sig, "4:128+0:0:1460:65535,8:mss,nop,ws,nop,nop,sok:df,id+:0")


class PersonaTestTc(PersonaTest):
    """The same with engine: tc (the BPF program answers the SYNs)."""
    engine = "tc"


if __name__ == "__main__":
    unittest.main()
