"""Batches through an S3 outage: 100,000 spoofed SYNs from random sources of 198.51.100.0/24 (our raw-socket
generator: hping3 --rand-source would send from anywhere, and the tests' traffic stays in the documentation ranges)
arrive while S3 (moto's server, signature checking on) is unreachable; the sensor (responder, capturer, shipper
under supervisord) keeps them in batches in its spool, and once S3 is back every batch is stored. Read from the
stored objects with a pcap reader of the test's own, each SYN (its sequence number is its index) is stored exactly
once, the objects are a few batches rather than 100,000 pcaps, and the capturer's counters reconcile: every flow
started is written, none dropped, none open."""
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "faults"))
import lurkertest as lt  # noqa: E402
import motoserver  # noqa: E402
import reconcile  # noqa: E402

BUCKET = "lurker-batches"
SYNS = 100000
RATE = 25000


def spoofed_syn_indexes(data):
    """Sequence numbers of the SYNs (no ACK) from 198.51.100.0/24 in one pcap, a list with repeats."""
    out = []
    for linktype, pkt in reconcile.read_pcap(data):
        t = reconcile.tcp_of(linktype, pkt)
        if t and t[4] & 0x12 == 0x02 and t[0].startswith("198.51.100."):
            ip = 14 if linktype == reconcile.DLT_EN10MB else 0  # the capturer's veth: Ethernet
            tcp = ip + (pkt[ip] & 15) * 4
            out.append(int.from_bytes(pkt[tcp + 4:tcp + 8], "big"))
    return out


class SpoofedFloodDuringOutage(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="lurker-batch-outage-")
        os.chmod(self.work, 0o755)
        self.procs = lt.Processes()
        self.topo = lt.Topology(ipv6=False)
        self.topo.up()
        self.shm = lt.unique_shm_name()
        self.moto = motoserver.MotoServer(log_path=os.path.join(self.work, "moto.log"))
        self.moto.start()
        self.moto.create_bucket(BUCKET)
        self.gate = motoserver.TcpGate(self.moto.port)
        self.gate.open()
        config = os.path.join(self.work, "lurker.yaml")
        lt.write_config(config, self.shm, os.path.join(self.work, "spool"), self.topo.s_if, extra="""
queue_slots: 1024
responder:
  rate_limit: 1000000
  burst: 100000
  source_rate_limit: 1000000
  source_burst: 100000
capturer:
  flow_timeout: 2s
  batch_interval: 4s
shipper:
  storage: s3
  max_retries: 2
  failed_retry_interval: 10s
  s3:
    bucket: %s
    region: us-east-1
    endpoint: http://127.0.0.1:%d
    path_style: true
""" % (BUCKET, self.gate.port))
        env = {k: v for k, v in self.moto.env().items() if k.startswith("AWS_")}
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        self.sup = lt.Supervisor(self.topo, self.procs, config, self.work, env=env)
        self.sup.start()
        lt.wait_for(lambda: lt.ctl_status_json(self.shm).get("healthy"), timeout=20, what="healthy sensor")

    def tearDown(self):
        self.sup.stop()
        self.procs.stop_all()
        self.gate.close()
        self.moto.stop()
        self.topo.down()
        lt.remove_shm(self.shm)
        shutil.rmtree(self.work, ignore_errors=True)

    def spool_settled(self):
        spool = os.path.join(self.work, "spool")
        failed = os.path.join(spool, "failed")
        c = lt.ctl_status_json(self.shm)["counters"]
        return (c["flows_open"] == 0 and c["memory_bytes"] == 0 and c["flows_batch_open"] == 0 and
                not [n for n in os.listdir(spool) if n.endswith(".pcap")] and
                not (os.path.isdir(failed) and os.listdir(failed)))

    def test_every_spoofed_syn_stored_once_in_a_few_batches(self):
        self.gate.close()  # S3 is down from before the flood until the batches wait in the spool
        flood = os.path.join(lt.BUILD, "helpers", "responder_synflood")
        r = lt.sh(*self.topo.in_ns(self.topo.attacker, [
            flood, "-i", self.topo.a_if, "-d", lt.SENSOR_V4, "-S", "198.51.100.0/24", "-r", str(RATE),
            "-n", str(SYNS), "-p", "1-65535", "-w", "500"]), timeout=120)
        sent = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(sent["sent"], SYNS)
        spool = os.path.join(self.work, "spool")
        lt.wait_for(lambda: lt.ctl_status_json(self.shm)["counters"]["batches_written"] >= 1, timeout=30,
                    what="a batch published during the outage")
        time.sleep(2)
        waiting = [n for d, _, names in os.walk(spool) for n in names if n.endswith(".pcap")]
        self.assertTrue(waiting and all("_batch_" in n for n in waiting), waiting[:5])
        self.assertEqual(self.moto.list_keys(BUCKET), [], "stored while S3 was unreachable?")
        self.gate.open()
        lt.wait_for(self.spool_settled, timeout=90, interval=0.5, what="every batch stored after the outage")

        s3 = self.moto.client("s3")
        keys = self.moto.list_keys(BUCKET)
        self.assertGreaterEqual(len(keys), 1)
        self.assertLessEqual(len(keys), 10, "a few batches, not a pcap per SYN")
        for k in keys:
            self.assertRegex(k, r"^pcap/\d{4}/\d\d/\d\d/\d\d/\d+_batch_test-sensor_\d+-\d+\.pcap$")
        indexes = []
        for k in keys:
            indexes += spoofed_syn_indexes(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())
        c = lt.ctl_status_json(self.shm)["counters"]
        self.assertEqual(len(indexes), SYNS, "SYNs stored (with repeats); flood %s; counters %s" % (sent, c))
        self.assertEqual(set(indexes), set(range(SYNS)), "every SYN stored")

        dropped = sum(c[k] for k in ("flows_dropped_quota", "flows_dropped_write_error", "flows_dropped_backlog",
                                     "kernel_drops", "packets_nomem", "journal_dropped"))
        self.assertEqual(dropped, 0, c)
        self.assertEqual(c["flows_started"], c["flows_written"] + c["flows_open"], c)
        self.assertEqual(c["flows_written"], c["flows_batched"], c)
        self.assertEqual(c["batches_written"], len(keys), c)
        self.assertEqual(c["uploaded"], len(keys), c)


if __name__ == "__main__":
    unittest.main()
