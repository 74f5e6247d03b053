"""lurker-analyzer on crafted pcaps (scapy): reassembly cases, link types, pcap variants, broken files, inputs.

Every TCP flow is also checked against tshark's follow and the original algorithm (analyzer_check.differential)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyzer"))
import analyzer_check as ac  # noqa: E402

HTTP = (b"GET /cgi-bin/luci;stok=/locale?form=country HTTP/1.1\r\nHost: 203.0.113.10\r\n"
        b"User-Agent: Mozilla/5.0 zgrab/0.x\r\nAccept: */*\r\n\r\n")


class Crafted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lurker-analyzer-")
        ac.make_crafted(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def pcap(self, name):
        return os.path.join(self.dir, name + ".pcap")

    def one(self, name, *args):
        records, err, rc = ac.run_analyzer(*(list(args) + [self.pcap(name)]))
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(records), 1, records)
        return records[0]

    def test_every_pcap_matches_tshark_and_reference(self):
        compared = 0
        # port_reuse holds one client address and port twice: checked on its own below
        names = [n for n in sorted(os.listdir(self.dir))
                 if n.endswith(".pcap") and n not in ("not_a_pcap.pcap", "port_reuse.pcap")]
        refs = ac.reference_many([os.path.join(self.dir, n) for n in names])
        for name in names:
            path = os.path.join(self.dir, name)
            records, err, rc = ac.run_analyzer(path)
            self.assertTrue(records, "%s gave no record: %s" % (name, err))
            # the original had no wrap-around handling: it cannot be a reference there
            compared += ac.differential(self, path, records, skip_reference=name.startswith("wraparound"),
                                        ref={} if name.startswith("wraparound") else refs[path])
        self.assertGreaterEqual(compared, 20)

    def test_simple_http_record(self):
        r = self.one("http_simple")
        self.assertEqual(r["schema_version"], 1)
        self.assertEqual((r["src_addr"], r["src_port"], r["dst_addr"], r["dst_port"], r["proto"]),
                         ("198.51.100.2", 40000, "203.0.113.10", 80, "tcp"))
        self.assertEqual(ac.payload(r), HTTP)
        self.assertEqual(r["readable"], HTTP.decode())
        self.assertEqual(r["init_ts"], 1764098401)
        self.assertEqual(r["init_time"], "2025-11-25T19:20:01.250000Z")
        self.assertTrue(r["handshake"])
        self.assertEqual(r["packets"], 5)
        self.assertEqual(r["service"], "http")
        self.assertEqual(r["http"], {"method": "GET", "path": "/cgi-bin/luci;stok=/locale?form=country",
                                     "version": "1.1", "host": "203.0.113.10", "user_agent": "Mozilla/5.0 zgrab/0.x"})
        self.assertEqual(r["tcp"]["client_fin"], True)
        self.assertFalse(r["truncated"])
        self.assertEqual(r["s3path"], self.pcap("http_simple"))

    def test_reassembly_cases(self):
        """Each crafted pcap: its payload as reassembled, and the counters that say what reassembly met (the
        retransmission counted once, overlaps first-seen-wins, a gap marked not zero-filled, wrap-around, no
        handshake)."""
        cases = [("retransmission", HTTP, {"retransmissions": 1}),
                 ("overlap_same", HTTP, {"overlaps": 1, "overlap_conflicts": 0}),
                 ("overlap_conflict", HTTP[:40] + b"Z" * 20 + HTTP[60:], {"overlap_conflicts": 1}),
                 ("gap", HTTP[:40] + HTTP[80:], {"gaps": 1, "gap_ranges": [{"offset": 40, "length": 40}]}),
                 ("wraparound", HTTP, {"gaps": 0}),
                 ("midstream", HTTP, {"handshake": False})]
        for name, payload, fields in cases:
            with self.subTest(name):
                r = self.one(name)
                self.assertEqual(ac.payload(r), payload)
                self.assertNotIn(b"\x00", ac.payload(r), "a gap is marked, not zero-filled")
                self.assertEqual({k: r[k] for k in fields}, fields)
        r = self.one("reordered")
        self.assertEqual(ac.payload(r), HTTP)
        self.assertGreaterEqual(r["out_of_order"], 1)

    def test_local_prefix_orients_from_the_outsider_and_says_who_started(self):
        """--local: src_* is always the remote peer; a pcap that starts with the sensor's packet says so."""
        script = ("import sys\nfrom scapy.all import Ether, IP, TCP, UDP, Raw, wrpcap\n"
                  "S, R = '203.0.113.10', '198.51.100.7'\n"
                  "wrpcap(sys.argv[1] + '/host.pcap', ["
                  "Ether()/IP(src=S, dst=R)/TCP(sport=45000, dport=80, flags='S', seq=1),"
                  "Ether()/IP(src=R, dst=S)/TCP(sport=80, dport=45000, flags='SA', seq=500, ack=2),"
                  "Ether()/IP(src=S, dst=R)/TCP(sport=45000, dport=80, flags='PA', seq=2, ack=501)/Raw(b'GET /')])\n"
                  "wrpcap(sys.argv[1] + '/midstream_out.pcap', ["
                  "Ether()/IP(src=S, dst=R)/TCP(sport=8080, dport=1234, flags='PA', seq=10, ack=20)/Raw(b'banner'),"
                  "Ether()/IP(src=R, dst=S)/TCP(sport=1234, dport=8080, flags='PA', seq=20, ack=16)/Raw(b'hello')])\n"
                  "wrpcap(sys.argv[1] + '/udp_in.pcap', [Ether()/IP(src=R, dst=S)/UDP(sport=5000, dport=53)/Raw(b'q'),"
                  "Ether()/IP(src=S, dst=R)/UDP(sport=53, dport=5000)/Raw(b'a')])\n")
        d = os.path.join(self.dir, "local")
        os.makedirs(d, exist_ok=True)
        subprocess.run([ac.lurkertest.DEBIAN_PY, "-c", script, d], check=True, capture_output=True)
        rows = {}
        for name in ("host", "midstream_out", "udp_in"):
            plain, err, rc = ac.run_analyzer(os.path.join(d, name + ".pcap"))
            self.assertEqual(rc, 0, err)
            self.assertNotIn("started_by", plain[0], "no --local: the record is as before")
            local, err, rc = ac.run_analyzer("--local", "203.0.113.0/24", os.path.join(d, name + ".pcap"))
            self.assertEqual(rc, 0, err)
            rows[name] = (plain[0], local[0])
        plain, local = rows["host"]
        self.assertEqual(plain["src_addr"], "203.0.113.10", "without --local the SYN's sender is the client")
        self.assertEqual((local["src_addr"], local["src_port"], local["dst_addr"], local["dst_port"]),
                         ("198.51.100.7", 80, "203.0.113.10", 45000))
        self.assertEqual(local["started_by"], "sensor")
        plain, local = rows["midstream_out"]
        self.assertEqual(plain["src_addr"], "203.0.113.10", "without --local the first packet's sender")
        self.assertEqual((local["src_addr"], local["dst_port"], local["started_by"]), ("198.51.100.7", 8080, "sensor"))
        self.assertEqual(ac.payload(local), b"hello")
        plain, local = rows["udp_in"]
        self.assertEqual((local["src_addr"], local["started_by"]), ("198.51.100.7", "outsider"))
        self.assertEqual({k: v for k, v in local.items() if k != "started_by"}, plain, "otherwise the same record")
        _, err, rc = ac.run_analyzer("--local", "not-an-address", os.path.join(d, "host.pcap"))
        self.assertEqual(rc, 2, err)

    def test_ipv6_and_ssh_banners(self):
        r = self.one("ipv6")
        self.assertEqual((r["src_addr"], r["dst_addr"], r["dst_port"]), ("2001:db8:a::2", "2001:db8:5::10", 22))
        self.assertEqual(r["ssh"]["banner"], "SSH-2.0-libssh_0.9.6")
        both = self.one("ssh_banner_both")
        self.assertEqual(both["ssh"], {"banner": "SSH-2.0-Go", "server_banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"})
        self.assertEqual(ac.payload(both, "server_payload"), b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        self.assertEqual(ac.payload(both), b"SSH-2.0-Go\r\n")
        ext = self.one("ipv6_ext")
        self.assertEqual(ac.payload(ext), b"HELLO-EXT\r\n")

    def test_link_types_and_pcap_variants(self):
        for name, expect in (("linux_sll", b"GET /sll"), ("raw_ip", b"GET /raw"), ("null_linktype", b"GET /null"),
                             ("nsec_bigendian", b"GET /cgi-bin")):
            r = self.one(name)
            self.assertTrue(ac.payload(r).startswith(expect), name)
            self.assertEqual(r["init_time"], "2025-11-25T19:20:01.250000Z", name)

    def test_recognisers(self):
        self.assertEqual(self.one("redis")["redis"], {"command": "INFO"})
        rdp = self.one("rdp")
        self.assertEqual((rdp["service"], rdp["rdp"]["cookie"]), ("rdp", "admin"))
        dns = self.one("udp_dns")
        self.assertEqual((dns["proto"], dns["service"], dns["dns"]), ("udp", "dns", {"qname": "example.com", "qtype": 1}))
        self.assertFalse(dns["handshake"])
        icmp = self.one("icmp")
        self.assertEqual((icmp["proto"], icmp["icmp"]), ("icmp", {"type": 8, "code": 0}))

    def test_tls_ja3_matches_tshark(self):
        r = self.one("tls_grease")
        rows = ac.lurkertest.tshark_fields(self.pcap("tls_grease"), ["tls.handshake.ja3", "tls.handshake.ja3_full"],
                                           "tls.handshake.type == 1")
        self.assertEqual([r["tls"]["ja3"], r["tls"]["ja3_full"]], rows[0])
        self.assertEqual(r["tls"]["sni"], "grease.example")
        self.assertEqual(r["tls"]["alpn"], ["h2", "http/1.1"])
        self.assertEqual(r["tls"]["version"], "TLS 1.3")

    def test_hostile_bytes_stay_valid_utf8_text(self):
        r = self.one("hostile")  # run_analyzer already decoded stdout as strict UTF-8
        for field in (r["readable"], r["http"]["path"], r["http"]["host"], r["http"]["user_agent"]):
            self.assertTrue(all(0x20 <= ord(ch) <= 0x7e or ch in "\t\n\r\x0b\x0c" for ch in field), field)
        self.assertEqual(r["http"]["path"], '/..."quote\\')
        self.assertEqual(r["http"]["user_agent"], ".[31mred.")

    def test_several_flows_in_one_pcap(self):
        records, err, rc = ac.run_analyzer(self.pcap("multi_flow"))
        self.assertEqual(rc, 0, err)
        self.assertEqual([(r["src_port"], r["dst_port"], r["service"]) for r in records],
                         [(41000, 80, "http"), (41001, 22, "ssh")])

    def test_port_reuse_gives_two_flows(self):
        records, err, rc = ac.run_analyzer(self.pcap("port_reuse"))
        self.assertEqual(rc, 0, err)
        self.assertEqual([(r["src_port"], r["readable"], r["handshake"]) for r in records],
                         [(42000, "FIRST\r\n", True), (42000, "SECOND\r\n", True)])
        follow = subprocess.run(["tshark", "-n", "-r", self.pcap("port_reuse"), "-q", "-z", "follow,tcp,ascii,1"],
                                capture_output=True, text=True, timeout=60).stdout
        self.assertIn("SECOND", follow)  # tshark splits the two connections the same way

    def test_truncated_and_corrupt_files(self):
        for name, words in (("truncated", "packet data truncated"), ("corrupt", "corrupt packet header")):
            records, err, rc = ac.run_analyzer(self.pcap(name))
            self.assertEqual(rc, 1)
            self.assertIn(words, err)
            self.assertEqual(len(records), 1)
            self.assertTrue(records[0]["truncated"])
            self.assertIn("pcap", records[0]["truncation"])
        records, err, rc = ac.run_analyzer(self.pcap("not_a_pcap"))
        self.assertEqual((records, rc), ([], 1))
        self.assertIn("not a pcap file", err)

    def test_payload_cap(self):
        r = self.one("http_simple", "--max-payload", "50")
        self.assertEqual(ac.payload(r), HTTP[:50])
        self.assertEqual(r["truncation"], ["payload_cap"])
        self.assertEqual(r["cut_bytes"], len(HTTP) - 50)

    def test_stdin_directory_and_sensor(self):
        with open(self.pcap("http_simple"), "rb") as f:
            data = f.read()
        records, err, rc = ac.run_analyzer("--sensor", "s-7", "-", input=data)
        self.assertEqual(rc, 0, err)
        self.assertEqual((records[0]["s3path"], records[0]["sensor"]), (None, "s-7"))
        nested = os.path.join(self.dir, "tree", "sensor=edge-3", "deeper")
        os.makedirs(nested)
        shutil.copy(self.pcap("redis"), nested)
        shutil.copy(self.pcap("rdp"), os.path.join(self.dir, "tree"))
        with open(os.path.join(nested, "notes.txt"), "w") as f:
            f.write("not a pcap, skipped by name")
        records, err, rc = ac.run_analyzer(os.path.join(self.dir, "tree"))
        self.assertEqual(rc, 0, err)
        self.assertEqual([(r["service"], r["sensor"]) for r in records], [("rdp", None), ("redis", "edge-3")])
        shutil.rmtree(os.path.join(self.dir, "tree"))

    def test_odd_file_names_stay_valid_json(self):
        odd = os.path.join(self.dir, "odd", "a\"b\\c\nd\x01e").encode() + b"\xff\xfe.pcap"
        os.makedirs(os.path.join(self.dir, "odd"))
        shutil.copy(self.pcap("redis"), odd)
        records, err, rc = ac.run_analyzer(odd)  # stdout parsed as strict UTF-8 JSON
        self.assertEqual(rc, 0, err)
        self.assertTrue(records[0]["s3path"].endswith('odd/a"b\\c.d.e...pcap'), records[0]["s3path"])
        records, err, rc = ac.run_analyzer(os.path.join(self.dir, "odd", "é.pcap"))
        self.assertEqual(rc, 1)  # missing file: UTF-8 in the message, nothing on stdout
        self.assertIn("é.pcap", err)
        shutil.rmtree(os.path.join(self.dir, "odd"))

    def test_summary_tables(self):
        r = subprocess.run([ac.ANALYZER, "--summary", self.pcap("http_simple"), self.pcap("multi_flow"),
                            self.pcap("redis")], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("Most recent flows with payload (4 of 4 flows carried one)", out)
        self.assertIn("Flows by destination port (3 distinct)", out)
        self.assertRegex(out, r"\n\s+2  80\n")
        self.assertIn("Flows by service", out)
        self.assertRegex(out, r"\n\s+1  redis\n")
        self.assertEqual(r.stderr, "")  # progress only on a terminal


if __name__ == "__main__":
    unittest.main()
