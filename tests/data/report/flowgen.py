"""Synthetic flows written as classic pcaps with the standard library only (the tests' Python has no scapy).

Ethernet + IPv4 + TCP/UDP with correct checksums; a TCP flow is one of the shapes a honeypot sees:
  complete  SYN, SYN+ACK, ACK, [banner from lurker's side], the client's bytes, FIN
  reset     SYN, SYN+ACK, RST from the client (nmap/masscan SYN scans)
  spoofed   SYN, SYN+ACK and nothing more (the source never sees the SYN+ACK)
"""
import socket
import struct

ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"


def _checksum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _ip(src, dst, proto, body, ident=1):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident & 0xffff, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:]
    return ETH + hdr + body


def _pseudo(src, dst, proto, length):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def tcp_packet(src, dst, sport, dport, seq, ack, flags, data=b""):
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}
    f = sum(bits[c] for c in flags)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, f, 64240, 0, 0)
    csum = _checksum(_pseudo(src, dst, 6, len(hdr) + len(data)) + hdr + data)
    hdr = hdr[:16] + struct.pack("!H", csum) + hdr[18:]
    return _ip(src, dst, 6, hdr + data)


def udp_packet(src, dst, sport, dport, data):
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    csum = _checksum(_pseudo(src, dst, 17, len(hdr) + len(data)) + hdr + data) or 0xffff
    return _ip(src, dst, 17, hdr[:6] + struct.pack("!H", csum) + data)


def tcp_flow(client, server, sport, dport, t0, payload=b"", banner=b"", kind="complete", cisn=1000, sisn=5000):
    """[(time, frame)] of one TCP flow; payload is split into segments of at most 1200 bytes."""
    c, s = (client, server, sport, dport), (server, client, dport, sport)
    out = [tcp_packet(*c, cisn, 0, "S"), tcp_packet(*s, sisn, cisn + 1, "SA")]
    if kind == "reset":
        out.append(tcp_packet(*c, cisn + 1, 0, "R"))
    elif kind == "complete":
        out.append(tcp_packet(*c, cisn + 1, sisn + 1, "A"))
        if banner:
            out.append(tcp_packet(*s, sisn + 1, cisn + 1, "PA", banner))
        off = 0
        for i in range(0, len(payload), 1200):
            out.append(tcp_packet(*c, cisn + 1 + i, sisn + 1 + len(banner), "PA", payload[i:i + 1200]))
            off = i + len(payload[i:i + 1200])
        out.append(tcp_packet(*c, cisn + 1 + off, sisn + 1 + len(banner), "FA"))
    elif kind != "spoofed":
        raise ValueError(kind)
    return [(t0 + i * 0.004, p) for i, p in enumerate(out)]


def udp_flow(client, server, sport, dport, t0, payload):
    return [(t0, udp_packet(client, server, sport, dport, payload))]


def write_pcap(path, packets):
    """packets: [(time, frame)], written in time order (classic pcap, microseconds, Ethernet)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for t, frame in sorted(packets, key=lambda p: p[0]):
            sec = int(t)
            f.write(struct.pack("<IIII", sec, int(round((t - sec) * 1e6)) % 1000000, len(frame), len(frame)))
            f.write(frame)
