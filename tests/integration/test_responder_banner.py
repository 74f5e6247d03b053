"""Banner elicitation, stateless through the SYN cookie: an SSH client on a banner port receives the banner and goes
on to send its key-exchange init (which the sensor's tcpdump sees), over IPv4 and IPv6; an FTP client receives 220
and sends USER; a port without a banner stays silent after the handshake; an ACK with a wrong cookie gets nothing."""
import os
import sys
import unittest
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from responder_env import Capture, Responder, wait_ipv6_ready  # noqa: E402
from lurkertest import DEBIAN_PY, SENSOR_V4, SENSOR_V6, TempDir, Topology, tshark_fields  # noqa: E402

SSH_BANNER = "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6"
YAML = ("  banners:\n"
        "    - port: 2222\n      text: \"%s\\r\\n\"\n"
        "    - port: 21\n      text: \"220 (vsFTPd 3.0.5)\\r\\n\"\n" % SSH_BANNER)

# a bare ACK whose acknowledgement number is no cookie of ours
FORGED_ACK = """
from scapy.all import IP, TCP, send, conf
conf.verb = 0
send(IP(dst="%s")/TCP(sport=40404, dport=2222, flags="A", seq=1, ack=123456789))
""" % SENSOR_V4


class BannerTest(unittest.TestCase):
    engine = "raw"  # responder.engine

    def setUp(self):
        self.topo = Topology()
        self.topo.up()
        self.addCleanup(self.topo.down)
        wait_ipv6_ready(self.topo)

    def ssh(self, dst):
        t = self.topo
        return t.ns(t.attacker, "timeout", "3", "ssh", "-v", "-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes",
                    "-o", "ConnectTimeout=2", "-o", "UserKnownHostsFile=/dev/null", "-p", "2222", "probe@" + dst,
                    "true", check=False)

    def test_ssh_and_ftp_clients_take_the_bait(self):
        t = self.topo
        with TempDir() as d, Responder(t, engine=self.engine, addresses=(SENSOR_V4, SENSOR_V6),
                                       responder_yaml=YAML) as r:
            cap = Capture(t, t.sensor, t.s_if, os.path.join(d, "s.pcap"))
            # all clients at once (each waits out its timeout), then the forged ACK
            with ThreadPoolExecutor(4) as pool:
                ssh = {dst: pool.submit(self.ssh, dst) for dst in (SENSOR_V4, SENSOR_V6)}
                ftp = pool.submit(t.ns, t.attacker, "curl", "-v", "-s", "-m", "2", "ftp://%s:21/" % SENSOR_V4,
                                  check=False)
                silent = pool.submit(t.ns, t.attacker, "sh", "-c",
                                     "timeout 2 nc -w 1 %s 2223 </dev/null | head -c 100" % SENSOR_V4, check=False)
                results = {dst: f.result() for dst, f in ssh.items()}
                ftp, silent = ftp.result(), silent.result()
            t.ns(t.attacker, DEBIAN_PY, "-c", FORGED_ACK)
            cap.stop()
            c = r.counters()
            for dst, res in results.items():
                self.assertIn("remote software version OpenSSH_8.9p1", res.stderr, dst)
                self.assertIn("SSH2_MSG_KEXINIT sent", res.stderr, dst)
            # the KEXINITs really left the clients and reached the sensor (SSH message code 20), one per family
            rows = tshark_fields(cap.path, ["ip.src", "ipv6.src", "tcp.payload"], "tcp.dstport == 2222 && tcp.len > 5")
            kex = {(v4, v6) for v4, v6, data in rows if bytes.fromhex(data.replace(":", ""))[5] == 20}
            self.assertEqual(len(kex), 2, rows)
            self.assertIn("< 220 (vsFTPd 3.0.5)", ftp.stderr)
            self.assertIn("> USER anonymous", ftp.stderr)
            self.assertEqual(silent.stdout, "")
            self.assertGreaterEqual(c["banners_sent"], 3)
            self.assertGreaterEqual(c["acks_sent"], 3)
            self.assertEqual(c["cookie_invalid"], 1)


class BannerTestTc(BannerTest):
    """The same with engine: tc (the BPF program answers the SYNs)."""
    engine = "tc"


if __name__ == "__main__":
    unittest.main()
