"""lurker-shipper with the local archive backend: files from the start-up scan and from the shared-memory queue (made
by the capturer's own tracker and spool writer: tests/helpers/shipper_enqueue.c) land under archive_dir at their
template key with identical bytes and leave the spool; *.tmp files are left alone; a name that is not the capturer's
is shipped under unparsed/SENSOR/NAME, its bytes never parsed for a key, and counted; a queue record of another
layout version is refused and counted, its file shipped by the scan; an archive directory that cannot be made
stops the start (Landlock would have to name a wider directory) and the file waits in the spool until a start
with the path fixed ships it."""
import os
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import lurkertest as lt  # noqa: E402

SHIPPER = os.path.join(lt.BIN, "lurker-shipper")
ENQUEUE = os.path.join(lt.BUILD, "helpers", "shipper_enqueue")
QUEUE_SLOTS = 256
SENSOR_PREFIXES = "203.0.113.0/24"
# the flow of tcp_syn_pcap(1764074096.123456, "198.51.100.2", "203.0.113.10", 40000, 22) under the default template
KEY_A = "pcap/2025/11/25/12/1764074096.123456_tcp_198.51.100.2_203.0.113.10_40000_22.pcap"


def tcp_syn_pcap(ts, src, dst, sport, dport):
    """A one-packet Ethernet/IPv4/TCP pcap, built by hand."""
    ip = bytes([0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0]) + bytes(map(int, src.split("."))) + \
        bytes(map(int, dst.split(".")))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 1024, 0, 0)
    pkt = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp
    return struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1) + \
        struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(pkt), len(pkt)) + pkt


class ShipperLocalTest(unittest.TestCase):
    def setUp(self):
        self.tmp = lt.TempDir("lurker-shipper-local-")
        self.spool = os.path.join(self.tmp.path, "spool")
        self.archive = os.path.join(self.tmp.path, "archive")
        os.mkdir(self.spool)
        self.shm = lt.unique_shm_name()
        self.procs = lt.Processes()
        self.log = os.path.join(self.tmp.path, "shipper.log")

    def tearDown(self):
        self.procs.stop_all()
        lt.remove_shm(self.shm)
        text = ""
        if os.path.exists(self.log):
            with open(self.log) as f:
                text = f.read()
            sys.stderr.write(text[-3000:])
        self.tmp.__exit__()
        self.assertNotIn("Sanitizer", text)
        self.assertNotIn("runtime error", text)

    def start(self, archive=None):
        extra = "queue_slots: %d\nshipper:\n  storage: local\n  archive_dir: %s\n  failed_retry_interval: 10s\n" % (
            QUEUE_SLOTS, archive or self.archive)
        cfg = lt.write_config(os.path.join(self.tmp.path, "lurker.yaml"), self.shm, self.spool, "lo", extra=extra)
        with open(self.log, "a") as f:
            return self.procs.start([SHIPPER, "-c", cfg], stderr=f)

    def spool_pcaps(self, sub=""):
        d = os.path.join(self.spool, sub)
        return sorted(n for n in os.listdir(d) if n.endswith(".pcap")) if os.path.isdir(d) else []

    def capture(self, body, shm="-", version=()):
        """The capturer's tracker and spool writer turn the pcap BODY into a spool file (announced unless shm is
        "-", in a record claiming layout VERSION if given); returns its name."""
        stage = os.path.join(self.tmp.path, "stage.pcap")
        with open(stage, "wb") as f:
            f.write(body)
        flags = ["-v", str(version[0])] if version else []
        names = lt.sh(ENQUEUE, *flags, shm, str(QUEUE_SLOTS), self.spool, SENSOR_PREFIXES, stage).stdout.split()
        self.assertEqual(len(names), 1, names)
        return names[0]

    def test_scan_queue_tmp_and_foreign_names(self):
        body_a = tcp_syn_pcap(1764074096.123456, "198.51.100.2", "203.0.113.10", 40000, 22)
        self.assertEqual(self.capture(body_a), "1764074096123456_tcp_198.51.100.2_40000_203.0.113.10_22.pcap")
        foreign = "renamed by hand.pcap"
        body_f = tcp_syn_pcap(1764077701.5, "198.51.100.7", "203.0.113.10", 1234, 80)
        with open(os.path.join(self.spool, foreign), "wb") as f:
            f.write(body_f)
        p = self.start()
        lt.wait_for(lambda: self.spool_pcaps() == [], timeout=10, what="start-up scan ships")
        body_b = tcp_syn_pcap(1764080000.000001, "198.51.100.9", "203.0.113.10", 50000, 443)
        self.assertEqual(self.capture(body_b, self.shm), "1764080000000001_tcp_198.51.100.9_50000_203.0.113.10_443.pcap")
        lt.wait_for(lambda: self.spool_pcaps() == [], timeout=5, what="queued file ships (well before a rescan)")
        tmp = "1_tcp_1.2.3.4_1_5.6.7.8_1.pcap.tmp"  # a capturer's file being written
        with open(os.path.join(self.spool, tmp), "wb") as f:
            f.write(b"partial")
        expect = {
            KEY_A: body_a,
            "unparsed/test-sensor/renamed_20by_20hand.pcap": body_f,
            "pcap/2025/11/25/14/1764080000.000001_tcp_198.51.100.9_203.0.113.10_50000_443.pcap": body_b,
        }
        lt.wait_for(lambda: all(os.path.exists(os.path.join(self.archive, k)) for k in expect), timeout=5,
                    what="archive files")
        for key, body in expect.items():
            with open(os.path.join(self.archive, key), "rb") as f:
                self.assertEqual(f.read(), body, key)
        stored = []
        for root, _, files in os.walk(self.archive):
            stored += [os.path.relpath(os.path.join(root, n), self.archive) for n in files]
        self.assertEqual(sorted(stored), sorted(expect), "nothing else (no temporary files) in the archive")
        # a file nobody announced (queue full, or lost) is found by the periodic rescan (every 10 s)
        c = "1764080001000001_udp_198.51.100.9_53_203.0.113.10_53.pcap"
        with open(os.path.join(self.spool, c), "wb") as f:
            f.write(body_b)
        lt.wait_for(lambda: self.spool_pcaps() == [], timeout=15, what="periodic rescan ships an unannounced file")
        self.assertTrue(os.path.exists(os.path.join(
            self.archive, "pcap/2025/11/25/14/1764080001.000001_udp_198.51.100.9_203.0.113.10_53_53.pcap")))
        self.assertTrue(os.path.exists(os.path.join(self.spool, tmp)), "*.tmp is the capturer's, never touched")
        counters = lt.ctl_status_json(self.shm)["counters"]
        self.assertGreaterEqual(counters["rescans"], 2)
        self.assertEqual(counters["unparsed_names"], 1)
        with open(self.log) as f:
            self.assertIn('event=unparsed_name file="renamed by hand.pcap" key=unparsed/test-sensor/', f.read())
        self.assertEqual(self.procs.stop(p), 0)

    def test_a_queue_record_of_another_version_is_refused_and_its_file_shipped_by_the_scan(self):
        body = tcp_syn_pcap(1764074096.123456, "198.51.100.2", "203.0.113.10", 40000, 22)
        self.capture(body, self.shm, version=(1,))  # announced before the shipper runs, by an older build
        p = self.start()
        lt.wait_for(lambda: self.spool_pcaps() == [], timeout=10, what="the file shipped all the same")
        with open(os.path.join(self.archive, KEY_A), "rb") as f:
            self.assertEqual(f.read(), body)
        lt.wait_for(lambda: lt.ctl_status_json(self.shm)["counters"]["queue_records_refused"] == 1, timeout=5,
                    what="the refused record counted")
        with open(self.log) as f:
            self.assertIn("event=queue_record_refused seq=0 version=1 expected_version=2", f.read())
        self.assertEqual(self.procs.stop(p), 0)

    def test_an_archive_that_cannot_be_made_stops_the_start_then_ships_once_fixed(self):
        blocker = os.path.join(self.tmp.path, "not-a-dir")
        with open(blocker, "w") as f:
            f.write("x")
        name = "1764074096123456_tcp_198.51.100.2_40000_203.0.113.10_22.pcap"
        body = tcp_syn_pcap(1764074096.123456, "198.51.100.2", "203.0.113.10", 40000, 22)
        with open(os.path.join(self.spool, name), "wb") as f:
            f.write(body)
        archive = os.path.join(blocker, "archive")
        # Landlock would have to allow writes in a wider directory (up to "/"): the shipper refuses to start
        p = self.start(archive=archive)
        self.assertEqual(p.wait(timeout=10), 1)
        with open(self.log) as f:
            self.assertIn('event=fatal what="directory" detail="%s' % archive, f.read())
        self.assertEqual(self.spool_pcaps(), [name], "the flow waits in the spool")
        # the operator fixes the archive; the next start (supervisord's retry) ships it
        os.remove(blocker)
        os.mkdir(blocker)
        p = self.start(archive=archive)
        lt.wait_for(lambda: self.spool_pcaps() == [], timeout=20, what="the waiting file shipped")
        with open(os.path.join(archive, KEY_A), "rb") as f:
            self.assertEqual(f.read(), body)
        self.assertEqual(self.procs.stop(p), 0)

    def test_check_rejects_bad_key_template(self):
        extra = "shipper:\n  key_template: \"{nope}/{ts}.pcap\"\n"
        cfg = lt.write_config(os.path.join(self.tmp.path, "bad.yaml"), self.shm, self.spool, "lo", extra=extra)
        r = subprocess.run([SHIPPER, "-c", cfg], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown field", r.stderr)  # found by config.c or, failing that, by the shipper's own check


if __name__ == "__main__":
    unittest.main()
