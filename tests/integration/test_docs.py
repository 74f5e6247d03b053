"""The documents stay true: every counter of common/counters.h is in the README's counter table with its process,
and every key of the config table is documented in the shipped lurker.yaml."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402


def read(*path):
    with open(os.path.join(lt.ROOT, *path)) as f:
        return f.read()


class DocsTest(unittest.TestCase):
    def test_every_counter_is_in_the_readme_table(self):
        counters = re.findall(r'X\((RESPONDER|CAPTURER|SHIPPER), ([a-z_0-9]+), "', read("common", "counters.h"))
        self.assertGreater(len(counters), 30)
        readme = read("README.md")
        for process, name in counters:
            self.assertRegex(readme, r"\| %s \| `%s` \|" % (process.lower(), name), "README lacks counter %s" % name)

    def test_every_config_key_is_documented_in_lurker_yaml(self):
        keys = re.findall(r'(?:STR|NUM|ENUM)\("([a-z0-9.]*)", "([a-z_0-9]+)"', read("common", "config.c"))
        keys += re.findall(r'\{"([a-z0-9.]*)", "([a-z_0-9]+)", KT_', read("common", "config.c"))
        self.assertGreater(len(keys), 40)
        shipped = read("lurker.yaml")
        for section, name in keys:
            self.assertRegex(shipped, r"(?m)^\s*%s:" % name, "lurker.yaml does not document %s.%s" % (section, name))

    def test_nothing_reaches_outside_the_repository(self):
        # A user's clone has nothing beside it: no build step, test or comment may point at the folder beside it.
        beside = b"../" + b"shared"
        outside = []
        for top, dirs, files in os.walk(lt.ROOT):
            dirs[:] = [d for d in dirs if not d.startswith((".git", "build", "bin", "lambda", "__pycache__"))]
            for name in files:
                path = os.path.join(top, name)
                with open(path, "rb") as f:
                    if beside in f.read():
                        outside.append(os.path.relpath(path, lt.ROOT))
        self.assertEqual(outside, [], "files that reach outside the repository")

    def test_the_readme_commands_do_what_it_says(self):
        # the README's first two commands, dry-run: the demo installs, builds and plays; the tests install and run
        readme = read("README.md")
        self.assertRegex(readme, r"(?m)^    make demo\n    make test$")
        demo = subprocess.run(["make", "-n", "-C", lt.ROOT, "demo"], capture_output=True, text=True).stdout
        self.assertIn(".ci/install-deps", demo)
        self.assertIn("demo/demo.py", demo)
        test = subprocess.run(["make", "-n", "-C", lt.ROOT, "test"], capture_output=True, text=True).stdout
        self.assertIn(".ci/install-deps", test)
        self.assertIn("tests/run", test)


if __name__ == "__main__":
    unittest.main()
