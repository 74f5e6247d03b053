"""Shared by the capturer's integration tests: a topology with lurker-capturer running in the sensor namespace,
and a strict reader of classic pcap files (every record must be complete, nothing may trail)."""
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from lurkertest import (BIN, BUILD, Processes, TempDir, Topology, remove_shm, sh, start_logged,  # noqa: E402
                        tshark_fields, unique_shm_name, wait_for, write_config, ctl_status_json, SENSOR_V4, SENSOR_V6)

CAPTURER = os.path.join(BIN, "lurker-capturer")
RESPONDER = os.path.join(BIN, "lurker-responder")
SYNFLOOD = os.path.join(BUILD, "helpers", "capturer_synflood")
QUEUE_DUMP = os.path.join(BUILD, "helpers", "capturer_queue_dump")


def read_pcap(path):
    """Returns (linktype, [(ts_us, caplen, wirelen, bytes)]); raises ValueError unless the file is exactly a
    complete classic pcap."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError("%s: short global header" % path)
    magic, major, minor, _zone, _sig, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xa1b2c3d4 or (major, minor) != (2, 4):
        raise ValueError("%s: bad magic/version" % path)
    records, off = [], 24
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError("%s: cut record header at %d" % (path, off))
        sec, usec, caplen, wirelen = struct.unpack("<IIII", data[off:off + 16])
        if caplen > snaplen or caplen > wirelen or off + 16 + caplen > len(data):
            raise ValueError("%s: bad or cut record at %d" % (path, off))
        records.append((sec * 1000000 + usec, caplen, wirelen, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    if not records:
        raise ValueError("%s: no packets" % path)
    return linktype, records


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class CapturerCase:
    """Mixin for unittest.TestCase: self.topo, self.spool, self.shm, self.procs; start_capturer(extra)."""

    addresses = (SENSOR_V4, SENSOR_V6)

    def setUp(self):
        self.assertEqual(os.geteuid(), 0, "needs root for network namespaces")
        self.tmp = TempDir(prefix="lurker-capturer-test-")
        self.dir = self.tmp.path
        self.spool = os.path.join(self.dir, "spool")
        self.shm = unique_shm_name()
        self.procs = Processes()
        self.topo = Topology()
        self.topo.up()
        self.cap = None

    def tearDown(self):
        self.procs.stop_all()
        self.topo.down()
        remove_shm(self.shm)
        self.tmp.__exit__(None, None, None)

    def config(self, extra=""):
        return write_config(os.path.join(self.dir, "lurker.yaml"), self.shm, self.spool, self.topo.s_if,
                            addresses=self.addresses, extra=extra)

    def start_capturer(self, extra=""):
        cfg = self.config(extra)
        self.cap_log = os.path.join(self.dir, "capturer.log")
        self.cap = start_logged(self.procs, self.topo.in_ns(self.topo.sensor, [CAPTURER, "-c", cfg]), self.cap_log,
                                "capturer")
        self.assertIsNone(self.cap.poll(), self.log_text())
        time.sleep(0.2)  # the handle is active before event=start; let the ring settle
        return self.cap

    def stop_capturer(self, sig=signal.SIGTERM):
        rc = self.procs.stop(self.cap, sig, timeout=60)
        return rc

    def log_text(self):
        with open(self.cap_log) as f:
            return f.read()

    def counters(self):
        # lurker-ctl may be mid-rebuild in a shared checkout (EACCES, ETXTBSY, empty output): try again briefly
        for attempt in range(20):
            try:
                return ctl_status_json(self.shm)["counters"]
            except (OSError, ValueError):
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def drain_queue(self):
        """The records the capturer announced (consumed, as the shipper would)."""
        import json
        r = sh(QUEUE_DUMP, self.shm)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def pcaps(self):
        if not os.path.isdir(self.spool):
            return []
        return sorted(n for n in os.listdir(self.spool) if n.endswith(".pcap"))

    def tmps(self):
        return sorted(n for n in os.listdir(self.spool) if n.endswith(".tmp"))

