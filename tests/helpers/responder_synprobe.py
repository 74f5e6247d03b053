#!/usr/bin/python3
"""Sends one TCP SYN with chosen options and prints the answer's IP and TCP fields as JSON (Debian python: scapy).

usage: responder_synprobe.py DST PORT OPTSET[,OPTSET...] [SPORT]
One SYN per option set (one JSON line each, in order). OPTSET: linux (mss,sackOK,ts,nop,ws7 as a Linux client sends), nmap (mss 1460 only, window 1024), none,
        mss_ws (mss,nop,ws), mss_sack (mss,nop,nop,sackOK), mss_ts (mss,nop,nop,ts), windows (mss,nop,ws8,nop,nop,sackOK);
        OPTSET+hbh sends that SYN behind an IPv6 Hop-by-Hop options header (PadN), and reports the answer's IPv6 next header
Prints {"answered": false} when nothing came back within 2 s. Run it inside the attacker namespace."""
import json
import random
import sys
import threading

from scapy.all import IP, IPv6, TCP, AsyncSniffer, IPv6ExtHdrHopByHop, conf, send, sr1  # noqa: E402

OPTSETS = {
    "linux": [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (123456, 0)), ("NOP", None), ("WScale", 7)],
    "nmap": [("MSS", 1460)],
    "none": [],
    "mss_ws": [("MSS", 1460), ("NOP", None), ("WScale", 7)],
    "mss_sack": [("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b"")],
    "mss_ts": [("MSS", 1460), ("NOP", None), ("NOP", None), ("Timestamp", (123456, 0))],
    "windows": [("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None), ("NOP", None), ("SAckOK", b"")],
}


def main():
    dst, port, optsets = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
    sport = int(sys.argv[4]) if len(sys.argv) > 4 else None
    conf.verb = 0
    for optset in optsets:
        probe(dst, port, optset, sport if sport else random.randint(20000, 60000))


def sniffed_answer(syn, sport, port):
    """scapy's sr1 does not match an answer to a request with extension headers: sniff for it instead."""
    started = threading.Event()
    sniffer = AsyncSniffer(filter="tcp and src port %d and dst port %d" % (port, sport), count=1, timeout=2,
                           started_callback=started.set)
    sniffer.start()
    started.wait(2)
    send(syn)
    sniffer.join()
    return sniffer.results[0] if sniffer.results else None


def checksum_ok(ans):
    """The TCP checksum as scapy computes it over the answer's bytes (pseudo-header included)."""
    ip = ans[IP] if IP in ans else ans[IPv6]
    again = ip.__class__(bytes(ip))
    del again[TCP].chksum
    return again.__class__(bytes(again))[TCP].chksum == ans[TCP].chksum


def probe(dst, port, optset, sport):
    optset, hbh, len0 = optset.split("+")[0], optset.endswith("+hbh"), optset.endswith("+len0")
    ip = IPv6(dst=dst) if ":" in dst else IP(dst=dst)
    if len0:  # an IP header whose length field says 0 (IPv4 total length, IPv6 payload length)
        ip = IPv6(dst=dst, plen=0) if ":" in dst else IP(dst=dst, len=0)
    if hbh:
        ip = ip / IPv6ExtHdrHopByHop()
    window = 1024 if optset == "nmap" else 64240
    syn = ip / TCP(sport=sport, dport=port, flags="S", seq=random.getrandbits(32), window=window,
                   options=OPTSETS[optset])
    ans = sr1(syn, timeout=2) if not (hbh or len0) else sniffed_answer(syn, sport, port)
    if ans is None or TCP not in ans:
        print(json.dumps({"answered": False}), flush=True)
        return
    t = ans[TCP]
    out = {"answered": True, "flags": str(t.flags), "window": t.window, "sport": t.sport, "dport": t.dport,
           "seq": t.seq, "ack": t.ack, "syn_seq": syn[TCP].seq,
           "options": [[name, list(v) if isinstance(v, tuple) else (v.hex() if isinstance(v, bytes) else v)]
                       for name, v in t.options],
           "checksum_ok": checksum_ok(ans)}
    if IP in ans:
        out.update({"ttl": ans[IP].ttl, "df": bool(ans[IP].flags.DF), "ip_id": ans[IP].id})
    else:
        out.update({"ttl": ans[IPv6].hlim, "tc": ans[IPv6].tc, "nh": ans[IPv6].nh})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
