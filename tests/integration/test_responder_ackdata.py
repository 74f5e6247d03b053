"""The responder acknowledges the client's data and FIN (responder.ack_data), so one conversation is one flow.

With lurker-responder and lurker-capturer (flow_timeout 2 s) in the sensor namespace: one `curl -m 2` request leaves
its payload once, in one flow, without a single retransmission (the analyzer's count, and tshark's); a 200 KB POST
goes through whole, the flow's client bytes equal to what curl sent byte for byte (analyzer record and tshark's
follow). With scapy crafting the client, segment by segment: a segment past a hole gets a duplicate ACK of what is
contiguous and no ACK ever covers the hole, whether the segment was dropped or reordered; a data segment whose
acknowledgement number is no cookie of ours gets nothing and is counted; nothing is acknowledged while the capturer
is down; with ack_data off nothing is acknowledged. The crafted cases run with both engines (raw, tc)."""
import json
import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data", "analyzer"))
sys.path.insert(0, os.path.join(HERE, "..", "helpers"))
import analyzer_check as ac  # noqa: E402
from lurkertest import DEBIAN_PY, SENSOR_V4, SENSOR_V6, Processes, Topology, tshark_fields  # noqa: E402
from responder_env import Responder, SensorRun, wait_ipv6_ready  # noqa: E402

SEGMENTS = os.path.join(HERE, "..", "helpers", "responder_segments.py")
GET_PORT, POST_PORT = 8080, 8081
BODY_BYTES = 200 * 1024


def crafted(topo, dst, port, scenario):
    """The scapy conversation's result (see tests/helpers/responder_segments.py)."""
    return json.loads(topo.ns(topo.attacker, DEBIAN_PY, SEGMENTS, dst, str(port), scenario, timeout=60).stdout)


class OneConversationOneFlow(SensorRun, unittest.TestCase):
    @classmethod
    def run_sensor(cls):
        t = cls.topo
        cls.start_responder(responder_yaml="  persona: linux\ncapturer:\n  flow_timeout: 2s\n")
        cap = cls.responder.start_beside("capturer", cls.procs)
        time.sleep(0.3)
        cls.body = os.urandom(BODY_BYTES)
        body_path = os.path.join(cls.spool, "body.bin")
        with open(body_path, "wb") as f:
            f.write(cls.body)
        a = t.attacker
        get = cls.procs.start(t.in_ns(a, ["curl", "-s", "-m", "2", "-A", "one-flow/1",
                                          "http://%s:%d/one-request" % (SENSOR_V4, GET_PORT)]))
        post = cls.procs.start(t.in_ns(a, ["curl", "-s", "-m", "3", "-H", "Expect:", "-H",
                                           "Content-Type: application/octet-stream", "--data-binary", "@" + body_path,
                                           "http://%s:%d/upload" % (SENSOR_V4, POST_PORT)]))
        get.wait(20)
        post.wait(20)
        # unacknowledged, the clients' kernels would retransmit at 3.0 s and 6.2 s after the request (RTO 200 ms,
        # doubling), each more than flow_timeout after the one before: give them the time to show up
        time.sleep(5)
        cls.procs.stop(cap, signal.SIGTERM, timeout=30)  # SIGTERM writes every open flow
        cls.counters = cls.responder.counters()
        cls.pcaps = cls.spool_pcaps()

    def flows(self, port):
        """[(pcap, record)] of the flows to `port`, in time order."""
        out = []
        for p in self.pcaps:
            records, err, rc = ac.run_analyzer(p)
            self.assertEqual(rc, 0, err)
            out += [(p, r) for r in records if r["dst_port"] == port]
        return sorted(out, key=lambda pr: pr[1]["init_ts"])

    def assert_one_conversation(self, port, idle_close=False):
        """The connection is one flow: the client's bytes, the acknowledgements and the close. curl -m 2 closes at the
        2 s flow_timeout, so its FIN still belongs to the flow; with idle_close the client stayed idle for longer than
        flow_timeout (-m 3) before closing, and its close may then be a flow of its own, holding only that close."""
        flows = self.flows(port)
        self.assertEqual(len({r["src_port"] for _, r in flows}), 1, flows)  # one connection
        self.assertEqual(len(flows), 2 if idle_close and len(flows) > 1 else 1,
                         [(r["init_time"], r["payload_len"], r["retransmissions"]) for _, r in flows])
        with_data = [(p, r) for p, r in flows if r["payload_len"] > 0]
        self.assertEqual(len(with_data), 1, flows)
        for p, r in flows:
            if r["payload_len"] == 0:
                flags = tshark_fields(p, ["tcp.flags.fin", "tcp.flags.syn"], "tcp.dstport == %d" % port)
                self.assertEqual(flags[0], ["1", "0"], (p, flags))  # starts with the client's FIN
        pcap, rec = with_data[0]
        self.assertTrue(rec["handshake"], rec)
        self.assertEqual(rec["retransmissions"], 0, rec)
        # tshark, independently: not one segment of the client's was sent twice
        again = tshark_fields(pcap, ["frame.number"], "tcp.dstport == %d && (tcp.analysis.retransmission || "
                                                      "tcp.analysis.fast_retransmission)" % port)
        self.assertEqual(again, [])
        return pcap, rec

    def test_one_curl_request_is_one_flow_with_its_payload_once(self):
        pcap, rec = self.assert_one_conversation(GET_PORT)
        self.assertEqual(ac.payload(rec).count(b"GET /one-request HTTP/1.1"), 1)
        self.assertEqual(rec["http"]["user_agent"], "one-flow/1")
        # the request was acknowledged exactly (tshark: the ACK number after the request is its end)
        rows = tshark_fields(pcap, ["tcp.ack", "tcp.flags.fin"], "tcp.srcport == %d" % GET_PORT)
        self.assertIn([str(1 + len(ac.payload(rec))), "0"], rows)

    def test_a_200k_post_is_recorded_whole(self):
        pcap, rec = self.assert_one_conversation(POST_PORT, idle_close=True)
        data = ac.payload(rec)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: %d" % BODY_BYTES, head)
        self.assertEqual(len(body), BODY_BYTES)
        self.assertTrue(body == self.body, "the recorded body differs from what curl sent")
        follow = ac.tshark_follow(pcap)
        client = [v for k, v in follow.items() if k.startswith("198.51.100.2:")]
        self.assertEqual(client, [data])
        self.assertEqual(rec["gaps"], 0)
        self.assertFalse(rec["truncated"])

    def test_counters(self):
        c = self.counters
        self.assertGreaterEqual(c["acks_sent"], BODY_BYTES // 1460)
        self.assertEqual(c["fins_sent"], 2)
        self.assertEqual(c["data_duplicate"], 0)
        self.assertEqual(c["cookie_invalid"], 0)


class CraftedSegments(unittest.TestCase):
    engine = "raw"  # responder.engine: who answers the SYNs; the ACK path is the same user-space one

    def setUp(self):
        self.topo = Topology()
        self.topo.up()
        self.addCleanup(self.topo.down)

    def acks(self, result):
        return [(s["sent"]["offset"], s["answer"] and (s["answer"]["ack_offset"], s["answer"]["flags"]))
                for s in result["segments"]]

    def test_a_dropped_segment_is_never_acknowledged_past_v4_and_v6(self):
        wait_ipv6_ready(self.topo)
        with Responder(self.topo, addresses=(SENSOR_V4, SENSOR_V6), engine=self.engine) as r:
            for dst in (SENSOR_V4, SENSOR_V6):
                res = crafted(self.topo, dst, 8080, "gap")
                self.assertIsNone(res["handshake_ack"]["answer"])  # an ACK is not acknowledged
                # A; C past the hole where B belongs: duplicate ACK of A; B: ACK of B (C was not kept); C again;
                # the FIN: acknowledged, and the responder closes too
                self.assertEqual(self.acks(res), [(0, (100, "A")), (200, (100, "A")), (100, (200, "A")),
                                                  (200, (300, "A")), (300, (301, "FA"))], res)
                seq = {s["answer"]["seq"] for s in res["segments"]}
                self.assertEqual(seq, {(res["isn"] + 1) % 2**32})
            c = r.counters()
            self.assertEqual(c["data_out_of_order"], 2)
            self.assertEqual(c["fins_sent"], 2)

    def test_a_reordered_segment_is_never_acknowledged_past(self):
        with Responder(self.topo, engine=self.engine) as r:
            res = crafted(self.topo, SENSOR_V4, 8080, "reorder")
            # B first: the first data segment is missing, so the duplicate ACK acknowledges nothing of B
            self.assertEqual(self.acks(res), [(100, (0, "A")), (0, (100, "A")), (100, (200, "A")),
                                              (200, (301, "FA"))], res)
            self.assertEqual(r.counters()["data_out_of_order"], 1)

    def test_a_forged_segment_with_a_wrong_cookie_is_not_answered(self):
        with Responder(self.topo, engine=self.engine) as r:
            res = crafted(self.topo, SENSOR_V4, 8080, "forged")
            self.assertIsNone(res["segments"][0]["answer"], res)
            c = r.counters()
            self.assertEqual(c["cookie_invalid"], 1)
            self.assertEqual(c["acks_sent"], 0)

    def test_nothing_is_acknowledged_while_the_capturer_is_down(self):
        t = self.topo
        procs = Processes()
        self.addCleanup(procs.stop_all)
        with Responder(t, engine=self.engine) as r:
            def start_capturer():
                return r.start_beside("capturer", procs, log_name="capturer-%d" % len(procs.procs))
            cap = start_capturer()
            recorded = crafted(t, SENSOR_V4, 8080, "one")
            self.assertEqual(self.acks(recorded), [(0, (100, "A"))], recorded)  # acknowledged once recorded
            os.kill(cap.pid, signal.SIGKILL)  # not reaped yet: a zombie, as under a busy supervisor
            held = crafted(t, SENSOR_V4, 8080, "one")
            self.assertIsNotNone(held.get("isn"), held)  # the SYN is still answered
            self.assertIsNone(held["segments"][0]["answer"], held)  # the data is not: the client sends it again
            self.assertGreaterEqual(r.counters()["ack_held_no_capturer"], 1)
            cap.wait(5)
            start_capturer()
            again = crafted(t, SENSOR_V4, 8080, "one")
            self.assertEqual(self.acks(again), [(0, (100, "A"))], again)

    def test_ack_data_off_acknowledges_nothing(self):
        with Responder(self.topo, responder_yaml="  ack_data: false\n", engine=self.engine) as r:
            res = crafted(self.topo, SENSOR_V4, 8080, "one")
            self.assertIsNotNone(res.get("isn"), res)  # the SYN is still answered
            self.assertIsNone(res["segments"][0]["answer"], res)
            c = r.counters()
            self.assertEqual((c["synack_sent"], c["acks_sent"]), (1, 0))


class CraftedSegmentsTc(CraftedSegments):
    """The same with engine: tc (the BPF program answers the SYNs in the kernel, the ACK path stays in user space)."""
    engine = "tc"


if __name__ == "__main__":
    unittest.main()
