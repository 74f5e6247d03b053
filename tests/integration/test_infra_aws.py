"""infra/ CloudFormation templates and infra/deploy.sh.

- cfn-lint and yamllint report nothing on each template; shellcheck nothing on the scripts and the rendered UserData;
- what moto cannot check is read from the templates: IMDSv2, the notification's DependsOn, who may publish, the
  Lambda's logging configuration, the role's permissions, the saved query;
- each template deploys to moto's CloudFormation (signature checking on) to CREATE_COMPLETE with its Outputs;
- moto skips bucket notifications and topic policies in templates, so the template's own notification configuration
  and topic policy are applied through the API to the deployed bucket and topic, and a real ObjectCreated message
  for a .pcap key (and none for another suffix) arrives on an SQS queue subscribed to the topic;
- the optional address rotation's Lambda (inline code from the template) runs against moto's EC2 and S3: first
  address at creation, a fresh one per scheduled run with the old one released, every address recorded with its time
  range, all released at deletion, failures reported to CloudFormation;
- deploy.sh --dry-run prints every aws command and runs none; deploy.sh against moto deploys all three stacks, prints
  the summary, uploads a tarball whose SHA-256 is the one the sensor stack will verify; teardown empties and deletes.
  The health parameters (alert e-mail, alert topic, thresholds, dashboard) reach the stacks (test_infra_alarms.py
  checks the alarms themselves).
"""
import ast
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import shutil
import tarfile
import tempfile
import threading
import time
import unittest
import urllib.parse

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from lurkertest import ROOT, run  # noqa: E402
from motoserver import MotoServer  # noqa: E402

INFRA = os.path.join(ROOT, "infra")
TEMPLATES = ("backend.yml", "sensor.yml", "sensor-alarms.yml", "output.yml")
SCRIPTS = ("deploy.sh", "sensor-setup.sh", "check-lambda-package.sh", "make-lambda-package.sh", "lurker-supervisorctl")
DEBIAN_AMI_PARAM = "/aws/service/debian/release/12/latest/arm64"


class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation's short tags (!Ref, !Sub, ...) into their long form."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {"Fn::" + suffix: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(name):
    return yaml.load(read(os.path.join(INFRA, name)), Loader=CfnLoader)


def render_sub(template_text, values):
    """Fn::Sub with the given values for every ${Name}; fails on a name it does not know."""
    def one(m):
        name = m.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name not in values:
            raise KeyError("no value for ${%s}" % name)
        return values[name]
    return re.sub(r"\$\{([^}]+)\}", one, template_text)


def read(path):
    with open(path) as f:
        return f.read()


LOG_DIR = os.path.join(os.environ.get("BUILD") or os.path.join(ROOT, "build"), "test-logs")
os.makedirs(LOG_DIR, exist_ok=True)


class TemplateLint(unittest.TestCase):
    def test_cfn_lint_clean(self):
        # the informational checks too (I3011: an explicit DeletionPolicy on stateful resources, ...)
        argv = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; "
                "sys.exit(main())", "--include-checks", "I", "--"] + [os.path.join(INFRA, t) for t in TEMPLATES]
        r = run(argv)
        self.assertEqual(r.returncode, 0, "cfn-lint:\n" + r.stdout + r.stderr)
        self.assertEqual(r.stdout.strip(), "")

    def test_yamllint_clean(self):
        files = [os.path.join(INFRA, t) for t in TEMPLATES] + [os.path.join(INFRA, ".yamllint")]
        r = run(["yamllint", "-s", "-c", os.path.join(INFRA, ".yamllint")] + files)
        self.assertEqual(r.returncode, 0, "yamllint:\n" + r.stdout + r.stderr)

    def test_cfn_lint_catches_a_broken_template(self):
        # the lint step can fail: a template with a reference to nothing is reported
        t = load_template("backend.yml")
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            text = read(os.path.join(INFRA, "backend.yml")).replace("!Ref PcapRetentionDays", "!Ref NoSuchThing")
            f.write(text)
        try:
            argv = [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())", f.name]
            r = run(argv)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("NoSuchThing", r.stdout)
        finally:
            os.unlink(f.name)
        self.assertIn("PcapBucket", t["Resources"])

    def test_scripts_shellcheck_clean(self):
        files = [os.path.join(INFRA, s) for s in SCRIPTS]
        r = run(["shellcheck", "-x"] + files)
        self.assertEqual(r.returncode, 0, "shellcheck:\n" + r.stdout + r.stderr)

    def test_userdata_renders_and_is_shellcheck_clean(self):
        t = load_template("sensor.yml")
        sub = t["Resources"]["Instance"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"]
        text, local_values = sub
        self.assertEqual(set(local_values), {"MonitoredPrivateIp"})
        params = {name: "x" for name in t["Parameters"]}
        params.update(SensorId="s-1", PcapBucket="b-pcap", ArtifactsBucket="b-art", BackendRegion="eu-west-1",
                      LurkerTarballKey="lurker/lurker-src-0123.tar.gz", LurkerTarballSha256="a" * 64,
                      FlowTimeout="60", NetworkMode="single", AdminCidr="", MonitoredPrivateIp="",
                      SetupLogGroup="/lurker/s-1/setup")
        params["AWS::Region"] = "eu-west-1"
        params["AWS::StackName"] = "lk-sensor-s-1"
        script = render_sub(text, params)
        self.assertTrue(script.startswith("#!/bin/bash\n"))
        self.assertIn("sha256sum --check --strict", script)
        self.assertIn("a" * 64 + "  ", script)
        self.assertIn("\n/opt/lurker/src/infra/sensor-setup.sh\n", script)
        # sshd goes first; the EXIT trap reports to CloudFormation whatever happens after it
        self.assertLess(script.index("systemctl disable --now ssh.service"), script.index("apt-get"))
        self.assertLess(script.index("trap report EXIT"), script.index("apt-get"))
        # every input sensor-setup.sh saves for later runs is exported by the UserData
        setup = read(os.path.join(INFRA, "sensor-setup.sh"))
        saved = re.search(r"for v in (.*?); do", setup, re.S).group(1).replace("\\", " ").split()
        self.assertIn("LURKER_SENSOR_ID", saved)
        for var in saved:
            self.assertIn("export %s=" % var, script, var)
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
            f.write(script)
        try:
            r = run(["shellcheck", "-s", "bash", f.name])
            self.assertEqual(r.returncode, 0, "shellcheck of the UserData:\n" + r.stdout + script)
        finally:
            os.unlink(f.name)


class TemplateContent(unittest.TestCase):
    """Properties moto does not enforce, read from the templates."""

    def test_backend_bucket_hardening(self):
        r = load_template("backend.yml")["Resources"]
        for name in ("PcapBucket", "ArtifactsBucket"):
            p = r[name]["Properties"]
            self.assertEqual(p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                             ["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
            self.assertTrue(all(p["PublicAccessBlockConfiguration"].values()))
            self.assertEqual(len(p["PublicAccessBlockConfiguration"]), 4)
        rule = r["PcapBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0]
        self.assertEqual(rule["ExpirationInDays"], {"Ref": "PcapRetentionDays"})
        for policy in ("PcapBucketPolicy", "ArtifactsBucketPolicy"):
            st = r[policy]["Properties"]["PolicyDocument"]["Statement"][0]
            self.assertEqual(st["Effect"], "Deny")
            self.assertEqual(st["Condition"], {"Bool": {"aws:SecureTransport": "false"}})

    def test_backend_notification_depends_on_topic_policy(self):
        r = load_template("backend.yml")["Resources"]
        self.assertEqual(r["PcapBucket"]["DependsOn"], "PcapTopicPolicy")
        tc = r["PcapBucket"]["Properties"]["NotificationConfiguration"]["TopicConfigurations"]
        self.assertEqual(tc[0]["Event"], "s3:ObjectCreated:*")
        self.assertEqual(tc[0]["Filter"]["S3Key"]["Rules"], [{"Name": "suffix", "Value": ".pcap"}])
        st = r["PcapTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual(len(st), 1)
        self.assertEqual(st[0]["Principal"], {"Service": "s3.amazonaws.com"})
        self.assertEqual(st[0]["Action"], "sns:Publish")
        cond = st[0]["Condition"]
        self.assertIn("aws:SourceArn", cond["ArnEquals"])
        self.assertEqual(cond["StringEquals"], {"aws:SourceAccount": {"Ref": "AWS::AccountId"}})
        # the bucket name the policy allows is the bucket's own
        self.assertEqual(cond["ArnEquals"]["aws:SourceArn"]["Fn::Sub"].split(":::")[1],
                         r["PcapBucket"]["Properties"]["BucketName"]["Fn::Sub"])

    def test_sensor_imdsv2_role_and_ssh(self):
        t = load_template("sensor.yml")
        r = t["Resources"]
        md = r["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["MetadataOptions"]
        self.assertEqual(md["HttpTokens"], "required")
        self.assertEqual(md["HttpPutResponseHopLimit"], 1)
        role = r["InstanceRole"]["Properties"]
        statements = role["Policies"][0]["PolicyDocument"]["Statement"]
        by_sid = {s["Sid"]: s for s in statements}
        self.assertEqual(set(by_sid), {"ShipPcapsUnderOwnPrefix", "FetchLurkerTarballs", "PublishOwnMetrics",
                                       "SessionManagerAgent", "RunCommandAgent", "SignalOwnCreation",
                                       "WriteOwnSetupLog"})
        put = by_sid["ShipPcapsUnderOwnPrefix"]
        self.assertEqual(put["Action"], "s3:PutObject")
        self.assertTrue(put["Resource"]["Fn::Sub"].endswith("${PcapBucket}/sensors/${SensorId}/*"))
        get = by_sid["FetchLurkerTarballs"]
        self.assertEqual(get["Action"], "s3:GetObject")
        self.assertTrue(get["Resource"]["Fn::Sub"].endswith("${ArtifactsBucket}/lurker/*"))
        # no managed policy (AmazonSSMManagedInstanceCore grants ssm:GetParameter* on *): the agent's calls only
        self.assertNotIn("ManagedPolicyArns", role)
        self.assertEqual(sorted(by_sid["SessionManagerAgent"]["Action"]),
                         ["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
                          "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
                          "ssmmessages:OpenDataChannel"])
        self.assertEqual(sorted(by_sid["RunCommandAgent"]["Action"]),
                         ["ec2messages:" + a for a in ("AcknowledgeMessage", "DeleteMessage", "FailMessage",
                                                       "GetEndpoint", "GetMessages", "SendReply")])
        self.assertEqual(by_sid["SignalOwnCreation"]["Resource"], {"Ref": "AWS::StackId"})
        self.assertEqual(by_sid["WriteOwnSetupLog"]["Resource"], {"Fn::GetAtt": ["SetupLogGroup", "Arn"]})
        for st in statements:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            self.assertFalse([a for a in actions if a.startswith("ssm:GetParameter") or a.endswith(":*")], st)
        self.assertEqual(t["Parameters"]["ImageId"]["Type"], "AWS::EC2::Image::Id")  # pinned by deploy.sh
        self.assertEqual(t["Parameters"]["AdminCidr"]["Default"], "")
        # without an admin CIDR no rule names port 22 alone; with one, 22 is open to that CIDR only
        ingress = r["HoneypotSecurityGroup"]["Properties"]["SecurityGroupIngress"]["Fn::If"]
        self.assertEqual(ingress[0], "SingleWithAdmin")
        with_admin, without_admin = ingress[1], ingress[2]
        ssh = [x for x in with_admin if x["FromPort"] == 22]
        self.assertEqual(ssh, [dict(IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp={"Ref": "AdminCidr"},
                                    Description="admin ssh")])
        for rule in with_admin:
            if rule.get("CidrIp") == "0.0.0.0/0" and rule["IpProtocol"] == "tcp":
                self.assertFalse(rule["FromPort"] <= 22 <= rule["ToPort"], rule)
        self.assertFalse(any(x.get("Description") == "admin ssh" for x in without_admin))
        mgmt = r["ManagementSecurityGroup"]["Properties"]["SecurityGroupIngress"]["Fn::If"]
        self.assertEqual(mgmt[2], {"Ref": "AWS::NoValue"})

    def test_sensor_rotation_is_optional_and_confined(self):
        t = load_template("sensor.yml")
        r = t["Resources"]
        self.assertEqual(t["Parameters"]["RotationSchedule"]["Default"], "")
        for name in ("RotationFunction", "RotationRole", "RotationRule", "RotatedAddress", "RotationPermission"):
            self.assertEqual(r[name]["Condition"], "Rotates", name)
        # with rotation the stack holds no fixed monitored address of its own (it would sit unused at $3.65/month)
        self.assertEqual(r["MonitoredAddress"]["Condition"], "DualFixedAddress")
        statements = r["RotationRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        by_sid = {s["Sid"]: s for s in statements}
        own = {"StringEquals": {"aws:ResourceTag/lurker:rotation": {"Ref": "SensorId"}}}
        self.assertEqual(by_sid["ReleaseOnlyOwnAddresses"]["Condition"], own)
        self.assertEqual(by_sid["MoveOnlyOwnAddresses"]["Condition"], own)
        self.assertEqual(by_sid["AllocateOnlyTaggedAsOwn"]["Condition"],
                         {"StringEquals": {"aws:RequestTag/lurker:rotation": {"Ref": "SensorId"}}})
        self.assertTrue(by_sid["OntoOwnInterfaceOnly"]["Resource"]["Fn::Sub"].endswith(
            "network-interface/${MonitoredInterface}"))
        # only DescribeAddresses (which has no resource-level permissions) and the Deny are on "*"
        self.assertEqual(sorted(s["Sid"] for s in statements if s["Resource"] == "*"),
                         ["ListAddresses", "TagOnlyOnAllocation"])
        self.assertEqual(by_sid["TagOnlyOnAllocation"]["Effect"], "Deny")
        record = [s for s in statements if s["Action"] == "s3:PutObject"][0]
        self.assertTrue(record["Resource"]["Fn::Sub"].endswith("/sensors/${SensorId}/addresses/*"))

    def test_output_logging_role_and_query(self):
        r = load_template("output.yml")["Resources"]
        fn = r["Analyzer"]["Properties"]
        self.assertEqual(fn["Runtime"], "provided.al2023")
        self.assertEqual(fn["LoggingConfig"], {"LogGroup": {"Ref": "LogGroup"}, "LogFormat": "JSON",
                                               "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"})
        self.assertEqual(r["LogGroup"]["Properties"]["LogGroupName"], {"Fn::Sub": "/honeypot/${AWS::StackName}"})
        self.assertIn("TargetArn", fn["DeadLetterConfig"])
        statements = r["AnalyzerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        by_sid = {s["Sid"]: s for s in statements}
        self.assertEqual(by_sid["ReadPcaps"]["Action"], "s3:GetObject")
        self.assertEqual(by_sid["ReadPcaps"]["Resource"], {"Fn::Sub": "arn:${AWS::Partition}:s3:::${PcapBucket}/*"})
        self.assertEqual(sorted(by_sid["WriteOwnLogGroup"]["Action"]), ["logs:CreateLogStream", "logs:PutLogEvents"])
        self.assertEqual(by_sid["WriteOwnLogGroup"]["Resource"], {"Fn::GetAtt": ["LogGroup", "Arn"]})
        self.assertEqual(set(by_sid), {"ReadPcaps", "WriteOwnLogGroup", "DeadLetters", "WriteRecords"})
        self.assertEqual(by_sid["WriteRecords"]["Resource"], {"Fn::Sub": "${RecordsBucket.Arn}/records/*"})
        self.assertEqual(r["DeadLetterQueue"]["DeletionPolicy"], "Retain")
        self.assertNotIn("ManagedPolicyArns", r["AnalyzerRole"]["Properties"])
        q = r["RecentPayloadsQuery"]["Properties"]["QueryString"]
        self.assertRegex(q, r'filter ispresent\(payload\) and payload != ""')
        self.assertRegex(q, r"sort @timestamp desc")
        self.assertEqual(r["Subscription"]["Properties"]["Protocol"], "lambda")


class MotoStacks(unittest.TestCase):
    """Each template on moto's CloudFormation; the S3 -> SNS path through the API."""

    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer(log_path=os.path.join(LOG_DIR, "test_infra_aws.moto.log"))
        cls.moto.start()
        cls.cfn = cls.moto.client("cloudformation")
        cls.ec2 = cls.moto.client("ec2")
        cls.ami = cls.ec2.describe_images()["Images"][0]["ImageId"]
        cls.tmp = tempfile.mkdtemp(prefix="lurker-infra-")
        cls.sensor_template = os.path.join(INFRA, "sensor.yml")
        cls.vpc = cls.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        cls.subnet = cls.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [cls.vpc]}])["Subnets"][0][
            "SubnetId"]

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        subprocess.run(["rm", "-rf", cls.tmp])

    def backend(self, name):
        out = self.moto.create_stack(name, os.path.join(INFRA, "backend.yml"), {"PcapRetentionDays": "30"})
        self.assertEqual(set(out), {"PcapBucketName", "PcapBucketArn", "PcapTopicArn", "AlertTopicArn",
                                    "FleetDashboardUrl", "ArtifactsBucketName"})
        return out

    def test_backend_sensor_output_create_complete(self):
        out = self.backend("tb")
        self.assertEqual(out["PcapBucketName"], "tb-pcap-123456789012")
        s3 = self.moto.client("s3")
        enc = s3.get_bucket_encryption(Bucket=out["PcapBucketName"])
        self.assertEqual(enc["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
                         ["SSEAlgorithm"], "AES256")
        # (moto's CloudFormation applies neither PublicAccessBlockConfiguration, LifecycleConfiguration nor the bucket
        # policy: TemplateContent checks those)
        exports = {e["Name"] for e in self.cfn.list_exports()["Exports"]}
        self.assertTrue({"tb-PcapBucket", "tb-PcapTopic", "tb-ArtifactsBucket", "tb-AlertTopic"} <= exports)

        base = dict(SensorId="s-1", PcapBucket=out["PcapBucketName"], ArtifactsBucket=out["ArtifactsBucketName"],
                    BackendRegion="us-east-1", LurkerTarballKey="lurker/x.tar.gz", LurkerTarballSha256="b" * 64,
                    VpcId=self.vpc, SubnetId=self.subnet, ImageId=self.ami)
        iam = self.moto.client("iam")
        for i, (mode, admin) in enumerate((("single", ""), ("single", "192.0.2.0/24"), ("dual", ""),
                                           ("dual", "192.0.2.0/24"))):
            name = "ts%d" % i
            so = self.moto.create_stack(name, self.sensor_template, dict(base, NetworkMode=mode, AdminCidr=admin))
            self.assertEqual(set(so), {"InstanceId", "SensorId", "SensorAddress", "ManagementAddress", "PcapPrefix",
                                       "SessionCommand", "DashboardUrl", "SetupLogGroup"}, so)
            self.assertRegex(so["SensorAddress"], r"^\d+\.\d+\.\d+\.\d+$")
            self.assertEqual(so["PcapPrefix"], "s3://%s/sensors/s-1/" % out["PcapBucketName"])
            # (moto lists resources it skipped with empty fields)
            res = {r["LogicalResourceId"]: r for r in
                   self.cfn.describe_stack_resources(StackName=name)["StackResources"] if r.get("LogicalResourceId")}
            self.assertEqual("MonitoredInterface" in res, mode == "dual")
            self.assertEqual("ManagementSecurityGroup" in res, mode == "dual")
            if mode == "dual":
                # (moto neither attaches pre-made interfaces to the instance nor applies their GroupSet: the
                # interfaces are checked to exist in the subnet; TemplateContent checks the rest)
                for eni in ("MonitoredInterface", "ManagementInterface"):
                    got = self.ec2.describe_network_interfaces(
                        NetworkInterfaceIds=[res[eni]["PhysicalResourceId"]])["NetworkInterfaces"][0]
                    self.assertEqual(got["SubnetId"], self.subnet)
            sg = self.ec2.describe_security_groups(
                GroupIds=[res["HoneypotSecurityGroup"]["PhysicalResourceId"]])["SecurityGroups"][0]
            ssh_open_to_world = any(p.get("FromPort", 0) <= 22 <= p.get("ToPort", 65535) and p["IpProtocol"] == "tcp"
                                    and any(r["CidrIp"] == "0.0.0.0/0" for r in p["IpRanges"])
                                    for p in sg["IpPermissions"])
            # single + admin: sshd keeps 22, open to the admin CIDR only. Otherwise sshd is off (or on the
            # management interface) and 22 is a honeypot port like any other.
            self.assertEqual(ssh_open_to_world, not (mode == "single" and admin))
            role = res["InstanceRole"]["PhysicalResourceId"]
            doc = iam.get_role_policy(RoleName=role, PolicyName="lurker-sensor")["PolicyDocument"]
            if isinstance(doc, str):
                # moto stores a policy given inline in a template as Python's repr of the dict
                doc = ast.literal_eval(doc)
            put = [s for s in doc["Statement"] if s["Action"] == "s3:PutObject"][0]
            self.assertEqual(put["Resource"], "arn:aws:s3:::%s/sensors/s-1/*" % out["PcapBucketName"])

        zip_key = "lambda/test.zip"
        s3.put_object(Bucket=out["ArtifactsBucketName"], Key=zip_key, Body=b"PK\x05\x06" + b"\0" * 18)
        oo = self.moto.create_stack("to", os.path.join(INFRA, "output.yml"),
                                    dict(PcapBucket=out["PcapBucketName"], PcapTopicArn=out["PcapTopicArn"],
                                         ArtifactsBucket=out["ArtifactsBucketName"], LambdaZipKey=zip_key,
                                         Architecture="x86_64", LogRetentionDays="14"))
        # (moto's CloudFormation skips Glue and Athena resources, and the outputs that name them: the Glue table
        # is applied through the API in test_infra_records.py)
        self.assertEqual(set(oo), {"AnalyzerFunction", "LogGroupName", "DeadLetterQueueUrl", "InsightsQuery",
                                   "InsightsConsole", "RecordsBucketName"})
        self.assertEqual(oo["RecordsBucketName"], "to-records-123456789012")
        self.assertEqual(oo["LogGroupName"], "/honeypot/to")
        groups = self.moto.client("logs").describe_log_groups(logGroupNamePrefix="/honeypot/to")["logGroups"]
        self.assertEqual(groups[0]["retentionInDays"], 14)
        # (moto's Lambda API rejects correctly signed requests once signature checking is on: the function is
        # checked through the stack's resources)
        res = {r["LogicalResourceId"]: r for r in self.cfn.describe_stack_resources(StackName="to")["StackResources"]
               if r.get("LogicalResourceId")}
        self.assertEqual(res["Analyzer"]["ResourceType"], "AWS::Lambda::Function")
        self.assertEqual(res["Analyzer"]["PhysicalResourceId"], oo["AnalyzerFunction"])
        self.assertEqual(res["DeadLetterQueue"]["ResourceStatus"], "CREATE_COMPLETE")

    def test_pcap_object_created_reaches_a_queue_through_the_topic(self):
        out = self.backend("tn")
        bucket, topic = out["PcapBucketName"], out["PcapTopicArn"]
        r = load_template("backend.yml")["Resources"]
        sns, sqs, s3 = self.moto.client("sns"), self.moto.client("sqs"), self.moto.client("s3")
        values = {"AWS::Partition": "aws", "AWS::StackName": "tn", "AWS::AccountId": "123456789012"}

        # the template's topic policy, resolved, applied through the API
        doc = json.loads(json.dumps(r["PcapTopicPolicy"]["Properties"]["PolicyDocument"]))
        st = doc["Statement"][0]
        st["Resource"] = topic
        st["Condition"]["ArnEquals"]["aws:SourceArn"] = render_sub(
            st["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"], values)
        st["Condition"]["StringEquals"]["aws:SourceAccount"] = "123456789012"
        self.assertEqual(st["Condition"]["ArnEquals"]["aws:SourceArn"], "arn:aws:s3:::" + bucket)
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(doc))
        applied = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
        self.assertEqual(applied["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"], "arn:aws:s3:::" + bucket)

        # a queue subscribed to the topic, as an analyst's second consumer would be
        q_url = sqs.create_queue(QueueName="tn-observer")["QueueUrl"]
        q_arn = sqs.get_queue_attributes(QueueUrl=q_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=q_arn)

        # the template's notification configuration, resolved, applied through the API
        tc = json.loads(json.dumps(r["PcapBucket"]["Properties"]["NotificationConfiguration"]["TopicConfigurations"]))
        api_conf = {"TopicConfigurations": [{
            "TopicArn": topic, "Events": [c["Event"]],
            "Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}}} for c in tc]}
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=api_conf)
        # drain S3's test event, if any
        sqs.receive_message(QueueUrl=q_url, WaitTimeSeconds=0, MaxNumberOfMessages=10)

        key = "sensors/s-1/pcap/2026/11/25/19/1795633200_198.51.100.2_203.0.113.10_40000_22.pcap"
        s3.put_object(Bucket=bucket, Key="sensors/s-1/notes.txt", Body=b"not a pcap")
        s3.put_object(Bucket=bucket, Key=key, Body=b"\xd4\xc3\xb2\xa1" + b"\0" * 20)
        events = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not events:
            for m in sqs.receive_message(QueueUrl=q_url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
                envelope = json.loads(m["Body"])
                self.assertEqual(envelope["TopicArn"], topic)
                body = json.loads(envelope["Message"])
                events += body.get("Records", [])
        self.assertEqual(len(events), 1, events)
        self.assertTrue(events[0]["eventName"].startswith("ObjectCreated:"))
        self.assertEqual(events[0]["s3"]["bucket"]["name"], bucket)
        # S3 URL-encodes keys in events (moto encodes '/' too); consumers decode them
        self.assertEqual(urllib.parse.unquote_plus(events[0]["s3"]["object"]["key"]), key)


class AddressRotation(unittest.TestCase):
    """The sensor template's rotation Lambda (its inline code, taken from the template) against moto's EC2 and S3,
    answering CloudFormation's custom-resource calls to a local HTTP server like CloudFormation's response URL."""

    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer(log_path=os.path.join(LOG_DIR, "test_infra_aws.rotation-moto.log"))
        cls.moto.start()
        cls.tmp = tempfile.mkdtemp(prefix="lurker-rotation-")
        code = load_template("sensor.yml")["Resources"]["RotationFunction"]["Properties"]["Code"]["ZipFile"]
        assert len(code) < 4096, "inline Lambda code must stay under 4096 characters"
        with open(os.path.join(cls.tmp, "index.py"), "w") as f:
            f.write(code)
        cls.responses = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                cls.responses.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass
        cls.http = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=cls.http.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.http.shutdown()
        cls.http.server_close()
        cls.moto.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def load_function(self, eni):
        env = dict(self.moto.env(), AWS_ENDPOINT_URL=self.moto.endpoint, SENSOR_ID="fra-2", INTERFACE_ID=eni,
                   BUCKET="rot-pcaps", BUCKET_REGION=self.moto.region, PREFIX="sensors/fra-2/")
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        self.addCleanup(lambda: (os.environ.clear(), os.environ.update(saved)))
        spec = importlib.util.spec_from_file_location("rotation_index", os.path.join(self.tmp, "index.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def cfn_event(self, kind):
        return {"RequestType": kind, "ResponseURL": "http://127.0.0.1:%d/r" % self.http.server_port,
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/rot/1", "RequestId": kind,
                "LogicalResourceId": "RotatedAddress", "ResourceProperties": {}}

    def records(self, s3):
        out = {}
        for key in self.moto.list_keys("rot-pcaps", "sensors/fra-2/addresses/"):
            doc = json.loads(s3.get_object(Bucket="rot-pcaps", Key=key)["Body"].read())
            out[doc["address"]] = doc
        return out

    def test_create_rotate_delete(self):
        ec2, s3 = self.moto.client("ec2"), self.moto.client("s3")
        s3.create_bucket(Bucket="rot-pcaps")
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
        # another sensor's address in the same account: never touched
        other = ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [
            {"Key": "lurker:rotation", "Value": "other-sensor"}]}])
        fn = self.load_function(eni)

        def on_eni():
            return [a for a in ec2.describe_addresses()["Addresses"] if a.get("NetworkInterfaceId") == eni]

        fn.handler(self.cfn_event("Create"), None)
        reply = self.responses[-1]
        self.assertEqual(reply["Status"], "SUCCESS", reply)
        self.assertEqual(reply["LogicalResourceId"], "RotatedAddress")
        first = reply["Data"]["Address"]
        self.assertEqual([a["PublicIp"] for a in on_eni()], [first])
        self.assertIsNone(self.records(s3)[first]["to"])

        second = fn.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)["Address"]
        self.assertNotEqual(second, first)
        self.assertEqual([a["PublicIp"] for a in on_eni()], [second])
        held = {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}
        self.assertNotIn(first, held)  # released, not left costing $3.65/month
        recs = self.records(s3)
        self.assertEqual(recs[first]["to"], recs[second]["from"])
        self.assertLessEqual(recs[first]["from"], recs[first]["to"])
        self.assertIsNone(recs[second]["to"])
        self.assertEqual(recs[second]["sensor"], "fra-2")

        fn.handler(self.cfn_event("Delete"), None)
        self.assertEqual(self.responses[-1]["Status"], "SUCCESS")
        self.assertEqual(on_eni(), [])
        held = {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}
        self.assertEqual(held, {other["PublicIp"]})
        self.assertIsNotNone(self.records(s3)[second]["to"])

    def test_failure_is_reported_to_cloudformation(self):
        fn = self.load_function("eni-doesnotexist")
        self.moto.client("s3").create_bucket(Bucket="rot-pcaps")
        fn.handler(self.cfn_event("Create"), None)
        self.assertEqual(self.responses[-1]["Status"], "FAILED")
        self.assertTrue(self.responses[-1]["Reason"])


class DeployScript(unittest.TestCase):
    def test_dry_run_prints_every_aws_command_and_runs_none(self):
        # an endpoint where nothing listens: any real aws call would fail
        with tempfile.TemporaryDirectory() as d:
            zip_path = os.path.join(d, "pkg.zip")
            fake_elf = bytes([0x7f, 0x45, 0x4c, 0x46]) + b"\0" * 14 + bytes([0xb7, 0x00]) + b"\0" * 44
            import zipfile
            with zipfile.ZipFile(zip_path, "w") as z:
                z.writestr("bootstrap", fake_elf)
            r = run([os.path.join(INFRA, "deploy.sh"), "--dry-run", "--name", "dry", "--sensor-id", "eu-1",
                     "--region", "eu-west-1", "--sensor-region", "eu-central-1", "--admin-cidr", "192.0.2.0/24",
                     "--lambda-zip", zip_path, "--endpoint-url", "http://127.0.0.1:9", "--alert-email",
                     "ops@example.org", "--no-traffic-minutes", "30", "--kernel-drops-threshold", "5000"],
                    timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = (r.stdout + r.stderr).replace("\\", "")  # deploy.sh prints commands quoted with %q
        for stack in ("dry-backend", "dry-sensor-eu-1", "dry-output"):
            self.assertRegex(text, r"\+ aws --endpoint-url http://127.0.0.1:9 --region \S+ cloudformation "
                                   r"create-stack --stack-name %s " % stack)
        order = [text.index("--stack-name dry-backend --template-body"),
                 text.index("--stack-name dry-sensor-eu-1 --template-body"),
                 text.index("--stack-name dry-output --template-body")]
        self.assertEqual(order, sorted(order))
        self.assertRegex(text, r"--region eu-central-1 cloudformation create-stack --stack-name dry-sensor-eu-1")
        # parameters go in files (printed with --dry-run): values keep their commas

        def param(key, value):
            return json.dumps({"ParameterKey": key, "ParameterValue": value}, separators=(",", ":"))
        self.assertIn(param("AdminCidr", "192.0.2.0/24"), text)
        self.assertIn(param("Architecture", "arm64"), text)
        # health: the e-mail to the backend, its alert topic to the alarms and the output, thresholds to the alarms
        self.assertIn(param("AlertEmail", "ops@example.org"), text)
        self.assertEqual(text.count(param("AlertTopicArn", "<dry-backend:AlertTopicArn>")), 2)
        for kv in (("FlowLogGroup", "/honeypot/dry-output"), ("NoTrafficMinutes", "30"), ("NoUploadMinutes", "60"),
                   ("KernelDropsThreshold", "5000"), ("BacklogAgeSeconds", "900"), ("CreateDashboard", "true"),
                   ("SensorRegion", "eu-central-1"), ("SensorStackName", "dry-sensor-eu-1")):
            self.assertIn(param(*kv), text)
        self.assertNotIn("ParameterKey=", text)
        # the sensor in eu-central-1 gets its alarms in the backend's region, eu-west-1
        self.assertRegex(text, r"--region eu-west-1 cloudformation create-stack --stack-name dry-alarms-eu-1 ")
        self.assertIn("alarms:         <dry-alarms-eu-1:Alarms>", text)
        # checked before any stack: the instance type's zones and the AMI, resolved from the public parameter
        self.assertLess(text.index("describe-instance-type-offerings"), text.index("create-stack"))
        self.assertLess(text.index("ssm get-parameter --name /aws/service/debian/release/12/latest/arm64"),
                        text.index("create-stack"))
        self.assertIn("dashboard:", text)
        self.assertIn("s3 cp", text)
        self.assertIn("insights query:", text)
        self.assertIn("log group:", text)

    def test_rejects_bad_arguments(self):
        for args in (["--name", "Upper"], ["--network-mode", "triple"], ["--bogus"], ["--sensor-id"],
                     ["--alert-email", "ops"], ["--no-traffic-minutes", "2"], ["--no-upload-minutes", "x"],
                     ["--kernel-drops-threshold", "-1"], ["--backlog-age-seconds", "30"]):
            r = run([os.path.join(INFRA, "deploy.sh"), "--dry-run"] + args, timeout=30)
            self.assertNotEqual(r.returncode, 0, args)

    def test_deploy_and_teardown_against_moto(self):
        with MotoServer(log_path=os.path.join(LOG_DIR, "test_infra_aws.deploy-moto.log")) as moto, \
                tempfile.TemporaryDirectory() as d:
            ec2 = moto.client("ec2")
            ami = ec2.describe_images()["Images"][0]["ImageId"]
            moto.client("ssm").put_parameter(Name="/test/debian-12-arm64", Type="String", Value=ami)
            # a real (tiny) Lambda package
            src = os.path.join(d, "hello.c")
            with open(src, "w") as f:
                f.write('#include <stdio.h>\nint main(void) { puts("{}"); return 0; }\n')
            exe = os.path.join(d, "hello")
            run(["cc", "-O2", "-o", exe, src], check=True)
            zip_path = os.path.join(d, "hello.zip")
            r = run([os.path.join(INFRA, "make-lambda-package.sh"), exe, zip_path])
            self.assertEqual(r.returncode, 0, r.stderr)
            tarball = os.path.join(d, "src.tar.gz")
            with tarfile.open(tarball, "w:gz") as tf:
                tf.add(os.path.join(INFRA, "sensor-setup.sh"), arcname="infra/sensor-setup.sh")
                tf.add(os.path.join(ROOT, "lurker.yaml"), arcname="lurker.yaml")
            env = moto.env()
            argv = [os.path.join(INFRA, "deploy.sh"), "--name", "e2e", "--sensor-id", "s-9", "--endpoint-url",
                    moto.endpoint, "--region", moto.region, "--image-param", "/test/debian-12-arm64",
                    "--lambda-zip", zip_path,
                    "--tarball", tarball, "--alert-email", "ops@example.org", "--no-upload-minutes", "90"]
            r = run(argv, env=env, timeout=240)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("pcap bucket:    s3://e2e-backend-pcap-123456789012/sensors/", r.stdout)
            self.assertRegex(r.stdout, r"topic:          arn:aws:sns:us-east-1:123456789012:e2e-backend-PcapTopic")
            self.assertRegex(r.stdout, r"sensor:         s-9 at \d+\.\d+\.\d+\.\d+ \(i-[0-9a-f]+, us-east-1\)")
            self.assertIn("log group:      /honeypot/e2e-output", r.stdout)
            self.assertIn('insights query: fields @timestamp', r.stdout)
            self.assertRegex(r.stdout, r"alerts:         arn:aws:sns:us-east-1:123456789012:e2e-backend-AlertTopic-\S+ "
                                       r"\(to ops@example.org once")
            self.assertRegex(r.stdout, r"dashboard:      https://us-east-1\.console\.aws\.amazon\.com/cloudwatch/home"
                                       r"\?region=us-east-1#dashboards/dashboard/e2e-sensor-s-9\n")
            self.assertIn("alarms:         https://", r.stdout)
            self.assertNotIn("warning", r.stderr)

            cfn = moto.client("cloudformation")
            stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
            for name in ("e2e-backend", "e2e-sensor-s-9", "e2e-alarms-s-9", "e2e-output"):
                self.assertEqual(stacks[name]["StackStatus"], "CREATE_COMPLETE")
                self.assertTrue(stacks[name].get("Outputs"), name)
            params = {p["ParameterKey"]: p["ParameterValue"] for p in stacks["e2e-sensor-s-9"]["Parameters"]}
            artifacts = {o["OutputKey"]: o["OutputValue"] for o in stacks["e2e-backend"]["Outputs"]}[
                "ArtifactsBucketName"]
            # what the instance will download is what the checksum it verifies describes (same command as UserData)
            s3 = moto.client("s3")
            got = os.path.join(d, "got.tar.gz")
            s3.download_file(artifacts, params["LurkerTarballKey"], got)
            check = run(["sha256sum", "--check", "--strict", "-"],
                        input="%s  %s\n" % (params["LurkerTarballSha256"], got))
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            with tarfile.open(got) as tf:
                self.assertTrue(tf.getmember("infra/sensor-setup.sh").mode & 0o100)
            oparams = {p["ParameterKey"]: p["ParameterValue"] for p in stacks["e2e-output"]["Parameters"]}
            alert_topic = {o["OutputKey"]: o["OutputValue"] for o in stacks["e2e-backend"]["Outputs"]}["AlertTopicArn"]
            self.assertEqual(oparams["AlertTopicArn"], alert_topic)
            aparams = {p["ParameterKey"]: p["ParameterValue"] for p in stacks["e2e-alarms-s-9"]["Parameters"]}
            self.assertEqual(aparams["AlertTopicArn"], alert_topic)
            self.assertEqual(params["FlowLogGroup"], "/honeypot/e2e-output")
            self.assertEqual(params["ImageId"], ami)
            self.assertEqual((aparams["NoUploadMinutes"], aparams["NoTrafficMinutes"]), ("90", "60"))
            bparams = {p["ParameterKey"]: p["ParameterValue"] for p in stacks["e2e-backend"]["Parameters"]}
            self.assertEqual(bparams["AlertEmail"], "ops@example.org")
            moto.client("cloudwatch").get_dashboard(DashboardName="e2e-sensor-s-9")
            self.assertEqual(oparams["Architecture"], "x86_64" if os.uname().machine == "x86_64" else "arm64")
            s3.head_object(Bucket=artifacts, Key=oparams["LambdaZipKey"])

            # teardown empties the buckets and removes everything
            pcap_bucket = "e2e-backend-pcap-123456789012"
            s3.put_object(Bucket=pcap_bucket, Key="sensors/s-9/x.pcap", Body=b"x")
            r = run([os.path.join(INFRA, "deploy.sh"), "--name", "e2e", "--sensor-id", "s-9", "--endpoint-url",
                     moto.endpoint, "--region", moto.region, "teardown"], env=env, timeout=240)
            records = {o["OutputKey"]: o["OutputValue"] for o in stacks["e2e-output"]["Outputs"]}["RecordsBucketName"]
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            left = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]
                    if s["StackName"].startswith("e2e-") and s["StackStatus"] != "DELETE_COMPLETE"]
            self.assertEqual(left, [])
            buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
            self.assertNotIn(pcap_bucket, buckets)
            self.assertNotIn(artifacts, buckets)
            self.assertNotIn(records, buckets)


if __name__ == "__main__":
    unittest.main()
