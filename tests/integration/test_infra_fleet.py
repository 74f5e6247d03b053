"""A fleet on moto (IAM signature checking on), deployed and upgraded by infra/deploy.sh: one backend in us-east-1,
three sensors in two regions, the output stack. One deployment serves every assertion (moto deploys are slow).

- every sensor's alarm stack is in the backend's region, and its alarms (applied from sensor-alarms.yml, which
  moto's CloudFormation skips) name that sensor's SensorId: the sensor in eu-west-1 is watched too;
- the sensor template carries a CreationPolicy and the deployed instance's user data sends the signal
  (cloudformation signal-resource, SUCCESS or FAILURE) to its own stack and ships its log to the stack's log group;
- the instance role's inline policy: the agent's SSM calls, no managed policy, no ssm:GetParameter* at all;
- a parameter value with commas reaches the stack whole (deploy.sh passes parameter files, not the short form);
- the AMI is resolved once: a later deploy keeps the pinned id though the public parameter moved on;
- `deploy.sh upgrade --all` sends one AWS-RunShellScript command per sensor instance (moto records them) that
  fetches and verifies the new tarball and runs sensor-setup.sh --upgrade, and replaces no instance;
- a stack in ROLLBACK_COMPLETE is refused with a clear message, and --recreate deletes and creates it;
- a subnet in a zone that does not offer the instance type, or without a route to an internet gateway, or that does
  not exist, and a --vpc-id without --subnet-id are refused before any stack is created; west-2 goes into the
  public subnet of a VPC of its own;
- the fleet dashboard exists; the Glue table and Athena queries are test_infra_records.py's.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from lurkertest import ROOT, run  # noqa: E402
from motoserver import MotoServer  # noqa: E402
import test_infra_aws as infra  # noqa: E402  (its helpers; as a module, its tests are not collected here)
import test_infra_alarms as health  # noqa: E402

DEPLOY = os.path.join(ROOT, "infra", "deploy.sh")
WEST = "eu-west-1"
SENSORS = (("east-1", "us-east-1"), ("west-1", WEST), ("west-2", WEST))
IMAGE_PARAM = "/test/debian-12-arm64"


class Fleet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lurker-fleet-")
        cls.moto = MotoServer(log_path=os.path.join(infra.LOG_DIR, "test_infra_fleet.moto.log"))
        cls.moto.start()
        try:
            cls.deploy()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        subprocess.run(["rm", "-rf", cls.tmp])

    @classmethod
    def client(cls, service, region="us-east-1"):
        c = cls.moto.client(service)
        if region == cls.moto.region:
            return c
        import boto3
        from botocore.config import Config
        return boto3.client(service, region_name=region, endpoint_url=cls.moto.endpoint,
                            aws_access_key_id=cls.moto.access_key, aws_secret_access_key=cls.moto.secret_key,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    @classmethod
    def deploy_sh(cls, *args, check=True):
        r = run([DEPLOY, "--name", "fl", "--endpoint-url", cls.moto.endpoint, "--region", cls.moto.region,
                 "--lambda-zip", cls.zip_path, "--tarball", cls.tarball, "--image-param", IMAGE_PARAM]
                + list(args), env=cls.moto.env())
        if check:
            assert r.returncode == 0, (args, r.stdout[-3000:], r.stderr[-3000:])
        return r

    @classmethod
    def deploy(cls):
        # moto knows no Debian AMI parameter: one per region, pointing at one of moto's images
        for region in ("us-east-1", WEST):
            ami = cls.client("ec2", region).describe_images()["Images"][0]["ImageId"]
            cls.client("ssm", region).put_parameter(Name=IMAGE_PARAM, Type="String", Value=ami)
        cls.client("ec2", WEST).create_key_pair(KeyName="ops,admin")
        src = os.path.join(cls.tmp, "hello.c")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\nint main(void) { puts("{}"); return 0; }\n')
        exe = os.path.join(cls.tmp, "hello")
        run(["cc", "-O2", "-o", exe, src], check=True)
        cls.zip_path = os.path.join(cls.tmp, "hello.zip")
        run([os.path.join(ROOT, "infra", "make-lambda-package.sh"), exe, cls.zip_path], check=True)
        cls.tarball = os.path.join(cls.tmp, "src.tar.gz")
        with tarfile.open(cls.tarball, "w:gz") as tf:
            tf.add(os.path.join(ROOT, "infra", "sensor-setup.sh"), arcname="infra/sensor-setup.sh")
        cls.first = cls.deploy_sh("--sensor-id", "east-1", "--alert-email", "ops@example.org")
        cls.deploy_sh("--sensor-id", "west-1", "--sensor-region", WEST, "--no-output", "--admin-cidr",
                      "192.0.2.0/24", "--key-name", "ops,admin")
        # west-2 in a VPC of its own, public: an internet gateway and the subnet's route table sending 0.0.0.0/0 there
        ec2w = cls.client("ec2", WEST)
        cls.west_vpc = ec2w.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        cls.west_subnet = ec2w.create_subnet(VpcId=cls.west_vpc, CidrBlock="10.30.1.0/24",
                                             AvailabilityZone="eu-west-1b")["Subnet"]["SubnetId"]
        igw = ec2w.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2w.attach_internet_gateway(InternetGatewayId=igw, VpcId=cls.west_vpc)
        table = ec2w.create_route_table(VpcId=cls.west_vpc)["RouteTable"]["RouteTableId"]
        ec2w.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2w.associate_route_table(RouteTableId=table, SubnetId=cls.west_subnet)
        cls.deploy_sh("--sensor-id", "west-2", "--sensor-region", WEST, "--no-output", "--vpc-id", cls.west_vpc,
                      "--subnet-id", cls.west_subnet)
        cls.instances_before = cls.instances()
        # a newer Debian image appears; the next deploy must keep the pinned one
        ec2 = cls.client("ec2")
        cls.pinned = cls.stack_params("fl-sensor-east-1")["ImageId"]
        newer = [i["ImageId"] for i in ec2.describe_images()["Images"] if i["ImageId"] != cls.pinned][0]
        cls.client("ssm").put_parameter(Name=IMAGE_PARAM, Type="String", Value=newer, Overwrite=True)
        cls.redeploy = cls.deploy_sh("--sensor-id", "east-1", "--no-output", "--flow-timeout", "90")
        # a new tarball, then the fleet upgraded in place
        cls.tarball2 = os.path.join(cls.tmp, "src2.tar.gz")
        with tarfile.open(cls.tarball2, "w:gz") as tf:
            tf.add(os.path.join(ROOT, "infra", "sensor-setup.sh"), arcname="infra/sensor-setup.sh")
            tf.add(os.path.join(ROOT, "lurker.yaml"), arcname="lurker.yaml")
        cls.tarball_first, cls.tarball = cls.tarball, cls.tarball2
        cls.upgrade = cls.deploy_sh("upgrade", "--all")
        cls.instances_after = cls.instances()

    @classmethod
    def stack(cls, name, region="us-east-1"):
        return cls.client("cloudformation", region).describe_stacks(StackName=name)["Stacks"][0]

    @classmethod
    def stack_params(cls, name, region="us-east-1"):
        return {p["ParameterKey"]: p["ParameterValue"] for p in cls.stack(name, region)["Parameters"]}

    @classmethod
    def outputs(cls, name, region="us-east-1"):
        return {o["OutputKey"]: o["OutputValue"] for o in cls.stack(name, region).get("Outputs", [])}

    @classmethod
    def instances(cls):
        """{sensor: instance id} from the stacks' outputs, and every instance id that exists in either region."""
        out = {s: cls.outputs("fl-sensor-" + s, r)["InstanceId"] for s, r in SENSORS}
        live = set()
        for region in ("us-east-1", WEST):
            for res in cls.client("ec2", region).describe_instances()["Reservations"]:
                live |= {i["InstanceId"] for i in res["Instances"] if i["State"]["Name"] != "terminated"}
        return out, live

    def test_every_sensor_has_its_alarm_stack_in_the_backend_region(self):
        cfn = self.client("cloudformation")
        names = {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
        self.assertTrue({"fl-alarms-east-1", "fl-alarms-west-1", "fl-alarms-west-2"} <= names, names)
        west_names = {s["StackName"] for s in self.client("cloudformation", WEST).describe_stacks()["Stacks"]}
        self.assertEqual(west_names, {"fl-sensor-west-1", "fl-sensor-west-2"})
        self.assertEqual(self.stack_params("fl-alarms-west-1")["SensorRegion"], WEST)
        # moto's CloudFormation skips alarms: apply the template's own, resolved with the deployed stack's values
        t = infra.load_template("sensor-alarms.yml")
        params = self.stack_params("fl-alarms-west-1")
        res = health.Resolver(t, params, {}, pseudo={"AWS::Region": "us-east-1", "AWS::StackName": "fl-alarms-west-1",
                                                    "AWS::AccountId": "123456789012", "AWS::Partition": "aws"})
        cw = self.client("cloudwatch")
        for a in health.alarms_of(t).values():
            health.put_alarm(cw, res.resolve(a["Properties"]))
        got = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix="fl-sensor-west-1-")["MetricAlarms"]}
        self.assertEqual(len(got), 8, sorted(got))
        alert_topic = self.outputs("fl-backend")["AlertTopicArn"]
        for name, a in got.items():
            self.assertEqual(a["Dimensions"][0], {"Name": "SensorId", "Value": "west-1"}, name)
            self.assertEqual(a["AlarmActions"], [alert_topic], name)
            self.assertTrue(a["AlarmArn"].startswith("arn:aws:cloudwatch:us-east-1:"), a["AlarmArn"])
        self.assertIn("alarms:         https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
                      "#alarmsV2:?search=fl-sensor-east-1", self.first.stdout)
        # the fleet's one dashboard
        self.assertIn("fleet:          https://", self.first.stdout)
        body = json.loads(cw.get_dashboard(DashboardName="fl-backend-fleet")["DashboardBody"])
        expressions = [m[0]["expression"] for w in body["widgets"] for m in w["properties"]["metrics"]]
        self.assertIn("SEARCH('{Lurker,SensorId} MetricName=\"Heartbeat\"', 'SampleCount', 300)", expressions)

    def test_creation_policy_and_the_signal_in_user_data(self):
        t = infra.load_template("sensor.yml")
        policy = t["Resources"]["Instance"]["CreationPolicy"]["ResourceSignal"]
        self.assertEqual(policy, {"Count": 1, "Timeout": {"Ref": "SetupTimeout"}})
        deployed = self.client("cloudformation", WEST).get_template(StackName="fl-sensor-west-2")["TemplateBody"]
        self.assertIn("CreationPolicy", deployed if isinstance(deployed, str) else json.dumps(deployed))
        instance = self.outputs("fl-sensor-west-2", WEST)["InstanceId"]
        attr = self.client("ec2", WEST).describe_instance_attribute(InstanceId=instance, Attribute="userData")
        script = base64.b64decode(attr["UserData"]["Value"]).decode()
        self.assertIn("aws cloudformation signal-resource --region 'eu-west-1' --stack-name 'fl-sensor-west-2'",
                      script)
        self.assertIn('--logical-resource-id Instance --unique-id "$id" --status "$status"', script)
        self.assertIn('status=FAILURE; id="failed-at-$step-exit-$rc"', script)
        self.assertIn("trap report EXIT", script)
        group = self.outputs("fl-sensor-west-2", WEST)["SetupLogGroup"]
        self.assertEqual(group, "/lurker/fl-sensor-west-2/setup")
        self.assertIn("--log-group-name '%s'" % group, script)
        logs = self.client("logs", WEST).describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        self.assertEqual([g["logGroupName"] for g in logs], [group])
        # sshd is off before anything can fail (no admin CIDR), and stays on for west-1 (admin CIDR given)
        lines = script.splitlines()
        self.assertLess(next(i for i, x in enumerate(lines) if "systemctl disable --now ssh.service" in x),
                        next(i for i, x in enumerate(lines) if "apt-get" in x))
        self.assertIn("if [ -z '' ]; then", script)
        west1 = self.outputs("fl-sensor-west-1", WEST)["InstanceId"]
        attr = self.client("ec2", WEST).describe_instance_attribute(InstanceId=west1, Attribute="userData")
        self.assertIn("if [ -z '192.0.2.0/24' ]; then", base64.b64decode(attr["UserData"]["Value"]).decode())

    def test_scoped_instance_policy(self):
        iam = self.client("iam")
        res = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in self.client("cloudformation", WEST)
               .describe_stack_resources(StackName="fl-sensor-west-2")["StackResources"] if r.get("PhysicalResourceId")}
        role = res["InstanceRole"]
        self.assertEqual(iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"], [])
        doc = iam.get_role_policy(RoleName=role, PolicyName="lurker-sensor")["PolicyDocument"]
        if isinstance(doc, str):
            import ast
            doc = ast.literal_eval(doc)
        actions = set()
        for st in doc["Statement"]:
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            actions |= set(acts)
            self.assertEqual(st["Effect"], "Allow")
        self.assertFalse([a for a in actions if a.startswith("ssm:GetParameter") or a in ("ssm:*", "*")], actions)
        self.assertTrue({"ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel",
                         "ssmmessages:OpenDataChannel", "ec2messages:GetMessages", "ec2messages:SendReply",
                         "cloudformation:SignalResource"} <= actions, actions)
        signal = [s for s in doc["Statement"] if s["Action"] == "cloudformation:SignalResource"][0]
        self.assertEqual(signal["Resource"], self.stack("fl-sensor-west-2", WEST)["StackId"])

    def test_west_2_in_the_public_subnet_it_was_given(self):
        params = self.stack_params("fl-sensor-west-2", WEST)
        self.assertEqual((params["VpcId"], params["SubnetId"]), (self.west_vpc, self.west_subnet))

    def test_parameter_values_with_commas_survive(self):
        self.assertEqual(self.stack_params("fl-sensor-west-1", WEST)["KeyName"], "ops,admin")
        instance = self.outputs("fl-sensor-west-1", WEST)["InstanceId"]
        got = self.client("ec2", WEST).describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        self.assertEqual(got["KeyName"], "ops,admin")

    def test_ami_pinned_at_create(self):
        self.assertEqual(self.stack_params("fl-sensor-east-1")["ImageId"], self.pinned)
        self.assertEqual(self.stack_params("fl-sensor-east-1")["FlowTimeout"], "90")  # the update did happen

    def test_upgrade_runs_on_every_instance_and_replaces_none(self):
        self.assertEqual(self.instances_before, self.instances_after)
        by_sensor, live = self.instances_after
        self.assertTrue(set(by_sensor.values()) <= live)
        sha = run(["sha256sum", self.tarball2]).stdout.split()[0]
        key = "lurker/lurker-src-%s.tar.gz" % sha[:16]
        artifacts = self.outputs("fl-backend")["ArtifactsBucketName"]
        self.client("s3").head_object(Bucket=artifacts, Key=key)
        # moto 5.2.1 keeps one InstanceIds list for every command it records, so which instance a command went to
        # is read from deploy.sh's line for it, and moto confirms a command with that id and script exists there
        for sensor, region in SENSORS:
            m = re.search(r"^   %s \(%s\): command (\S+): lurker upgrade to lurker-src-%s\.tar\.gz$"
                          % (by_sensor[sensor], region, sha[:16]), self.upgrade.stdout, re.M)
            self.assertTrue(m, (sensor, self.upgrade.stdout))
            c = self.client("ssm", region).list_commands(CommandId=m.group(1))["Commands"][0]
            self.assertEqual(c["DocumentName"], "AWS-RunShellScript")
            self.assertIn(by_sensor[sensor], c["InstanceIds"])
            script = c["Parameters"]["commands"][0]
            self.assertIn("aws s3 cp --only-show-errors --region us-east-1 's3://%s/%s'" % (artifacts, key), script)
            self.assertIn("echo '%s  '" % sha, script)
            self.assertIn("sha256sum --check --strict -", script)
            self.assertIn('"$work/src/infra/sensor-setup.sh" --upgrade', script)
            self.assertNotIn("/var/spool/lurker", script)
            r = run(["bash", "-n"], input=script)
            self.assertEqual(r.returncode, 0, r.stderr)
        # one command per sensor, none elsewhere
        self.assertEqual(len(self.client("ssm").list_commands()["Commands"]), 1)
        self.assertEqual(len(self.client("ssm", WEST).list_commands()["Commands"]), 2)

    def test_network_and_instance_type_checked_before_any_stack(self):
        ec2 = self.client("ec2")
        zone_e = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["AvailabilityZone"] == "us-east-1e"][0]
        r = self.deploy_sh("--sensor-id", "zone-e", "--subnet-id", zone_e, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("t4g.nano is not offered in us-east-1e (subnet %s)" % zone_e, r.stderr)
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        r = self.deploy_sh("--sensor-id", "zone-e", "--vpc-id", vpc, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--vpc-id needs --subnet-id", r.stderr)
        r = self.deploy_sh("--sensor-id", "zone-e", "--subnet-id", "subnet-0000000000", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("subnet subnet-0000000000 does not exist in us-east-1", r.stderr)
        # a subnet with no route to an internet gateway (west-2's, public, passed the same check)
        private_vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        private = ec2.create_subnet(VpcId=private_vpc, CidrBlock="10.40.1.0/24",
                                    AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        r = self.deploy_sh("--sensor-id", "zone-e", "--subnet-id", private, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("subnet %s has no route to an internet gateway" % private, r.stderr)
        r = self.deploy_sh("--sensor-id", "zone-e", "--vpc-id", private_vpc, "--subnet-id", self.west_subnet,
                           check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("subnet %s does not exist in us-east-1" % self.west_subnet, r.stderr)
        names = {s["StackName"] for s in self.client("cloudformation").describe_stacks()["Stacks"]}
        self.assertFalse([n for n in names if "zone-e" in n], names)

    def test_rollback_complete_is_refused_then_recreated(self):
        # moto never leaves a stack in ROLLBACK_COMPLETE: an `aws` in front of the real one reports that status
        # for flrb-backend until deploy.sh deletes it, and logs the stack calls it passes on to moto
        shim = os.path.join(self.tmp, "shim")
        os.makedirs(shim, exist_ok=True)
        real = shutil.which("aws")
        with open(os.path.join(shim, "aws"), "w") as f:
            f.write("""#!/bin/bash
state=%(d)s/state
for call in delete-stack create-stack update-stack; do
  if [[ " $* " == *" cloudformation $call "* ]]; then echo "$call" >>"$state.log"; fi
done
if [[ " $* " == *" cloudformation delete-stack "* ]]; then touch "$state.deleted"; fi
if [ ! -e "$state.deleted" ] && [[ " $* " == *" describe-stacks --stack-name flrb-backend --query Stacks[0].StackStatus "* ]]
then
  echo ROLLBACK_COMPLETE; exit 0
fi
exec %(real)s "$@"
""" % {"d": shim, "real": real})
        os.chmod(os.path.join(shim, "aws"), 0o755)
        env = dict(self.moto.env(), PATH=shim + ":" + os.environ["PATH"])
        argv = [DEPLOY, "--name", "flrb", "--endpoint-url", self.moto.endpoint, "--region", self.moto.region,
                "--tarball", self.tarball_first, "--no-sensor", "--no-output", "--alert-email", "ops@example.org"]
        r = run(argv, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("flrb-backend (us-east-1) is in ROLLBACK_COMPLETE: its creation failed", r.stderr)
        self.assertIn("Run again with --recreate", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(shim, "state.log")))  # nothing was changed
        r = run(argv + ["--recreate"], env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(shim, "state.log")) as f:
            calls = f.read().split()
        self.assertEqual(calls, ["delete-stack", "create-stack"])
        self.assertEqual(self.stack("flrb-backend")["StackStatus"], "CREATE_COMPLETE")


if __name__ == "__main__":
    unittest.main()
