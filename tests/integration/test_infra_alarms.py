"""infra/ health: the alert topic, the sensor's and the analyzer's CloudWatch alarms, the sensor's dashboard.

- read from the templates: every sensor alarm watches a metric the shipper really publishes (names parsed from
  shipper/metrics.c), with dimension SensorId (ProcessUp also Process), in MetricsNamespace; the heartbeat-type alarms
  (SensorDown, ProcessDown-*, NoSynAcks, NoUploads) treat missing data as breaching, the others not; every alarm
  notifies the alert topic (or nobody when none is given); the instance may PutMetricData to its namespace only;
  the dashboard names only published metrics and its top-ports query reads the analyzer's log group;
- on moto (signature checking on): backend (with an alert e-mail), sensor and output reach CREATE_COMPLETE with their
  Outputs; the dashboard exists and its body is JSON. moto's CloudFormation silently skips AWS::CloudWatch::Alarm and
  SNS subscriptions, so the templates' own alarm and subscription definitions are resolved with the deployed stacks'
  parameters and resources and applied through the API; describe_alarms then shows names, metrics, dimensions
  SensorId=<id>, TreatMissingData and actions pointing at the deployed alert topic. The alarms are a stack of their
  own (sensor-alarms.yml) in the backend's region, whatever region the sensor's stack is in;
- end to end: the real bin/lurker-shipper (metrics: cloudwatch) publishes to moto's CloudWatch; every sensor alarm
  watches a metric that exists in list_metrics with exactly its dimensions (an alarm with a wrong dimension is shown
  to find none), and a small evaluator of the alarm definitions over get_metric_statistics gives the expected
  verdicts: OK while the shipper publishes, SensorDown in ALARM for a window with no data. moto does not evaluate
  alarms itself, nor send their notifications.
"""
import datetime
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import lurkertest as lt  # noqa: E402
from motoserver import MotoServer  # noqa: E402
import test_infra_aws as infra  # noqa: E402  (its helpers; as a module, its tests are not collected here)

SHIPPER = os.path.join(lt.BIN, "lurker-shipper")
SENSOR_ID = "lk-s1"
PROCESSES = ("responder", "capturer", "shipper")
HEARTBEAT_ALARMS = {"SensorDownAlarm", "ResponderDownAlarm", "CapturerDownAlarm", "ShipperDownAlarm",
                    "NoSynAcksAlarm", "NoUploadsAlarm"}


def published_metrics():
    """Metric names the shipper publishes, from its source."""
    with open(os.path.join(lt.ROOT, "shipper", "metrics.c")) as f:
        names = set(re.findall(r'PUT\("([A-Za-z]+)"', f.read()))
    assert "Heartbeat" in names and "ProcessUp" in names, names
    return names


def alarms_of(template):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}


class Resolver:
    """Just enough of CloudFormation's intrinsic functions to turn a template's resource properties into the values
    the stack would give them: Ref, Fn::Sub, Fn::If with the template's Conditions, Fn::GetAtt from a table."""

    def __init__(self, template, params, physical, getatt=None, pseudo=None):
        self.t = template
        self.values = {name: p.get("Default") for name, p in template["Parameters"].items()}
        self.values.update(params)
        self.values.update(pseudo or {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                                      "AWS::Partition": "aws"})
        self.physical = physical
        self.getatt = getatt or {}

    def condition(self, c):
        if isinstance(c, str):
            return self.condition(self.t["Conditions"][c])
        (fn, arg), = c.items()
        if fn == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if fn == "Fn::Not":
            return not self.condition(arg[0])
        if fn == "Fn::And":
            return all(self.condition(x) for x in arg)
        if fn == "Fn::Or":
            return any(self.condition(x) for x in arg)
        if fn == "Condition":
            return self.condition(arg)
        raise ValueError("condition %r" % fn)

    def ref(self, name):
        if name in self.values:
            return self.values[name]
        return self.physical[name]

    def resolve(self, node):
        if isinstance(node, list):
            out = [self.resolve(x) for x in node]
            return [x for x in out if x is not NoValue]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (k, v), = node.items()
            if k == "Ref":
                return NoValue if v == "AWS::NoValue" else self.ref(v)
            if k == "Fn::If":
                return self.resolve(v[1] if self.condition(v[0]) else v[2])
            if k == "Fn::GetAtt":
                return self.getatt[".".join(v)]
            if k == "Fn::Sub":
                text, local = (v, {}) if isinstance(v, str) else (v[0], {n: self.resolve(x) for n, x in v[1].items()})

                def one(m):
                    name = m.group(1)
                    if name in local:
                        return str(local[name])
                    if "." in name:
                        return str(self.getatt[name])
                    return str(self.ref(name))
                # ${!Name} is CloudFormation's escape for a literal ${Name}
                return re.sub(r"\$\{([^}!]+)\}", one, text).replace("${!", "${")
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NoValue}


class _NoValue:
    pass


NoValue = _NoValue()


def put_alarm(cw, props):
    """PutMetricAlarm with a resolved AWS::CloudWatch::Alarm's properties (the same names, numbers as numbers)."""
    args = dict(props)
    for k in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if k in args:
            args[k] = int(args[k])
    args["Threshold"] = float(args["Threshold"])
    cw.put_metric_alarm(**args)


def evaluate(cw, alarm, end):
    """What CloudWatch would decide for this alarm over the evaluation window ending at `end`, from the datapoints
    (the documented rules for a simple metric alarm: M of N periods breaching; missing periods per TreatMissingData;
    periods count from the newest)."""
    period, n = alarm["Period"], alarm["EvaluationPeriods"]
    m = alarm.get("DatapointsToAlarm") or n
    stat = alarm["Statistic"]
    r = cw.get_metric_statistics(Namespace=alarm["Namespace"], MetricName=alarm["MetricName"],
                                 Dimensions=alarm["Dimensions"], StartTime=end - datetime.timedelta(seconds=period * n),
                                 EndTime=end, Period=period, Statistics=[stat])
    points = sorted(r["Datapoints"], key=lambda p: p["Timestamp"])
    ops = {"LessThanThreshold": lambda v: v < alarm["Threshold"],
           "GreaterThanThreshold": lambda v: v > alarm["Threshold"],
           "GreaterThanOrEqualToThreshold": lambda v: v >= alarm["Threshold"],
           "LessThanOrEqualToThreshold": lambda v: v <= alarm["Threshold"]}
    breaching = [ops[alarm["ComparisonOperator"]](p[stat]) for p in points]
    missing = max(0, n - len(points))
    treat = alarm.get("TreatMissingData", "missing")
    if treat == "breaching":
        breaching += [True] * missing
    elif treat == "notBreaching":
        breaching += [False] * missing
    elif not points:
        return "INSUFFICIENT_DATA"
    return "ALARM" if sum(breaching) >= m else "OK"


class TemplateHealth(unittest.TestCase):
    """What the templates say, checked without a server."""

    def test_sensor_alarms_watch_published_metrics(self):
        t = infra.load_template("sensor-alarms.yml")
        metrics = published_metrics()
        alarms = alarms_of(t)
        self.assertEqual(set(alarms), HEARTBEAT_ALARMS | {"KernelDropsAlarm", "BacklogTooOldAlarm"})
        for name, a in alarms.items():
            p = a["Properties"]
            self.assertNotIn("Condition", a, name)
            self.assertTrue(p["AlarmName"]["Fn::Sub"].startswith("${SensorStackName}-"), name)
            self.assertIn(p["MetricName"], metrics, name)
            self.assertEqual(p["Namespace"], {"Ref": "MetricsNamespace"}, name)
            self.assertEqual(p["Dimensions"][0], {"Name": "SensorId", "Value": {"Ref": "SensorId"}}, name)
            self.assertEqual(len(p["Dimensions"]), 2 if p["MetricName"] == "ProcessUp" else 1, name)
            self.assertEqual(p["TreatMissingData"], "breaching" if name in HEARTBEAT_ALARMS else "notBreaching",
                             name)
            for key in ("AlarmActions", "OKActions"):
                self.assertEqual(p[key], {"Fn::If": ["HasAlertTopic", [{"Ref": "AlertTopicArn"}],
                                                     {"Ref": "AWS::NoValue"}]}, name)
        procs = sorted(a["Properties"]["Dimensions"][1]["Value"] for a in alarms.values()
                       if a["Properties"]["MetricName"] == "ProcessUp")
        self.assertEqual(procs, sorted(PROCESSES))
        heartbeat = alarms["SensorDownAlarm"]["Properties"]
        self.assertEqual((heartbeat["MetricName"], heartbeat["Statistic"], heartbeat["Period"],
                          heartbeat["ComparisonOperator"], heartbeat["Threshold"]),
                         ("Heartbeat", "SampleCount", 300, "LessThanThreshold", 1))
        # "no SYN+ACK for N minutes": N one-minute periods, every one of them breaching
        for name, param in (("NoSynAcksAlarm", "NoTrafficMinutes"), ("NoUploadsAlarm", "NoUploadMinutes")):
            p = alarms[name]["Properties"]
            self.assertEqual(p["Period"], 60)
            self.assertEqual(p["EvaluationPeriods"], {"Ref": param})
            self.assertEqual(p["DatapointsToAlarm"], {"Ref": param})
            self.assertEqual(t["Parameters"][param]["Default"], 60)
        self.assertEqual(alarms["KernelDropsAlarm"]["Properties"]["Threshold"], {"Ref": "KernelDropsThreshold"})
        self.assertEqual(t["Parameters"]["KernelDropsThreshold"]["Default"], 1000)
        self.assertEqual(alarms["BacklogTooOldAlarm"]["Properties"]["Threshold"], {"Ref": "BacklogAgeSeconds"})
        self.assertEqual(t["Parameters"]["BacklogAgeSeconds"]["Default"], 900)
        self.assertEqual(infra.load_template("sensor.yml")["Resources"].keys() & alarms.keys(), set())

    def test_sensor_may_publish_to_its_namespace_only(self):
        t = infra.load_template("sensor.yml")
        st = t["Resources"]["InstanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        cw = [s for s in st if s["Action"] == "cloudwatch:PutMetricData"]
        self.assertEqual(len(cw), 1)
        self.assertEqual(cw[0]["Condition"], {"StringEquals": {"cloudwatch:namespace": {"Ref": "MetricsNamespace"}}})
        self.assertEqual(t["Parameters"]["MetricsNamespace"]["Default"], "Lurker")
        self.assertIn("export LURKER_METRICS_NAMESPACE='${MetricsNamespace}'",
                      t["Resources"]["Instance"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"][0])

    def test_backend_alert_topic_and_optional_email(self):
        t = infra.load_template("backend.yml")
        r = t["Resources"]
        self.assertEqual(r["AlertTopic"]["Type"], "AWS::SNS::Topic")
        sub = r["AlertEmailSubscription"]
        self.assertEqual(sub["Condition"], "HasAlertEmail")
        self.assertEqual(sub["Properties"], {"TopicArn": {"Ref": "AlertTopic"}, "Protocol": "email",
                                             "Endpoint": {"Ref": "AlertEmail"}})
        self.assertEqual(t["Parameters"]["AlertEmail"]["Default"], "")
        self.assertEqual(t["Conditions"]["HasAlertEmail"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]})
        pattern = re.compile(t["Parameters"]["AlertEmail"]["AllowedPattern"])
        for good in ("", "ops@example.org", "a.b+alerts@mail.example.co.uk"):
            self.assertTrue(pattern.match(good), good)
        for bad in ("ops", "ops@", "@example.org", "a b@example.org"):
            self.assertFalse(pattern.match(bad), bad)
        st = r["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual([(s["Principal"], s["Action"]) for s in st],
                         [({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")])
        self.assertEqual(st[0]["Condition"], {"ArnLike": {"aws:SourceArn": {"Fn::Sub": (
            "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*")}}})
        self.assertEqual(t["Outputs"]["AlertTopicArn"]["Export"]["Name"], {"Fn::Sub": "${AWS::StackName}-AlertTopic"})

    def test_output_alarms(self):
        a = alarms_of(infra.load_template("output.yml"))
        self.assertEqual(set(a), {"AnalyzerErrorsAlarm", "DeadLettersAlarm"})
        e, d = a["AnalyzerErrorsAlarm"]["Properties"], a["DeadLettersAlarm"]["Properties"]
        self.assertEqual((e["Namespace"], e["MetricName"], e["Dimensions"], e["Period"], e["ComparisonOperator"],
                          e["Threshold"]),
                         ("AWS/Lambda", "Errors", [{"Name": "FunctionName", "Value": {"Ref": "Analyzer"}}], 300,
                          "GreaterThanThreshold", 0))
        self.assertEqual((d["Namespace"], d["MetricName"], d["Dimensions"], d["ComparisonOperator"], d["Threshold"]),
                         ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                          [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}],
                          "GreaterThanThreshold", 0))
        self.assertEqual((e["TreatMissingData"], d["TreatMissingData"]), ("notBreaching", "ignore"))
        for p in (e, d):
            self.assertEqual(p["AlarmActions"], {"Fn::If": ["HasAlertTopic", [{"Ref": "AlertTopicArn"}],
                                                            {"Ref": "AWS::NoValue"}]})

    def test_dashboard_names_published_metrics_and_the_flow_log_group(self):
        t = infra.load_template("sensor.yml")
        d = t["Resources"]["Dashboard"]
        # wherever the stack is (its widgets name the backend's region), unless turned off
        self.assertEqual(d["Condition"], "HasDashboard")
        self.assertEqual(t["Parameters"]["CreateDashboard"]["Default"], "true")
        r = Resolver(t, dict(SensorId="x-1", BackendRegion="eu-west-1", FlowLogGroup="/honeypot/lk-output"), {},
                     pseudo={"AWS::Region": "ap-northeast-1", "AWS::StackName": "lk-sensor-x-1"})
        body = json.loads(r.resolve(d["Properties"]["DashboardBody"]))
        self.check_dashboard(body, "x-1", "eu-west-1", "/honeypot/lk-output", "Lurker")

    def check_dashboard(self, body, sensor, region, log_group, namespace):
        metrics, titles = set(), []
        for w in body["widgets"]:
            p = w["properties"]
            titles.append(p["title"])
            self.assertEqual(p["region"], region)
            for line in p.get("metrics", []):
                fields = [x for x in line if isinstance(x, str)]
                self.assertEqual(fields[0], namespace)
                self.assertEqual(fields[2:4], ["SensorId", sensor])
                metrics.add(fields[1])
        self.assertLessEqual(metrics, published_metrics())
        self.assertTrue({"FlowsWritten", "SynAckSent", "KernelDrops", "FlowsDropped", "RateLimited", "Backlog",
                         "OldestUnshippedAge", "ProcessUp"} <= metrics, metrics)
        logs = [w["properties"] for w in body["widgets"] if w["type"] == "log"]
        self.assertEqual(len(logs), 1)
        self.assertEqual(logs[0]["query"], "SOURCE '%s' | filter sensor = '%s' | stats count(*) as flows by "
                                           "dst_port | sort flows desc | limit 10" % (log_group, sensor))
        self.assertTrue(any("per hour" in x for x in titles), titles)


class MotoHealth(unittest.TestCase):
    """The three stacks on moto; the alarms applied from the templates; the real shipper's metrics against them."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lurker-alarms-")
        cls.moto = MotoServer(log_path=os.path.join(infra.LOG_DIR, "test_infra_alarms.moto.log"))
        cls.moto.start()
        try:
            cls.deploy()
        except BaseException:
            cls.tearDownClass()  # (not called when setUpClass fails)
            raise

    @classmethod
    def deploy(cls):
        cls.cfn = cls.moto.client("cloudformation")
        cls.cw = cls.moto.client("cloudwatch")
        ec2 = cls.moto.client("ec2")
        ami = ec2.describe_images()["Images"][0]["ImageId"]
        cls.sensor_path = os.path.join(infra.INFRA, "sensor.yml")
        cls.vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        cls.subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [cls.vpc]}])["Subnets"][0]["SubnetId"]

        cls.backend_params = {"AlertEmail": "ops@example.org"}
        cls.backend = cls.moto.create_stack("hb", os.path.join(infra.INFRA, "backend.yml"), cls.backend_params)
        cls.topic = cls.backend["AlertTopicArn"]
        cls.sensor_params = dict(
            SensorId=SENSOR_ID, PcapBucket=cls.backend["PcapBucketName"],
            ArtifactsBucket=cls.backend["ArtifactsBucketName"], BackendRegion=cls.moto.region,
            LurkerTarballKey="lurker/x.tar.gz", LurkerTarballSha256="c" * 64, VpcId=cls.vpc, SubnetId=cls.subnet,
            ImageId=ami, FlowLogGroup="/honeypot/ho")
        cls.sensor = cls.moto.create_stack("hs", cls.sensor_path, cls.sensor_params)
        cls.alarm_params = dict(SensorId=SENSOR_ID, SensorStackName="hs", SensorRegion=cls.moto.region,
                                AlertTopicArn=cls.topic, NoTrafficMinutes="30")
        cls.alarms_stack = cls.moto.create_stack("ha", os.path.join(infra.INFRA, "sensor-alarms.yml"),
                                                 cls.alarm_params)
        s3 = cls.moto.client("s3")
        s3.put_object(Bucket=cls.backend["ArtifactsBucketName"], Key="lambda/t.zip", Body=b"PK\x05\x06" + b"\0" * 18)
        cls.output_params = dict(PcapBucket=cls.backend["PcapBucketName"], PcapTopicArn=cls.backend["PcapTopicArn"],
                                 ArtifactsBucket=cls.backend["ArtifactsBucketName"], LambdaZipKey="lambda/t.zip",
                                 Architecture="x86_64", AlertTopicArn=cls.topic)
        cls.output = cls.moto.create_stack("ho", os.path.join(infra.INFRA, "output.yml"), cls.output_params)
        cls.apply_skipped_resources()

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def physical(cls, stack):
        # (moto lists the resources it skipped with empty fields)
        return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in
                cls.cfn.describe_stack_resources(StackName=stack)["StackResources"] if r.get("PhysicalResourceId")}

    @classmethod
    def apply_skipped_resources(cls):
        """moto's CloudFormation skips alarms and subscriptions: apply the templates' own, resolved."""
        backend_t = infra.load_template("backend.yml")
        res = Resolver(backend_t, cls.backend_params, {"AlertTopic": cls.topic},
                       pseudo={"AWS::StackName": "hb"})
        sub = backend_t["Resources"]["AlertEmailSubscription"]
        if res.condition(sub["Condition"]):
            p = res.resolve(sub["Properties"])
            cls.moto.client("sns").subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"])
        alarms_t = infra.load_template("sensor-alarms.yml")
        res = Resolver(alarms_t, cls.alarm_params, cls.physical("ha"),
                       pseudo={"AWS::Region": cls.moto.region, "AWS::StackName": "ha", "AWS::AccountId":
                               "123456789012", "AWS::Partition": "aws"})
        for a in alarms_of(alarms_t).values():
            put_alarm(cls.cw, res.resolve(a["Properties"]))
        output_t = infra.load_template("output.yml")
        phys = cls.physical("ho")
        queue_name = phys["DeadLetterQueue"].rsplit("/", 1)[1]
        res = Resolver(output_t, cls.output_params, phys, getatt={"DeadLetterQueue.QueueName": queue_name},
                       pseudo={"AWS::StackName": "ho"})
        for a in alarms_of(output_t).values():
            put_alarm(cls.cw, res.resolve(a["Properties"]))

    def alarms(self):
        return {a["AlarmName"]: a for a in self.cw.describe_alarms()["MetricAlarms"]}

    def test_stacks_outputs_dashboard_and_subscription(self):
        self.assertEqual(set(self.backend), {"PcapBucketName", "PcapBucketArn", "PcapTopicArn", "AlertTopicArn",
                                             "FleetDashboardUrl", "ArtifactsBucketName"})
        self.assertRegex(self.topic, r"^arn:aws:sns:us-east-1:123456789012:hb-AlertTopic")
        exports = {e["Name"]: e["Value"] for e in self.cfn.list_exports()["Exports"]}
        self.assertEqual(exports["hb-AlertTopic"], self.topic)
        subs = self.moto.client("sns").list_subscriptions_by_topic(TopicArn=self.topic)["Subscriptions"]
        self.assertEqual([(s["Protocol"], s["Endpoint"]) for s in subs], [("email", "ops@example.org")])
        self.assertIn("DashboardUrl", self.sensor)
        self.assertTrue(self.sensor["DashboardUrl"].endswith("#dashboards/dashboard/hs"), self.sensor)
        self.assertTrue(self.alarms_stack["Alarms"].endswith("search=hs"), self.alarms_stack)
        body = json.loads(self.cw.get_dashboard(DashboardName="hs")["DashboardBody"])
        TemplateHealth.check_dashboard(self, body, SENSOR_ID, "us-east-1", "/honeypot/ho", "Lurker")

    def test_alarms_deployed_with_dimensions_and_actions(self):
        got = self.alarms()
        want = {"hs-SensorDown", "hs-ProcessDown-responder", "hs-ProcessDown-capturer", "hs-ProcessDown-shipper",
                "hs-NoSynAcks", "hs-NoUploads", "hs-KernelDrops", "hs-BacklogTooOld", "ho-AnalyzerErrors",
                "ho-DeadLetters"}
        self.assertEqual(set(got), want)
        for name, a in got.items():
            self.assertEqual(a["AlarmActions"], [self.topic], name)
            self.assertEqual(a["OKActions"], [self.topic], name)
            if name.startswith("hs-"):
                self.assertEqual(a["Namespace"], "Lurker")
                self.assertEqual(a["Dimensions"][0], {"Name": "SensorId", "Value": SENSOR_ID}, name)
                self.assertIn(SENSOR_ID, a["AlarmDescription"])
        self.assertEqual(got["hs-SensorDown"]["MetricName"], "Heartbeat")
        for name in ("hs-SensorDown", "hs-ProcessDown-capturer", "hs-NoSynAcks", "hs-NoUploads"):
            self.assertEqual(got[name]["TreatMissingData"], "breaching", name)
        self.assertEqual(got["hs-KernelDrops"]["TreatMissingData"], "notBreaching")
        self.assertEqual(got["hs-ProcessDown-capturer"]["Dimensions"],
                         [{"Name": "SensorId", "Value": SENSOR_ID}, {"Name": "Process", "Value": "capturer"}])
        # parameters reach the alarms: NoTrafficMinutes=30 given, NoUploadMinutes left at its default
        self.assertEqual((got["hs-NoSynAcks"]["EvaluationPeriods"], got["hs-NoSynAcks"]["DatapointsToAlarm"]),
                         (30, 30))
        self.assertEqual(got["hs-NoUploads"]["EvaluationPeriods"], 60)
        self.assertEqual(got["hs-KernelDrops"]["Threshold"], 1000)
        self.assertEqual(got["hs-BacklogTooOld"]["Threshold"], 900)
        # the analyzer's alarms name the deployed function and queue
        phys = self.physical("ho")
        self.assertEqual(got["ho-AnalyzerErrors"]["Dimensions"],
                         [{"Name": "FunctionName", "Value": phys["Analyzer"]}])
        queue = got["ho-DeadLetters"]["Dimensions"][0]["Value"]
        self.assertEqual(self.moto.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"].rsplit("/", 1)[1],
                         queue)
        # set_alarm_state works on them (moto does not evaluate alarms, nor notify the topic when they change)
        self.cw.set_alarm_state(AlarmName="hs-SensorDown", StateValue="ALARM", StateReason="test")
        self.assertEqual(self.alarms()["hs-SensorDown"]["StateValue"], "ALARM")
        self.cw.set_alarm_state(AlarmName="hs-SensorDown", StateValue="OK", StateReason="test")

    def test_sensor_stack_in_another_region_keeps_its_dashboard(self):
        # metrics go to the backend's region: the dashboard of a sensor stack elsewhere points there (its alarms
        # are sensor-alarms.yml's, in the backend's region: test_infra_fleet.py deploys such a fleet)
        params = dict(self.sensor_params, SensorId="far-1", BackendRegion="eu-west-1")
        out = self.moto.create_stack("hfar", self.sensor_path, params)
        self.assertIn("DashboardUrl", out)
        types = {r["ResourceType"] for r in self.cfn.describe_stack_resources(StackName="hfar")["StackResources"]
                 if r.get("ResourceType")}
        self.assertIn("AWS::CloudWatch::Dashboard", types)
        self.assertNotIn("AWS::CloudWatch::Alarm", types)
        body = json.loads(self.cw.get_dashboard(DashboardName="hfar")["DashboardBody"])
        TemplateHealth.check_dashboard(self, body, "far-1", "eu-west-1", "/honeypot/ho", "Lurker")

    def test_dashboard_can_be_turned_off(self):
        out = self.moto.create_stack("hnod", self.sensor_path,
                                     dict(self.sensor_params, SensorId="nod-1", CreateDashboard="false"))
        self.assertNotIn("DashboardUrl", out)
        names = [d["DashboardName"] for d in self.cw.list_dashboards()["DashboardEntries"]]
        self.assertIn("hs", names)
        self.assertNotIn("hnod", names)

    def test_shipper_metrics_match_the_alarms(self):
        work = os.path.join(self.tmp, "shipper")
        os.makedirs(os.path.join(work, "spool"))
        shm = lt.unique_shm_name()
        cfg = os.path.join(work, "lurker.yaml")
        with open(cfg, "w") as f:
            f.write("""sensor_id: %s
log_level: debug
interface: lo
addresses: [127.0.0.1]
user: ""
keep_identity: true
shm_name: %s
spool:
  directory: %s/spool
shipper:
  storage: local
  archive_dir: %s/archive
  metrics: cloudwatch
  metrics_interval: 60s
  metrics_endpoint: %s
  s3:
    region: us-east-1
""" % (SENSOR_ID, shm, work, work, self.moto.endpoint))
        procs = lt.Processes()
        log_path = os.path.join(work, "shipper.log")
        try:
            with open(log_path, "w") as log:
                p = procs.start([SHIPPER, "-c", cfg], stderr=log, env=self.moto.env())

            def started():
                with open(log_path) as f:
                    return "event=metrics_start" in f.read()
            lt.wait_for(started, timeout=15, what="the shipper's metrics to start")
            time.sleep(0.5)
            # a clean stop publishes the last interval at once (no need to wait a minute)
            rc = procs.stop(p, timeout=20)
        finally:
            procs.stop_all()
            lt.remove_shm(shm)
        with open(log_path) as f:
            log_text = f.read()
        self.assertEqual(rc, 0, log_text[-3000:])
        self.assertNotIn("metrics_failed", log_text)
        stopped = datetime.datetime.now(datetime.timezone.utc)

        listed = []
        for page in self.cw.get_paginator("list_metrics").paginate(Namespace="Lurker"):
            listed += page["Metrics"]
        self.assertTrue(listed, "the shipper published nothing")

        def exists(alarm):
            want = sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"])
            return any(m["MetricName"] == alarm["MetricName"] and
                       sorted((d["Name"], d["Value"]) for d in m["Dimensions"]) == want for m in listed)

        sensor_alarms = {n: a for n, a in self.alarms().items() if n.startswith("hs-")}
        self.assertEqual(len(sensor_alarms), 8)
        for name, a in sensor_alarms.items():
            self.assertTrue(exists(a), "%s watches %s %s, which the shipper does not publish" % (
                name, a["MetricName"], a["Dimensions"]))
        # the check can fail: the same alarm with another dimension name, or another sensor's id, finds nothing
        wrong = dict(sensor_alarms["hs-SensorDown"], Dimensions=[{"Name": "Sensor", "Value": SENSOR_ID}])
        self.assertFalse(exists(wrong))
        wrong = dict(sensor_alarms["hs-SensorDown"], Dimensions=[{"Name": "SensorId", "Value": "other"}])
        self.assertFalse(exists(wrong))

        # evaluated as CloudWatch would, over the window that holds the shipper's publication: only the shipper
        # ran (responder and capturer never beat) and it saw no traffic. ProcessDown-* are looked at over their
        # last minute alone (their 2-of-3 rule needs three minutes of data, which a 1.5 s run does not make).
        end = stopped + datetime.timedelta(seconds=30)
        one_minute = dict(EvaluationPeriods=1, DatapointsToAlarm=1)
        verdicts = {n: evaluate(self.cw, dict(a, **one_minute) if "ProcessDown" in n else a, end)
                    for n, a in sensor_alarms.items()}
        self.assertEqual(verdicts, {"hs-SensorDown": "OK", "hs-ProcessDown-shipper": "OK",
                                    "hs-ProcessDown-capturer": "ALARM", "hs-ProcessDown-responder": "ALARM",
                                    "hs-NoSynAcks": "ALARM", "hs-NoUploads": "ALARM", "hs-KernelDrops": "OK",
                                    "hs-BacklogTooOld": "OK"})
        # a window after the sensor went silent holds no data: the heartbeat alarm fires, the drop alarm does not
        later = stopped + datetime.timedelta(minutes=10)
        self.assertEqual(evaluate(self.cw, sensor_alarms["hs-SensorDown"], later), "ALARM")
        self.assertEqual(evaluate(self.cw, sensor_alarms["hs-ProcessDown-shipper"], later), "ALARM")
        self.assertEqual(evaluate(self.cw, sensor_alarms["hs-KernelDrops"], later), "OK")


if __name__ == "__main__":
    unittest.main()
