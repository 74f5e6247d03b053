"""The README's first command, end to end: demo/demo.py plays real scanner and bot traffic against the three
processes under supervisord and checks the analyzer's records itself; here we also check the records it wrote and
that nothing is left behind (processes, namespaces, shared memory)."""
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402


def netns_list():
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())


class DemoTest(unittest.TestCase):
    def test_demo_catches_every_kind_of_traffic_and_cleans_up(self):
        before_ns = {n for n in netns_list() if n.startswith("lkdemo")}
        before_shm = set(glob.glob("/dev/shm/lurker-demo-*"))
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "records.jsonl")
            r = subprocess.run([sys.executable, os.path.join(lt.ROOT, "demo", "demo.py"), "--json", out],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
            self.assertIn("every kind of traffic played was caught and recognised", r.stdout)
            self.assertIn("lurker-ctl status", r.stdout)
            with open(out) as f:
                records = [json.loads(line) for line in f]

        def find(proto, port):
            return [x for x in records if x["proto"] == proto and x["dst_port"] == port]
        ssh = [x for x in find("tcp", 2222) if x.get("service") == "ssh"]
        self.assertTrue(ssh and ssh[0]["ssh"]["banner"].startswith("SSH-2.0-OpenSSH"), ssh)
        yarn = [x for x in find("tcp", 8088) if x.get("service") == "http"]
        self.assertTrue(yarn and yarn[0]["http"]["method"] == "POST", yarn)
        self.assertEqual(yarn[0]["http"]["path"], "/ws/v1/cluster/apps")
        self.assertIn("am-container-spec", yarn[0]["readable"])
        self.assertTrue(yarn[0]["handshake"])
        # one conversation, one flow: the request was acknowledged, so it was sent once and recorded once
        self.assertEqual([(x["retransmissions"], x["readable"].count("POST /ws/v1/cluster/apps")) for x in yarn],
                         [(0, 1)])
        redis = [x for x in find("tcp", 6379) if x.get("service") == "redis"]
        self.assertEqual(redis[0]["redis"]["command"], "INFO")
        tls = [x for x in find("tcp", 443) if x.get("service") == "tls"]
        self.assertEqual(tls[0]["tls"]["sni"], "intranet.example.com")
        self.assertEqual(tls[0]["tls"]["alpn"], ["h2", "http/1.1"])
        dns = [x for x in find("udp", 53) if x.get("service") == "dns"]
        self.assertEqual(dns[0]["dns"]["qname"], "version.bind")
        spoofed = [x for x in records if x["src_addr"] == "198.51.100.77"]
        self.assertEqual(len(spoofed), 1, spoofed)
        self.assertFalse(spoofed[0]["handshake"])
        self.assertEqual(spoofed[0]["dst_port"], 8081)
        self.assertTrue(any(x["src_addr"] == lt.ATTACKER_V6 and x["dst_port"] == 8080 for x in records))
        # only outsiders' flows: nothing the sensor sent first (its neighbour discovery, say) is a record
        own = [x for x in records if x["src_addr"] in (lt.SENSOR_V4, lt.SENSOR_V6)]
        self.assertEqual(own, [], "records with the sensor as src_addr")
        self.assertGreaterEqual(len([x for x in records if x["src_addr"] == lt.ATTACKER_V4]), 1000,
                                "nmap's 1000-port scan should leave a flow per port")

        self.assertEqual({n for n in netns_list() if n.startswith("lkdemo")}, before_ns, "namespaces left behind")
        self.assertEqual(set(glob.glob("/dev/shm/lurker-demo-*")), before_shm, "shared memory left behind")
        leftover = subprocess.run(["pgrep", "-f", "lurker-(responder|capturer|shipper) -c /tmp/lurker-demo-"],
                                  capture_output=True, text=True).stdout.split()
        self.assertEqual(leftover, [], "lurker processes left running")


if __name__ == "__main__":
    unittest.main()
