"""lurker-analyzer --follow: the local analysis loop (inotify over the shipper's archive).

A pcap written as tmp + rename (the shipper's way), also into new nested directories, or written in place
(IN_CLOSE_WRITE), appears in the log as the CLI's records within a second; *.tmp files are ignored; a broken pcap
is reported on stderr and the loop goes on; pcaps present at the start are only analysed with --follow-existing;
SIGTERM and SIGINT end it with status 0, SIGHUP reopens the log; a missing archive is waited for; infra/supervisord-follow.conf runs it under supervisord."""
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "data", "report"))
import flowgen  # noqa: E402
from lurkertest import BIN, ROOT, Processes, wait_for  # noqa: E402

ANALYZER = os.path.join(BIN, "lurker-analyzer")
SENSOR = "203.0.113.10"


def pcap_bytes(tmp, dport, payload, t0=1795608000.0):
    path = os.path.join(tmp, "build-%d.pcap" % dport)
    flowgen.write_pcap(path, flowgen.tcp_flow("198.51.100.7", SENSOR, 41000 + dport % 1000, dport, t0, payload))
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    return data


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def follower_pid(archive):
    """The pid of the lurker-analyzer following ARCHIVE, from /proc (None until it runs)."""
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"lurker-analyzer") and b"--follow" in argv and archive.encode() in argv:
                return int(d)
    return None


def cli_lines(path):
    r = subprocess.run([ANALYZER, path], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().splitlines()


class Follow(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lurker-follow-")
        self.archive = os.path.join(self.tmp, "archive")
        os.mkdir(self.archive)
        self.log = os.path.join(self.tmp, "flows.jsonl")
        self.err = os.path.join(self.tmp, "stderr")
        self.procs = Processes()

    def tearDown(self):
        self.procs.stop_all()
        err = self.stderr()
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error", err)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *extra):
        self.errf = open(self.err, "w")
        self.addCleanup(self.errf.close)
        self.proc = self.procs.start([ANALYZER, "--follow", self.archive, "--log", self.log] + list(extra),
                                     stderr=self.errf)
        wait_for(lambda: "following" in self.stderr(), timeout=10, what="the follower to start")

    def stderr(self):
        return read(self.err)

    def lines(self):
        try:
            with open(self.log) as f:
                return [l for l in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def records(self):
        return [json.loads(l) for l in self.lines()]

    def drop_renamed(self, rel, data):
        """Written as the shipper does: NAME.tmp.PID, then renamed; returns (final path, time of the rename)."""
        path = os.path.join(self.archive, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = "%s.tmp.%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            f.write(data)
        t = time.monotonic()
        os.rename(tmp, path)
        return path, t

    def wait_records(self, n, timeout=5):
        return wait_for(lambda: len(self.lines()) >= n and self.records(), timeout=timeout, interval=0.002,
                        what="%d records in the log" % n)

    def test_renamed_pcap_in_new_nested_directory_appears_within_a_second(self):
        self.start()
        data = pcap_bytes(self.tmp, 80, b"GET /follow HTTP/1.1\r\nHost: x\r\n\r\n")
        # the whole key path is new: pcap/YYYY/MM/DD/HH/ created at once, the file renamed into it at once
        path, t = self.drop_renamed("pcap/2026/11/25/12/1795608000_198.51.100.7_203.0.113.10_41080_80.pcap", data)
        records = self.wait_records(1)
        latency = time.monotonic() - t
        self.assertLess(latency, 1.0)
        print("latency new nested directory: %.1f ms" % (latency * 1000), file=sys.stderr)
        self.assertEqual(self.lines(), cli_lines(path))  # exactly what the CLI prints
        self.assertEqual(records[0]["s3path"], path)
        self.assertEqual(records[0]["http"]["path"], "/follow")
        # then a second file into the directory that now exists and is watched
        path2, t = self.drop_renamed("pcap/2026/11/25/12/second.pcap", pcap_bytes(self.tmp, 6379, b"*1\r\n$4\r\nINFO\r\n"))
        self.wait_records(2)
        self.assertLess(time.monotonic() - t, 1.0)
        self.assertEqual(self.lines()[1:], cli_lines(path2))
        self.assertEqual(len(self.lines()), 2)  # each pcap analysed once

    def test_pcap_written_in_place_and_tmp_ignored(self):
        self.start()
        os.makedirs(os.path.join(self.archive, "pcap", "a"))
        # *.tmp files (never renamed) and non-pcap names are not analysed
        for name in ("pcap/a/x.pcap.tmp.123", "pcap/a/y.tmp", "pcap/a/notes.txt"):
            with open(os.path.join(self.archive, name), "wb") as f:
                f.write(pcap_bytes(self.tmp, 23, b"SHOULD NOT APPEAR\r\n"))
        path = os.path.join(self.archive, "pcap", "a", "inplace.pcap")
        data = pcap_bytes(self.tmp, 22, b"SSH-2.0-Go\r\n")
        with open(path, "wb") as f:  # written in two parts: only the close counts
            f.write(data[:50])
            f.flush()
            time.sleep(0.1)
            f.write(data[50:])
        t = time.monotonic()
        records = self.wait_records(1)
        self.assertLess(time.monotonic() - t, 1.0)
        time.sleep(0.2)
        self.assertEqual(len(self.records()), 1, self.lines())
        self.assertEqual(records[0]["ssh"]["banner"], "SSH-2.0-Go")
        self.assertFalse(records[0]["truncated"])
        self.assertNotIn("SHOULD NOT APPEAR", "\n".join(self.lines()))

    def test_malformed_pcap_is_reported_and_the_loop_goes_on(self):
        self.start()
        bad, _ = self.drop_renamed("bad.pcap", b"this is not a pcap at all, just text\n")
        good, _ = self.drop_renamed("good.pcap", pcap_bytes(self.tmp, 80, b"GET /after-bad HTTP/1.0\r\n\r\n"))
        records = self.wait_records(1)
        self.assertEqual([r["s3path"] for r in records], [good])
        wait_for(lambda: bad in self.stderr(), timeout=2, what="the error line")
        err = [l for l in self.stderr().splitlines() if bad in l]
        self.assertEqual(len(err), 1)
        self.assertIn("not a pcap", err[0])
        self.assertIsNone(self.proc.poll())
        self.assertEqual(self.procs.stop(self.proc), 0)
        self.assertIn("stopped by signal 15", self.stderr())

    def test_existing_pcaps_only_with_follow_existing(self):
        old = os.path.join(self.archive, "pcap", "2026", "old.pcap")
        os.makedirs(os.path.dirname(old))
        with open(old, "wb") as f:
            f.write(pcap_bytes(self.tmp, 445, b"\x00\x00\x00\x10OLD-SMB-BYTES"))
        self.start()
        new, _ = self.drop_renamed("pcap/2026/new.pcap", pcap_bytes(self.tmp, 80, b"GET /new HTTP/1.0\r\n\r\n"))
        self.assertEqual([r["s3path"] for r in self.wait_records(1)], [new])
        time.sleep(0.1)
        self.assertEqual(len(self.lines()), 1)
        self.assertEqual(self.procs.stop(self.proc, sig=signal.SIGINT), 0)
        os.unlink(self.log)
        self.start("--follow-existing")
        paths = [r["s3path"] for r in self.wait_records(2)]
        self.assertEqual(sorted(paths), sorted([new, old]))
        time.sleep(0.1)
        self.assertEqual(len(self.lines()), 2)

    def test_waits_for_the_archive_to_appear(self):
        os.rmdir(self.archive)
        self.errf = open(self.err, "w")
        self.addCleanup(self.errf.close)
        self.proc = self.procs.start([ANALYZER, "--follow", self.archive, "--log", self.log], stderr=self.errf)
        wait_for(lambda: "does not exist yet" in self.stderr(), timeout=5, what="the waiting message")
        os.mkdir(self.archive)
        wait_for(lambda: "following" in self.stderr(), timeout=3, what="the follower to start")
        path, _ = self.drop_renamed("pcap/first.pcap", pcap_bytes(self.tmp, 80, b"GET /first HTTP/1.0\r\n\r\n"))
        self.assertEqual([r["s3path"] for r in self.wait_records(1)], [path])

    def test_sighup_reopens_the_log(self):
        self.start()
        self.drop_renamed("one.pcap", pcap_bytes(self.tmp, 80, b"GET /one HTTP/1.0\r\n\r\n"))
        self.wait_records(1)
        rotated = self.log + ".1"
        os.rename(self.log, rotated)  # what logrotate does, then SIGHUP
        self.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(self.log), timeout=2, what="the log to be reopened")
        self.drop_renamed("two.pcap", pcap_bytes(self.tmp, 80, b"GET /two HTTP/1.0\r\n\r\n"))
        self.assertEqual([r["http"]["path"] for r in self.wait_records(1)], ["/two"])
        self.assertEqual(read(rotated).count("\n"), 1)
        self.assertIsNone(self.proc.poll())

    def test_a_pcap_name_that_is_a_symbolic_link_is_not_followed(self):
        self.start()
        outside = os.path.join(self.tmp, "outside.pcap")
        with open(outside, "wb") as f:
            f.write(pcap_bytes(self.tmp, 80, b"GET /outside HTTP/1.0\r\n\r\n"))
        link = os.path.join(self.archive, "link.pcap")
        os.symlink(outside, link + ".tmp")
        os.rename(link + ".tmp", link)  # IN_MOVED_TO, as the shipper's rename would be
        wait_for(lambda: "link.pcap: a symbolic link: not followed" in self.stderr(), timeout=3,
                 what="the refusal")
        self.drop_renamed("real.pcap", pcap_bytes(self.tmp, 80, b"GET /real HTTP/1.0\r\n\r\n"))
        self.assertEqual([r["http"]["path"] for r in self.wait_records(1)], ["/real"])
        self.assertIsNone(self.proc.poll())

    def test_oversized_pcap_is_refused(self):
        self.start("--max-file", "100")
        big, _ = self.drop_renamed("big.pcap", pcap_bytes(self.tmp, 80, b"A" * 500))
        small, _ = self.drop_renamed("small.pcap", b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16))
        wait_for(lambda: big in self.stderr() and "limit" in self.stderr(), timeout=2, what="the size error")
        self.assertEqual(self.lines(), [])  # an empty pcap: no flow
        self.assertIsNone(self.proc.poll())

    def test_under_supervisord(self):
        run, logs = os.path.join(self.tmp, "run"), os.path.join(self.tmp, "log")
        os.mkdir(run)
        os.mkdir(logs)
        conf = os.path.join(self.tmp, "supervisord.conf")
        with open(conf, "w") as f:  # the base sections of infra/supervisord.conf, then the follow program
            f.write("[unix_http_server]\nfile=%(ENV_LURKER_RUN)s/supervisor.sock\n"
                    "[supervisord]\npidfile=%(ENV_LURKER_RUN)s/supervisord.pid\n"
                    "logfile=%(ENV_LURKER_LOG)s/supervisord.log\nchildlogdir=%(ENV_LURKER_LOG)s\n"
                    "[rpcinterface:supervisor]\n"
                    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
                    "[include]\nfiles = " + os.path.join(ROOT, "infra", "supervisord-follow.conf") + "\n")
        # the sensor's user (nobody here) reads the archive and writes the log directory, nothing else
        nobody = pwd.getpwnam("nobody")
        os.chmod(self.tmp, 0o755)
        for d in (self.archive, logs):
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
        env = dict(os.environ, LURKER_BIN=BIN, LURKER_RUN=run, LURKER_LOG=logs, LURKER_ARCHIVE=self.archive,
                   LURKER_USER="nobody")
        sup = self.procs.start(["supervisord", "-n", "-c", conf], env=env)
        follow_log = os.path.join(logs, "analyzer-follow.log")
        wait_for(lambda: "following" in read(follow_log), timeout=15,
                 what="the program to start under supervisord")
        # it runs as the configured user, with no way back to root, under seccomp filtering (2)
        pid = wait_for(lambda: follower_pid(self.archive), timeout=5, what="the analyzer's pid")
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
        self.assertRegex(status, r"Uid:\s+%d\s+%d\s+%d\s+%d" % ((nobody.pw_uid,) * 4))
        self.assertRegex(status, r"NoNewPrivs:\s+1")
        self.assertRegex(status, r"Seccomp:\s+2")
        path, _ = self.drop_renamed("pcap/2026/11/25/12/sup.pcap", pcap_bytes(self.tmp, 8088, b"POST /ws/v1/cluster/apps HTTP/1.1\r\n\r\n"))
        flows = os.path.join(logs, "flows.jsonl")
        wait_for(lambda: read(flows).count("\n") == 1, timeout=3,
                 what="the record in flows.jsonl")
        self.assertEqual(json.loads(read(flows))["s3path"], path)
        self.assertEqual(self.procs.stop(sup, timeout=40), 0)
        self.assertIn("stopped by signal 15", read(follow_log))


if __name__ == "__main__":
    unittest.main()
