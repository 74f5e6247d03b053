"""Batches (capturer.batch_interval): the whole sensor (responder, capturer, shipper to a local archive) under a full-
range masscan (65,536 ports at 20k pps, each SYN sent twice, so a SYN the attacker's side loses under a loaded
machine is still delivered; the second is the same flow) plus five curl requests with distinct payloads. The archive
holds the five payload flows as pcaps of their own and the scan in a few batches, never one object per port; tshark
(not our parser) finds a SYN to every port in the batches; the analyzer gives a record for every scanned port, once,
naming the batch it came from, and the five payloads in records of their own; the capturer's counters reconcile."""
import collections
import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyzer"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import analyzer_check as ac  # noqa: E402
from lurkertest import SENSOR_V4, TempDir, ctl_status_json, sh, wait_for  # noqa: E402
from responder_env import SensorRun  # noqa: E402

PATHS = ["/batch-probe-%d-%s" % (i, s) for i, s in enumerate(("alpha", "bravo", "charlie", "delta", "echo"))]
CURL_PORT = 8088


def archive_pcaps(root):
    return sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names if n.endswith(".pcap"))


class FullRangeScanInBatches(SensorRun, unittest.TestCase):
    @classmethod
    def run_sensor(cls):
        t = cls.topo
        cls.archive_tmp = TempDir()
        cls.archive = cls.archive_tmp.__enter__()
        os.chmod(cls.archive, 0o755)
        cls.start_responder(responder_yaml="  source_rate_limit: 1000000\n  source_burst: 100000\n"
                            "capturer:\n  flow_timeout: 30s\n  batch_interval: 60s\n"
                            "shipper:\n  storage: local\n  archive_dir: %s\n" % cls.archive)
        cap = cls.responder.start_beside("capturer", cls.procs)
        cls.shipper = cls.responder.start_beside("shipper", cls.procs, in_sensor_ns=False)
        time.sleep(0.3)
        cls.masscan = t.ns(t.attacker, "masscan", "-p0-65535", "--rate", "20000", "--retries", "1", "--wait", "2",
                           "-e", t.a_if, SENSOR_V4, timeout=120, check=False)
        for path in PATHS:
            t.ns(t.attacker, "curl", "-s", "-m", "2", "http://%s:%d%s" % (SENSOR_V4, CURL_PORT, path),
                 check=False, timeout=20)
        time.sleep(1)  # flows and batch stay open (30 s, 60 s): SIGTERM finishes and publishes them
        cls.counters_before_stop = ctl_status_json(cls.responder.shm)["counters"]
        cls.procs.stop(cap, signal.SIGTERM, timeout=60)  # SIGTERM publishes the open batch
        wait_for(lambda: not [n for n in os.listdir(cls.spool) if n.endswith(".pcap")], 30, what="spool shipped")
        # the shipper moves a file into the archive, then counts it: wait for the count of the last one too
        wait_for(lambda: ctl_status_json(cls.responder.shm)["counters"]["uploaded"] >= len(archive_pcaps(cls.archive)),
                 10, what="every archived pcap counted")
        cls.counters = ctl_status_json(cls.responder.shm)["counters"]
        cls.pcaps = archive_pcaps(cls.archive)
        cls.batches = [p for p in cls.pcaps if "_batch_" in os.path.basename(p)]
        cls.singles = [p for p in cls.pcaps if p not in cls.batches]
        cls.records, err, rc = ac.run_analyzer(cls.archive)
        assert rc == 0, err

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.archive_tmp.__exit__(None, None, None)

    def test_archive_holds_the_payload_flows_and_a_few_batches(self):
        self.assertEqual(len(self.singles), len(PATHS), self.singles)
        self.assertGreaterEqual(len(self.batches), 1)
        self.assertLessEqual(len(self.batches), 3, self.batches)  # 60 s batches, a run of ~10 s
        self.assertEqual(self.counters["batches_written"], len(self.batches))
        for p in self.batches:  # the batch key template: pcap/YYYY/MM/DD/HH/<ts>_batch_<sensor>_<pid>-<n>.pcap
            self.assertRegex(os.path.relpath(p, self.archive),
                             r"^pcap/\d{4}/\d\d/\d\d/\d\d/\d+_batch_test-sensor_\d+-\d+\.pcap$")

    def test_tshark_sees_a_syn_to_every_port_in_the_batches(self):
        ports = set()
        for p in self.batches:
            rows = sh("tshark", "-n", "-r", p, "-Y", "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.dst == %s"
                      % SENSOR_V4, "-T", "fields", "-e", "tcp.dstport", timeout=300).stdout.split()
            ports.update(int(x) for x in rows)
        self.assertEqual(len(ports), 65536, "missing %s; masscan: %s" % (
            sorted(set(range(65536)) - ports)[:20], self.masscan.stderr[-300:]))

    def test_analyzer_records_every_port_once_and_names_its_object(self):
        scan = [r for r in self.records if r["proto"] == "tcp" and r["payload_len"] == 0]
        per_port = collections.Counter(r["dst_port"] for r in scan)
        self.assertEqual(set(per_port), set(range(65536)))
        self.assertEqual([p for p, n in per_port.items() if n > 1 and p != CURL_PORT], [])
        sources = {r["s3path"] for r in scan}
        self.assertTrue(sources <= set(self.batches), sources - set(self.batches))

    def test_the_five_payloads_in_records_of_their_own(self):
        with_data = [r for r in self.records if r["payload_len"] > 0]
        self.assertEqual(sorted(r["http"]["path"] for r in with_data), sorted(PATHS))
        self.assertEqual(sorted(r["s3path"] for r in with_data), self.singles)

    def test_counters_reconcile_nothing_dropped(self):
        c = self.counters
        dropped = sum(c[k] for k in ("flows_dropped_quota", "flows_dropped_write_error", "flows_dropped_backlog",
                                     "kernel_drops", "packets_nomem"))
        self.assertEqual(dropped, 0, c)
        self.assertEqual(c["flows_started"], c["flows_written"] + c["flows_open"], c)
        self.assertEqual(c["flows_written"], c["flows_batched"] + len(PATHS), c)
        self.assertEqual(c["flows_written"], len(self.records), c)
        self.assertEqual(c["uploaded"], len(self.pcaps), c)


if __name__ == "__main__":
    unittest.main()
