#!/usr/bin/env python3
"""What one SYN costs the tc engine's BPF program itself: the kernel's own BPF run-time statistics
(kernel.bpf_stats_enabled=1: run_time_ns and run_cnt of the program, measured around each run) over a bounded SYN
flood from the test suite's generator, in the test suite's two namespaces. This is the program alone (parse, SipHash,
options, checksums, bpf_skb_change_tail/store_bytes); the redirect's transmit and the veth peer's receive come on top
and are in bench/sweep's wall-minus-idle figure.

usage (root, after `make all unit`): python3 bench/tc_prog_cost.py [COUNT] [RATE]
Prints: TCPROG syns=N answered=N run_cnt=N ns_per_run=X ns_per_synack=Y. The program also runs (and passes) for
every other packet to the sensor, here the attacker kernel's RST to each SYN+ACK: ns_per_synack charges the whole
program time to the answered SYNs, an upper bound."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "helpers"))
from responder_env import Responder, flood  # noqa: E402
from lurkertest import SENSOR_V4, Topology, sh  # noqa: E402

YAML = "  rate_limit: 10000000\n  burst: 10000000\n  source_rate_limit: 10000000\n  source_burst: 10000000\n"


def prog_stats(prog_id):
    out = json.loads(sh("bpftool", "-j", "prog", "show", "id", prog_id).stdout)
    return out.get("run_cnt", 0), out.get("run_time_ns", 0)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    previous = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    with Topology(ipv6=False) as t, Responder(t, responder_yaml=YAML, engine="tc") as r:
        shown = t.ns(t.sensor, "tc", "filter", "show", "dev", t.s_if, "ingress").stdout
        prog_id = re.search(r"lurker_synack:\[(\d+)\]", shown).group(1)
        sh("sysctl", "-qw", "kernel.bpf_stats_enabled=1")
        try:
            cnt0, ns0 = prog_stats(prog_id)
            f = flood(t, SENSOR_V4, count, rate, source="198.51.100.2")
            cnt1, ns1 = prog_stats(prog_id)
        finally:
            sh("sysctl", "-qw", "kernel.bpf_stats_enabled=" + previous)
        c = r.counters()
    runs = cnt1 - cnt0
    print("TCPROG syns=%d answered=%d synack_sent=%d run_cnt=%d ns_per_run=%.0f ns_per_synack=%.0f" % (
        f["sent"], f["answered"], c["synack_sent"], runs, (ns1 - ns0) / runs if runs else 0,
        (ns1 - ns0) / c["synack_sent"] if c["synack_sent"] else 0))


if __name__ == "__main__":
    main()
