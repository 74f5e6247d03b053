"""A single-interface sensor (lurker's default deployment on AWS): the monitored address is the host's only address,
so the host's own traffic crosses the captured interface. Only flows outsiders start may be recorded.

Topology: the usual two namespaces; the attacker namespace also holds a "services" address (198.51.100.80) standing
for the internet the sensor host talks to: an HTTP server, a closed UDP port, moto's S3 (through a relay whose
listening socket lives in that namespace; moto itself runs on the test's loopback) and an IMDS stand-in that hands
out moto's temporary credentials (AWS_EC2_METADATA_SERVICE_ENDPOINT; never the real metadata address). The three
sensor processes, the shipper included, run in the sensor namespace under supervisord, so every upload and every
credential fetch leaves through the monitored address.

While the sensor host fetches over HTTP, sends a UDP query that earns an ICMP port unreachable, pings out and
uploads every flow to S3, outsiders (198.51.100.2) send TCP with payload (to a low and to an ephemeral port), UDP
and a ping (hping3 --icmp). Checked, for `firewall: output` and `firewall: ingress`:
  - the host's own traffic worked (HTTP 200, ECONNREFUSED from the ICMP error, ping replies, uploads with IMDS
    credentials);
  - every outsider flow is stored, with its payload;
  - no stored pcap holds one packet to or from the services address (tshark), i.e. none of the host's flows;
  - the number of stored objects stops growing once outsiders stop, over three flow timeouts (no upload loop);
  - flows_ignored_local moved.
"""
import ctypes
import http.server
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import lurkertest as lt  # noqa: E402
from motoserver import MotoServer, TcpGate  # noqa: E402

SERVICES_V4 = "198.51.100.80"
HTTP_PORT, S3_PORT, IMDS_PORT, CLOSED_UDP_PORT = 8000, 9000, 8081, 9999
FLOW_TIMEOUT = 2
CLONE_NEWNET = 0x40000000
LIBC = ctypes.CDLL(None, use_errno=True)


def listener_in_netns(ns, host, port, kind="tcp"):
    """A socket bound in namespace ns (made by a thread that enters it; the socket stays there)."""
    import socket
    out = {}

    def make():
        fd = os.open("/var/run/netns/" + ns, os.O_RDONLY)
        try:
            if LIBC.setns(fd, CLONE_NEWNET) != 0:
                out["error"] = OSError(ctypes.get_errno(), "setns")
                return
        finally:
            os.close(fd)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(64)
        out["socket"] = s
    t = threading.Thread(target=make)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["socket"]


class NetnsGate(TcpGate):
    """moto's TcpGate, listening on an address in another namespace; upstream stays moto on our loopback."""

    def __init__(self, target_port, ns, host, port):
        super().__init__(target_port)
        self.ns, self.host, self.port = ns, host, port

    def open(self):
        self.listener = listener_in_netns(self.ns, self.host, self.port)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()


def http_server_in_netns(ns, host, port, handler):
    server = http.server.ThreadingHTTPServer((host, port), handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener_in_netns(ns, host, port)
    server.server_name, server.server_port = host, port
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class SingleInterfaceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer()
        cls.moto.start()

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def run_mode(self, firewall):
        moto = self.moto
        imds_fetches = []

        class Imds(lt.QuietHandler):
            def do_PUT(self):
                self.reply(200 if self.path == "/latest/api/token" else 404, "imds-token")

            def do_GET(self):
                if self.path == "/latest/meta-data/iam/security-credentials/":
                    return self.reply(200, "lurker-sensor-role")
                if self.path == "/latest/meta-data/iam/security-credentials/lurker-sensor-role":
                    session = "single-%d" % len(imds_fetches)
                    imds_fetches.append(time.time())
                    return self.reply(200, moto.imds_credentials(session))
                self.reply(404, "")

        class Web(lt.QuietHandler):
            def do_GET(self):
                self.reply(200, "the sensor host's own download\n")

        bucket = "lurker-single-%s" % firewall
        moto.create_bucket(bucket)
        procs = lt.Processes()
        servers = []
        gate = None
        shm = lt.unique_shm_name()
        with lt.Topology() as t, tempfile.TemporaryDirectory(prefix="lurker-single-") as work:
            try:
                t.ns(t.attacker, "ip", "addr", "add", SERVICES_V4 + "/32", "dev", t.a_if)
                gate = NetnsGate(moto.port, t.attacker, SERVICES_V4, S3_PORT)
                gate.open()
                servers.append(http_server_in_netns(t.attacker, SERVICES_V4, IMDS_PORT, Imds))
                servers.append(http_server_in_netns(t.attacker, SERVICES_V4, HTTP_PORT, Web))
                spool = os.path.join(work, "spool")
                extra = ("responder:\n  firewall: %s\n"
                         "capturer:\n  flow_timeout: %ds\n"
                         "shipper:\n  storage: s3\n  s3:\n    bucket: %s\n    endpoint: http://%s:%d\n"
                         "    path_style: true\n" % (firewall, FLOW_TIMEOUT, bucket, SERVICES_V4, S3_PORT))
                cfg = lt.write_config(os.path.join(work, "lurker.yaml"), shm, spool, t.s_if,
                                      addresses=(lt.SENSOR_V4,), extra=extra)
                env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://%s:%d" % (SERVICES_V4, IMDS_PORT),
                       "AWS_EC2_METADATA_DISABLED": "false", "AWS_REGION": moto.region}
                sup = lt.Supervisor(t, procs, cfg, work, env=env)
                sup.IN_SENSOR_NS = ("responder", "capturer", "shipper")  # uploads leave over the monitored address
                sup.start()
                self.assertNotEqual(t.ns(t.sensor, "nft", "list", "ruleset").stdout.strip(), "")

                outsider_flows = self.play(t)
                stored = lambda: moto.list_keys(bucket)  # noqa: E731
                lt.wait_for(lambda: self.outsiders_stored(moto, bucket, outsider_flows), timeout=60,
                            interval=1, what="every outsider flow stored (%s)" % firewall)
                self.assertGreaterEqual(len(imds_fetches), 1, "the shipper's credentials came from the IMDS stand-in")

                # no upload loop: once the last flows are stored, nothing new appears over three flow timeouts
                lt.wait_for(lambda: lt.ctl_status_json(shm)["counters"].get("backlog", 1) == 0
                            and lt.ctl_status_json(shm)["counters"].get("flows_open", 1) == 0,
                            timeout=30, interval=0.5, what="spool empty and no flow open")
                before = sorted(stored())
                time.sleep(3 * FLOW_TIMEOUT + 2)
                after = sorted(stored())
                self.assertEqual(after, before, "objects kept appearing with no outsider traffic: an upload loop")

                counters = lt.ctl_status_json(shm)["counters"]
                self.assertGreater(counters["flows_ignored_local"], 0)
                self.assertGreater(counters["packets_ignored_local"], counters["flows_ignored_local"])
                self.assertEqual(counters["failures"], 0, "every upload succeeded the first time")

                # none of the host's flows is in any stored pcap, and every stored pcap is an outsider's
                s3 = moto.client("s3")
                for key in after:
                    path = os.path.join(work, "obj.pcap")
                    with open(path, "wb") as f:
                        f.write(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                    rows = lt.tshark_fields(path, ["ip.src", "ip.dst"])
                    self.assertTrue(rows, key)
                    hosts = {a for row in rows for cell in row for a in cell.split(",")}  # ICMP: quoted too
                    self.assertNotIn(SERVICES_V4, hosts, "the host's own traffic stored in %s" % key)
                    self.assertEqual(hosts - {lt.SENSOR_V4}, {lt.ATTACKER_V4}, key)
                    self.assertEqual(rows[0][0], lt.ATTACKER_V4, "%s starts with an outsider's packet" % key)
                sup.stop()
            finally:
                for s in servers:
                    s.shutdown()
                    s.server_close()
                if gate:
                    gate.close()
                procs.stop_all()
                lt.remove_shm(shm)

    def play(self, t):
        """The host's own traffic and the outsiders', interleaved. Returns the outsider flows to expect."""
        host = lambda *argv: t.ns(t.sensor, *argv, check=False, timeout=30)  # noqa: E731
        outsider = lambda *argv: t.ns(t.attacker, *argv, check=False, timeout=30)  # noqa: E731
        expected = []
        for round_ in range(2):
            r = host("curl", "-s", "-m", "5", "http://%s:%d/file" % (SERVICES_V4, HTTP_PORT))
            self.assertIn("own download", r.stdout, "the host's HTTP fetch works")
            r = host("python3", "-c",
                     "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                     "s.settimeout(3)\ns.connect(('%s', %d))\ns.send(b'query')\n"
                     "try:\n    s.recv(100)\n    print('answered')\nexcept ConnectionRefusedError:\n"
                     "    print('refused')\n" % (SERVICES_V4, CLOSED_UDP_PORT))
            self.assertEqual(r.stdout.strip(), "refused", "the ICMP port unreachable reached the host")
            r = host("hping3", "--icmp", "-c", "2", "-i", "u200000", SERVICES_V4)
            self.assertEqual(r.returncode, 0, "the host's ping is answered")
            for port in (8080, 40000 + round_):
                payload = "outsider-tcp-%d-%d" % (port, round_)
                outsider("python3", "-c",
                         "import socket, struct, time\ns = socket.create_connection(('%s', %d), timeout=5)\n"
                         "s.sendall(b'%s')\ntime.sleep(0.5)\n"
                         # reset, so that its stack stops retransmitting the (never acknowledged) payload: the
                         # outsiders must really stop for the no-upload-loop check
                         "s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\ns.close()\n"
                         % (lt.SENSOR_V4, port, payload))
                expected.append(("tcp", port, payload))
            payload = "outsider-udp-%d" % round_
            outsider("python3", "-c",
                     "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'%s', ('%s', %d))\n"
                     % (payload, lt.SENSOR_V4, 5353 + round_))
            expected.append(("udp", 5353 + round_, payload))
        r = outsider("hping3", "--icmp", "-c", "2", "-i", "u200000", lt.SENSOR_V4)
        self.assertEqual(r.returncode, 0)
        expected.append(("icmp", 0, ""))
        return expected

    def outsiders_stored(self, moto, bucket, expected):
        """Every expected outsider flow is an object whose pcap carries its payload."""
        keys = moto.list_keys(bucket)
        s3 = moto.client("s3")
        found = set()
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            for proto, port, payload in expected:
                if proto == "icmp":  # named {src}_{dst}_{type}_{code}: the outsider's echo request
                    if key.endswith("_%s_%s_8_0.pcap" % (lt.ATTACKER_V4, lt.SENSOR_V4)):
                        found.add((proto, port, payload))
                elif payload.encode() in body:
                    found.add((proto, port, payload))
        return found == set(expected)

    def test_output_mode_records_only_outsiders_and_the_host_keeps_working(self):
        self.run_mode("output")

    def test_ingress_mode_records_only_outsiders_and_the_host_keeps_working(self):
        self.run_mode("ingress")


if __name__ == "__main__":
    unittest.main()
