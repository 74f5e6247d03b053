"""The fault matrix, short version (tests/faults/run.py --short): kill -9 of the capturer and of the shipper under
load, an S3 outage, a full spool disk during an outage, and a storm of malformed packets. Every handshaking flow
sent must be stored or admitted in a named counter, nothing stored twice, no flow split into two objects by a
killed capturer, no sanitizer report in any process log.
The full matrix (ten scenarios, longer outages, a SYN flood) is `tests/faults/run.py --full`."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402


class FaultMatrixTest(unittest.TestCase):
    def test_short_matrix_loses_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "faults.json")
            r = subprocess.run([sys.executable, os.path.join(lt.ROOT, "tests", "faults", "run.py"), "--short",
                                "--json", out], capture_output=True, text=True, timeout=900)
            print(r.stdout)
            with open(out) as f:
                results = json.load(f)
        self.assertEqual(len(results), 5)
        for fig in results:
            with self.subTest(scenario=fig["scenario"]):
                self.assertNotIn("error", fig, fig.get("error"))
                self.assertGreater(fig["flows_sent"], 40, "the workload did not run")
                self.assertEqual(fig["flows_lost"], 0, fig.get("missing"))
                self.assertEqual(fig["duplicate_objects"], 0, fig.get("duplicates"))
                self.assertEqual(fig["spoofed_stored_twice"], 0, "a flow of a batch written twice")
                self.assertGreater(fig["batches_stored"], 0, "no batch: the spoofed SYNs were not batched")
                self.assertEqual(fig["flows_stored"] + fig["flows_accounted_in_counters"], fig["flows_sent"])
                self.assertFalse(any(fig["crashes"].values()), fig["crashes"])
                if fig["scenario"] == "kill9_capturer":
                    # the journal carries an open flow across the restart into the new flow table: one pcap
                    self.assertEqual(fig["flows_split"], 0, "a flow split by the capturer's restart")
                if not fig["scenario"].startswith("kill9_"):
                    self.assertEqual(fig["capturer_balance"], 0, "flows started but neither written nor admitted")
                    self.assertEqual(fig["objects_minus_written"], 0, "flows written but not stored once")
        by_name = {f["scenario"]: f for f in results}
        self.assertGreater(by_name["spool_full"]["flows_accounted_in_counters"], 0,
                           "the spool never filled: the scenario tested nothing")
        self.assertGreater(by_name["malformed"]["malformed_sent"], 1000)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
