#!/usr/bin/env python3
"""Analyzer benchmark: MB/s and flows/s of lurker-analyzer against the Python/dpkt reference (the original
algorithm writing the original's records, bench/analyzer_reference.py --records) and against tshark's
`-z follow,tcp,raw`, all measured in this run on the same corpus of lurker-like pcaps (bench/analyzer_corpus.py).

Measurements:
  A. the per-flow corpus (COUNT one-flow pcaps, as lurker writes them): analyzer (one process over the directory)
     vs the reference (one Python process over the same files);
  B. the same flows merged into one pcap: analyzer vs reference;
  C. tshark follow, one tshark per pcap (how one follows a lurker pcap), on the first TSHARK_COUNT pcaps, vs the
     analyzer on the same pcaps (one process per pcap, to compare like with like, and one process for all);
  S. start-up: each tool on no input (an empty directory / no file), its fixed cost per process.
Times are CPU seconds (user + sys of the child processes, both shown) and wall seconds; the machine is shared, so
other load may have been present: CPU time is the steadier figure. The ratios are given as measured (start-up
included) and per flow with each tool's own start-up subtracted. Output goes to /dev/null for every tool.
Usage: bench/analyzer_bench.py [COUNT] [TSHARK_COUNT]
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
    """Runs each argv in turn; returns (user seconds, sys seconds, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    for argv in argv_list:
        subprocess.run(argv, stdout=stdout, stderr=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, wall


def best_of(n, argv_list):
    """The run with the least CPU time of n."""
    return min((measure(argv_list) for _ in range(n)), key=lambda r: r[0] + r[1])


def row(name, mb, flows, run):
    user, system, wall = run
    cpu = user + system
    return "| %-44s | %7.3f | %7.3f | %7.3f | %7.3f | %8.1f | %9.0f | %8.1f |" % (
        name, cpu, user, system, wall, mb / cpu if mb else 0, flows / cpu if flows else 0, mb / wall if mb else 0)


def cpu(run):
    return run[0] + run[1]


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    tshark_count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    tmp = tempfile.mkdtemp(prefix="lurker-analyzer-bench-")
    try:
        corpus = os.path.join(tmp, "corpus")
        merged = os.path.join(tmp, "merged.pcap")
        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        subprocess.run([DEBIAN_PY, os.path.join(ROOT, "bench", "analyzer_corpus.py"), corpus, str(count),
                        "--merged", merged], check=True)
        files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus))
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        ref = [DEBIAN_PY, os.path.join(ROOT, "bench", "analyzer_reference.py"), "--records"]
        print("corpus: %d one-flow pcaps, %.2f MB (merged copy: %.2f MB); other load may have been present"
              % (count, mb, os.path.getsize(merged) / 1e6))
        print("| %-44s | %7s | %7s | %7s | %7s | %8s | %9s | %8s |" % (
            "run", "cpu s", "user s", "sys s", "wall s", "MB/s cpu", "flows/s", "MB/s wall"))
        print("|%s|%s|%s|%s|%s|%s|%s|%s|" % ("-" * 46, "-" * 9, "-" * 9, "-" * 9, "-" * 9, "-" * 10, "-" * 11,
                                             "-" * 10))
        s_an = best_of(5, [[ANALYZER, empty]])
        s_ref = best_of(3, [ref])
        print(row("S lurker-analyzer start-up (empty directory)", 0, 0, s_an))
        print(row("S reference start-up (python3 + dpkt, no file)", 0, 0, s_ref))
        a = best_of(3, [[ANALYZER, corpus]])
        r = best_of(3, [ref + files])
        print(row("A lurker-analyzer, directory", mb, count, a))
        print(row("A reference (Python/dpkt), all files", mb, count, r))
        m_mb = os.path.getsize(merged) / 1e6
        am = best_of(3, [[ANALYZER, merged]])
        rm = best_of(3, [ref + [merged]])
        print(row("B lurker-analyzer, merged pcap", m_mb, count, am))
        print(row("B reference (Python/dpkt), merged pcap", m_mb, count, rm))
        sub = files[:tshark_count]
        s_mb = sum(os.path.getsize(f) for f in sub) / 1e6
        t = measure([["tshark", "-n", "-r", f, "-q", "-z", "follow,tcp,raw,0"] for f in sub])
        ap = measure([[ANALYZER, f] for f in sub])
        a1 = best_of(3, [[ANALYZER] + sub])
        print(row("C tshark follow, one process per pcap", s_mb, len(sub), t))
        print(row("C lurker-analyzer, one process per pcap", s_mb, len(sub), ap))
        print(row("C lurker-analyzer, one process for all", s_mb, len(sub), a1))
        print()

        def marginal(ours, theirs):
            mine, ref_cost = cpu(ours) - cpu(s_an), cpu(theirs) - cpu(s_ref)
            return ref_cost / mine if mine > 0 else float("inf")

        print("ratio vs reference (CPU, as measured): per-file corpus %.1fx, merged pcap %.1fx"
              % (cpu(r) / cpu(a), cpu(rm) / cpu(am)))
        print("ratio vs reference (CPU, each start-up subtracted): per-file corpus %.1fx, merged pcap %.1fx"
              % (marginal(a, r), marginal(am, rm)))
        print("ratio vs reference (wall): per-file corpus %.1fx, merged pcap %.1fx" % (r[2] / a[2], rm[2] / am[2]))
        print("ratio vs tshark follow (CPU): process per pcap %.1fx, analyzer in one process %.1fx"
              % (cpu(t) / cpu(ap), cpu(t) / cpu(a1)))
        print("per flow (CPU, start-up subtracted): analyzer %.2f us per-file / %.2f us merged; reference %.1f us / "
              "%.1f us" % ((cpu(a) - cpu(s_an)) / count * 1e6, (cpu(am) - cpu(s_an)) / count * 1e6,
                           (cpu(r) - cpu(s_ref)) / count * 1e6, (cpu(rm) - cpu(s_ref)) / count * 1e6))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
