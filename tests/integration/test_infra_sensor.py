"""What runs on the sensor instance, run here inside a test network namespace.

- infra/sensor-setup.sh --config-only (what the UserData hands over to, minus packages/build/services) discovers the
  monitored interface and address in the namespace, in single and dual mode, and writes a lurker.yaml that
  `lurker-responder --check` accepts; bad inputs are refused; --network-only installs the dual-mode source routing.
- supervisord with infra/supervisord.conf (paths from the environment) runs capturer, responder and shipper in the
  sensor namespace: three RUNNING; after kill -9 of each, supervisord restarts it (new pid, RUNNING), and the sensor
  still answers a TCP handshake from the attacker namespace and ships the flow to the local archive;
- sensor-setup.sh --health-check (what the CreationPolicy's SUCCESS signal and an upgrade wait for), run from the
  attacker namespace against that sensor: healthy while the three run and the SYN to the sensor's address is
  answered; unhealthy (exit 1, saying why) when the SYN goes to an address the responder does not serve, and when
  the responder is stopped.
"""
import os
import re
import signal
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import lurkertest as lt  # noqa: E402

SETUP = os.path.join(lt.ROOT, "infra", "sensor-setup.sh")
SUPERVISORD_CONF = os.path.join(lt.ROOT, "infra", "supervisord.conf")
PROGRAMS = ("capturer", "responder", "shipper")


def setup_env(**over):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LURKER_") or k == "LURKER_ROOT"}
    env.update(LURKER_SENSOR_ID="eu-1", LURKER_BUCKET="lk-backend-pcap-123456789012",
               LURKER_BUCKET_REGION="eu-west-1", LURKER_KEY_PREFIX="sensors/eu-1/", LURKER_FLOW_TIMEOUT="45",
               LURKER_NETWORK_MODE="single", LURKER_MONITORED_ADDRESS="", LURKER_ADMIN_CIDR="",
               LURKER_REGION="eu-west-1", AWS_EC2_METADATA_DISABLED="true")
    env.update(over)
    return env


class SensorSetup(unittest.TestCase):
    def setUp(self):
        self.topo = lt.Topology()
        self.topo.up()
        self.root = lt.TempDir(prefix="lurker-root-").path

    def tearDown(self):
        self.topo.down()
        subprocess.run(["rm", "-rf", self.root])

    def setup_in_ns(self, *args, **env_over):
        return subprocess.run(self.topo.in_ns(self.topo.sensor, [SETUP] + list(args) + ["--root", self.root]),
                              env=setup_env(**env_over), capture_output=True, text=True, timeout=60)

    def written(self, name):
        with open(os.path.join(self.root, "etc", "lurker", name)) as f:
            return f.read()

    def check(self):
        path = os.path.join(self.root, "etc", "lurker", "lurker.yaml")
        return subprocess.run([os.path.join(lt.BIN, "lurker-responder"), "-c", path, "--check"],
                              capture_output=True, text=True, timeout=30)

    def test_single_mode_config_passes_check(self):
        for admin, exclude in (("", "[]"), ("192.0.2.0/24", "[22]")):
            r = self.setup_in_ns("--config-only", LURKER_ADMIN_CIDR=admin)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("monitored address %s on %s (single mode)" % (lt.SENSOR_V4, self.topo.s_if), r.stdout)
            y = self.written("lurker.yaml")
            self.assertIn("interface: %s\n" % self.topo.s_if, y)
            self.assertIn("addresses:\n  - %s\n" % lt.SENSOR_V4, y)
            self.assertIn("exclude_ports: %s\n" % exclude, y)
            self.assertIn("firewall: output\n", y)
            self.assertIn("flow_timeout: 45s\n", y)
            self.assertIn('bucket: "lk-backend-pcap-123456789012"', y)
            self.assertIn('prefix: "sensors/eu-1/"', y)
            # health metrics to CloudWatch, in the bucket's region, once a minute (what the alarms expect)
            self.assertIn("  metrics: cloudwatch\n", y)
            self.assertIn('  metrics_namespace: "Lurker"\n', y)
            self.assertIn("  metrics_interval: 60s\n", y)
            self.assertIn('    region: "eu-west-1"\n', y)
            self.assertIn("LURKER_METRICS_NAMESPACE=Lurker\n", self.written("setup.env"))
            c = self.check()
            self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
            self.assertIn("OK: sensor eu-1 on %s [%s/32]" % (self.topo.s_if, lt.SENSOR_V4), c.stdout)
            self.assertIn("%d ports answered" % (65535 if admin else 65536), c.stdout)
            self.assertIn("flow_timeout 45s", c.stdout)
            self.assertIn("storage s3://lk-backend-pcap-123456789012", c.stdout)
        env = self.written("setup.env")
        self.assertIn("LURKER_ADMIN_CIDR=192.0.2.0/24\n", env)
        self.assertTrue(os.path.exists(os.path.join(self.root, "etc", "systemd", "system", "lurker.service")))

    def test_dual_mode_config_and_routing(self):
        r = self.setup_in_ns("--config-only", LURKER_NETWORK_MODE="dual", LURKER_MONITORED_ADDRESS=lt.SENSOR_V4)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        y = self.written("lurker.yaml")
        self.assertIn("firewall: ingress\n", y)
        self.assertIn("exclude_ports: []\n", y)
        c = self.check()
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        # at boot lurker.service re-applies the routing from the saved inputs alone
        r = subprocess.run(self.topo.in_ns(self.topo.sensor, [SETUP, "--network-only", "--root", self.root]),
                           env={"PATH": os.environ["PATH"], "AWS_EC2_METADATA_DISABLED": "true"},
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rules = self.topo.ns(self.topo.sensor, "ip", "rule", "show").stdout
        self.assertRegex(rules, r"100:\s+from %s lookup 100" % re.escape(lt.SENSOR_V4))
        table = self.topo.ns(self.topo.sensor, "ip", "route", "show", "table", "100").stdout
        self.assertIn("default via 203.0.113.1 dev %s" % self.topo.s_if, table)
        # idempotent: a second run leaves one rule
        subprocess.run(self.topo.in_ns(self.topo.sensor, [SETUP, "--network-only", "--root", self.root]),
                       env={"PATH": os.environ["PATH"]}, capture_output=True, timeout=60, check=True)
        rules = self.topo.ns(self.topo.sensor, "ip", "rule", "show").stdout
        self.assertEqual(len(re.findall(r"from %s lookup 100" % re.escape(lt.SENSOR_V4), rules)), 1)

    def test_bad_inputs_are_refused(self):
        for over, message in (({"LURKER_BUCKET": ""}, "LURKER_BUCKET"),
                              ({"LURKER_SENSOR_ID": "a b"}, "LURKER_SENSOR_ID"),
                              ({"LURKER_NETWORK_MODE": "dual"}, "LURKER_MONITORED_ADDRESS"),
                              ({"LURKER_METRICS_NAMESPACE": "AWS/EC2"}, "LURKER_METRICS_NAMESPACE"),
                              ({"LURKER_NETWORK_MODE": "dual", "LURKER_MONITORED_ADDRESS": "198.18.0.1",
                                "LURKER_INTERFACE_WAIT": "1"},
                               "instance metadata needed but disabled")):
            r = self.setup_in_ns("--config-only", **over)
            self.assertNotEqual(r.returncode, 0, over)
            self.assertIn(message, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.root, "etc", "lurker", "lurker.yaml")))


class Supervised(unittest.TestCase):
    def setUp(self):
        self.procs = lt.Processes()
        self.topo = lt.Topology()
        self.topo.up()
        self.dir = lt.TempDir(prefix="lurker-sup-").path
        self.shm = lt.unique_shm_name()
        for d in ("spool", "archive", "run", "log"):
            os.makedirs(os.path.join(self.dir, d))
        self.config = lt.write_config(
            os.path.join(self.dir, "lurker.yaml"), self.shm, os.path.join(self.dir, "spool"), self.topo.s_if,
            extra="capturer:\n  flow_timeout: 1s\nshipper:\n  storage: local\n  archive_dir: %s\n"
                  % os.path.join(self.dir, "archive"))
        self.env = dict(os.environ, LURKER_BIN=lt.BIN, LURKER_CONFIG=self.config,
                        LURKER_RUN=os.path.join(self.dir, "run"), LURKER_LOG=os.path.join(self.dir, "log"))

    def tearDown(self):
        self.procs.stop_all()
        self.topo.down()
        lt.remove_shm(self.shm)
        subprocess.run(["rm", "-rf", self.dir])

    def status(self):
        r = subprocess.run([os.path.join(lt.ROOT, "infra", "lurker-supervisorctl"), "status"], env=self.env,
                           capture_output=True, text=True, timeout=20)
        out = {}
        for line in r.stdout.splitlines():
            m = re.match(r"lurker:(\w+)\s+(\w+)(?:\s+pid (\d+))?", line)
            if m:
                out[m.group(1)] = (m.group(2), int(m.group(3)) if m.group(3) else None)
        return out

    def all_running(self):
        s = self.status()
        return s if set(s) == set(PROGRAMS) and all(v[0] == "RUNNING" for v in s.values()) else None

    def answers(self, port):
        r = subprocess.run(self.topo.in_ns(self.topo.attacker, ["nc", "-z", "-w", "2", lt.SENSOR_V4, str(port)]),
                           capture_output=True, timeout=10)
        return r.returncode == 0

    def archived(self):
        found = []
        for dirpath, _, files in os.walk(os.path.join(self.dir, "archive")):
            found += [os.path.join(dirpath, f) for f in files if f.endswith(".pcap")]
        return found

    def test_three_running_and_each_restarted_after_kill_9(self):
        log = open(os.path.join(self.dir, "log", "supervisord.stdout"), "w")
        self.addCleanup(log.close)
        sup = self.procs.start(self.topo.in_ns(self.topo.sensor, ["supervisord", "-n", "-c", SUPERVISORD_CONF]),
                               env=self.env, stdout=log, stderr=subprocess.STDOUT)
        first = lt.wait_for(self.all_running, timeout=20, what="three programs RUNNING")
        self.assertTrue(lt.wait_for(lambda: self.answers(8080), timeout=10, what="SYN+ACK before the kills"))

        for name in PROGRAMS:
            old_pid = self.status()[name][1]
            os.kill(old_pid, signal.SIGKILL)

            def restarted():
                s = self.status().get(name)
                return s if s and s[0] == "RUNNING" and s[1] != old_pid else None
            state, new_pid = lt.wait_for(restarted, timeout=20, what="%s restarted after kill -9" % name)
            self.assertNotEqual(new_pid, old_pid)
        final = lt.wait_for(self.all_running, timeout=20, what="three programs RUNNING after the kills")
        for name in PROGRAMS:
            self.assertNotEqual(final[name][1], first[name][1], name)

        # still a sensor: the handshake is answered and the flow, captured and shipped, lands in the archive
        self.assertTrue(lt.wait_for(lambda: self.answers(2222), timeout=10, what="SYN+ACK after the kills"))
        pcaps = lt.wait_for(lambda: [p for p in self.archived() if "_2222." in os.path.basename(p)], timeout=20,
                            what="the port-2222 flow in the archive")
        self.assertGreater(os.path.getsize(pcaps[0]), 24)
        self.assertEqual(sup.poll(), None, "supervisord itself exited")

    def test_health_check(self):
        log = open(os.path.join(self.dir, "log", "supervisord.stdout"), "w")
        self.addCleanup(log.close)
        self.procs.start(self.topo.in_ns(self.topo.sensor, ["supervisord", "-n", "-c", SUPERVISORD_CONF]),
                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        lt.wait_for(self.all_running, timeout=20, what="three programs RUNNING")

        def check(address, timeout="15"):
            env = setup_env(LURKER_CONFIG=self.config, LURKER_BIN=lt.BIN, LURKER_SELFTEST_ADDRESS=address,
                            LURKER_HEALTH_TIMEOUT=timeout)
            return subprocess.run(self.topo.in_ns(self.topo.attacker, [SETUP, "--health-check"]), env=env,
                                  capture_output=True, text=True, timeout=120)
        r = check(lt.SENSOR_V4)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("a SYN to %s:9 was answered: healthy" % lt.SENSOR_V4, r.stdout)
        # the attacker's own address: its kernel answers with a RST, no SYN+ACK
        r = check(lt.ATTACKER_V4, timeout="3")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("no answer to a SYN to %s:9" % lt.ATTACKER_V4, r.stdout)
        subprocess.run([os.path.join(lt.ROOT, "infra", "lurker-supervisorctl"), "stop", "lurker:responder"],
                       env=self.env, capture_output=True, timeout=30)
        r = check(lt.SENSOR_V4, timeout="3")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("lurker-ctl status still unhealthy", r.stdout)


if __name__ == "__main__":
    unittest.main()
