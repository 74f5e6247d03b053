"""Bounded libFuzzer runs of every parser on the sensor side: lurker.yaml (fuzz_config), the responder's whole path
for one frame (fuzz_responder), the capturer's (fuzz_capturer_*), and the shipper's: flow metadata from spool names
and pcaps, the key template, S3 response XML and the AWS credential parsers (fuzz_shipper_*), built by `make fuzz`
rules with clang, ASan and UBSan, each seeded from tests/fuzz/corpus/<name>/. A crash, a sanitizer report or a failed invariant fails the
test. The analyzer's targets run in test_analyzer_fuzz.py. Longer runs, e.g. an hour each:
    make FUZZ=1 build-fuzz/fuzz/fuzz_responder
    build-fuzz/fuzz/fuzz_responder -max_total_time=3600 -max_len=2048 CORPUS_DIR tests/fuzz/corpus/responder
"""
import glob
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402

SECONDS = {"fuzz_config": 4, "fuzz_responder": 6}
DEFAULT_SECONDS = 4


def sensor_targets():
    names = [os.path.basename(p)[:-2] for p in glob.glob(os.path.join(lt.ROOT, "tests", "fuzz", "fuzz_*.c"))]
    return sorted(n for n in names if not n.startswith("fuzz_analyzer"))


class SensorFuzzTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.targets = sensor_targets()
        lt.build_fuzzers(cls.targets)
        cls.tmp = tempfile.mkdtemp(prefix="lurker-fuzz-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_sensor_parser_survives_its_fuzzer(self):
        for required in ("fuzz_config", "fuzz_responder", "fuzz_shipper_spoolname", "fuzz_shipper_keytemplate",
                         "fuzz_shipper_s3_xml", "fuzz_shipper_aws_creds"):
            self.assertIn(required, self.targets)
        for target in self.targets:
            with self.subTest(target=target):
                lt.run_fuzzer(self, target, SECONDS.get(target, DEFAULT_SECONDS), self.tmp, 4096,
                              os.path.join(lt.ROOT, "tests", "fuzz", "corpus", target[len("fuzz_"):]))


if __name__ == "__main__":
    unittest.main()
