"""lurker-capturer with real clients in namespaces: curl and nc sessions each become one pcap with the handshake
and the payload (and, with the responder, its ACK of the payload, so no retransmission); DNS over UDP and IPv6 are recorded; a flow is
written between flow_timeout and flow_timeout + 1 s after its last packet."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from capturer_fixture import (RESPONDER, SENSOR_V4, SENSOR_V6, CapturerCase, read_pcap,  # noqa: E402
                              tshark_fields, wait_for)


def flows_to_port(pcaps, proto, port):
    return [n for n in pcaps if "_%s_" % proto in n and n.endswith("_%d.pcap" % port)]


class CapturerSessions(CapturerCase, unittest.TestCase):

    def start_server_side(self):
        """The responder answers the handshakes and ACKs the clients' data (a missing build is a failure)."""
        self.assertTrue(os.access(RESPONDER, os.X_OK), "%s is not built" % RESPONDER)
        log = open(os.path.join(self.dir, "responder.log"), "a")
        self.procs.start(self.topo.in_ns(self.topo.sensor, [RESPONDER, "-c", self.config(self.extra)]), stderr=log)
        time.sleep(1.0)

    extra = "capturer:\n  flow_timeout: 4s\n"

    def test_curl_and_nc_sessions_one_pcap_each(self):
        self.start_capturer(self.extra)
        self.start_server_side()
        self.topo.ns(self.topo.attacker, "curl", "-s", "-m", "2", "http://%s/lurker-test" % SENSOR_V4, check=False)
        self.topo.ns(self.topo.attacker, "sh", "-c", "printf 'hello-from-nc\\n' | nc -w 2 %s 8080" % SENSOR_V4,
                     check=False, timeout=20)
        wait_for(lambda: len(flows_to_port(self.pcaps(), "tcp", 80)) >= 1 and
                 len(flows_to_port(self.pcaps(), "tcp", 8080)) >= 1, 15, what="both pcaps")
        time.sleep(0.5)
        for port, payload in ((80, b"GET /lurker-test HTTP/1.1"), (8080, b"hello-from-nc")):
            names = flows_to_port(self.pcaps(), "tcp", port)
            self.assertEqual(len(names), 1, "one pcap per session: %s" % names)
            path = os.path.join(self.spool, names[0])
            read_pcap(path)
            rows = tshark_fields(path, ["ip.src", "tcp.flags.syn", "tcp.flags.ack", "tcp.len", "tcp.payload",
                                           "tcp.analysis.retransmission"])
            inbound = [r for r in rows if r[0] != SENSOR_V4]
            outbound = [r for r in rows if r[0] == SENSOR_V4]
            self.assertTrue(any(r[1] == "1" and r[2] == "0" for r in inbound), "SYN")
            self.assertTrue(any(r[1] == "1" and r[2] == "1" for r in outbound), "SYN+ACK")
            self.assertTrue(any(r[1] == "0" and r[2] == "1" and r[3] == "0" for r in inbound), "ACK")
            data = [bytes.fromhex(r[4].replace(":", "")) for r in inbound if r[3] not in ("", "0")]
            self.assertTrue(any(payload in d for d in data), "payload %r in %r" % (payload, data))
            self.assertFalse(any(r[5] for r in inbound if r[3] not in ("", "0")), "retransmission of the payload")
            self.assertTrue(any(r[2] == "1" and r[3] == "0" for r in outbound[1:]), "the responder's ACK")
            self.assertNotIn(":", names[0])
        c = self.counters()
        self.assertEqual(c["kernel_drops"], 0)
        self.assertGreaterEqual(c["flows_written"], 2)
        # what the shipper is told: name, the tuple its name says, counts and size
        records = {r["name"]: r for r in self.drain_queue()}
        for port in (80, 8080):
            name = flows_to_port(self.pcaps(), "tcp", port)[0]
            self.assertIn(name, records)
            rec = records[name]
            _, packets = read_pcap(os.path.join(self.spool, name))
            self.assertEqual(rec["dst_port"], port)
            self.assertEqual(rec["packets"], len(packets))
            self.assertEqual(rec["file_size"], os.path.getsize(os.path.join(self.spool, name)))
            self.assertEqual(rec["first_us"], packets[0][0])
            self.assertEqual(rec["last_us"], packets[-1][0])
            self.assertEqual(rec["src_port"], int(name.split("_")[3]), name)
        self.assertEqual(self.stop_capturer(), 0)

    def test_udp_dns_and_ipv6_recorded(self):
        self.start_capturer(self.extra)
        self.start_server_side()
        self.topo.ns(self.topo.attacker, "dig", "+tries=1", "+time=1", "@" + SENSOR_V4, "lurker.example", "A",
                     check=False)
        self.topo.ns(self.topo.attacker, "curl", "-s", "-m", "1", "http://[%s]/v6" % SENSOR_V6, check=False)
        self.assertEqual(self.stop_capturer(), 0)  # SIGTERM writes both at once
        udp = flows_to_port(self.pcaps(), "udp", 53)
        self.assertEqual(len(udp), 1, self.pcaps())
        rows = tshark_fields(os.path.join(self.spool, udp[0]), ["dns.qry.name"], "dns")
        self.assertIn(["lurker.example"], rows)
        v6 = [n for n in flows_to_port(self.pcaps(), "tcp", 80) if n.split("_")[2] == "2001-db8-a--2"]
        self.assertEqual(len(v6), 1, self.pcaps())
        rows = tshark_fields(os.path.join(self.spool, v6[0]), ["ipv6.src", "tcp.flags.syn"])
        self.assertIn(["2001:db8:a::2", "1"], rows)
        self.assertTrue(any(r[0] == SENSOR_V6 for r in rows), "the SYN+ACK from the sensor is in the flow")

    def test_flow_written_between_timeout_and_timeout_plus_one_second(self):
        self.start_capturer("capturer:\n  flow_timeout: 2s\n")
        # three one-packet UDP flows at different moments: each must appear 2.0..3.0 s after its packet
        seen = {}
        stop = threading.Event()

        def watch():  # notes when each pcap appears, at 10 ms resolution
            while not stop.is_set():
                for n in self.pcaps():
                    if n not in seen and "_udp_" in n:  # (the kernel's port-unreachables are an ICMP flow)
                        seen[n] = time.time()
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            for i, port in enumerate((5001, 5002, 5003)):
                self.topo.ns(self.topo.attacker, "python3", "-c",
                             "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('%s', %d))"
                             % (SENSOR_V4, port))
                time.sleep(0.37 * (i + 1))
            deadline = time.monotonic() + 8
            while len(seen) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            watcher.join()
        self.assertEqual(len(seen), 3, seen)
        for name, appeared in seen.items():
            _, records = read_pcap(os.path.join(self.spool, name))
            last = records[-1][0] / 1e6
            delay = appeared - last
            self.assertGreaterEqual(delay, 2.0, name)
            self.assertLess(delay, 3.0, name)
        # counters reach shared memory within 100 ms; the kernel's ICMP flow may be idle-finished too
        wait_for(lambda: self.counters()["flows_idle"] >= 3, 2, what="flows_idle counter")


if __name__ == "__main__":
    unittest.main()
