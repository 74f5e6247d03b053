#!/usr/bin/env python3
"""A known, counted workload for the fault matrix. Runs inside the attacker namespace.

    traffic.py --target 203.0.113.10 --flows N --spoofed M --duration S --out sent.json [--malformed K]

- N handshaking flows: a real kernel TCP connect to a distinct port of the target, a payload naming the flow
  ("LURKER-FLOW <run> <i>\n"), then the connection is held for `--hold` seconds and reset. lurker acknowledges the
  payload only while its capturer runs, so a payload sent while the capturer is dead is retransmitted until it is
  back: that is what lets a flow survive a capturer killed mid-flow.
- M spoofed SYNs from 198.51.100.100-249 (never this host's address) through a raw socket, one per (source, port).
- K malformed packets (with --malformed): bad header lengths, bad data offsets, fragments, zero and huge windows,
  option soup, IPv6 extension-header chains, truncated headers.
Everything it sent is written to --out as JSON, so the reconciler can account for each flow. Bounded: at most
--flows + --spoofed + --malformed packets' worth of work, spread over --duration seconds.
"""
import argparse
import json
import os
import random
import socket
import struct
import threading
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4_header(src, dst, proto, payload_len, ihl=5, frag=0x4000, ident=0, options=b""):
    total = ihl * 4 + payload_len
    hdr = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0, total, ident, frag, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst)) + options
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]


def tcp_segment(src, dst, sport, dport, seq, ack, flags, window=64240, options=b"", payload=b"", doff=None):
    if doff is None:
        doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0, 0) + options + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(hdr))
    c = checksum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


SYN, ACK, RST, PSH, FIN = 0x02, 0x10, 0x04, 0x08, 0x01
# Each 20 bytes, each wrong in its own way: length 0, length past the end, unknown kinds, SACK blocks in a SYN.
OPTION_SOUPS = [
    bytes([3, 1, 5, 0, 8, 40, 1, 1, 254, 2, 2, 0, 7, 9, 0, 1, 1, 1, 0, 0]),
    bytes([2, 0]) + bytes(18),
    bytes([8, 255]) + bytes(18),
    bytes([5, 18] + list(range(16)) + [1, 1]),
    bytes([30, 2, 254, 40] + [1] * 16),
    bytes([1] * 19 + [2]),
]
LINUX_SYN_OPTIONS = bytes([2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])


class Generator:
    def __init__(self, args):
        self.args = args
        self.run = args.run or os.urandom(4).hex()
        self.sent = {"run": self.run, "target": args.target, "flows": [], "spoofed": [], "malformed": 0,
                     "connect_failures": 0}
        self.lock = threading.Lock()
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    # -- handshaking flows --
    def one_flow(self, i, port):
        payload = ("LURKER-FLOW %s %d\n" % (self.run, i)).encode()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((self.args.target, port))
            sport = s.getsockname()[1]
            s.send(payload)
            time.sleep(self.args.hold)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, no FIN retries
        except OSError:
            with self.lock:
                self.sent["connect_failures"] += 1
            return
        finally:
            s.close()
        with self.lock:
            self.sent["flows"].append({"i": i, "sport": sport, "dport": port, "payload": payload.decode()})

    # -- spoofed SYNs --
    def spoofed_syn(self, src, dport):
        sport = random.randint(20000, 60000)
        seg = tcp_segment(src, self.args.target, sport, dport, random.getrandbits(32), 0, SYN, 1024,
                          bytes([2, 4, 5, 0xB4]))
        self.raw.sendto(ipv4_header(src, self.args.target, 6, len(seg)) + seg, (self.args.target, 0))
        self.sent["spoofed"].append({"src": src, "sport": sport, "dport": dport})

    # -- malformed packets --
    def malformed(self, k):
        t, me = self.args.target, self.args.source
        rnd = random.Random(k)
        sport, dport = rnd.randint(1024, 65535), rnd.randint(1, 65535)
        kind = k % 9
        if kind == 0:  # TCP data offset past the packet
            seg = tcp_segment(me, t, sport, dport, 1, 0, SYN, doff=15)
            pkt = ipv4_header(me, t, 6, len(seg)) + seg
        elif kind == 1:  # TCP data offset under 5
            seg = tcp_segment(me, t, sport, dport, 1, 0, SYN, doff=2)
            pkt = ipv4_header(me, t, 6, len(seg)) + seg
        elif kind == 2:  # IP header length larger than the packet
            seg = tcp_segment(me, t, sport, dport, 1, 0, SYN)
            pkt = ipv4_header(me, t, 6, len(seg), ihl=15)[:20] + seg
        elif kind == 3:  # a first fragment (more fragments set) carrying half a TCP header
            seg = tcp_segment(me, t, sport, dport, 1, 0, SYN, options=LINUX_SYN_OPTIONS)
            pkt = ipv4_header(me, t, 6, 16, frag=0x2000, ident=k & 0xFFFF) + seg[:16]
        elif kind == 4:  # a non-first fragment
            pkt = ipv4_header(me, t, 6, 24, frag=0x0003, ident=k & 0xFFFF) + os.urandom(24)
        elif kind == 5:  # zero window and huge window, SYN+FIN+RST+URG all at once
            seg = tcp_segment(me, t, sport, dport, 1, 0, 0x3F, window=rnd.choice([0, 65535]))
            pkt = ipv4_header(me, t, 6, len(seg)) + seg
        elif kind == 6:  # option soup: unknown kinds, zero lengths, lengths past the header
            opts = rnd.choice(OPTION_SOUPS)
            seg = tcp_segment(me, t, sport, dport, 1, 0, SYN, options=opts[:20])
            pkt = ipv4_header(me, t, 6, len(seg)) + seg
        elif kind == 7:  # a truncated TCP header (8 bytes)
            seg = tcp_segment(me, t, sport, dport, 1, 0, SYN)[:8]
            pkt = ipv4_header(me, t, 6, len(seg)) + seg
        else:  # an IP total length that lies (claims 1500 bytes)
            seg = tcp_segment(me, t, sport, dport, 1, 0, SYN)
            hdr = bytearray(ipv4_header(me, t, 6, len(seg)))
            hdr[2:4] = struct.pack("!H", 1500)
            pkt = bytes(hdr) + seg
        try:
            self.raw.sendto(pkt, (t, 0))
            self.sent["malformed"] += 1
        except OSError:
            pass  # the local stack refused to send it (e.g. a length it will not emit): not counted as sent

    def malformed_v6(self, k):
        """IPv6 extension-header chains (hop-by-hop, routing, destination options, fragment) before a SYN."""
        if not self.args.target6:
            return
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        src = socket.inet_pton(socket.AF_INET6, self.args.source6)
        dst = socket.inet_pton(socket.AF_INET6, self.args.target6)
        tcp = struct.pack("!HHIIBBHHH", 40000 + k % 1000, 1 + k % 65000, 1, 0, 5 << 4, SYN, 1024, 0, 0)
        depth = 1 + k % 6
        chain, nxt = b"", 6
        for d in range(depth):
            kind = [0, 60, 43, 44][d % 4]
            if kind == 44:
                ext = struct.pack("!BBHI", nxt, 0, 0, k)
            else:
                ext = struct.pack("!BB6s", nxt, 0, b"\x01\x04\0\0\0\0")
            chain, nxt = ext + chain, kind
        payload = chain + tcp
        pkt = struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 64, src, dst) + payload
        try:
            s6.sendto(pkt, (self.args.target6, 0))
            self.sent["malformed"] += 1
        except OSError:
            pass
        finally:
            s6.close()

    def go(self):
        a = self.args
        ports = random.Random(self.run).sample(range(1025, 65000), a.flows)
        events = [("flow", i) for i in range(a.flows)] + [("spoof", j) for j in range(a.spoofed)] + \
                 [("bad", k) for k in range(a.malformed)]
        random.Random(self.run + "order").shuffle(events)
        interval = a.duration / max(1, len(events))
        threads = []
        start = time.monotonic()
        for n, (kind, i) in enumerate(events):
            delay = start + n * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if kind == "flow":
                t = threading.Thread(target=self.one_flow, args=(i, ports[i]))
                t.start()
                threads.append(t)
                if len(threads) > 256:  # bound the threads alive at once
                    threads.pop(0).join()
            elif kind == "spoof":
                self.spoofed_syn("198.51.100.%d" % (100 + i % 150), 1 + (i * 7919) % 65000)
            else:
                self.malformed(i) if i % 4 else self.malformed_v6(i)
        for t in threads:
            t.join()
        with open(a.out, "w") as f:
            json.dump(self.sent, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--source", default="198.51.100.2")
    ap.add_argument("--target6")
    ap.add_argument("--source6", default="2001:db8:a::2")
    ap.add_argument("--flows", type=int, default=100)
    ap.add_argument("--spoofed", type=int, default=0)
    ap.add_argument("--malformed", type=int, default=0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--hold", type=float, default=3.0, help="seconds each flow retransmits before its RST")
    ap.add_argument("--run")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.flows > 60000 or args.spoofed > 1000000 or args.malformed > 1000000 or args.duration > 3600:
        raise SystemExit("workload over its bounds")
    Generator(args).go()


if __name__ == "__main__":
    main()
