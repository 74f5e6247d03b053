"""lurker-capturer under pressure: SIGTERM writes every open flow; a spoofed SYN flood with a low flow cap keeps
memory bounded and accounts for every flow (pcap or counter); kill -9 never leaves a half-written *.pcap."""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from capturer_fixture import (SENSOR_V4, SYNFLOOD, CapturerCase, read_pcap, rss_kib, sh,  # noqa: E402
                              tshark_fields, wait_for)


class CapturerBounds(CapturerCase, unittest.TestCase):
    addresses = (SENSOR_V4,)

    def flood(self, count, rate, base="198.18.0.0", port=80):
        r = self.topo.ns(self.topo.attacker, SYNFLOOD, SENSOR_V4, str(port), str(count), str(rate), base,
                         timeout=120)
        self.assertIn("sent %d" % count, r.stdout)

    def test_sigterm_writes_every_open_flow(self):
        self.start_capturer("capturer:\n  flow_timeout: 5m\n")
        self.flood(1000, 20000)
        wait_for(lambda: self.counters()["flows_open"] == 1000, 10, what="1000 open flows")
        self.assertEqual(self.pcaps(), [], "nothing is written before its time")
        self.assertEqual(self.stop_capturer(), 0)
        names = self.pcaps()
        self.assertEqual(len(names), 1000)
        self.assertEqual(self.tmps(), [])
        sources = set()
        for n in names:
            _, records = read_pcap(os.path.join(self.spool, n))  # complete, or it raises
            self.assertGreaterEqual(len(records), 1)
            sources.add(n.split("_")[2])
        self.assertEqual(len(sources), 1000)
        # a real reader agrees on a sample
        for n in names[:: 100]:
            rows = tshark_fields(os.path.join(self.spool, n), ["tcp.flags.syn", "tcp.dstport"], "tcp.flags.syn==1")
            self.assertIn(["1", "80"], rows)
        c = self.counters()
        self.assertEqual(c["flows_shutdown"], 1000)
        self.assertEqual(c["flows_written"], 1000)
        self.assertEqual(c["kernel_drops"], 0)
        self.assertIn("event=stop flows_flushed=1000", self.log_text())
        records = self.drain_queue()
        self.assertEqual(sorted(r["name"] for r in records), names)
        self.assertTrue(all(r["flags"] & 4 for r in records), "finished early (shutdown)")

    def test_spoofed_flood_memory_bounded_and_every_flow_counted(self):
        total = 100000
        # (write_config ends inside the spool: section, so the quota line continues it.) The default 64 MiB ring
        # rides out scheduling hiccups on a busy machine; it is mapped at start, so it is in rss_before.
        self.start_capturer("  quota: 2MiB\ncapturer:\n  max_flows: 1000\n  buffer_size: 64MiB\n"
                            "  memory_limit: 1MiB\n")
        rss_before = rss_kib(self.cap.pid)
        sanitized = os.environ.get("SAN") == "1"  # ASan: slower, and freed memory stays in its quarantine
        self.flood(total, 20000 if sanitized else 50000)
        wait_for(lambda: self.counters()["flows_started"] >= total, 30, what="all SYNs captured")
        peak = rss_kib(self.cap.pid, "VmHWM")
        c = self.counters()
        print("RSS before %d KiB, peak %d KiB" % (rss_before, peak))
        # bounded: 1,000 flows, the writer's backlog (at most 1,000 flows) and the allocator's slack; 100,000 open
        # flows would take more than 30 MiB
        if not sanitized:
            self.assertLess(peak - rss_before, 8 * 1024, "RSS grew by %d KiB" % (peak - rss_before))
        self.assertLessEqual(c["flows_open"], 1000)
        self.assertLessEqual(c["memory_bytes"], 1 << 20)
        self.assertEqual(self.stop_capturer(), 0)
        c = self.counters()
        written, quota, errors, backlog = (c["flows_written"], c["flows_dropped_quota"],
                                           c["flows_dropped_write_error"], c["flows_dropped_backlog"])
        self.assertEqual(c["flows_open"], 0)
        # every flow ends in a pcap or a counter, and the sum adds up
        self.assertEqual(c["kernel_drops"], 0, "at this rate nothing may be dropped by the kernel")
        self.assertEqual(c["packets_malformed"], 0)
        self.assertEqual(c["flows_started"], total)
        self.assertEqual(written + quota + errors + backlog, total, c)
        self.assertEqual(len(self.pcaps()), written)
        self.assertEqual(self.tmps(), [])
        self.assertEqual(c["flows_early_max_flows"], total - 1000)
        self.assertEqual(c["flows_shutdown"], 1000)
        if backlog:
            self.assertIn("reason=writer_backlog", self.log_text())
        if quota:
            self.assertIn("reason=spool_quota", self.log_text())
        spool_bytes = sum(os.path.getsize(os.path.join(self.spool, n)) for n in self.pcaps())
        self.assertLessEqual(spool_bytes, 2 << 20)

    def test_kill9_leaves_no_half_written_pcap(self):
        self.start_capturer("capturer:\n  max_flows: 16\n")
        # a flood keeps the capturer writing (16 open flows: every new one finishes an old one)
        flood = self.procs.start(self.topo.in_ns(self.topo.attacker, [SYNFLOOD, SENSOR_V4, "80", "200000", "40000",
                                                                     "198.18.0.0"]))
        wait_for(lambda: len(self.pcaps()) > 500, 20, what="writes under way")
        self.stop_capturer(signal.SIGKILL)
        self.procs.stop(flood)
        names = self.pcaps()
        for n in names:
            read_pcap(os.path.join(self.spool, n))  # every visible pcap is complete
        leftovers = self.tmps()
        # a restart cleans up what the killed run left (and writes the flows it left open, from the journal,
        # before it logs event=start: the log already holds the first run's)
        self.start_capturer("capturer:\n  max_flows: 16\n")
        wait_for(lambda: self.log_text().count("event=start") == 2, 30, what="the second run's start")
        self.assertEqual(self.tmps(), [])
        self.assertIn("event=journal_recovered", self.log_text())
        if leftovers:
            self.assertIn("event=stale_tmp_removed", self.log_text())
        self.assertEqual(self.stop_capturer(), 0)

    def udp_flows(self, n, first_port=20000, size=1000):
        """n UDP flows from the attacker (one datagram each, distinct source ports)."""
        script = ("import socket\n"
                  "for i in range(%d):\n"
                  "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  "    s.bind(('0.0.0.0', %d + i))\n"
                  "    s.sendto(b'q' * %d, ('%s', 9999))\n"
                  "    s.close()\n" % (n, first_port, size, SENSOR_V4))
        self.topo.ns(self.topo.attacker, "python3", "-c", script)

    def test_spool_quota_drops_with_reason_then_recovers_when_shipped(self):
        os.makedirs(self.spool)
        backlog = os.path.join(self.spool, "unshipped.pcap")
        with open(backlog, "wb") as f:
            f.write(b"\0" * (1 << 20))  # the spool is already at its 1 MiB quota
        self.start_capturer("  quota: 1MiB\ncapturer:\n  flow_timeout: 1s\n")
        self.udp_flows(5)
        wait_for(lambda: self.counters()["flows_dropped_quota"] >= 5, 5, what="quota drops")
        self.assertIn("reason=spool_quota", self.log_text())
        self.assertEqual(self.pcaps(), ["unshipped.pcap"])
        os.unlink(backlog)  # the shipper stored it; the capturer's periodic rescan learns that
        time.sleep(5.5)
        self.udp_flows(5, first_port=21000)
        wait_for(lambda: self.counters()["flows_written"] >= 5, 5, what="writes after the rescan")
        c = self.counters()
        # the first five were dropped, the last five written (the kernel's ICMP port-unreachables are one more flow)
        self.assertGreaterEqual(c["flows_dropped_quota"], 5)
        names = self.pcaps()
        self.assertEqual(len([n for n in names if "_udp_" in n and "_2000" in n]), 0, names)
        self.assertEqual(len([n for n in names if "_udp_" in n and "_2100" in n]), 5, names)
        self.assertEqual(self.stop_capturer(), 0)

    def test_disk_full_counts_write_errors_and_leaves_no_tmp(self):
        os.makedirs(self.spool)
        sh("mount", "-t", "tmpfs", "-o", "size=64k", "lurker-test-spool", self.spool)
        try:
            self.start_capturer("capturer:\n  flow_timeout: 1s\n")
            self.udp_flows(100, size=1400)  # ~1.5 KB per pcap: a 64 KiB disk holds a few dozen
            # every flow idle-finished, and each one either written or counted (the main loop and the writer
            # thread publish their counters independently, so wait for both to agree)
            wait_for(lambda: (lambda c: c["flows_open"] == 0 and c["flows_started"] >= 100 and
                              c["flows_written"] + c["flows_dropped_write_error"] == c["flows_started"])(
                self.counters()), 10, what="all flows handled")
            c = self.counters()
            self.assertGreater(c["flows_dropped_write_error"], 0)
            self.assertGreater(c["flows_written"], 0)
            self.assertEqual(len(self.pcaps()), c["flows_written"])
            self.assertEqual(self.tmps(), [], "a failed write leaves nothing behind")
            self.assertIn("reason=write_error", self.log_text())
            for n in self.pcaps():
                read_pcap(os.path.join(self.spool, n))
            self.assertEqual(self.stop_capturer(), 0)
        finally:
            self.procs.stop_all()
            sh("umount", self.spool, check=False)


if __name__ == "__main__":
    unittest.main()
