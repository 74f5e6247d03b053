"""lurker-analyzer on pcaps written by lurker itself: lurker-responder and lurker-capturer in the sensor namespace,
real clients (curl, OpenSSH's client against a banner port, nc, nmap -sS) in the attacker namespace. Each spool pcap
must give exactly one record, with the handshake, (no) retransmissions, banners and recognised fields the clients
produced, and the client's bytes must equal tshark's follow and the original algorithm."""
import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyzer"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import analyzer_check as ac  # noqa: E402
from lurkertest import SENSOR_V4, sh, tshark_fields  # noqa: E402
from responder_env import SensorRun  # noqa: E402

SSH_BANNER = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
YAML = ("  banners:\n"
        "    - port: 2222\n      text: \"%s\\r\\n\"\n"
        "capturer:\n  flow_timeout: 30s\n" % SSH_BANNER)


class FromLurker(SensorRun, unittest.TestCase):
    engine = "raw"  # responder.engine

    @classmethod
    def run_sensor(cls):
        t = cls.topo
        cls.start_responder(responder_yaml=YAML, engine=cls.engine)
        cap = cls.responder.start_beside("capturer", cls.procs)
        time.sleep(0.3)
        a = t.attacker
        t.ns(a, "curl", "-s", "-m", "3", "-A", "lurker-sensor/1", "http://%s:8080/from-lurker" % SENSOR_V4,
             check=False, timeout=20)
        t.ns(a, "timeout", "4", "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
             "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=2", "-p", "2222", "probe@" + SENSOR_V4, "true",
             check=False, timeout=20)
        sh("ip", "netns", "exec", a, "timeout", "3", "nc", "-w", "2", SENSOR_V4, "7777", input="hello sensor\n",
           check=False, timeout=20)
        t.ns(a, "nmap", "-n", "-Pn", "-sS", "-p", "21,25,110", "--max-retries", "0", SENSOR_V4, check=False,
             timeout=60)
        time.sleep(0.5)
        cls.procs.stop(cap, signal.SIGTERM, timeout=30)  # SIGTERM writes every open flow
        cls.pcaps = cls.spool_pcaps()

    def records(self):
        out = {}
        for p in self.pcaps:
            records, err, rc = ac.run_analyzer(p)
            self.assertEqual(rc, 0, err)
            self.assertEqual(len(records), 1, (p, records))  # lurker writes one flow per pcap
            out[p] = records[0]
        return out

    def by_port(self, port):
        return [r for r in self.records().values() if r["dst_port"] == port]

    def test_differential_every_spool_pcap(self):
        self.assertGreaterEqual(len(self.pcaps), 6, self.pcaps)
        refs = ac.reference_many(self.pcaps)
        for p, rec in self.records().items():
            ac.differential(self, p, [rec], ref=refs[p])

    def test_curl_request_acknowledged_once(self):
        (r,) = self.by_port(8080)
        self.assertTrue(r["handshake"])
        self.assertEqual((r["service"], r["http"]["path"], r["http"]["user_agent"]),
                         ("http", "/from-lurker", "lurker-sensor/1"))
        # the responder acknowledged the request, so curl never sent it again; it closed at its timeout and the
        # responder answered its FIN with its own
        self.assertEqual(ac.payload(r).count(b"GET /from-lurker"), 1)
        self.assertEqual(r["retransmissions"], 0)
        self.assertEqual(r["gaps"], 0)
        self.assertEqual((r["tcp"]["client_fin"], r["tcp"]["server_fin"]), (True, True))

    def test_ssh_banner_from_the_responder(self):
        (r,) = self.by_port(2222)
        self.assertTrue(r["handshake"])
        self.assertEqual(r["ssh"]["server_banner"], SSH_BANNER)
        self.assertTrue(r["ssh"]["banner"].startswith("SSH-2.0-OpenSSH_"), r["ssh"])

    def test_every_pcap_holds_the_responders_synack(self):
        # the capturer's own tap recorded the reply, whichever engine sent it (tshark, not our parser)
        self.assertGreaterEqual(len(self.pcaps), 6, self.pcaps)
        for p in self.pcaps:
            synacks = tshark_fields(p, ["tcp.srcport"], "ip.src == %s && tcp.flags.syn == 1 && tcp.flags.ack == 1"
                                    % SENSOR_V4)
            self.assertEqual(len(synacks), 1, p)
        counters = self.responder.counters(settle=0)
        self.assertEqual(counters["tc_passed"], 0)
        self.assertIn("engine=%s" % self.engine, self.responder.log_text())

    def test_nc_and_syn_scan(self):
        (nc,) = self.by_port(7777)
        self.assertEqual(nc["readable"], "hello sensor\n")
        for port in (21, 25, 110):
            (r,) = self.by_port(port)
            self.assertFalse(r["handshake"])
            self.assertTrue(r["tcp"]["client_rst"])
            self.assertEqual(r["payload_len"], 0)


class FromLurkerTc(FromLurker):
    """The same sensor with engine: tc: the BPF program answers the SYNs, the capturer's tap still records them."""
    engine = "tc"


if __name__ == "__main__":
    unittest.main()
