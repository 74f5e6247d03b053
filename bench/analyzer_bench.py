#!/usr/bin/env python3
"""Analyzer benchmark: MB/s and flows/s of lurker-analyzer against the Python/dpkt reference (the original
algorithm writing the original's records, bench/analyzer_reference.py --records) and against tshark's
`-z follow,tcp,raw`, all measured in this run on the same corpus of lurker-like pcaps (bench/analyzer_corpus.py).

Three measurements:
  A. the per-flow corpus (COUNT one-flow pcaps, as lurker writes them): analyzer (one process over the directory)
     vs the reference (one Python process over all files);
  B. the same flows merged into one pcap: analyzer vs reference;
  C. tshark follow, one tshark per pcap (how one follows a lurker pcap), on the first TSHARK_COUNT pcaps, vs the
     analyzer on the same pcaps (one process per pcap, to compare like with like, and one process for all).
Times are CPU seconds (user+sys of the child processes) and wall seconds; the machine is shared, so other load may
have been present: CPU time is the steadier figure. Usage: bench/analyzer_bench.py [COUNT] [TSHARK_COUNT]
"""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BIN = os.environ.get("BIN") or os.path.join(ROOT, "bin")
ANALYZER = os.path.join(BIN, "lurker-analyzer")
DEBIAN_PY = "/usr/bin/python3"


def measure(argv_list, stdout=subprocess.DEVNULL):
    """Runs each argv in turn; returns (cpu seconds, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    for argv in argv_list:
        subprocess.run(argv, stdout=stdout, stderr=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def best_of(n, argv_list):
    runs = [measure(argv_list) for _ in range(n)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def row(name, mb, flows, cpu, wall):
    return "| %-44s | %8.3f | %8.3f | %9.1f | %10.0f | %9.1f |" % (name, cpu, wall, mb / cpu, flows / cpu,
                                                                    mb / wall)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tshark_count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    tmp = tempfile.mkdtemp(prefix="lurker-analyzer-bench-")
    try:
        corpus = os.path.join(tmp, "corpus")
        merged = os.path.join(tmp, "merged.pcap")
        subprocess.run([DEBIAN_PY, os.path.join(ROOT, "bench", "analyzer_corpus.py"), corpus, str(count),
                        "--merged", merged], check=True)
        files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        ref = [DEBIAN_PY, os.path.join(ROOT, "bench", "analyzer_reference.py"), "--records"]
        print("corpus: %d one-flow pcaps, %.2f MB (merged copy: %.2f MB); other load may have been present"
              % (count, mb, os.path.getsize(merged) / 1e6))
        print("| %-44s | %8s | %8s | %9s | %10s | %9s |" % ("run", "cpu s", "wall s", "MB/s cpu", "flows/s cpu",
                                                             "MB/s wall"))
        print("|%s|%s|%s|%s|%s|%s|" % ("-" * 46, "-" * 10, "-" * 10, "-" * 11, "-" * 12, "-" * 11))
        a_cpu, a_wall = best_of(3, [[ANALYZER, corpus]])
        r_cpu, r_wall = best_of(3, [ref + files])
        print(row("A lurker-analyzer, directory", mb, count, a_cpu, a_wall))
        print(row("A reference (Python/dpkt), all files", mb, count, r_cpu, r_wall))
        m_mb = os.path.getsize(merged) / 1e6
        am_cpu, am_wall = best_of(3, [[ANALYZER, merged]])
        rm_cpu, rm_wall = best_of(3, [ref + [merged]])
        print(row("B lurker-analyzer, merged pcap", m_mb, count, am_cpu, am_wall))
        print(row("B reference (Python/dpkt), merged pcap", m_mb, count, rm_cpu, rm_wall))
        sub = files[:tshark_count]
        s_mb = sum(os.path.getsize(f) for f in sub) / 1e6
        t_cpu, t_wall = measure([["tshark", "-n", "-r", f, "-q", "-z", "follow,tcp,raw,0"] for f in sub])
        ap_cpu, ap_wall = measure([[ANALYZER, f] for f in sub])
        a1_cpu, a1_wall = best_of(3, [[ANALYZER] + sub])
        print(row("C tshark follow, one process per pcap", s_mb, len(sub), t_cpu, t_wall))
        print(row("C lurker-analyzer, one process per pcap", s_mb, len(sub), ap_cpu, ap_wall))
        print(row("C lurker-analyzer, one process for all", s_mb, len(sub), a1_cpu, a1_wall))
        print()
        print("ratio vs reference (CPU): per-file corpus %.1fx, merged pcap %.1fx" % (r_cpu / a_cpu, rm_cpu / am_cpu))
        print("ratio vs reference (wall): per-file corpus %.1fx, merged pcap %.1fx" % (r_wall / a_wall,
                                                                                      rm_wall / am_wall))
        print("ratio vs tshark follow (CPU): process per pcap %.1fx, analyzer in one process %.1fx"
              % (t_cpu / ap_cpu, t_cpu / a1_cpu))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
