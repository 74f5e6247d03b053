"""Never an amplifier. A spoofed SYN flood from 10,000 sources (random /64s below 2001:db8:1000::/36: 198.51.100.0/24
has only 256 addresses, one /24) is answered within the global rate, and the counters account for every SYN:
seen = sent + limited, with exactly what the attacker received as sent and at most one SYN+ACK per SYN. Then one
source /24 flooding alone is held to its per-source rate."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from responder_env import Responder, flood, wait_ipv6_ready  # noqa: E402
from lurkertest import ATTACKER_V4, SENSOR_V4, SENSOR_V6, Topology  # noqa: E402

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

    def test_spoofed_flood_within_rates_and_counted_exactly(self):
        t = self.topo
        with Responder(t, engine=self.engine, addresses=(SENSOR_V4, SENSOR_V6), responder_yaml=YAML) as r:
            wait_ipv6_ready(t)
            # 10,000 SYNs from 10,000 random /64s in 0.5 s
            f = flood(t, SENSOR_V6, 10000, 20000, spoof="2001:db8:1000::/36")
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
            f = flood(t, SENSOR_V4, 3000, 10000, source=ATTACKER_V4)
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
