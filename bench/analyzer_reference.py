#!/usr/bin/python3
"""The original analyzer's reassembly, rewritten as a reference (Debian's python3: needs python3-dpkt).

Per flow, fed the client's direction only (docs/design.md §7): offsets relative to the client's first sequence number
(+1 when that packet is the SYN), segments stable-sorted by offset, zero bytes for gaps, overlapping prefixes
trimmed, no wrap-around handling. Prints one JSON line per flow:
  {"pcap": PATH, "client": "ADDR:PORT", "server": "ADDR:PORT", "proto": "tcp"|"udp", "payload_hex": "..."}
With --records it writes what the original wrote instead, one JSON record per flow (init_ts, last_ts, src_addr,
dst_port, payload as base64, readable), the work the benchmark compares with lurker-analyzer's.
Usage: analyzer_reference.py [--records] PCAP...
"""
import base64
import json
import socket
import sys

import dpkt


def ip_str(raw):
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def packets(path):
    with open(path, "rb") as f:
        try:
            reader = dpkt.pcap.Reader(f)
        except ValueError:
            f.seek(0)
            reader = dpkt.pcapng.Reader(f)
        link = reader.datalink()
        for ts, buf in reader:
            try:
                if link == dpkt.pcap.DLT_EN10MB:
                    ip = dpkt.ethernet.Ethernet(buf).data
                elif link == dpkt.pcap.DLT_LINUX_SLL:
                    ip = dpkt.sll.SLL(buf).data
                elif link in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
                    ip = dpkt.loopback.Loopback(buf).data
                else:
                    ip = dpkt.ip.IP(buf) if buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
            except (dpkt.UnpackError, IndexError):
                continue
            if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(ip.data, (dpkt.tcp.TCP, dpkt.udp.UDP)):
                yield ts, ip


def reassemble(segments, base):
    """The original algorithm on (seq, data) pairs of one direction."""
    pieces = sorted(((seq - base, data) for seq, data in segments), key=lambda p: p[0])  # stable
    out = b""
    for off, data in pieces:
        if off > len(out):
            out += b"\x00" * (off - len(out))
        if off + len(data) > len(out):
            out += data[len(out) - off:]
    return out


def flows(path):
    table = {}
    order = []
    for ts, ip in packets(path):
        l4 = ip.data
        src = (ip_str(ip.src), l4.sport)
        dst = (ip_str(ip.dst), l4.dport)
        proto = "tcp" if isinstance(l4, dpkt.tcp.TCP) else "udp"
        key = (proto,) + tuple(sorted([src, dst]))
        f = table.get(key)
        if f is None:
            f = table[key] = {"client": src, "server": dst, "proto": proto, "syn_seen": False, "pkts": [],
                              "init_ts": ts, "last_ts": ts}
            order.append(key)
        if proto == "tcp":
            syn = l4.flags & dpkt.tcp.TH_SYN and not l4.flags & dpkt.tcp.TH_ACK
            if syn and not f["syn_seen"]:
                f["syn_seen"] = True
                if src != f["client"]:
                    f["client"], f["server"] = src, dst
        f["pkts"].append((src, l4))
        f["last_ts"] = ts
    for key in order:
        f = table[key]
        mine = [l4 for src, l4 in f["pkts"] if src == f["client"]]
        if f["proto"] == "udp":
            payload = b"".join(bytes(l4.data) for l4 in mine)
        elif not mine:
            payload = b""
        else:
            first = mine[0]
            base = first.seq + (1 if first.flags & dpkt.tcp.TH_SYN else 0)
            payload = reassemble([(l4.seq, bytes(l4.data)) for l4 in mine if len(l4.data)], base)
        yield f, payload


READABLE = bytes(c if 0x20 <= c <= 0x7e or c in b"\t\n\x0b\x0c\r" else ord(".") for c in range(256))


def main():
    records = "--records" in sys.argv
    out = sys.stdout
    for path in [a for a in sys.argv[1:] if a != "--records"]:
        for f, payload in flows(path):
            if records:
                out.write(json.dumps({"init_ts": int(f["init_ts"]), "last_ts": int(f["last_ts"]),
                                      "src_addr": f["client"][0], "dst_port": f["server"][1],
                                      "payload": base64.b64encode(payload).decode(),
                                      "readable": payload.translate(READABLE).decode("ascii"),
                                      "s3path": path}) + "\n")
            else:
                out.write(json.dumps({"pcap": path, "client": "%s:%d" % f["client"], "server": "%s:%d" % f["server"],
                                      "proto": f["proto"], "payload_hex": payload.hex()}) + "\n")


if __name__ == "__main__":
    main()
