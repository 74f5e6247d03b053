#!/usr/bin/python3
"""A client TCP conversation crafted segment by segment with scapy, to see exactly what the responder acknowledges.

usage: responder_segments.py DST PORT SCENARIO
Completes the handshake with a SYN (the ACK carries the SYN+ACK's cookie), then sends the scenario's segments one by
one, each waiting up to 1 s for the one answer, and prints one JSON object: the client's initial sequence number,
the SYN+ACK's, and per segment what was sent (offset from the client's ISN + 1, length, flags) and the answer
(flags, seq, ack; ack as an offset too) or null. Scenarios:
  gap      three 100-byte segments A B C sent A, C, B, C, then a FIN: C arrives past the hole where B belongs
  reorder  B before A (the first data segment arrives second), then B again, then a FIN
  forged   no handshake: one data segment whose acknowledgement number is no cookie of the responder's
  one      one 100-byte data segment
Run it inside the attacker namespace; the kernel there resets the connection it does not know, which the responder
ignores (a bare RST)."""
import json
import random
import sys

from scapy.all import IP, IPv6, TCP, Raw, conf, sr1  # noqa: E402

SEGMENT = 100
SCENARIOS = {
    "gap": [(0, "A"), (2, "A"), (1, "A"), (2, "A"), (3, "FA")],
    "reorder": [(1, "A"), (0, "A"), (1, "A"), (2, "FA")],
    "one": [(0, "A")],
}


def main():
    dst, port, scenario = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    conf.verb = 0
    ip = IPv6(dst=dst) if ":" in dst else IP(dst=dst)
    sport = random.randint(20000, 60000)
    cisn = random.getrandbits(32)
    out = {"client_isn": cisn, "segments": []}
    if scenario == "forged":
        ack = random.getrandbits(32)
        out["segments"].append(send(ip, sport, port, cisn, 0, ack, "PA", b"x" * SEGMENT))
        print(json.dumps(out))
        return
    synack = sr1(ip / TCP(sport=sport, dport=port, flags="S", seq=cisn, window=64240,
                          options=[("MSS", 1460), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]), timeout=2)
    if synack is None or TCP not in synack:
        print(json.dumps({"synack": None}))
        return
    isn = synack[TCP].seq
    out["isn"] = isn
    # the handshake's last ACK: gets no answer
    out["handshake_ack"] = send(ip, sport, port, cisn, 0, isn + 1, "A", b"")
    for index, flags in SCENARIOS[scenario]:
        data = bytes([65 + index]) * SEGMENT if index < 3 or "F" not in flags else b""
        out["segments"].append(send(ip, sport, port, cisn, index * SEGMENT, isn + 1, flags, data))
    print(json.dumps(out))


def send(ip, sport, dport, cisn, offset, ack, flags, data):
    seg = ip / TCP(sport=sport, dport=dport, flags=flags, seq=(cisn + 1 + offset) % 2**32, ack=ack % 2**32,
                   window=502)
    if data:
        seg = seg / Raw(data)
    ans = sr1(seg, timeout=1)
    sent = {"offset": offset, "len": len(data), "flags": flags}
    if ans is None or TCP not in ans:
        return {"sent": sent, "answer": None}
    t = ans[TCP]
    return {"sent": sent, "answer": {"flags": str(t.flags), "seq": t.seq, "ack_offset": (t.ack - cisn - 1) % 2**32,
                                     "len": len(t.payload)}}


if __name__ == "__main__":
    main()
