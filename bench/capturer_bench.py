#!/usr/bin/env python3
"""Capturer benchmark (run as root from the repository root: python3 bench/capturer_bench.py [--quick]).

1. Packet rate: spoofed single-SYN flows (every packet a new flow: the flow table's worst case) at rising rates, 3 s
   per step, both readers with the same 4 MiB ring (so the sustained rate is measured, not a burst the ring absorbs), with the sensor's netdev ingress dropping them (lurker's `firewall: ingress` mode) so the kernel's own
   TCP work does not compete for the 2 cores. lurker-capturer
   and `tcpdump -w` (same interface, same filter, same ring size, immediate mode) run side by side on the same
   traffic. For each step: packets each one saw and the kernel drops each one reports.
2. Memory per open flow: RSS growth over 100,000 open flows minus the packet bytes they hold.
3. Flows written per second: 20,000 finished flows through the writer (tmp + fsync + rename + queue), against a
   plain Python loop doing open/write/fsync/close/rename per file in the same directory (the reference).

The machine is shared (2 cores, other engineers building and testing): numbers carry that noise.

4. The crash journal's cost: the capturer's CPU time per packet for the same traffic with `journal: false` and
   `journal: true` (alternating, best of two each).
The crash journal (capturer.journal, on by default) is part of what 1-3 measure; run once with the binary before
the journal existed (BIN=DIR holding that lurker-capturer and lurker-ctl; 4 is then skipped with --no-journal) and
once with the current one for a before/after. Each step of 1 also prints journal_bytes where the binary has it.
"""
import os
import re
import signal
import struct
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "helpers"))
from capturer_fixture import (CAPTURER, SENSOR_V4, SYNFLOOD, Processes, TempDir, Topology, ctl_status_json,  # noqa
                              remove_shm, rss_kib, unique_shm_name, wait_for, write_config)

QUICK = "--quick" in sys.argv
JOURNAL_OFF = "capturer:\n  journal: false\n" if "--no-journal" in sys.argv else ""
SENDERS = 2  # one per core
# A small ring, so what is measured is the sustained rate: a 64 MiB ring alone absorbs a 2 s burst of 400k SYNs.
RING_MIB = 4
STEP_SECONDS = 3
RATES = [50000, 100000, 200000] if QUICK else [50000, 100000, 150000, 200000, 300000, 400000]
FILTER = "(ip or ip6) and (net %s/32)" % SENSOR_V4


def counters(shm):
    for _ in range(20):
        try:
            return ctl_status_json(shm)["counters"]
        except (OSError, ValueError):
            time.sleep(0.25)
    raise RuntimeError("lurker-ctl status failed")


class Run:
    def __init__(self, topo, tmp, extra, env=None):
        self.topo, self.procs = topo, Processes()
        self.shm = unique_shm_name()
        self.spool = os.path.join(tmp, "spool-" + self.shm.strip("/"))
        if JOURNAL_OFF:
            extra = extra.replace("capturer:\n", JOURNAL_OFF, 1)
        cfg = write_config(os.path.join(tmp, "bench.yaml"), self.shm, self.spool, topo.s_if, addresses=(SENSOR_V4,),
                           extra=extra)
        self.log = os.path.join(tmp, "capturer.log")
        self.cap = self.procs.start(topo.in_ns(topo.sensor, [CAPTURER, "-c", cfg]), stderr=open(self.log, "a"),
                                    env=env)
        wait_for(lambda: os.path.exists(self.log) and "event=start" in open(self.log).read(), 10,
                 what="capturer start")
        time.sleep(0.3)

    def kill(self):
        self.procs.stop(self.cap, signal.SIGKILL)  # benchmark only: skip writing hundreds of thousands of flows
        remove_shm(self.shm)
        os.system("rm -rf '%s'" % self.spool)


def flood(topo, count, rate, base="198.18.0.0", senders=1):
    """Sends count SYNs at rate from `senders` processes (one per core helps: with veth, the receive side's kernel
    work runs in the sender's context). Returns the seconds the slowest sender took."""
    procs = Processes()
    first = [int(x) for x in base.split(".")]
    outs = []
    for i in range(senders):
        b = "%d.%d.%d.%d" % (first[0], first[1] + i, first[2], first[3])
        out = open("/tmp/lurker-capturer-bench-sender-%d-%d" % (os.getpid(), i), "w+")
        outs.append(out)
        procs.start(topo.in_ns(topo.attacker, [SYNFLOOD, SENSOR_V4, "80", str(count // senders),
                                               str(rate // senders), b]), stdout=out)
    for p in procs.procs:
        p.wait(300)
    secs = 0.0
    for out in outs:
        out.seek(0)
        m = re.search(r"in ([0-9.]+)s", out.read())
        secs = max(secs, float(m.group(1)) if m else 0.0)
        os.unlink(out.name)
        out.close()
    return secs


def ingress_drop(topo, on):
    """The sensor's netdev ingress drops the monitored traffic (lurker's `firewall: ingress` mode): the kernel never
    runs TCP for it, so the CPU goes to the capturers; libpcap's taps still see every packet."""
    if on:
        rules = ("table netdev lurkerbench {\n chain ingress {\n  type filter hook ingress device %s priority 0;\n"
                 "  ip daddr %s drop\n }\n}\n" % (topo.s_if, SENSOR_V4))
        topo.ns(topo.sensor, "nft", "-f", "-", input=rules)
    else:
        topo.ns(topo.sensor, "nft", "delete", "table", "netdev", "lurkerbench", check=False)


def packet_rate(topo, tmp):
    print("== packet rate: capturer vs tcpdump -w, same traffic (one spoofed SYN per flow, ingress drop on)")
    ingress_drop(topo, True)
    print("%10s %10s %12s %12s %12s %12s %14s" % ("SYN/s", "pkts/s", "cap seen", "cap drops", "tcpd seen",
                                                "tcpd drops", "journal bytes"))
    best = {"capturer": 0, "tcpdump": 0}
    for rate in RATES:
        run = Run(topo, tmp, "capturer:\n  max_flows: 10000000\n  memory_limit: 4GiB\n  flow_timeout: 10m\n"
                             "  max_flow_age: 10m\n  buffer_size: %dMiB\n" % RING_MIB)
        out = os.path.join(tmp, "tcpdump.pcap")
        errf = os.path.join(tmp, "tcpdump.err")
        td = run.procs.start(topo.in_ns(topo.sensor, ["tcpdump", "-i", topo.s_if, "-n", "-B", str(RING_MIB * 1024),
                                                      "--immediate-mode", "-Z", "root", "-w", out, FILTER]),
                             stderr=open(errf, "w"))
        wait_for(lambda: "listening" in open(errf).read(), 10, what="tcpdump start")
        base = counters(run.shm)
        count = rate * STEP_SECONDS
        secs = flood(topo, count, rate, senders=SENDERS)
        time.sleep(1.5)
        c = counters(run.shm)
        run.procs.stop(td, signal.SIGINT)
        text = open(errf).read()
        td_seen = int(re.search(r"(\d+) packets captured", text).group(1))
        td_drop = int(re.search(r"(\d+) packets dropped by kernel", text).group(1))
        cap_seen = c["packets"] - base["packets"]
        cap_drop = c["kernel_drops"] - base["kernel_drops"]
        pps = (cap_seen + cap_drop) / secs
        print("%10d %10d %12d %12d %12d %12d %14s" % (count / secs, pps, cap_seen, cap_drop, td_seen, td_drop,
                                                     c.get("journal_bytes", "-")), flush=True)
        if cap_drop == 0:
            best["capturer"] = max(best["capturer"], pps)
        if td_drop == 0:
            best["tcpdump"] = max(best["tcpdump"], pps)
        run.kill()
        os.unlink(out)
    ingress_drop(topo, False)
    ratio = best["capturer"] / best["tcpdump"] if best["tcpdump"] else float("nan")
    print("highest rate with zero kernel drops: capturer %d pkt/s, tcpdump -w %d pkt/s, ratio %.2f" %
          (best["capturer"], best["tcpdump"], ratio))
    print("(a step counts as 'zero drops' only if the kernel reported none; SYN/s is what the sender achieved)")
    return best, ratio


def memory_per_flow(topo, tmp):
    print("== memory per open flow")
    run = Run(topo, tmp, "capturer:\n  max_flows: 1000000\n  memory_limit: 4GiB\n  flow_timeout: 10m\n"
                         "  max_flow_age: 10m\n  buffer_size: 8MiB\n")
    flood(topo, 20000, 50000, "198.18.0.0")  # warm up: the ring's pages and the allocator are touched
    time.sleep(1)
    c0, r0 = counters(run.shm), rss_kib(run.cap.pid)
    n = 100000
    flood(topo, n, 50000, "198.19.0.0")
    time.sleep(1.5)
    c1, r1 = counters(run.shm), rss_kib(run.cap.pid)
    flows = c1["flows_open"] - c0["flows_open"]
    rss = (r1 - r0) * 1024
    data = c1["memory_bytes"] - c0["memory_bytes"]
    per_flow = (rss - data) / flows
    print("open flows +%d, RSS +%d bytes, packet bytes held +%d: overhead %.0f bytes per flow "
          "(goal < 256; the original tool: ~2 KB for a one-packet flow, ratio %.2f)" %
          (flows, rss, data, per_flow, per_flow / 2048))
    run.kill()
    return per_flow


def allocations(topo, tmp):
    """malloc/calloc/realloc/free calls of the capture loop (the first thread) and of the writer thread while
    100,000 single-SYN flows go through a warm capturer (LD_PRELOAD bench/malloc_count.c). max_flows 10,000: every
    new flow finishes the oldest, which the writer stores (in batches) and hands back."""
    print("== allocations per packet under a single-SYN flood, once warm")
    so = os.path.join(tmp, "malloc_count.so")
    if os.system("cc -O2 -shared -fPIC -o '%s' '%s'" % (so, os.path.join(ROOT, "bench", "malloc_count.c"))) != 0:
        raise RuntimeError("cannot build bench/malloc_count.c")
    counts = os.path.join(tmp, "malloc-counts")
    env = dict(os.environ, LD_PRELOAD=so, MALLOC_COUNT_FILE=counts)
    run = Run(topo, tmp, "capturer:\n  max_flows: 10000\n  flow_timeout: 10m\n  max_flow_age: 10m\n", env=env)

    def snapshot():
        with open(counts, "rb") as f:
            return struct.unpack("8Q", f.read(64)), counters(run.shm)
    flood(topo, 40000, 50000, "198.18.0.0")  # warm: the table fills, flows finish at max_flows and come back
    time.sleep(1.5)
    (m0, c0), n = snapshot(), 100000
    flood(topo, n, 50000, "198.19.0.0")
    time.sleep(1.5)
    m1, c1 = snapshot()
    d = [b - a for a, b in zip(m0, m1)]
    packets, flows = c1["packets"] - c0["packets"], c1["flows_started"] - c0["flows_started"]
    loop, writer = sum(d[:4]), sum(d[4:])
    print("packets +%d, flows started +%d; capture loop: malloc %d calloc %d realloc %d free %d = %.4f per packet; "
          "writer thread: malloc %d calloc %d realloc %d free %d = %.4f per flow" %
          (packets, flows, d[0], d[1], d[2], d[3], loop / max(1, packets), d[4], d[5], d[6], d[7],
           writer / max(1, flows)))
    run.kill()
    return loop, writer


def writes_per_second(topo, tmp):
    print("== flows written per second (tmp + fsync + rename + queue)")
    n = 5000 if QUICK else 20000
    run = Run(topo, tmp, "capturer:\n  max_flows: 1000000\n  flow_timeout: 1s\n")
    flood(topo, n, 50000)
    t0 = time.monotonic()
    wait_for(lambda: counters(run.shm)["flows_written"] >= 1, 30, interval=0.01, what="first write")
    t1 = time.monotonic()
    wait_for(lambda: counters(run.shm)["flows_written"] >= n, 300, interval=0.05, what="all written")
    t2 = time.monotonic()
    cap_rate = n / (t2 - t1)
    print("capturer: %d flows written in %.2fs after the first: %.0f flows/s (first write %.2fs after the flood)" %
          (n, t2 - t1, cap_rate, t1 - t0))
    sample = os.path.join(run.spool, sorted(n for n in os.listdir(run.spool) if n.endswith(".pcap"))[0])
    data = open(sample, "rb").read()
    ref_dir = os.path.join(tmp, "ref")
    os.mkdir(ref_dir)
    m = 2000
    t = time.monotonic()
    for i in range(m):
        tmpname = os.path.join(ref_dir, "%d.pcap.tmp" % i)
        fd = os.open(tmpname, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(tmpname, os.path.join(ref_dir, "%d.pcap" % i))
    ref_rate = m / (time.monotonic() - t)
    print("reference (one fsync per file, same disk): %.0f files/s; ratio %.2f" % (ref_rate, cap_rate / ref_rate))
    run.kill()
    return cap_rate, ref_rate


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def journal_cost(topo, tmp):
    """The same traffic through a capturer with the journal off, then on (twice each, alternating): CPU seconds the
    capturer used, and kernel drops. Capture and ring as in 1 (4 MiB ring, ingress drop), 100k SYN/s for 4 s."""
    print("== crash journal cost: capturer CPU for the same 400,000 packets, journal off vs on")
    ingress_drop(topo, True)
    n, rate = (200000, 100000) if QUICK else (400000, 100000)
    results = {False: [], True: []}
    for journal in (False, True, False, True):
        run = Run(topo, tmp, "capturer:\n  max_flows: 10000000\n  memory_limit: 4GiB\n  flow_timeout: 10m\n"
                             "  max_flow_age: 10m\n  buffer_size: %dMiB\n  journal: %s\n" %
                  (RING_MIB, "true" if journal else "false"))
        c0, t0 = counters(run.shm), cpu_seconds(run.cap.pid)
        flood(topo, n, rate, base="198.18.0.0", senders=SENDERS)
        time.sleep(1.0)
        c1, t1 = counters(run.shm), cpu_seconds(run.cap.pid)
        seen = c1["packets"] - c0["packets"]
        drops = c1["kernel_drops"] - c0["kernel_drops"]
        us = (t1 - t0) * 1e6 / max(1, seen)
        results[journal].append(us)
        print("journal %-5s packets %7d drops %5d  CPU %.2fs = %.2f us/packet  journal_bytes %s" %
              ("on" if journal else "off", seen, drops, t1 - t0, us, c1.get("journal_bytes", "-")), flush=True)
        run.kill()
    ingress_drop(topo, False)
    off, on = min(results[False]), min(results[True])
    print("best of two: %.2f us/packet without the journal, %.2f with it: +%.0f%%" % (off, on, (on / off - 1) * 100))
    return off, on


def main():
    if os.geteuid() != 0:
        sys.exit("run as root (network namespaces)")
    print("lurker-capturer benchmark; other load may have been present on this shared 2-core machine")
    with Topology() as topo, TempDir(prefix="lurker-capturer-bench-") as tmp:
        packet_rate(topo, tmp)
        memory_per_flow(topo, tmp)
        allocations(topo, tmp)
        writes_per_second(topo, tmp)
        if "--no-journal" not in sys.argv:
            journal_cost(topo, tmp)


if __name__ == "__main__":
    main()
