"""lurker-analyzer as an AWS Lambda and with s3:// inputs, against moto's server (signature checking on).

The real binary, started as `bootstrap` with AWS_LAMBDA_RUNTIME_API pointing at a Runtime API served by this test,
receives (1) an SQS event whose body is what moto delivered for a real S3 -> SNS -> SQS notification of objects the
test uploaded (plus a plain S3 record for an object that does not exist: it must fail alone), and (2) a direct
SNS-wrapped S3 notification. Records must appear on stdout and the invocations be answered."""
import json
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep tests/data free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analyzer"))
import analyzer_check as ac  # noqa: E402
from lurkertest import Processes, TempDir  # noqa: E402
from lambdaruntime import RuntimeApi  # noqa: E402
from motoserver import MotoServer  # noqa: E402

BUCKET = "lurker-analyzer-test"
KEY_SPACE = "edge-1/pcap/2025/11/25/19/1764098401 198.51.100.2.pcap"   # notified as ...1764098401+198.51.100.2.pcap
KEY_SSH = "edge-1/pcap/2025/11/25/19/1764098402_ssh.pcap"


class Lambda(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir(prefix="lurker-analyzer-lambda-")
        ac.make_crafted(cls.tmp.path)
        cls.moto = MotoServer()
        cls.moto.start()

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        cls.tmp.__exit__()

    def upload(self, s3, key, name):
        with open(os.path.join(self.tmp.path, name + ".pcap"), "rb") as f:
            s3.put_object(Bucket=BUCKET, Key=key, Body=f.read())

    def notification_via_sns_and_sqs(self):
        """Bucket -> SNS topic -> SQS queue, as the deployment wires it; returns the SQS messages it produced."""
        s3, sns, sqs = self.moto.client("s3"), self.moto.client("sns"), self.moto.client("sqs")
        s3.create_bucket(Bucket=BUCKET)
        topic = sns.create_topic(Name="lurker-pcaps")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="lurker-analyzer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
        self.upload(s3, KEY_SPACE, "http_simple")
        self.upload(s3, KEY_SSH, "ssh_banner_both")
        messages = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages += got.get("Messages", [])
            keys = "".join(m["Body"] for m in messages)
            if "1764098402_ssh.pcap" in keys and "1764098401+198.51.100.2.pcap" in keys:
                break
        return messages

    def test_bootstrap_handles_sqs_and_sns_events(self):
        messages = self.notification_via_sns_and_sqs()
        self.assertGreaterEqual(len(messages), 2)
        sqs_event = {"Records": [{"messageId": m["MessageId"], "eventSource": "aws:sqs", "body": m["Body"]}
                                 for m in messages]}
        missing = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                "s3": {"bucket": {"name": BUCKET}, "object": {"key": "edge-1/pcap/2025/missing.pcap"}}}]}
        sqs_event["Records"].append({"eventSource": "aws:sqs", "body": json.dumps(missing)})
        test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
        sns_event = {"Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(test_event)}},
            {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(
                {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": BUCKET}, "object": {"key": KEY_SSH}}}]})}}]}

        s3 = self.moto.client("s3")
        s3.put_object(Bucket=BUCKET, Key="edge-1/pcap/2025/broken.pcap", Body=b"not a pcap")
        broken_event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                     "s3": {"bucket": {"name": BUCKET}, "object": {"key": "edge-1/pcap/2025/broken.pcap"}}}]}

        api = RuntimeApi()
        procs = Processes()
        bootstrap = os.path.join(self.tmp.path, "bootstrap")
        os.symlink(ac.ANALYZER, bootstrap)
        out_path = os.path.join(self.tmp.path, "stdout")
        err_path = os.path.join(self.tmp.path, "stderr")
        env = self.moto.env()
        env.update(AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % api.port, AWS_ENDPOINT_URL_S3=self.moto.endpoint,
                   LAMBDA_TASK_ROOT=self.tmp.path, LURKER_MAX_RECORD_PAYLOAD="40")
        try:
            api.events.put(("req-sqs", sqs_event))
            api.events.put(("req-sns", sns_event))
            api.events.put(("req-bad", {"not": "an S3 event"}))
            api.events.put(("req-broken", broken_event))
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                procs.start([bootstrap], stdout=out, stderr=err, env=env)
                results = api.answers(4)
        finally:
            procs.stop_all()
            api.close()
        with open(err_path) as f:
            stderr = f.read()
        with open(out_path) as f:
            records = [json.loads(line) for line in f]

        kind, body, _ = results["req-sqs"]
        self.assertEqual(kind, "response", stderr)
        self.assertEqual(body["objects"], 3)
        self.assertEqual(body["flows"], 2)
        self.assertEqual([(f["s3path"], f["retryable"]) for f in body["failed"]],
                         [("s3://%s/edge-1/pcap/2025/missing.pcap" % BUCKET, True)])
        self.assertIn("missing.pcap", stderr)
        kind, body, _ = results["req-sns"]
        self.assertEqual((kind, body["objects"], body["skipped"], body["flows"]), ("response", 1, 1, 1))
        kind, body, etype = results["req-bad"]
        self.assertEqual((kind, etype, body["errorType"]), ("error", "InvalidEvent", "InvalidEvent"))

        # a broken pcap is reported, not retried: the invocation still succeeds
        kind, body, _ = results["req-broken"]
        self.assertEqual((kind, body["objects"], body["flows"]), ("response", 1, 0))
        self.assertEqual(body["failed"][0]["retryable"], False)
        self.assertIn("not a pcap", body["failed"][0]["error"])

        by_path = {}
        for r in records:
            by_path.setdefault(r["s3path"], []).append(r)
        http = by_path["s3://%s/%s" % (BUCKET, KEY_SPACE)]  # the '+' in the notification decoded to a space
        self.assertEqual(len(http), 1)
        self.assertEqual((http[0]["sensor"], http[0]["service"], http[0]["http"]["method"]), ("edge-1", "http", "GET"))
        # LURKER_MAX_RECORD_PAYLOAD keeps records under CloudWatch's event size; the length stays exact
        self.assertEqual(len(http[0]["readable"]), 40)
        self.assertGreater(http[0]["payload_len"], 40)
        self.assertIn("record_size", http[0]["truncation"])
        ssh = by_path["s3://%s/%s" % (BUCKET, KEY_SSH)]
        self.assertEqual(len(ssh), 2)  # once from the SQS event, once from the SNS one
        self.assertEqual(ssh[0]["ssh"]["banner"], "SSH-2.0-Go")

    def test_cli_s3_key_and_prefix(self):
        s3 = self.moto.client("s3")
        bucket = "lurker-analyzer-cli"
        s3.create_bucket(Bucket=bucket)
        for i, name in enumerate(("redis", "rdp", "multi_flow")):
            self.upload_to(s3, bucket, "sensor-9/pcap/2025/11/25/19/%d_%s.pcap" % (i, name), name)
        env = self.moto.env()
        env["AWS_ENDPOINT_URL_S3"] = self.moto.endpoint
        records, err, rc = ac.run_analyzer("s3://%s/sensor-9/pcap/2025/11/25/19/0_redis.pcap" % bucket, env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual([(r["service"], r["sensor"]) for r in records], [("redis", "sensor-9")])
        records, err, rc = ac.run_analyzer("s3://%s/sensor-9/" % bucket, env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(r["service"] for r in records), ["http", "rdp", "redis", "ssh"])
        bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong")
        records, err, rc = ac.run_analyzer("s3://%s/sensor-9/pcap/2025/11/25/19/0_redis.pcap" % bucket, env=bad)
        self.assertEqual((records, rc), ([], 1))
        self.assertIn("SignatureDoesNotMatch", err)

    def upload_to(self, s3, bucket, key, name):
        with open(os.path.join(self.tmp.path, name + ".pcap"), "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())


if __name__ == "__main__":
    unittest.main()
