"""lurker-analyzer on pcaps of real clients against real listeners in a namespace pair (tests/lib Topology):
curl (IPv4 and IPv6), OpenSSH's client, openssl s_client with SNI and ALPN, nc, and nmap -sV, captured with tcpdump
on the sensor side. Every flow is compared with tshark's follow and the Python/dpkt reference; the recognised fields
with what the clients sent (and the JA3 with tshark's)."""
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyzer"))
import analyzer_check as ac  # noqa: E402
from lurkertest import SENSOR_V4, SENSOR_V6, Processes, TempDir, Topology, sh, wait_for  # noqa: E402

SSH_BANNER = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"


def listening(topo, port):
    r = topo.ns(topo.sensor, "ss", "-Hltn", "sport = :%d" % port, check=False)
    return bool(r.stdout.strip())


class RealClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir(prefix="lurker-analyzer-real-")
        d = cls.tmp.path
        cls.pcap = os.path.join(d, "session.pcap")
        cls.procs = Processes()
        cls.topo = Topology()
        cls.topo.up()
        try:
            cls.capture(d)
        except BaseException:
            cls.procs.stop_all()
            cls.topo.down()
            raise

    @classmethod
    def capture(cls, d):
        t, p = cls.topo, cls.procs
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem"), "-subj", "/CN=lurker.example",
           "-days", "1")
        dump = p.start(t.in_ns(t.sensor, ["tcpdump", "-i", t.s_if, "-n", "-U", "--immediate-mode", "-w", cls.pcap, "tcp or udp"]))
        www = os.path.join(d, "www")
        os.makedirs(www)
        p.start(t.in_ns(t.sensor, [sys.executable, "-m", "http.server", "--bind", "::", "-d", www, "8080"]))
        banner = subprocess.Popen(["printf", SSH_BANNER + "\\r\\n"], stdout=subprocess.PIPE)
        p.start(t.in_ns(t.sensor, ["nc", "-l", "2222"]), stdin=banner.stdout)
        banner.stdout.close()
        banner.wait()
        p.start(t.in_ns(t.sensor, ["nc", "-l", "7777"]))
        p.start(t.in_ns(t.sensor, ["openssl", "s_server", "-accept", "4433", "-cert", os.path.join(d, "cert.pem"),
                                   "-key", os.path.join(d, "key.pem"), "-alpn", "h2", "-quiet"]),
                stdin=subprocess.DEVNULL)
        for port in (8080, 2222, 7777, 4433):
            wait_for(lambda: listening(t, port), timeout=10, what="listener on %d" % port)
        wait_for(lambda: os.path.exists(cls.pcap), timeout=10, what="tcpdump started")
        time.sleep(0.5)
        a = t.attacker
        t.ns(a, "curl", "-s", "-o", "/dev/null", "-A", "lurker-test/1.0", "http://%s:8080/probe?x=1" % SENSOR_V4,
             check=False, timeout=20)
        t.ns(a, "curl", "-s", "-g", "-o", "/dev/null", "http://[%s]:8080/v6" % SENSOR_V6, check=False, timeout=20)
        t.ns(a, "timeout", "5", "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
             "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3", "-p", "2222", "root@" + SENSOR_V4, "true",
             check=False, timeout=20)
        sh("ip", "netns", "exec", a, "nc", "-N", "-w", "2", SENSOR_V4, "7777", input="hello lurker\n",
           check=False, timeout=20)
        t.ns(a, "timeout", "8", "openssl", "s_client", "-connect", "%s:4433" % SENSOR_V4, "-servername",
             "lurker.example", "-alpn", "h2,http/1.1", check=False, timeout=20, input="")
        cls.nmap = t.ns(a, "nmap", "-n", "-Pn", "-sV", "--version-light", "-p", "8080", "--max-retries", "1",
                        "--host-timeout", "60s", SENSOR_V4, check=False, timeout=90).stdout
        time.sleep(1.0)
        p.stop(dump)

    @classmethod
    def tearDownClass(cls):
        cls.procs.stop_all()
        cls.topo.down()
        cls.tmp.__exit__()

    def setUp(self):
        self.records, err, rc = ac.run_analyzer(self.pcap)
        self.assertEqual(rc, 0, err)

    def flows_to(self, port):
        return [r for r in self.records if r["dst_port"] == port and r["proto"] == "tcp"]

    def test_differential_every_flow(self):
        compared = ac.differential(self, self.pcap, self.records)
        self.assertGreaterEqual(compared, 6)

    def test_curl_http(self):
        (r,) = [r for r in self.flows_to(8080) if r.get("http", {}).get("path") == "/probe?x=1"]
        self.assertEqual(r["src_addr"], "198.51.100.2")
        self.assertEqual(r["http"]["user_agent"], "lurker-test/1.0")
        self.assertEqual(r["http"]["host"], "%s:8080" % SENSOR_V4)
        self.assertTrue(r["handshake"])
        self.assertTrue(ac.payload(r, "server_payload").startswith(b"HTTP/1.0 404"))
        (v6,) = [r for r in self.flows_to(8080) if r.get("http", {}).get("path") == "/v6"]
        self.assertEqual(v6["src_addr"], "2001:db8:a::2")

    def test_ssh_banners(self):
        (r,) = self.flows_to(2222)
        self.assertEqual(r["service"], "ssh")
        self.assertTrue(r["ssh"]["banner"].startswith("SSH-2.0-OpenSSH_"), r["ssh"])
        self.assertEqual(r["ssh"]["server_banner"], SSH_BANNER)

    def test_nc_text(self):
        (r,) = self.flows_to(7777)
        self.assertEqual(r["readable"], "hello lurker\n")
        self.assertTrue(r["tcp"]["client_fin"])

    def test_tls_client_hello(self):
        (r,) = self.flows_to(4433)
        self.assertEqual(r["service"], "tls")
        self.assertEqual(r["tls"]["sni"], "lurker.example")
        self.assertEqual(r["tls"]["alpn"], ["h2", "http/1.1"])
        self.assertEqual(r["tls"]["version"], "TLS 1.3")
        rows = ac.lurkertest.tshark_fields(self.pcap, ["tcp.srcport", "tls.handshake.ja3"], "tls.handshake.type == 1")
        self.assertIn([str(r["src_port"]), r["tls"]["ja3"]], rows)

    def test_nmap_version_scan(self):
        flows = self.flows_to(8080)
        # curl over IPv4 and IPv6, nmap's SYN scan (reset by nmap) and its version probes
        self.assertGreaterEqual(len(flows), 4, [r.get("http") for r in flows])
        self.assertTrue(any(r["tcp"]["client_rst"] and not r["payload_len"] for r in flows))
        if "SimpleHTTPServer" in self.nmap:  # nmap identified it from its GetRequest probe
            self.assertTrue(any(r["readable"] == "GET / HTTP/1.0\r\n\r\n" for r in flows), self.nmap)


if __name__ == "__main__":
    unittest.main()
