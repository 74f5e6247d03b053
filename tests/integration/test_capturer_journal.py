"""lurker-capturer's crash journal: flows open when the capturer is killed with SIGKILL are open again in the next
start's flow table (the kernel's retransmissions after the restart continue them) and written once each, whole, when
they finish (real responder, real kernel TCP clients that retransmit their payload, UDP flows), readable by tshark, with
their payload; flows finished before the kill are not written again; a corrupt journal tail is survived. With the
journal off, the same kill loses them (so the first test can fail)."""
import glob
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
from capturer_fixture import (RESPONDER, SENSOR_V4, CapturerCase, read_pcap, sh, tshark_fields,  # noqa: E402
                              wait_for)

TCP_FLOWS = 100
UDP_FLOWS = 50
FINISHED = 10
TCP_BASE, UDP_BASE, DONE_BASE = 30000, 31000, 32000

# Runs in the attacker namespace: TCP connections that each send one payload and then stay open (the responder
# never ACKs data, so the kernel retransmits it); UDP flows with one datagram each; FINISHED UDP flows of 20
# datagrams (cut at max_flow_packets: written before the kill). Prints "ready" once everything was sent.
CLIENT = r"""
import socket, sys, time
target, tcp_n, udp_n, done_n, tb, ub, db = sys.argv[1], *map(int, sys.argv[2:])
socks = []
for i in range(tcp_n):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((target, tb + i))
    except BlockingIOError:
        pass
    socks.append(s)
deadline = time.monotonic() + 10
pending = list(range(tcp_n))
while pending and time.monotonic() < deadline:
    for i in list(pending):
        try:
            socks[i].send(b"JOURNAL-TCP-%d\n" % i)
            pending.remove(i)
        except (BlockingIOError, OSError):
            pass
    time.sleep(0.02)
for i in range(done_n):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 42000 + i))
    for k in range(20):
        u.sendto(b"JOURNAL-DONE-%d-%d" % (i, k), (target, db + i))
for i in range(udp_n):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 41000 + i))
    u.sendto(b"JOURNAL-UDP-%d" % i, (target, ub + i))
print("ready", len(pending), flush=True)
time.sleep(120)
"""


class CapturerJournal(CapturerCase, unittest.TestCase):
    addresses = (SENSOR_V4,)

    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(RESPONDER, os.X_OK), "needs lurker-responder")

    def run_traffic(self, extra):
        self.start_capturer(extra)
        self.procs.start(self.topo.in_ns(self.topo.sensor, [RESPONDER, "-c", self.config(extra)]),
                         stderr=open(os.path.join(self.dir, "responder.log"), "a"))
        time.sleep(1.0)
        out = open(os.path.join(self.dir, "client.out"), "w+")
        self.procs.start(self.topo.in_ns(self.topo.attacker, [
            sys.executable, "-c", CLIENT, SENSOR_V4, str(TCP_FLOWS), str(UDP_FLOWS), str(FINISHED),
            str(TCP_BASE), str(UDP_BASE), str(DONE_BASE)]), stdout=out)
        wait_for(lambda: "ready" in open(out.name).read(), 20, what="client traffic sent")
        self.assertIn("ready 0", open(out.name).read(), "every TCP connection sent its payload")
        wait_for(lambda: (lambda c: c["flows_open"] >= TCP_FLOWS + UDP_FLOWS and
                          c["flows_cut_packets"] >= FINISHED and c["flows_written"] >= FINISHED)(self.counters()),
                 10, what="flows open, the finished ones written")
        time.sleep(0.5)  # a retransmission or two of each payload; FLOW_DONE of the finished flows journaled

    def names(self, proto, base, count):
        """{port: [pcap names]} for the flows to base..base+count-1."""
        out = {}
        for n in self.pcaps():
            parts = n[:-5].split("_")
            if parts[1] == proto and base <= int(parts[5].split("-")[0]) < base + count:
                out.setdefault(int(parts[5].split("-")[0]), []).append(n)
        return out

    def kill9(self):
        self.assertEqual(self.stop_capturer(signal.SIGKILL), -signal.SIGKILL)

    def test_killed_capturer_open_flows_continue_after_the_restart(self):
        extra = "capturer:\n  flow_timeout: 5m\n  max_flow_packets: 20\n"
        self.run_traffic(extra)
        finished = self.names("udp", DONE_BASE, FINISHED)
        self.assertEqual(len(finished), FINISHED, finished)
        self.assertEqual(self.names("tcp", TCP_BASE, TCP_FLOWS), {}, "the open flows are not written yet")
        # the shipper took the finished ones: a replay that ignored FLOW_DONE would bring them back
        for names in finished.values():
            for n in names:
                os.unlink(os.path.join(self.spool, n))
        self.kill9()
        segments = sorted(glob.glob(os.path.join(self.spool, ".journal", "*.jrnl")))
        self.assertTrue(segments, "the killed capturer left its journal")
        # what a kill can leave: a record cut short, then garbage
        with open(segments[-1], "ab") as f:
            f.write(b"\x4c\x4a\x52\x31" + b"\x01\x00\x00\x00" + b"\xff" * 20 + os.urandom(300))
        self.assertEqual(self.pcaps(), [], "the spool holds nothing before the restart")

        self.start_capturer(extra)
        wait_for(lambda: "event=journal_recovered" in self.log_text(), 10, what="recovery log line")
        line = [l for l in self.log_text().splitlines() if "event=journal_recovered" in l][-1]
        self.assertIn("bad_tails=1", line)
        self.assertIn("flows_done=%d" % FINISHED, line)
        self.assertIn("flows_continued=%d" % (TCP_FLOWS + UDP_FLOWS), line)
        c = wait_for(lambda: (lambda c: c if c["flows_recovered"] == TCP_FLOWS + UDP_FLOWS else None)(self.counters()),
                     5, what="flows_recovered published")
        self.assertGreaterEqual(c["flows_open"], TCP_FLOWS + UDP_FLOWS, "the open flows are open again")
        # the dead run's segments are gone: this run journaled the flows again
        left = sorted(glob.glob(os.path.join(self.spool, ".journal", "*.jrnl")))
        self.assertTrue(left)
        self.assertFalse(set(left) & set(segments), left)
        # the kernel retransmits each TCP payload after the restart: those segments continue the same flows
        time.sleep(2.0)
        self.assertEqual(self.names("tcp", TCP_BASE, TCP_FLOWS), {}, "continued, not written at the restart")
        self.assertEqual(self.stop_capturer(), 0)  # a clean stop writes every open flow
        tcp = self.names("tcp", TCP_BASE, TCP_FLOWS)
        udp = self.names("udp", UDP_BASE, UDP_FLOWS)
        self.assertEqual(len(tcp), TCP_FLOWS, tcp)
        self.assertEqual(len(udp), UDP_FLOWS, udp)
        self.assertTrue(all(len(n) == 1 for n in tcp.values()), "a flow split by the restart: %s" % tcp)
        self.assertEqual(self.names("udp", DONE_BASE, FINISHED), {}, "finished flows are not written again")

        # Wireshark's own readers: capinfos reads every recovered file (one process for all), tshark reads them
        # merged (one process instead of 150) for the SYN, the SYN+ACK and the payloads
        recovered = [n[0] for n in tcp.values()] + [n[0] for n in udp.values()]
        self.assertTrue(all(len(n) == 1 for n in udp.values()), udp)
        paths = [os.path.join(self.spool, n) for n in recovered]
        info = sh("capinfos", "-T", "-c", *paths, timeout=120).stdout.splitlines()
        counts = {os.path.basename(l.split("\t")[0]): int(l.split("\t")[1]) for l in info[1:] if "\t" in l}
        for n in recovered:
            self.assertEqual(counts.get(n), len(read_pcap(os.path.join(self.spool, n))[1]), n)
        merged = os.path.join(self.dir, "merged.pcap")
        sh("mergecap", "-F", "pcap", "-w", merged, *paths, timeout=120)
        rows = tshark_fields(merged, ["ip.src", "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.ack",
                                         "tcp.payload", "udp.dstport", "udp.payload"])
        syn, synack, payload = set(), set(), {}
        for src, sport, dport, fsyn, fack, tpay, udport, upay in rows:
            if sport and src != SENSOR_V4:
                if fsyn == "1" and fack == "0":
                    syn.add(int(dport))
                if tpay:
                    payload.setdefault(int(dport), set()).add(bytes.fromhex(tpay.replace(":", "")))
            elif sport and fsyn == "1" and fack == "1":
                synack.add(int(sport))
            elif udport:
                payload.setdefault(int(udport), set()).add(bytes.fromhex(upay.replace(":", "")))
        for port in tcp:
            self.assertIn(port, syn, "the recovered flow starts at the SYN")
            self.assertIn(port, synack)
            self.assertIn(b"JOURNAL-TCP-%d\n" % (port - TCP_BASE), payload.get(port, set()), port)
        for port in udp:
            self.assertEqual(payload.get(port), {b"JOURNAL-UDP-%d" % (port - UDP_BASE)}, port)
        for n in [sorted(n)[0] for n in tcp.values()]:
            self.assertEqual(read_pcap(os.path.join(self.spool, n))[1][0][3][47], 0x02, "first packet: SYN " + n)

        # the clean stop emptied the journal
        self.assertEqual(glob.glob(os.path.join(self.spool, ".journal", "*")), [])
        self.assertEqual(self.tmps(), [])

    def test_killed_capturer_batch_tmp_is_removed_after_recovery(self):
        # SYNs without data go to the open batch (<ts>_batch_<pid>-<n>.pcap.tmp); after a kill the journal's
        # recovery writes those flows again, so the next run removes the dead batch's .tmp and publishes the flows
        extra = "capturer:\n  flow_timeout: 2s\n  batch_interval: 5m\n"
        self.start_capturer(extra)
        self.procs.start(self.topo.in_ns(self.topo.sensor, [RESPONDER, "-c", self.config(extra)]),
                         stderr=open(os.path.join(self.dir, "responder.log"), "a"))
        time.sleep(1.0)
        self.topo.ns(self.topo.attacker, "hping3", "-S", "-c", "5", "-i", "u20000", "-p", "++7000", SENSOR_V4,
                     check=False, timeout=20)
        wait_for(lambda: self.counters()["flows_batch_open"] == 5, 15, what="five flows in the open batch")
        dead = self.tmps()
        self.assertEqual(len(dead), 1, dead)
        self.assertRegex(dead[0], r"^\d+_batch_\d+-\d+\.pcap\.tmp$")
        self.kill9()
        self.assertEqual(self.tmps(), dead, "the killed run's batch is still unpublished")
        self.start_capturer(extra)
        wait_for(lambda: "event=journal_recovered" in self.log_text(), 10, what="recovery log line")
        wait_for(lambda: dead[0] not in self.tmps(), 5, what="the dead batch's .tmp removed")
        self.assertIn("event=stale_tmp_removed file=%s" % dead[0], self.log_text())
        self.assertEqual(self.stop_capturer(), 0)
        batches = [n for n in self.pcaps() if "_batch_" in n]
        ports = set()
        for n in batches:
            ports.update(int(r[0]) for r in tshark_fields(os.path.join(self.spool, n), ["tcp.dstport"]) if r and r[0])
        self.assertTrue(set(range(7000, 7005)) <= ports, "the batched flows were written again: %s" % sorted(ports))
        self.assertEqual(self.tmps(), [])

    def test_without_the_journal_a_kill_loses_the_open_flows(self):
        extra = "capturer:\n  flow_timeout: 5m\n  max_flow_packets: 20\n  journal: false\n"
        self.run_traffic(extra)
        self.kill9()
        self.assertEqual(glob.glob(os.path.join(self.spool, ".journal", "*")), [])
        self.start_capturer(extra)
        time.sleep(1.0)
        self.assertEqual(self.names("udp", UDP_BASE, UDP_FLOWS), {})
        self.assertEqual(self.counters()["flows_recovered"], 0)
        self.assertNotIn("event=journal_recovered", self.log_text())


if __name__ == "__main__":
    unittest.main()
