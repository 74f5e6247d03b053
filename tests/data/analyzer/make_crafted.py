#!/usr/bin/python3
"""Writes the crafted pcaps of the analyzer's tests into a directory (Debian's python3 with scapy).

Each pcap exercises one reassembly or decoding case; the expectations live in the tests, which compare the
analyzer with tshark's follow and with the Python/dpkt reference (tests/data/analyzer/reference.py).
Usage: make_crafted.py OUTDIR
"""
import os
import struct
import sys

from scapy.all import IP, IPv6, TCP, UDP, ICMP, Ether, Raw, DNS, DNSQR, wrpcap, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop
from scapy.layers.l2 import CookedLinux

CLIENT4, SERVER4 = "198.51.100.2", "203.0.113.10"
CLIENT6, SERVER6 = "2001:db8:a::2", "2001:db8:5::10"
T0 = 1764098401.25


def tcp_session(client_isn, server_isn, segments, sport=40000, dport=80, v6=False, ether=True, handshake=True,
                server_data=None, fin=True, t0=T0):
    """segments: list of (offset_from_isn+1, bytes) the client sends, in capture order."""
    ip = (lambda: IPv6(src=CLIENT6, dst=SERVER6)) if v6 else (lambda: IP(src=CLIENT4, dst=SERVER4))
    rip = (lambda: IPv6(src=SERVER6, dst=CLIENT6)) if v6 else (lambda: IP(src=SERVER4, dst=CLIENT4))
    cseq = lambda off: (client_isn + 1 + off) & 0xffffffff
    sack = (server_isn + 1) & 0xffffffff
    pkts = []
    if handshake:
        pkts.append(ip() / TCP(sport=sport, dport=dport, flags="S", seq=client_isn))
        pkts.append(rip() / TCP(sport=dport, dport=sport, flags="SA", seq=server_isn, ack=cseq(0)))
        pkts.append(ip() / TCP(sport=sport, dport=dport, flags="A", seq=cseq(0), ack=sack))
    soff = 0
    if server_data:
        pkts.append(rip() / TCP(sport=dport, dport=sport, flags="PA", seq=sack, ack=cseq(0)) / Raw(server_data))
        soff = len(server_data)
    end = 0
    for off, data in segments:
        pkts.append(ip() / TCP(sport=sport, dport=dport, flags="PA", seq=cseq(off), ack=(sack + soff) & 0xffffffff)
                    / Raw(data))
        end = max(end, off + len(data))
    if fin:
        pkts.append(ip() / TCP(sport=sport, dport=dport, flags="FA", seq=cseq(end), ack=(sack + soff) & 0xffffffff))
    if ether:
        pkts = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / p for p in pkts]
    for i, p in enumerate(pkts):
        p.time = t0 + i * 0.01
    return pkts


HTTP = (b"GET /cgi-bin/luci;stok=/locale?form=country HTTP/1.1\r\nHost: 203.0.113.10\r\n"
        b"User-Agent: Mozilla/5.0 zgrab/0.x\r\nAccept: */*\r\n\r\n")


def client_hello():
    """A TLS 1.3 ClientHello with GREASE values, SNI and ALPN, built by hand so the JA3 input is known."""
    def ext(t, body):
        return struct.pack(">HH", t, len(body)) + body
    sni = b"grease.example"
    exts = (ext(0x0a0a, b"") +
            ext(0, struct.pack(">HBH", len(sni) + 3, 0, len(sni)) + sni) +
            ext(10, struct.pack(">H", 6) + struct.pack(">HHH", 0x2a2a, 29, 23)) +
            ext(11, b"\x01\x00") +
            ext(16, struct.pack(">H", 12) + b"\x02h2\x08http/1.1") +
            ext(43, b"\x06" + struct.pack(">HHH", 0x3a3a, 0x0304, 0x0303)) +
            ext(13, struct.pack(">HHH", 4, 0x0403, 0x0804)))
    ciphers = struct.pack(">HHHHH", 0x1a1a, 0x1301, 0x1302, 0xc02b, 0xc02f)
    body = (struct.pack(">H", 0x0303) + bytes(range(32)) + b"\x00" + struct.pack(">H", len(ciphers)) + ciphers +
            b"\x01\x00" + struct.pack(">H", len(exts)) + exts)
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def cases():
    c = {}
    c["http_simple"] = tcp_session(1000, 5000, [(0, HTTP)])
    # in order, then the middle segment again (retransmission)
    c["retransmission"] = tcp_session(2000, 6000, [(0, HTTP[:40]), (40, HTTP[40:80]), (40, HTTP[40:80]),
                                                   (80, HTTP[80:])])
    # reordered: third, first, second
    c["reordered"] = tcp_session(3000, 7000, [(80, HTTP[80:]), (0, HTTP[:40]), (40, HTTP[40:80])])
    # overlap with identical bytes: a segment covering [30, 60) after [0, 40)
    c["overlap_same"] = tcp_session(4000, 8000, [(0, HTTP[:40]), (30, HTTP[30:60]), (60, HTTP[60:])])
    # overlap with different bytes: first-seen wins
    c["overlap_conflict"] = tcp_session(4100, 8100, [(0, HTTP[:40]), (30, b"Z" * 30),
                                                     (60, HTTP[60:])])
    # gap: bytes [40, 80) never captured
    c["gap"] = tcp_session(5000, 9000, [(0, HTTP[:40]), (80, HTTP[80:])])
    # sequence numbers wrap past 2^32 inside the payload
    c["wraparound"] = tcp_session(0xffffffff - 50, 0xfffffff0, [(0, HTTP[:40]), (40, HTTP[40:80]), (80, HTTP[80:])])
    c["ipv6"] = tcp_session(6000, 10000, [(0, b"SSH-2.0-libssh_0.9.6\r\n")], v6=True, dport=22)
    c["ssh_banner_both"] = tcp_session(6100, 10100, [(0, b"SSH-2.0-Go\r\n")], dport=2222,
                                       server_data=b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    # no SYN captured: the flow starts mid-stream
    c["midstream"] = tcp_session(7000, 11000, [(0, HTTP[:50]), (50, HTTP[50:])], handshake=False)
    # redis and rdp
    c["redis"] = tcp_session(7100, 11100, [(0, b"*1\r\n$4\r\nINFO\r\n")], dport=6379)
    c["rdp"] = tcp_session(7200, 11200, [(0, bytes.fromhex("030000250ee000000000") + b"\x00Cookie: mstshash=admin\r\n"
                                          + bytes.fromhex("0100080003000000"))], dport=3389)
    # UDP DNS query and an ICMP echo
    dns = IP(src=CLIENT4, dst=SERVER4) / UDP(sport=53000, dport=53) / DNS(rd=1, qd=DNSQR(qname="example.com", qtype="A"))
    c["udp_dns"] = [Ether() / dns]
    c["icmp"] = [Ether() / IP(src=CLIENT4, dst=SERVER4) / ICMP(type=8, id=1, seq=1) / Raw(b"ping")]
    for name in ("udp_dns", "icmp"):
        c[name][0].time = T0
    # attacker bytes that are not text: NUL, high bytes, invalid UTF-8, quotes and escapes in HTTP fields
    c["hostile"] = tcp_session(9400, 13400, [(0, b"GET /\x00\xff\xfe\"quote\\ HTTP/1.1\r\nHost: h\xc3\x28\xe2\x82\r\n"
                                              b"User-Agent: \x1b[31mred\x7f\r\n\r\n\x80\x81")])
    c["tls_grease"] = tcp_session(9500, 13500, [(0, client_hello())], dport=443)
    # several flows in one pcap, interleaved
    a = tcp_session(8000, 12000, [(0, b"GET /a HTTP/1.0\r\n\r\n")], sport=41000)
    b = tcp_session(8100, 12100, [(0, b"SSH-2.0-x\r\n")], sport=41001, dport=22)
    c["multi_flow"] = [p for pair in zip(a, b) for p in pair]
    # the same addresses and ports used twice, one connection after the other (a new ISN): two flows
    first = tcp_session(8200, 12200, [(0, b"FIRST\r\n")], sport=42000, dport=23)
    second = tcp_session(9900000, 13900000, [(0, b"SECOND\r\n")], sport=42000, dport=23, t0=T0 + 5)
    c["port_reuse"] = first + second
    # IPv6 with extension headers before TCP
    ext = tcp_session(9000, 13000, [(0, b"HELLO-EXT\r\n")], v6=True, dport=8080)
    for p in ext:
        if p.haslayer(IPv6):
            ip6 = p[IPv6]
            tcp = ip6.payload
            ip6.remove_payload()
            ip6.add_payload(IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / tcp)
            del ip6.nh
            del ip6.plen
    c["ipv6_ext"] = ext
    # other link types: Linux cooked capture and BSD loopback (NULL)
    sll = tcp_session(9100, 13100, [(0, b"GET /sll HTTP/1.1\r\n\r\n")], ether=False)
    c["linux_sll"] = [CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02\x00\x00\x00\x00\x01",
                                  proto=0x0800) / p for p in sll]
    for p, q in zip(c["linux_sll"], sll):
        p.time = q.time
    c["raw_ip"] = tcp_session(9200, 13200, [(0, b"GET /raw HTTP/1.1\r\n\r\n")], ether=False)
    return c


def write_null_linktype(path, pkts):
    """DLT_NULL by hand: scapy's Loopback writer picks LOOP; the analyzer should read both."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 0))
        for p in pkts:
            raw = struct.pack("<I", 2) + bytes(p)
            sec = int(p.time)
            usec = int(round((p.time - sec) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(raw), len(raw)) + raw)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, pkts in cases().items():
        if name == "raw_ip":
            wrpcap(os.path.join(out, name + ".pcap"), pkts, linktype=101)
        elif name == "linux_sll":
            wrpcap(os.path.join(out, name + ".pcap"), pkts, linktype=113)
        else:
            wrpcap(os.path.join(out, name + ".pcap"), pkts)
    write_null_linktype(os.path.join(out, "null_linktype.pcap"),
                        tcp_session(9300, 13300, [(0, b"GET /null HTTP/1.1\r\n\r\n")], ether=False))
    # nanosecond pcap, big-endian: rewrite http_simple by hand
    src = open(os.path.join(out, "http_simple.pcap"), "rb").read()
    write_variant(src, os.path.join(out, "nsec_bigendian.pcap"))
    # truncated in the middle of the last packet, and a corrupt record header after two good packets
    full = open(os.path.join(out, "retransmission.pcap"), "rb").read()
    open(os.path.join(out, "truncated.pcap"), "wb").write(full[:-20])
    recs = record_offsets(full)
    bad = bytearray(full)
    struct.pack_into("<I", bad, recs[3] + 8, 0x7fffffff)   # caplen of the 4th record
    open(os.path.join(out, "corrupt.pcap"), "wb").write(bytes(bad))
    open(os.path.join(out, "not_a_pcap.pcap"), "wb").write(b"this is not a pcap file at all\n")


def record_offsets(data):
    at, offs = 24, []
    while at + 16 <= len(data):
        offs.append(at)
        caplen = struct.unpack_from("<I", data, at + 8)[0]
        at += 16 + caplen
    return offs


def write_variant(src, path):
    """Same packets as a big-endian, nanosecond-resolution classic pcap."""
    magic, vmaj, vmin, zone, sig, snap, link = struct.unpack_from("<IHHiIII", src, 0)
    out = [struct.pack(">IHHiIII", 0xa1b23c4d, vmaj, vmin, zone, sig, snap, link)]
    for at in record_offsets(src):
        sec, usec, caplen, origlen = struct.unpack_from("<IIII", src, at)
        out.append(struct.pack(">IIII", sec, usec * 1000, caplen, origlen) + src[at + 16:at + 16 + caplen])
    open(path, "wb").write(b"".join(out))


if __name__ == "__main__":
    main()
