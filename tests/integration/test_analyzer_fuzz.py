"""Bounded libFuzzer runs of the analyzer's parsers (about 12 s in all, plus the build), built by the Makefile's fuzz
rules (clang, ASan and UBSan): the whole pcap path (tests/fuzz/fuzz_analyzer_pcap.c, seeded with the crafted
pcaps), TCP reassembly, the protocol recognisers plus the Lambda event parser, and the report's JSON-lines reader
with the page it writes (fuzz_analyzer_report, seeded from tests/fuzz/corpus/analyzer_report). A crash, a sanitizer
report or a failed invariant fails the test.
Longer runs: see analyzer/SCHEMA.md ("Fuzzing")."""
import os
import shutil
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyzer"))
import analyzer_check as ac  # noqa: E402
import lurkertest as lt  # noqa: E402

ROOT = ac.ROOT
TARGETS = {"fuzz_analyzer_pcap": 5, "fuzz_analyzer_reassembly": 3, "fuzz_analyzer_protocols": 4,
           "fuzz_analyzer_report": 3}


class Fuzz(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        lt.build_fuzzers(TARGETS)
        cls.tmp = tempfile.mkdtemp(prefix="lurker-analyzer-fuzz-")
        cls.seeds = os.path.join(cls.tmp, "seeds")
        ac.make_crafted(cls.seeds)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_target(self, target, seeds=None):
        lt.run_fuzzer(self, target, TARGETS[target], self.tmp, 8192, seeds)

    def test_pcap(self):
        self.run_target("fuzz_analyzer_pcap", self.seeds)

    def test_reassembly(self):
        self.run_target("fuzz_analyzer_reassembly")

    def test_protocols(self):
        self.run_target("fuzz_analyzer_protocols", self.seeds)

    def test_report_json_lines(self):
        self.run_target("fuzz_analyzer_report", os.path.join(ROOT, "tests", "fuzz", "corpus", "analyzer_report"))


if __name__ == "__main__":
    unittest.main()
