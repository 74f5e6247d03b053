"""The analyzer's Lambda package: infra/make-lambda-package.sh builds it, infra/check-lambda-package.sh guards it.

A package for provided.al2023 must hold `bootstrap` (executable) and every shared library that image lacks, and no
ELF file in it may need a glibc symbol newer than the image's 2.34. The check is shown to pass on a small program
linked like the analyzer (libyaml, libcurl, jansson; --as-needed, RUNPATH $ORIGIN/lib) and to fail, naming the
problem, on each kind of violation. Then `make lambda` (infra/lambda.mk) builds and checks the real analyzer, and the
unpacked package runs as Lambda runs it (Lambda's variables only, libraries from the task's lib/, an SNS-wrapped S3
event from a Runtime API served here, the pcap in moto's S3) and answers with the flow's record.
"""
import base64
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from lurkertest import ROOT, run  # noqa: E402
from lambdaruntime import RuntimeApi  # noqa: E402
from motoserver import MotoServer  # noqa: E402
sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(HERE, "..", "data", "report"))
import flowgen  # noqa: E402

MAKE_PKG = os.path.join(ROOT, "infra", "make-lambda-package.sh")
CHECK_PKG = os.path.join(ROOT, "infra", "check-lambda-package.sh")
PAYLOAD = b"SSH-2.0-lambda-package-test\r\n"

LIKE_ANALYZER = r"""
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <yaml.h>
int main(void)
{
    json_t *o = json_pack("{s:s, s:s}", "yaml", yaml_get_version_string(), "curl", curl_version());
    char *text = json_dumps(o, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(o);
    return 0;
}
"""

# arc4random appeared in glibc 2.36: a program calling it cannot run on provided.al2023 (glibc 2.34).
TOO_NEW = r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) { printf("%u\n", arc4random()); return 0; }
"""


def pkg_libs(*pkgs):
    return run(["pkg-config", "--libs"] + list(pkgs), check=True).stdout.split()


class LambdaPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lurker-lambda-")
        cls.good = cls.compile("like_analyzer", LIKE_ANALYZER,
                               ["-Wl,--as-needed", "-Wl,-rpath,$ORIGIN/lib"] + pkg_libs("yaml-0.1", "libcurl",
                                                                                      "jansson"))
        cls.good_zip = os.path.join(cls.tmp, "good.zip")
        r = run([MAKE_PKG, cls.good, cls.good_zip])
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def compile(cls, name, source, ldflags):
        src = os.path.join(cls.tmp, name + ".c")
        with open(src, "w") as f:
            f.write(source)
        exe = os.path.join(cls.tmp, name)
        r = run(["cc", "-O2", "-o", exe, src] + ldflags)
        assert r.returncode == 0, r.stderr
        return exe

    def check(self, zip_path):
        return run([CHECK_PKG, zip_path])

    def assert_refused(self, zip_path, message):
        """check-lambda-package.sh exits 1 on the package and says why on stderr; returns its result."""
        r = self.check(zip_path)
        self.assertEqual(r.returncode, 1)
        self.assertIn(message, r.stderr)
        return r

    def names(self, zip_path):
        with zipfile.ZipFile(zip_path) as z:
            return z.namelist()

    def rezip(self, name, drop=(), bootstrap_mode=None, add=None):
        """A copy of the good package with members dropped or changed."""
        out = os.path.join(self.tmp, name)
        with zipfile.ZipFile(self.good_zip) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                if info.filename in drop:
                    continue
                data = src.read(info)
                if info.filename == "bootstrap" and bootstrap_mode is not None:
                    info.external_attr = (stat.S_IFREG | bootstrap_mode) << 16
                dst.writestr(info, data)
            for arcname, path in (add or {}).items():
                dst.write(path, arcname)
        return out

    def test_package_holds_bootstrap_and_its_libraries_and_passes(self):
        names = self.names(self.good_zip)
        self.assertIn("bootstrap", names)
        libs = {n[len("lib/"):] for n in names if n.startswith("lib/")}
        for soname in ("libyaml-0.so.2", "libcurl.so.4", "libjansson.so.4", "libssl.so.3", "libcrypto.so.3"):
            self.assertIn(soname, libs)
        # glibc and libgcc_s come with the image and are not bundled
        self.assertFalse({"libc.so.6", "libm.so.6", "libgcc_s.so.1"} & libs)
        r = self.check(self.good_zip)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(": OK (", r.stdout)
        self.assertIn("glibc <= 2.34", r.stdout)

    def test_unpacked_package_runs(self):
        d = os.path.join(self.tmp, "unpacked")
        with zipfile.ZipFile(self.good_zip) as z:
            z.extractall(d)
        os.chmod(os.path.join(d, "bootstrap"), 0o755)
        r = run([os.path.join(d, "bootstrap")], env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"yaml":"0.2', r.stdout)
        # and resolves its libraries from lib/ (RUNPATH $ORIGIN/lib), as it will in /var/task
        r = run(["ldd", os.path.join(d, "bootstrap")])
        self.assertRegex(r.stdout, r"libyaml-0\.so\.2 => %s/lib/libyaml-0\.so\.2" % d)

    def test_too_new_glibc_symbol_fails_loudly(self):
        exe = self.compile("too_new", TOO_NEW, [])
        zip_path = os.path.join(self.tmp, "too_new.zip")
        self.assertEqual(run([MAKE_PKG, exe, zip_path]).returncode, 0)
        r = self.assert_refused(zip_path,
                                "bootstrap needs arc4random@GLIBC_2.36, newer than provided.al2023's glibc 2.34")
        self.assertIn("FAILED with 1 violation(s)", r.stderr)
        # the limit is a parameter: the same package passes against a 2.36 image
        r = run([CHECK_PKG, zip_path], env=dict(os.environ, GLIBC_MAX="2.36"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_missing_library_fails_loudly(self):
        bad = self.rezip("missing.zip", drop={"lib/libyaml-0.so.2"})
        self.assert_refused(bad, "bootstrap needs libyaml-0.so.2, which is neither in lib/ nor in provided.al2023")

    def test_missing_or_non_executable_bootstrap_fails(self):
        self.assert_refused(self.rezip("nobootstrap.zip", drop={"bootstrap"}), "no bootstrap at the top of the zip")
        self.assert_refused(self.rezip("noexec.zip", bootstrap_mode=0o644), "bootstrap is not executable")

    def test_library_of_another_machine_fails(self):
        # a foreign ELF: the same library with its e_machine patched to 0x28 (ARM 32-bit)
        with zipfile.ZipFile(self.good_zip) as z:
            data = bytearray(z.read("lib/libjansson.so.4"))
        data[18:20] = (0x28).to_bytes(2, "little")
        foreign = os.path.join(self.tmp, "libforeign.so.1")
        with open(foreign, "wb") as f:
            f.write(data)
        self.assert_refused(self.rezip("foreign.zip", add={"lib/libforeign.so.1": foreign}),
                            "lib/libforeign.so.1: machine")

    def test_make_lambda_builds_and_checks_the_real_analyzer(self):
        with open(os.path.join(ROOT, "Makefile")) as f:
            included = "include infra/lambda.mk" in f.read()
        makefiles = [] if included else ["-f", "Makefile", "-f", "infra/lambda.mk"]
        # always the plain build (a sanitizer build would drag libasan into the package)
        r = run(["make", "-C", ROOT, "-j2"] + makefiles + ["SAN=0", "lambda"], timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        zip_path = os.path.join(ROOT, "build", "lambda", "lurker-analyzer-lambda.zip")
        r = self.check(zip_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = self.names(zip_path)
        self.assertIn("bootstrap", names)
        # run the packaged analyzer from its unpacked directory on a tiny pcap with no packets
        d = os.path.join(self.tmp, "analyzer")
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(d)
        os.chmod(os.path.join(d, "bootstrap"), 0o755)
        pcap = os.path.join(self.tmp, "empty.pcap")
        with open(pcap, "wb") as f:
            f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
        r = run([os.path.join(d, "bootstrap"), pcap], env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.run_as_lambda(d)

    def test_make_lambda_arm64_cross_builds_and_runs_under_qemu(self):
        # an arm64 package from this x86_64 host (Debian multiarch: crossbuild-essential-arm64, the :arm64 -dev
        # packages), run by qemu-user against the same Runtime API and moto as the native one
        r = run(["make", "-C", ROOT, "-j2", "lambda-arm64"], timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        zip_path = os.path.join(ROOT, "build-arm64", "lambda", "lurker-analyzer-lambda.zip")
        r = self.check(zip_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("AArch64", r.stdout + r.stderr)
        d = os.path.join(self.tmp, "analyzer-arm64")
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(d)
        os.chmod(os.path.join(d, "bootstrap"), 0o755)
        for name in ["bootstrap"] + ["lib/" + x for x in os.listdir(os.path.join(d, "lib"))]:
            machine = run(["readelf", "-h", os.path.join(d, name)], check=True).stdout
            self.assertIn("AArch64", machine, name)
        self.assertIn("libcurl.so.4", os.listdir(os.path.join(d, "lib")))
        self.run_as_lambda(d, runner=[shutil.which("qemu-aarch64")])

    def run_as_lambda(self, task_root, runner=()):
        """The unpacked package as Lambda runs it: only Lambda's variables, LD_LIBRARY_PATH with the task's lib/,
        one SNS-wrapped S3 notification from the Runtime API, the pcap in moto's S3 (signature checking on)."""
        with MotoServer() as moto:
            s3 = moto.client("s3")
            s3.create_bucket(Bucket="lambda-pcaps")
            key = "sensors/s-1/pcap/2026/11/25/19/1795633200_198.51.100.2_203.0.113.10_40000_22.pcap"
            # a SYN and one data segment from 198.51.100.2:40000 to 203.0.113.10:22
            c, pcap = ("198.51.100.2", "203.0.113.10", 40000, 22), os.path.join(self.tmp, "one_flow.pcap")
            flowgen.write_pcap(pcap, [(1795633200, flowgen.tcp_packet(*c, 1000, 0, "S")),
                                      (1795633200.001, flowgen.tcp_packet(*c, 1001, 1, "PA", PAYLOAD))])
            with open(pcap, "rb") as f:
                s3.put_object(Bucket="lambda-pcaps", Key=key, Body=f.read())
            s3_event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                     "awsRegion": moto.region,
                                     "s3": {"bucket": {"name": "lambda-pcaps"},
                                            "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": 100}}}]}
            sns_event = {"Records": [{"EventSource": "aws:sns", "Sns": {
                "Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Message": json.dumps(s3_event)}}]}
            api = RuntimeApi([("req-1", sns_event)])
            env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": task_root, "LD_LIBRARY_PATH": task_root + "/lib",
                   "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % api.port, "AWS_LAMBDA_FUNCTION_NAME": "analyzer",
                   "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO",
                   "AWS_REGION": moto.region, "AWS_DEFAULT_REGION": moto.region,
                   "AWS_ACCESS_KEY_ID": moto.access_key, "AWS_SECRET_ACCESS_KEY": moto.secret_key,
                   "AWS_ENDPOINT_URL_S3": moto.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
                   "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                   "CURL_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}
            out_path = os.path.join(self.tmp, "lambda.out")
            with open(out_path, "w") as out, open(os.path.join(self.tmp, "lambda.err"), "w") as err:
                proc = subprocess.Popen(list(runner) + [os.path.join(task_root, "bootstrap")], cwd=task_root, env=env,
                                        stdout=out, stderr=err, start_new_session=True)
                try:
                    result = api.results.get(timeout=30)
                finally:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
                    api.close()
            self.assertEqual(result[:2], ("req-1", "response"), result)
            with open(out_path) as f:
                records = [json.loads(line) for line in f if line.startswith("{")]
            flows = [r for r in records if r.get("dst_port") == 22]
            self.assertEqual(len(flows), 1, records)
            self.assertEqual(flows[0]["src_addr"], "198.51.100.2")
            self.assertEqual(base64.b64decode(flows[0]["payload"]), PAYLOAD)


if __name__ == "__main__":
    unittest.main()
