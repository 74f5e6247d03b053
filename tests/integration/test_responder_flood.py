"""Never an amplifier. A spoofed SYN flood from 10,000 sources (random /64s below 2001:db8:1000::/36: 198.51.100.0/24
has only 256 addresses, one /24) is answered within the global rate, and the counters account for every SYN:
seen = sent + limited, with exactly what the attacker received as sent and at most one SYN+ACK per SYN. Then one
source /24 flooding alone is held to its per-source rate. The flood helper's count of SYN+ACKs is tshark's too (a
capture on the attacker's side, each SYN+ACK's checksums validated)."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from responder_env import Capture, Responder, flood, wait_ipv6_ready  # noqa: E402
from lurkertest import (ATTACKER_V4, CHECK_CHECKSUMS, SENSOR_V4, SENSOR_V6, TempDir, Topology,  # noqa: E402
                        tshark_fields)

RATE, BURST = 2000, 1000
SOURCE_RATE, SOURCE_BURST = 100, 200
YAML = ("  rate_limit: %d\n  burst: %d\n  source_rate_limit: %d\n  source_burst: %d\n"
        % (RATE, BURST, SOURCE_RATE, SOURCE_BURST))


class FloodTest(unittest.TestCase):
    engine = "raw"  # responder.engine

    def setUp(self):
        self.topo = Topology()
        self.topo.up()
        self.addCleanup(self.topo.down)

    def counted_flood(self, dst, count, rate, **kw):
        """flood(), with tcpdump capturing what the sensor sends back: tshark must see as many SYN+ACKs as the
        helper counted (one per SYN, distinct acknowledgement numbers) and nothing but SYN+ACKs, each checksum good."""
        with TempDir() as d:
            cap = Capture(self.topo, self.topo.attacker, self.topo.a_if, os.path.join(d, "synacks.pcap"),
                          bpf="tcp and (src host %s or src host %s)" % (SENSOR_V4, SENSOR_V6))
            f = flood(self.topo, dst, count, rate, **kw)
            cap.stop()
            rows = tshark_fields(cap.path, ["tcp.flags", "tcp.ack_raw", "tcp.checksum.status", "ip.checksum.status"],
                                 prefs=CHECK_CHECKSUMS)
        self.assertEqual({row[0] for row in rows} - {"0x0012"}, set())
        self.assertEqual({row[2] for row in rows} | ({row[3] for row in rows} - {""}), {"1"})  # 1: good
        self.assertEqual(len({row[1] for row in rows}), f["answered"])
        self.assertEqual(len(rows), f["answered"] + f["duplicates"])
        return f

    def test_spoofed_flood_within_rates_and_counted_exactly(self):
        t = self.topo
        with Responder(t, engine=self.engine, addresses=(SENSOR_V4, SENSOR_V6), responder_yaml=YAML) as r:
            wait_ipv6_ready(t)
            # 10,000 SYNs from 10,000 random /64s in 0.5 s
            f = self.counted_flood(SENSOR_V6, 10000, 20000, spoof="2001:db8:1000::/36")
            c = r.counters()
            self.assertEqual(f["capture_drops"], 0)
            self.assertEqual(c["pcap_drops"], 0)
            self.assertEqual(c["syn_seen"], 10000)
            self.assertEqual(f["duplicates"], 0)
            self.assertEqual(f["answered"], c["synack_sent"])
            self.assertEqual(c["rate_limited_global"], 10000 - c["synack_sent"])
            self.assertEqual(c["rate_limited_source"], 0)
            print("spoofed flood: %d SYNs in %.2f s, %d answered, %d limited (global)" % (
                c["syn_seen"], f["send_seconds"], c["synack_sent"], c["rate_limited_global"]), file=sys.stderr)
            # the responder may read the last SYNs a little after they were sent (its tokens keep accruing): 0.5 s slack
            allowed = BURST + RATE * (f["send_seconds"] + 0.5)
            self.assertGreaterEqual(c["synack_sent"], BURST)
            self.assertLessEqual(c["synack_sent"], allowed)

            time.sleep(1.0)  # the global bucket refills
            before = c
            f = self.counted_flood(SENSOR_V4, 3000, 10000, source=ATTACKER_V4)
            c = r.counters()
            seen = c["syn_seen"] - before["syn_seen"]
            sent = c["synack_sent"] - before["synack_sent"]
            limited = c["rate_limited_source"] - before["rate_limited_source"]
            print("one /24: %d SYNs in %.2f s, %d answered, %d limited (source)" % (
                seen, f["send_seconds"], sent, limited), file=sys.stderr)
            self.assertEqual(seen, 3000)
            self.assertEqual(f["answered"], sent)
            self.assertEqual(limited, 3000 - sent)
            self.assertEqual(c["rate_limited_global"], before["rate_limited_global"])
            self.assertGreaterEqual(sent, SOURCE_BURST)
            self.assertLessEqual(sent, SOURCE_BURST + SOURCE_RATE * (f["send_seconds"] + 0.5))
            self.assertEqual(c["send_errors"], 0)


class FloodTestTc(FloodTest):
    """The same with engine: tc (the BPF program answers the SYNs)."""
    engine = "tc"


if __name__ == "__main__":
    unittest.main()
