"""lurker-shipper against moto's S3 server on loopback with signature checking on (tests/lib/motoserver.py).

Covers: real pcaps (scapy's packets, made into spool files and queue records by the capturer's own tracker and spool
writer: tests/helpers/shipper_enqueue.c) announced through the shared-memory queue and found by the spool scan, read
back with boto3
(identical bytes, expected keys, IPv6 without ':'); a TCP and a UDP flow on one address and port pair in the same
microsecond, and one 1 us later, each its own object; a wrong secret (SignatureDoesNotMatch, parked, shipped after the
fix); an outage with flows arriving (backlog grows, nothing lost, each file stored once); kill -9 in the middle of
uploads; session-token credentials, a shared credentials profile, and an IMDSv2 endpoint that insists on its token
and whose credentials are refreshed before they expire.
"""
import datetime
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import lurkertest as lt  # noqa: E402
from motoserver import MotoServer, TcpGate, free_port  # noqa: E402

SHIPPER = os.path.join(lt.BIN, "lurker-shipper")
S3CHECK = os.path.join(lt.BUILD, "helpers", "s3_client_check")
ENQUEUE = os.path.join(lt.BUILD, "helpers", "shipper_enqueue")
QUEUE_SLOTS = 1024
SENSOR_PREFIXES = "203.0.113.0/24,2001:db8:5::/48"

# Writes real TCP flows (handshake + data) as classic pcaps with scapy, in Debian's python. One long-lived process
# per test class (scapy takes a second to import): a JSON list of specs per line in, "ok" per line out.
SCAPY_WRITER = r"""
import json, sys
from decimal import Decimal
from scapy.all import Ether, IP, IPv6, TCP, UDP, Raw, wrpcap
for line in sys.stdin:
    for spec in json.loads(line):
        L3 = IPv6 if ':' in spec['src'] else IP
        c = dict(src=spec['src'], dst=spec['dst'])
        s = dict(src=spec['dst'], dst=spec['src'])
        pk = [Ether()/L3(**c)/TCP(sport=spec['sport'], dport=spec['dport'], flags='S', seq=1000),
              Ether()/L3(**s)/TCP(sport=spec['dport'], dport=spec['sport'], flags='SA', seq=5000, ack=1001),
              Ether()/L3(**c)/TCP(sport=spec['sport'], dport=spec['dport'], flags='A', seq=1001, ack=5001),
              Ether()/L3(**c)/TCP(sport=spec['sport'], dport=spec['dport'], flags='PA', seq=1001, ack=5001)/
                  Raw(spec['payload'].encode())]
        if spec['proto'] == 'udp':
            pk = [Ether()/L3(**c)/UDP(sport=spec['sport'], dport=spec['dport'])/Raw(spec['payload'].encode())]
        for i, p in enumerate(pk):
            p.time = Decimal(spec['ts_us'] + i * 1000) / 1000000
        wrpcap(spec['path'], pk)
    print("ok", flush=True)
"""


class PcapWriter:
    def __init__(self):
        self.proc = subprocess.Popen([lt.DEBIAN_PY, "-c", SCAPY_WRITER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def write(self, specs):
        self.proc.stdin.write(json.dumps(specs) + "\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ok":
            raise RuntimeError("scapy pcap writer failed")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


WRITER = None


def safe(addr):
    return addr.replace(":", "-")


def spool_name(ts_us, src, sport, dst, dport, proto="tcp"):
    return "%d_%s_%s_%d_%s_%d.pcap" % (ts_us, proto, safe(src), sport, safe(dst), dport)


def expected_key(ts_us, src, sport, dst, dport, prefix="", proto="tcp"):
    t = datetime.datetime.fromtimestamp(ts_us // 1000000, datetime.timezone.utc)
    return "%spcap/%04d/%02d/%02d/%02d/%d.%06d_%s_%s_%s_%d_%d.pcap" % (
        prefix, t.year, t.month, t.day, t.hour, ts_us // 1000000, ts_us % 1000000, proto, safe(src), safe(dst), sport,
        dport)


class Flow:
    def __init__(self, ts_us, src, sport, dst="203.0.113.10", dport=22, proto="tcp"):
        self.ts_us, self.src, self.sport, self.dst, self.dport, self.proto = ts_us, src, sport, dst, dport, proto
        self.name = spool_name(ts_us, src, sport, dst, dport, proto)

    def key(self, prefix=""):
        return expected_key(self.ts_us, self.src, self.sport, self.dst, self.dport, prefix, self.proto)


def write_pcaps(spool, flows, shm="-"):
    """Scapy writes each flow's packets; the capturer's own tracker and spool writer (the shipper_enqueue helper)
    make the spool files of them and, unless shm is "-", announce them in the queue. Returns {name: bytes}."""
    stage = os.path.join(os.path.dirname(spool), "stage")
    os.makedirs(stage, exist_ok=True)
    specs = [dict(path=os.path.join(stage, f.name), src=f.src, dst=f.dst, sport=f.sport, dport=f.dport,
                  proto=f.proto, ts_us=f.ts_us, payload="SSH-2.0-probe-%d\r\n" % f.sport) for f in flows]
    WRITER.write(specs)
    out = {}
    for f in flows:
        with open(os.path.join(stage, f.name), "rb") as fh:
            out[f.name] = fh.read()
    written = lt.sh(ENQUEUE, shm, str(QUEUE_SLOTS), spool, SENSOR_PREFIXES,
                    *[os.path.join(stage, f.name) for f in flows]).stdout.split()
    assert sorted(written) == sorted(out), "the capturer named the flows %s, not %s" % (written, sorted(out))
    return out


def flows(n, base_ts=1764074096000000, first_port=40000, src="198.51.100.2"):
    return [Flow(base_ts + i * 1000003, src, first_port + i) for i in range(n)]


class ShipperS3Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global WRITER
        WRITER = PcapWriter()
        cls.moto = MotoServer()
        cls.moto.start()

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        WRITER.close()

    def setUp(self):
        self.tmp = lt.TempDir("lurker-shipper-")
        self.dir = self.tmp.path
        self.spool = os.path.join(self.dir, "spool")
        os.mkdir(self.spool)
        self.shm = lt.unique_shm_name()
        self.procs = lt.Processes()
        self.bucket = "lurker-%s" % self.shm.rsplit("-", 1)[1]
        self.moto.create_bucket(self.bucket)
        self.logs = []

    def tearDown(self):
        self.procs.stop_all()
        lt.remove_shm(self.shm)
        reports = []
        for path in self.logs:  # the runner keeps this output in build/test-logs/
            with open(path) as f:
                lines = f.readlines()
            sys.stderr.write("--- %s (%s, last lines)\n%s" % (self.id(), os.path.basename(path), "".join(lines[-15:])))
            reports += [l for l in lines if "Sanitizer" in l or "runtime error" in l]
        self.tmp.__exit__()
        self.assertEqual(reports, [], "sanitizer reports in the shipper's log")

    # -- helpers --
    def config(self, endpoint=None, extra_s3="", concurrency=4, name="lurker.yaml"):
        extra = ("queue_slots: %d\nshipper:\n  storage: s3\n  concurrency: %d\n  max_retries: 8\n"
                 "  failed_retry_interval: 10s\n  s3:\n    bucket: %s\n    endpoint: %s\n    path_style: true\n%s"
                 % (QUEUE_SLOTS, concurrency, self.bucket, endpoint or self.moto.endpoint, extra_s3))
        return lt.write_config(os.path.join(self.dir, name), self.shm, self.spool, "lo", extra=extra)

    def start_shipper(self, cfg, env):
        log = os.path.join(self.dir, "shipper-%d.log" % len(self.logs))
        self.logs.append(log)
        with open(log, "w") as f:
            return self.procs.start([SHIPPER, "-c", cfg], stderr=f, env=env)

    def log_text(self):
        text = ""
        for path in self.logs:
            with open(path) as f:
                text += f.read()
        return text

    def spool_files(self, sub=""):
        d = os.path.join(self.spool, sub)
        return sorted(n for n in os.listdir(d) if n.endswith(".pcap")) if os.path.isdir(d) else []

    def assert_stored(self, contents, fl, prefix=""):
        s3 = self.moto.client("s3")
        for f in fl:
            body = s3.get_object(Bucket=self.bucket, Key=f.key(prefix))["Body"].read()
            self.assertEqual(body, contents[f.name], "object %s differs from its pcap" % f.key(prefix))

    def stored_counts(self):
        counts = {}
        for m in re.finditer(r"event=stored file=(\S+)", self.log_text()):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        return counts

    def counters(self):
        """The shared-memory counters through lurker-ctl (retried: the binary may be mid-rebuild in a shared tree)."""
        for attempt in range(20):
            try:
                return lt.ctl_status_json(self.shm)["counters"]
            except (OSError, ValueError):
                time.sleep(0.25)
        return lt.ctl_status_json(self.shm)["counters"]

    # -- tests --
    def test_real_pcaps_from_scan_and_queue_read_back_identical(self):
        early = [Flow(1764074096123456, "198.51.100.2", 40000)]
        late = [Flow(1764077700654321, "2001:db8:a::2", 51000, dst="2001:db8:5::10", dport=80),
                Flow(1764077701000001, "198.51.100.3", 51001, dport=443)]
        contents = write_pcaps(self.spool, early)
        p = self.start_shipper(self.config(extra_s3="    prefix: sensors/\n    sse: AES256\n"), self.moto.env())
        lt.wait_for(lambda: not self.spool_files(), timeout=15, what="spool scan at start ships the first pcap")
        contents.update(write_pcaps(self.spool, late, self.shm))
        lt.wait_for(lambda: not self.spool_files(), timeout=15, what="queued pcaps shipped")
        self.assert_stored(contents, early + late, prefix="sensors/")
        keys = sorted(self.moto.list_keys(self.bucket))
        self.assertEqual(keys, sorted(f.key("sensors/") for f in early + late))
        self.assertTrue(all(":" not in k for k in keys))
        head = self.moto.client("s3").head_object(Bucket=self.bucket, Key=late[0].key("sensors/"))
        self.assertEqual(head.get("ServerSideEncryption"), "AES256")
        c = lt.wait_for(lambda: (lambda c: c if c["uploaded"] == 3 else None)(self.counters()), timeout=5,
                        what="uploaded counter")
        self.assertEqual(c["uploaded_bytes"], sum(len(v) for v in contents.values()))
        self.assertEqual(c["failures"], 0)
        self.assertEqual(self.procs.stop(p), 0)
        self.assertIn("event=credentials source=\"environment\"", self.log_text())
        self.assertNotIn(self.moto.secret_key, self.log_text())

    def test_flows_alike_but_for_protocol_or_a_microsecond_are_stored_as_objects_of_their_own(self):
        """A TCP and a UDP flow on one address and port pair in the same microsecond, and a TCP flow on the same pair
        1 us later (written by a second capturer run, as after a max_flows eviction): the old key (whole seconds, no
        protocol) gave all three one key, and S3 kept only the last."""
        t = 1764074096123456
        alike = [Flow(t, "198.51.100.2", 40000, dport=53), Flow(t, "198.51.100.2", 40000, dport=53, proto="udp")]
        later = [Flow(t + 1, "198.51.100.2", 40000, dport=53)]
        contents = write_pcaps(self.spool, alike)
        contents.update(write_pcaps(self.spool, later))
        self.assertEqual(len(set(contents.values())), 3, "three pcaps with bytes of their own")
        p = self.start_shipper(self.config(), self.moto.env())
        lt.wait_for(lambda: not self.spool_files(), timeout=15, what="the three flows shipped")
        self.assertEqual(len(self.moto.list_keys(self.bucket)), 3, "each flow its own object")
        self.assert_stored(contents, alike + later)
        self.assertEqual(self.procs.stop(p), 0)

    def test_wrong_secret_parks_file_then_ships_after_fix(self):
        fl = flows(2)
        contents = write_pcaps(self.spool, fl)
        cfg = self.config()
        p = self.start_shipper(cfg, self.moto.env(secret_key="wrong-secret"))
        lt.wait_for(lambda: len(self.spool_files("failed")) == 2, timeout=15, what="files parked")
        self.procs.stop(p)
        log = self.log_text()
        self.assertEqual(len(re.findall(r"error shipper event=parked .*code=SignatureDoesNotMatch status=403", log)),
                         2, log)
        self.assertEqual(self.moto.list_keys(self.bucket), [])
        self.assertEqual(self.counters()["parked"], 2)
        # the operator fixes the credentials and restarts: parked files go at start
        p = self.start_shipper(cfg, self.moto.env())
        lt.wait_for(lambda: not self.spool_files("failed"), timeout=15, what="parked files shipped after the fix")
        self.assert_stored(contents, fl)
        self.assertEqual(self.spool_files(), [])

    def test_outage_backlog_grows_nothing_lost_each_stored_once(self):
        gate = TcpGate(self.moto.port)
        gate.open()
        try:
            cfg = self.config(endpoint="http://127.0.0.1:%d" % gate.port)
            self.start_shipper(cfg, self.moto.env())
            first = flows(3)
            contents = write_pcaps(self.spool, first, self.shm)
            lt.wait_for(lambda: not self.spool_files(), timeout=15, what="shipping before the outage")
            gate.close()
            during = flows(12, base_ts=1764080000000000, first_port=42000)
            for chunk in (during[:4], during[4:8], during[8:]):
                contents.update(write_pcaps(self.spool, chunk, self.shm))
                time.sleep(0.7)
            lt.wait_for(lambda: self.counters()["backlog"] >= 12, timeout=5, what="backlog gauge grows")
            self.assertEqual(len(self.spool_files()), 12, "nothing leaves the spool while the server is away")
            self.assertGreater(self.counters()["retries"], 0)
            self.assertIn("event=upload_retry", self.log_text())
            gate.open()
            lt.wait_for(lambda: not self.spool_files(), timeout=30, what="backlog shipped after the outage")
            self.assertEqual(self.spool_files("failed"), [])
            self.assert_stored(contents, first + during)
            self.assertEqual(sorted(self.moto.list_keys(self.bucket)), sorted(f.key() for f in first + during))
            counts = self.stored_counts()
            self.assertEqual(sorted(counts), sorted(contents), "every file stored")
            self.assertTrue(all(v == 1 for v in counts.values()), counts)
            lt.wait_for(lambda: self.counters()["backlog"] == 0, timeout=5, what="backlog back to 0")
        finally:
            gate.close()

    def test_integrity_headers_match_the_body(self):
        """What makes a corrupted upload rejected by S3: Content-MD5 and x-amz-content-sha256 of the exact bytes.
        (moto does not verify Content-MD5, so the request is read off the wire and checked here.)"""
        import base64
        import hashlib
        gate = TcpGate(self.moto.port)
        gate.open()
        try:
            fl = flows(1)
            contents = write_pcaps(self.spool, fl)
            self.start_shipper(self.config(endpoint="http://127.0.0.1:%d" % gate.port), self.moto.env())
            lt.wait_for(lambda: not self.spool_files(), timeout=15, what="shipped through the gate")
        finally:
            gate.close()
        head, _, rest = bytes(gate.sent).partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.assertTrue(lines[0].startswith("PUT /%s/%s " % (self.bucket, fl[0].key())), lines[0])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        body = contents[fl[0].name]
        self.assertEqual(rest[:len(body)], body)
        self.assertEqual(headers["content-md5"], base64.b64encode(hashlib.md5(body).digest()).decode())
        self.assertEqual(headers["x-amz-content-sha256"], hashlib.sha256(body).hexdigest())
        self.assertIn("content-md5", headers["authorization"], "Content-MD5 is signed")
        self.assertEqual(int(headers["content-length"]), len(body))

    def test_kill9_mid_uploads_restart_stores_everything(self):
        fl = flows(150, base_ts=1764090000000000, first_port=10000)
        contents = write_pcaps(self.spool, fl)
        cfg = self.config(concurrency=8)
        p = self.start_shipper(cfg, self.moto.env())
        lt.wait_for(lambda: len(self.stored_counts()) >= 5, timeout=20, interval=0.01, what="first uploads")
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)
        left = len(self.spool_files())
        self.assertGreater(left, 0, "killed before the end (test needs a backlog)")
        # second run: SIGTERM in the middle lets the uploads in flight finish, then exits 0
        p = self.start_shipper(cfg, self.moto.env())
        done = len(self.stored_counts())
        lt.wait_for(lambda: len(self.stored_counts()) >= done + 5, timeout=20, interval=0.01, what="more uploads")
        if self.spool_files():
            self.assertEqual(self.procs.stop(p), 0)
            self.assertIn("event=stopping", self.log_text())
            self.assertNotIn("event=abandoned", self.log_text(), "in-flight uploads finished before exit")
            self.start_shipper(cfg, self.moto.env())
        lt.wait_for(lambda: not self.spool_files(), timeout=60, what="everything shipped after the restarts")
        self.assertEqual(self.spool_files("failed"), [])
        self.assertEqual(sorted(self.moto.list_keys(self.bucket)), sorted(f.key() for f in fl))
        self.assert_stored(contents, fl)
        self.assertEqual([n for n in os.listdir(self.spool) if n not in ("failed",)], [], "spool left clean")

    def test_session_token_and_shared_profile(self):
        creds = self.moto.assume_role()
        fl = flows(1)
        contents = write_pcaps(self.spool, fl)
        env = self.moto.env(access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                            session_token=creds["SessionToken"])
        p = self.start_shipper(self.config(), env)
        lt.wait_for(lambda: not self.spool_files(), timeout=15, what="shipped with a session token")
        self.procs.stop(p)
        self.assert_stored(contents, fl)
        self.assertIn("session_token=yes", self.log_text())
        self.assertNotIn(creds["SessionToken"], self.log_text())

        # shared credentials file, named profile from the config, nothing in the environment
        path = os.path.join(self.dir, "credentials")
        with open(path, "w") as f:
            f.write("[default]\naws_access_key_id = AKIAWRONGWRONGWRONG0\naws_secret_access_key = nope\n\n"
                    "[lurker]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (self.moto.access_key, self.moto.secret_key))
        env = self.moto.env()
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            del env[k]
        env["AWS_SHARED_CREDENTIALS_FILE"] = path
        fl2 = flows(1, base_ts=1764099999000000)
        contents.update(write_pcaps(self.spool, fl2))
        self.start_shipper(self.config(extra_s3="    profile: lurker\n", name="profile.yaml"), env)
        lt.wait_for(lambda: not self.spool_files(), timeout=15, what="shipped with a shared profile")
        self.assert_stored(contents, fl2)
        self.assertIn("source=\"shared-file profile=lurker\"", self.log_text())

    def test_client_get_list_put_for_the_analyzer(self):
        """common/s3.c's blocking calls (the analyzer's s3:// inputs): get, list over several pages, odd keys."""
        s3 = self.moto.client("s3")
        # a space and '~' need care in signing. (moto 5.2.1 also rejects boto3's own signatures for keys with
        # non-ASCII or any of =&!(*',;@$, so those are covered by the signer's unit test against botocore instead.)
        keys = ["in/a %d ~x.pcap" % i for i in range(7)]
        for k in keys[:3]:
            s3.put_object(Bucket=self.bucket, Key=k, Body=k.encode())
        for k in keys[3:]:
            s3.put_object(Bucket=self.bucket, Key=k, Body=b"")
        env = self.moto.env()
        run = lambda *a: subprocess.run([S3CHECK, self.moto.endpoint, self.bucket] + list(a), env=env,
                                        capture_output=True, timeout=60)
        r = run("get", keys[1], "1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, keys[1].encode())
        r = run("get", keys[1], "5")
        self.assertNotEqual(r.returncode, 0, "max_len is enforced")
        r = run("get", "in/missing", "1000")
        self.assertIn(b"code=NoSuchKey", r.stderr)
        self.assertIn(b"outcome=2", r.stderr, "NoSuchKey is permanent")
        # moto 5.2.1 mis-verifies signed list requests whose prefix holds '/', so list the whole bucket here
        r = run("list", "", "2")  # two keys per page: four pages with continuation tokens
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = [line.rsplit(" ", 1)[0] for line in r.stdout.decode().splitlines()]
        self.assertEqual(sorted(listed), sorted(keys), "every page listed, keys XML-decoded")
        s3.put_object(Bucket=self.bucket, Key="other.pcap", Body=b"o")
        r = run("list", "in", "3")
        self.assertEqual(sorted(l.rsplit(" ", 1)[0] for l in r.stdout.decode().splitlines()), sorted(keys),
                         "the prefix selects")
        with open(os.path.join(self.dir, "obj"), "wb") as f:
            f.write(b"\x00\x01binary")
        r = run("put", "put/by the client.bin", os.path.join(self.dir, "obj"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(s3.get_object(Bucket=self.bucket, Key="put/by the client.bin")["Body"].read(),
                         b"\x00\x01binary")
        env["AWS_SECRET_ACCESS_KEY"] = "wrong"
        r = run("get", keys[1], "1000")
        self.assertIn(b"code=SignatureDoesNotMatch", r.stderr)

    def test_imds_v2_token_required_and_refreshed_before_expiry(self):
        moto = self.moto
        state = {"token": "tok-%d" % os.getpid(), "fetches": [], "rejected": 0, "lifetime": 10}

        class Imds(lt.QuietHandler):
            def do_PUT(self):
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self.reply(200, state["token"])
                state["rejected"] += 1
                self.reply(400, "missing TTL header")

            def do_GET(self):
                if self.headers.get("X-aws-ec2-metadata-token") != state["token"]:
                    state["rejected"] += 1
                    return self.reply(401, "")
                if self.path == "/latest/meta-data/iam/security-credentials/":
                    return self.reply(200, "lurker-sensor-role")
                if self.path == "/latest/meta-data/iam/security-credentials/lurker-sensor-role":
                    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=state["lifetime"])
                    session = "imds-%d" % len(state["fetches"])
                    state["fetches"].append((time.time(), exp.timestamp()))
                    return self.reply(200, moto.imds_credentials(session, exp))
                self.reply(404, "")

        server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Imds)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            endpoint = "http://127.0.0.1:%d" % server.server_address[1]
            import urllib.error
            import urllib.request
            with self.assertRaises(urllib.error.HTTPError, msg="the test endpoint insists on the token"):
                urllib.request.urlopen(endpoint + "/latest/meta-data/iam/security-credentials/", timeout=5)
            state["rejected"] = 0
            env = moto.env()
            for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"):
                env.pop(k, None)
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = endpoint
            first = flows(1)
            contents = write_pcaps(self.spool, first)
            self.start_shipper(self.config(), env)
            lt.wait_for(lambda: not self.spool_files(), timeout=15, what="shipped with IMDS credentials")
            self.assertEqual(len(state["fetches"]), 1)
            time.sleep(state["lifetime"] / 2 + 0.5)  # past the refresh point, before expiry
            second = flows(2, base_ts=1764095000000000)
            contents.update(write_pcaps(self.spool, second, self.shm))
            lt.wait_for(lambda: not self.spool_files(), timeout=15, what="shipped after refresh")
            self.assert_stored(contents, first + second)
            self.assertGreaterEqual(len(state["fetches"]), 2, "credentials fetched again")
            fetched_again, first_expiry = state["fetches"][1][0], state["fetches"][0][1]
            self.assertLess(fetched_again, first_expiry, "refreshed before the first credentials expired")
            self.assertEqual(state["rejected"], 0, "every IMDS request carried the token")
            self.assertIn("source=\"imds role=lurker-sensor-role\"", self.log_text())
            self.assertEqual(self.counters()["failures"], 0)
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    unittest.main()
