"""Health metrics end to end: the three processes under supervisord (restarts off), the shipper publishing to
moto's CloudWatch (signature checking on) and to a Prometheus textfile; real SYNs from the attacker namespace; then
the capturer is stopped and both the local verdict and the metric behind the alarm must change."""
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import lurkertest as lt  # noqa: E402
import motoserver  # noqa: E402

INTERVAL = 10


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="lurker-metrics-")
        self.procs = lt.Processes()
        self.topo = lt.Topology()
        self.topo.up()
        self.moto = motoserver.MotoServer(log_path=os.path.join(self.work, "moto.log"))
        self.moto.start()
        self.shm = lt.unique_shm_name()
        self.prom = os.path.join(self.work, "lurker.prom")
        self.config = os.path.join(self.work, "lurker.yaml")
        lt.write_config(self.config, self.shm, os.path.join(self.work, "spool"), self.topo.s_if, extra="""
queue_slots: 64
shipper:
  storage: local
  archive_dir: %s
  metrics: cloudwatch
  metrics_interval: %ds
  metrics_namespace: LurkerTest
  metrics_endpoint: %s
  prometheus_file: %s
  s3:
    region: us-east-1
""" % (os.path.join(self.work, "archive"), INTERVAL, self.moto.endpoint, self.prom))
        env = {k: v for k, v in self.moto.env().items() if k.startswith("AWS_")}
        self.sup = lt.Supervisor(self.topo, self.procs, self.config, self.work, env=env, autorestart=False)

    def tearDown(self):
        self.sup.stop()
        self.procs.stop_all()
        self.moto.stop()
        self.topo.down()
        lt.remove_shm(self.shm)
        shutil.rmtree(self.work, ignore_errors=True)

    def stat(self, cw, name, extra_dims=(), stat="Sum"):
        dims = [{"Name": "SensorId", "Value": "test-sensor"}] + [{"Name": k, "Value": v} for k, v in extra_dims]
        now = datetime.datetime.now(datetime.timezone.utc)
        r = cw.get_metric_statistics(Namespace="LurkerTest", MetricName=name, Dimensions=dims,
                                     StartTime=now - datetime.timedelta(hours=1),
                                     EndTime=now + datetime.timedelta(minutes=5), Period=3600, Statistics=[stat])
        points = r["Datapoints"]
        return points[0][stat] if points else None

    def test_metrics_follow_a_known_workload_and_a_dead_capturer(self):
        self.sup.start()
        lt.wait_for(lambda: lt.ctl_status_json(self.shm).get("healthy"), timeout=20, what="healthy sensor")
        # a known workload: 25 SYNs to distinct ports, each answered
        for port in range(20001, 20026):
            self.topo.ns(self.topo.attacker, "nc", "-z", "-w", "1", lt.SENSOR_V4, str(port), check=False)
        cw = self.moto.client("cloudwatch")
        lt.wait_for(lambda: self.stat(cw, "Heartbeat"), timeout=INTERVAL * 3, what="a first Heartbeat datapoint")
        lt.wait_for(lambda: (self.stat(cw, "SynAckSent") or 0) >= 25, timeout=INTERVAL * 3,
                    what="SynAckSent to reach 25")
        self.assertEqual(self.stat(cw, "ProcessUp", [("Process", "capturer")], "Minimum"), 1)

        # the local textfile parses with a real Prometheus parser
        text = open(self.prom).read()
        self.assertIn('lurker_synack_sent_total{sensor="test-sensor",process="responder"}', text)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stderr)

        # the capturer dies (restarts are off): the local verdict turns within HEALTH_STALE_AFTER_S ...
        stopped_at = time.monotonic()
        self.sup.ctl("stop", "lurker-capturer")
        lt.wait_for(lambda: subprocess.run([os.path.join(lt.BIN, "lurker-ctl"), "--shm", self.shm, "status"],
                                           capture_output=True).returncode == 1, timeout=10,
                    what="lurker-ctl to exit 1")
        self.assertLess(time.monotonic() - stopped_at, 10)
        status = lt.ctl_status_json(self.shm)
        self.assertFalse(status["processes"]["capturer"]["healthy"])
        # ... and the alarm's metric says so at the next publication
        lt.wait_for(lambda: self.stat(cw, "ProcessUp", [("Process", "capturer")], "Minimum") == 0,
                    timeout=INTERVAL * 3, what="ProcessUp{capturer} = 0 in CloudWatch")
        self.assertIn('lurker_process_up{sensor="test-sensor",process="capturer"} 0', open(self.prom).read())

        # after a clean stop, the datapoints add up to the counters exactly
        final = lt.ctl_status_json(self.shm)["counters"]
        self.sup.stop()
        self.assertEqual(self.stat(cw, "SynSeen"), final["syn_seen"])
        self.assertEqual(self.stat(cw, "SynAckSent"), final["synack_sent"])
        self.assertGreaterEqual(final["synack_sent"], 25)


if __name__ == "__main__":
    unittest.main()
