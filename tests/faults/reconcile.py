"""Accounts for every flow the workload sent: stored exactly once, stored more than once, accounted for in a named
counter, or lost. Reads the stored pcaps itself (stdlib only), so it does not depend on the analyzer under test."""
import socket
import struct

DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL = 1, 101, 113
# Counters in which the sensor admits, with a reason, to a flow it did not store.
ADMISSION_COUNTERS = ("flows_dropped_quota", "flows_dropped_write_error", "flows_dropped_backlog")


def read_pcap(data):
    """Yields (linktype, packet bytes) of a classic pcap; stops quietly at a truncated record."""
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        return
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        if off + 16 + incl > len(data):
            return
        yield linktype, data[off + 16:off + 16 + incl]
        off += 16 + incl


def tcp_of(linktype, pkt):
    """(src, dst, sport, dport, flags, payload) of an IPv4/IPv6 TCP packet, or None."""
    if linktype == DLT_EN10MB:
        if len(pkt) < 14:
            return None
        ethertype, ip = struct.unpack("!H", pkt[12:14])[0], pkt[14:]
    elif linktype == DLT_LINUX_SLL:
        if len(pkt) < 16:
            return None
        ethertype, ip = struct.unpack("!H", pkt[14:16])[0], pkt[16:]
    elif linktype == DLT_RAW:
        ethertype, ip = (0x0800 if pkt[:1] and pkt[0] >> 4 == 4 else 0x86DD), pkt
    else:
        return None
    if ethertype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        if ip[9] != 6 or len(ip) < ihl + 20 or struct.unpack("!H", ip[6:8])[0] & 0x1FFF:
            return None
        total = min(struct.unpack("!H", ip[2:4])[0], len(ip))
        src, dst, tcp = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[ihl:total]
    elif ethertype == 0x86DD and len(ip) >= 60 and ip[6] == 6:
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        tcp = ip[40:40 + struct.unpack("!H", ip[4:6])[0]]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack("!HH", tcp[:4])
    doff = (tcp[12] >> 4) * 4
    if doff < 20 or doff > len(tcp):
        return None
    return src, dst, sport, dport, tcp[13], tcp[doff:]


def flows_in_pcap(data):
    """{(client, client_port, server_port): client bytes seen} for every TCP conversation in one pcap."""
    out = {}
    for linktype, pkt in read_pcap(data):
        t = tcp_of(linktype, pkt)
        if not t:
            continue
        src, dst, sport, dport, flags, payload = t
        key = (src, sport, dport)
        out.setdefault(key, b"")
        if payload and payload not in out[key]:
            out[key] += payload
    return out


def syns_in_pcap(data):
    """{(src, sport, dport): SYNs} of the SYNs (no ACK) in one pcap: a spoofed flow is its SYN."""
    out = {}
    for linktype, pkt in read_pcap(data):
        t = tcp_of(linktype, pkt)
        if t and t[4] & 0x12 == 0x02:
            out[t[0], t[2], t[3]] = out.get((t[0], t[2], t[3]), 0) + 1
    return out


def reconcile(sent, pcap_blobs, counters, client_addr):
    """sent: the workload's JSON; pcap_blobs: list of (name, bytes); counters: lurker-ctl's counters.
    A flow is stored when its payload is in at least one stored pcap of its 4-tuple; it is split (information, not
    an error) when an idle gap longer than flow_timeout cut it into several pcaps. A duplicate is an object whose
    bytes equal another object's: the same pcap stored twice. Returns the figures and the lists behind them."""
    seen, by_content, spoof_seen = {}, {}, {}
    for name, data in pcap_blobs:
        by_content.setdefault(data, []).append(name)
        for key, n in syns_in_pcap(data).items():
            spoof_seen.setdefault(key, []).append((name, n))
        for (src, sport, dport), payload in flows_in_pcap(data).items():
            if src != client_addr:
                continue
            seen.setdefault((sport, dport), []).append((name, payload))
    stored, split, missing = [], [], []
    for f in sent["flows"]:
        pcaps = sorted({name for name, payload in seen.get((f["sport"], f["dport"]), [])
                        if f["payload"].encode() in payload})
        if pcaps:
            stored.append(f)
            if len(pcaps) > 1:
                split.append((f, pcaps))
        else:
            missing.append(f)
    duplicates = [names for names in by_content.values() if len(names) > 1]
    # A spoofed SYN is a flow without client data: with batches it is one flow among many in a batch, so a flow
    # written twice (in two batches, or twice in one) is not a duplicate object; it is counted here.
    spoofed_stored = spoofed_twice = 0
    for s in sent.get("spoofed", []):
        where = spoof_seen.get((s["src"], s["sport"], s["dport"]), [])
        spoofed_stored += bool(where)
        spoofed_twice += len(where) > 1 or any(n > 1 for _, n in where)
    admitted = sum(int(counters.get(c, 0)) for c in ADMISSION_COUNTERS)
    accounted = min(len(missing), admitted)
    # The counters cover every flow, spoofed ones too, so `accounted` alone could hide a silent drop behind counted
    # ones. These two close that: the capturer's own conservation (every flow it started is written, admitted, or
    # still open) and the store's (every flow written is an object). A killed process loses its last unpublished
    # counter updates, so callers check them where nothing was killed.
    balance = int(counters.get("flows_started", 0)) - int(counters.get("flows_written", 0)) - admitted - \
        int(counters.get("flows_open", 0)) - int(counters.get("flows_batch_open", 0))
    return {
        "flows_sent": len(sent["flows"]),
        "flows_stored": len(stored),
        "flows_split": len(split),
        "duplicate_objects": sum(len(n) - 1 for n in duplicates),
        "flows_accounted_in_counters": accounted,
        "flows_lost": len(missing) - accounted,
        "capturer_balance": balance,
        # a batch is one object for all its flows
        "objects_minus_written": len(pcap_blobs) - (int(counters.get("flows_written", 0)) -
                                                    int(counters.get("flows_batched", 0)) +
                                                    int(counters.get("batches_written", 0))),
        "batches_stored": sum(1 for name, _ in pcap_blobs if "_batch_" in name),
        "spoofed_stored": spoofed_stored,
        "spoofed_stored_twice": spoofed_twice,
        "connect_failures": sent.get("connect_failures", 0),
        "spoofed_sent": len(sent.get("spoofed", [])),
        "malformed_sent": sent.get("malformed", 0),
        "missing": missing[:20],
        "duplicates": duplicates[:20],
    }
