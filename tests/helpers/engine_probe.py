#!/usr/bin/python3
"""Sends SYN variants one at a time and prints each answer's bytes (Debian python: scapy), for comparing engines.

usage: engine_probe.py DST PORT SPORT_BASE
One JSON line per variant, in VARIANTS order: {"name", "sport", "seq", "mono_ns": [before, after],
"unix": [before, after], "reply": every IP/IPv6 and TCP header field of the answer as scapy dissects it (checksums
as "ok"/"bad" after scapy recomputes them), or null}. Run it inside the attacker namespace."""
import json
import sys
import time

from scapy.all import IP, IPv6, TCP, IPOption_NOP, IPOption_Router_Alert, Raw, conf, sr1  # noqa: E402

LINUX = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456, 0)), ("NOP", None), ("WScale", 7)]
VARIANTS = [
    ("linux", LINUX, b"", False),
    ("nmap", [("MSS", 1460)], b"", False),
    ("none", [], b"", False),
    ("mss_ws", [("MSS", 1460), ("NOP", None), ("WScale", 7)], b"", False),
    ("mss_sack", [("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b"")], b"", False),
    ("mss_ts", [("MSS", 1460), ("NOP", None), ("NOP", None), ("Timestamp", (123456, 0))], b"", False),
    ("windows", [("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None), ("NOP", None), ("SAckOK", b"")], b"",
     False),
    ("ts_sack_only", [("SAckOK", b""), ("Timestamp", (7, 9))], b"", False),
    ("ws_over_14", [("WScale", 20), ("NOP", None), ("MSS", 536)], b"", False),
    ("unknown_kinds", [(30, b"\x01\x02"), ("MSS", 1400), (254, b"\x00" * 6), ("SAckOK", b"")], b"", False),
    ("eol_then_more", [("MSS", 1460), ("EOL", None), ("NOP", None), ("WScale", 7)], b"", False),
    ("bad_lengths", [("MSS", 1460), (3, b"\x07\x07"), ("SAckOK", b"")], b"", False),
    ("payload", LINUX, b"GET / HTTP/1.0\r\n\r\n" * 4, False),
    ("payload_no_options", [], b"x" * 300, False),
    ("ip_options", LINUX, b"", True),
]


def syn(dst, port, sport, seq, options, payload, ip_options):
    if ":" in dst:
        ip = IPv6(dst=dst)
    elif ip_options:
        ip = IP(dst=dst, options=[IPOption_Router_Alert(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(),
                                  IPOption_NOP()])
    else:
        ip = IP(dst=dst)
    pkt = ip / TCP(sport=sport, dport=port, flags="S", seq=seq, window=64240, options=options)
    return pkt / Raw(payload) if payload else pkt


def checksum_state(layer, cls):
    """Whether the header checksum is right: scapy recomputes it on a copy with the field deleted."""
    copy = cls(bytes(layer))
    del copy.chksum
    return "ok" if cls(bytes(copy)).chksum == layer.chksum else "bad"


def fields(ans):
    out = {}
    if IP in ans:
        ip = ans[IP]
        out.update({"ip." + f: getattr(ip, f) for f in ("version", "ihl", "tos", "len", "id", "frag", "ttl", "proto",
                                                         "src", "dst")})
        out["ip.flags"] = str(ip.flags)
        out["ip.options"] = repr(ip.options)
        out["ip.chksum"] = checksum_state(ip, IP)
    else:
        ip = ans[IPv6]
        out.update({"ip6." + f: getattr(ip, f) for f in ("version", "tc", "fl", "plen", "nh", "hlim", "src", "dst")})
    t = ans[TCP]
    out.update({"tcp." + f: getattr(t, f) for f in ("sport", "dport", "seq", "ack", "dataofs", "reserved", "window",
                                                     "urgptr")})
    out["tcp.flags"] = str(t.flags)
    out["tcp.options"] = [[name, list(v) if isinstance(v, tuple) else (v.hex() if isinstance(v, bytes) else v)]
                          for name, v in t.options]
    out["tcp.options_bytes"] = bytes(t)[20:t.dataofs * 4].hex()
    out["tcp.payload"] = bytes(t.payload).hex()
    if IP not in ans:  # scapy recomputes the TCP checksum over the IPv6 pseudo-header when rebuilding the packet
        copy = IPv6(bytes(ans[IPv6]))
        del copy[TCP].chksum
        out["tcp.chksum"] = "ok" if IPv6(bytes(copy))[TCP].chksum == t.chksum else "bad"
    else:
        copy = IP(bytes(ans[IP]))
        del copy[TCP].chksum
        out["tcp.chksum"] = "ok" if IP(bytes(copy))[TCP].chksum == t.chksum else "bad"
    return out


def main():
    dst, port, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conf.verb = 0
    for i, (name, options, payload, ip_options) in enumerate(VARIANTS):
        if ip_options and ":" in dst:
            continue
        seq = (0x10000000 * (i + 1) + 12345) & 0xffffffff
        pkt = syn(dst, port, sport + i, seq, options, payload, ip_options)
        t0, u0 = time.monotonic_ns(), time.time()
        ans = sr1(pkt, timeout=2)
        t1, u1 = time.monotonic_ns(), time.time()
        reply = fields(ans) if ans is not None else None
        print(json.dumps({"name": name, "sport": sport + i, "seq": seq, "mono_ns": [t0, t1], "unix": [u0, u1],
                          "reply": reply}), flush=True)


if __name__ == "__main__":
    main()
