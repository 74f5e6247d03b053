"""`make install PREFIX=... DESTDIR=...` lays out what an operator needs: the five binaries, the documented
lurker.yaml (which the installed binaries accept), and the infra files."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402


class InstallTest(unittest.TestCase):
    def test_install_tree(self):
        with tempfile.TemporaryDirectory() as dest:
            r = subprocess.run(["make", "-s", "-C", lt.ROOT, "install", "PREFIX=/opt/lurker", "DESTDIR=" + dest,
                                "SAN=" + os.environ.get("SAN", "0")],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            root = os.path.join(dest, "opt", "lurker")
            for name in ("responder", "capturer", "shipper", "analyzer", "ctl"):
                self.assertTrue(os.access(os.path.join(root, "bin", "lurker-" + name), os.X_OK), name)
            config = os.path.join(root, "etc", "lurker", "lurker.yaml")
            check = subprocess.run([os.path.join(root, "bin", "lurker-capturer"), "-c", config, "--check"],
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stderr)
            self.assertIn(": OK: sensor sensor-1 on eth0", check.stdout)
            for f in ("supervisord.conf", "nftables/lurker.nft", "backend.yml", "sensor.yml", "output.yml",
                      "deploy.sh"):
                self.assertTrue(os.path.exists(os.path.join(root, "share", "lurker", "infra", f)), f)


if __name__ == "__main__":
    unittest.main()
