"""Bounded libFuzzer runs of the analyzer's parsers (about 12 s in all, plus the build), built here with clang,
ASan and UBSan: the whole pcap path (tests/fuzz/fuzz_analyzer_pcap.c, seeded with the crafted pcaps), TCP
reassembly, the protocol recognisers plus the Lambda event parser, and the report's JSON-lines reader with the page
it writes (fuzz_analyzer_report, seeded from tests/fuzz/corpus/analyzer_report). A crash, a sanitizer report or a failed invariant fails the test.
Longer runs: see analyzer/SCHEMA.md ("Fuzzing")."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyzer"))
import analyzer_check as ac  # noqa: E402

ROOT = ac.ROOT
SOURCES = ["analyzer/" + n for n in ("flow", "reassembly", "recognise", "proto_text", "proto_tls", "proto_dns",
                                      "text", "record", "analyze", "lambda_event", "report")] + \
    ["common/addr", "common/pcapfile", "common/flowid", "common/decode"]  # --local, pcap reader, names, decoder
TARGETS = {"fuzz_analyzer_pcap": 5, "fuzz_analyzer_reassembly": 3, "fuzz_analyzer_protocols": 4,
           "fuzz_analyzer_report": 3}
FLAGS = ["-O1", "-g", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(ROOT, "common"),
         "-fsanitize=fuzzer-no-link,address,undefined", "-fno-sanitize-recover=undefined"]
LIBS = ["-ljansson", "-lcrypto"]


class Fuzz(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = os.path.join(os.environ.get("BUILD") or os.path.join(ROOT, "build"), "analyzer-fuzz")
        os.makedirs(cls.out, exist_ok=True)
        objs = []
        for name in SOURCES:
            src = os.path.join(ROOT, name + ".c")
            obj = os.path.join(cls.out, os.path.basename(name) + ".o")
            inputs = glob.glob(os.path.join(ROOT, "analyzer", "*")) + glob.glob(os.path.join(ROOT, "common", "*.[ch]"))
            if not os.path.exists(obj) or os.path.getmtime(obj) < max(os.path.getmtime(p) for p in inputs):
                subprocess.run(["clang"] + FLAGS + ["-c", "-o", obj, src], check=True, timeout=300)
            objs.append(obj)
        for target in TARGETS:
            src = os.path.join(ROOT, "tests", "fuzz", target + ".c")
            subprocess.run(["clang"] + FLAGS[:-2] + ["-fsanitize=fuzzer,address,undefined",
                                                     "-fno-sanitize-recover=undefined", "-o",
                                                     os.path.join(cls.out, target), src] + objs + LIBS,
                           check=True, timeout=300)
        cls.tmp = tempfile.mkdtemp(prefix="lurker-analyzer-fuzz-")
        cls.seeds = os.path.join(cls.tmp, "seeds")
        ac.make_crafted(cls.seeds)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_target(self, target, seconds, seed_dir=None):
        corpus = os.path.join(self.tmp, target)
        os.makedirs(corpus, exist_ok=True)
        argv = [os.path.join(self.out, target), "-max_total_time=%d" % seconds, "-rss_limit_mb=1024",
                "-max_len=8192", "-timeout=10", "-artifact_prefix=%s/" % self.tmp, corpus]
        if seed_dir:
            argv.append(seed_dir)
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, env=env)
        self.assertEqual(r.returncode, 0, r.stderr[-4000:])
        self.assertNotIn("runtime error", r.stderr)
        self.assertRegex(r.stderr, r"Done \d+ runs")

    def test_pcap(self):
        self.run_target("fuzz_analyzer_pcap", TARGETS["fuzz_analyzer_pcap"], self.seeds)

    def test_reassembly(self):
        self.run_target("fuzz_analyzer_reassembly", TARGETS["fuzz_analyzer_reassembly"])

    def test_protocols(self):
        self.run_target("fuzz_analyzer_protocols", TARGETS["fuzz_analyzer_protocols"], self.seeds)

    def test_report_json_lines(self):
        self.run_target("fuzz_analyzer_report", TARGETS["fuzz_analyzer_report"],
                        os.path.join(ROOT, "tests", "fuzz", "corpus", "analyzer_report"))


if __name__ == "__main__":
    unittest.main()
