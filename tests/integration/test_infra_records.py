"""The analyzer's records as JSON Lines in S3 and the Glue table Athena reads them through (infra/output.yml).

- the template's Glue database and table (moto's CloudFormation skips Glue resources) are created through moto's
  Glue API (signature checking on) and read back: the columns and partition keys are the template's;
- the real analyzer runs as a Lambda (Runtime API served here) with LURKER_RECORDS_BUCKET on moto's S3 over the
  crafted test corpus, uploaded as two sensors' pcaps, plus one pcap whose two flows are a day apart; every record
  it wrote to S3 fits the table: each member is a declared column (nothing Athena would drop silently), each value
  has the column's type (int and bigint ranges, double, boolean, string, struct members, arrays), and the object's
  key (records/DAY/SENSOR__NAME.jsonl: DAY is the projected partition dt) names its records' UTC day of init_ts and
  their sensor. The S3 objects hold the
  same records as the log (stdout), each exactly once;
- a records bucket that does not exist fails the invocation (RecordsNotWritten), so that Lambda retries it.
"""
import datetime
import json
import os
import re
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "data", "analyzer"))
import analyzer_check as ac  # noqa: E402
from lurkertest import Processes, TempDir  # noqa: E402
from motoserver import MotoServer  # noqa: E402
import test_infra_aws as infra  # noqa: E402  (its helpers; as a module, its tests are not collected here)
from lambdaruntime import RuntimeApi  # noqa: E402
from test_infra_alarms import Resolver  # noqa: E402

PCAPS = "lurker-records-pcaps"
RECORDS = "lurker-records-out"
PARTITION = re.compile(r"^records/(\d{4}-\d\d-\d\d)/([A-Za-z0-9._-]+?)__([^/]+)\.jsonl$")


def split_type(text):
    """'a:int,b:struct<c:int,d:string>' -> ['a:int', 'b:struct<c:int,d:string>'] (commas outside <>)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += (ch == "<") - (ch == ">")
        cur += ch
    return parts + [cur] if cur else parts


def misfits(value, hive_type, where):
    """Why value does not fit the Hive type (list of messages; empty when it fits). null fits every type."""
    if value is None:
        return []
    t = hive_type.strip()
    if t in ("int", "bigint"):
        bits = 31 if t == "int" else 63
        ok = isinstance(value, int) and not isinstance(value, bool) and -2 ** bits <= value < 2 ** bits
    elif t == "double":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif t == "boolean":
        ok = isinstance(value, bool)
    elif t == "string":
        ok = isinstance(value, str)
    elif t.startswith("array<"):
        if not isinstance(value, list):
            return ["%s: %r is not an array" % (where, value)]
        return [m for i, v in enumerate(value) for m in misfits(v, t[6:-1], "%s[%d]" % (where, i))]
    elif t.startswith("struct<"):
        if not isinstance(value, dict):
            return ["%s: %r is not an object" % (where, value)]
        fields = dict(f.split(":", 1) for f in split_type(t[7:-1]))
        out = ["%s.%s: not a member of %s" % (where, k, t) for k in value if k not in fields]
        return out + [m for k, v in value.items() if k in fields for m in misfits(v, fields[k], where + "." + k)]
    else:
        return ["%s: unknown type %s" % (where, t)]
    return [] if ok else ["%s: %r is not %s" % (where, value, t)]


def shift_pcap(data, seconds):
    """A classic pcap with every packet's time moved by `seconds`."""
    out, at = bytearray(data[:24]), 24
    while at + 16 <= len(data):
        ts, frac, caplen, wirelen = struct.unpack_from("<IIII", data, at)
        out += struct.pack("<IIII", ts + seconds, frac, caplen, wirelen) + data[at + 16:at + 16 + caplen]
        at += 16 + caplen
    return bytes(out)


class Records(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir(prefix="lurker-records-")
        ac.make_crafted(cls.tmp.path)
        cls.moto = MotoServer(log_path=os.path.join(infra.LOG_DIR, "test_infra_records.moto.log"))
        cls.moto.start()
        cls.template = infra.load_template("output.yml")
        res = Resolver(cls.template, {"PcapBucket": PCAPS}, {"RecordsBucket": RECORDS},
                       pseudo={"AWS::StackName": "lk-output", "AWS::AccountId": "123456789012",
                               "AWS::Partition": "aws", "AWS::Region": "us-east-1"})
        r = cls.template["Resources"]
        cls.db = "lurker_lk_output"  # the template's name for stack lk-output (Fn::Join/Split done here)
        cls.table_input = res.resolve(r["RecordsTable"]["Properties"]["TableInput"])
        glue = cls.moto.client("glue")
        glue.create_database(DatabaseInput=dict(res.resolve(
            {k: v for k, v in r["RecordsDatabase"]["Properties"]["DatabaseInput"].items() if k != "Name"}),
            Name=cls.db))
        glue.create_table(DatabaseName=cls.db, TableInput=cls.table_input)
        cls.table = glue.get_table(DatabaseName=cls.db, Name="flows")["Table"]

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        cls.tmp.__exit__()

    def columns(self):
        return {c["Name"]: c["Type"] for c in self.table["StorageDescriptor"]["Columns"]}

    def run_lambda(self, events, records_bucket):
        api = RuntimeApi()
        procs = Processes()
        bootstrap = os.path.join(self.tmp.path, "bootstrap")
        if not os.path.exists(bootstrap):
            os.symlink(ac.ANALYZER, bootstrap)
        out_path, err_path = os.path.join(self.tmp.path, "stdout"), os.path.join(self.tmp.path, "stderr")
        env = self.moto.env()
        env.update(AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % api.port, AWS_ENDPOINT_URL_S3=self.moto.endpoint,
                   LAMBDA_TASK_ROOT=self.tmp.path, LURKER_RECORDS_BUCKET=records_bucket,
                   LURKER_LOCAL="203.0.113.0/24,2001:db8:5::/48",  # the corpus's server side: started_by too
                   LURKER_RECORDS_PREFIX="records/")
        try:
            for e in events:
                api.events.put(e)
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                procs.start([bootstrap], stdout=out, stderr=err, env=env)
                results = api.answers(len(events))
        finally:
            procs.stop_all()
            api.close()
        with open(out_path) as f:
            logged = [json.loads(x) for x in f]
        with open(err_path) as f:
            log_lines = [json.loads(x) for x in f]
        return results, logged, log_lines

    def test_table_created_as_the_template_says(self):
        sd = self.table["StorageDescriptor"]
        self.assertEqual(sd["Location"], "s3://%s/records/" % RECORDS)
        self.assertEqual(sd["SerdeInfo"]["SerializationLibrary"], "org.openx.data.jsonserde.JsonSerDe")
        self.assertEqual([(k["Name"], k["Type"]) for k in self.table["PartitionKeys"]], [("dt", "string")])
        params = self.table["Parameters"]
        self.assertEqual((params["projection.enabled"], params["projection.dt.type"], params["projection.dt.format"]),
                         ("true", "date", "yyyy-MM-dd"))
        # the template's location template, with the partition's value where the writer puts the day
        self.assertEqual(params["storage.location.template"], "s3://%s/records/${dt}/" % RECORDS)
        self.assertEqual(self.columns()["tcp"], "struct<syn:boolean,synack:boolean,client_fin:boolean,"
                                                "server_fin:boolean,client_rst:boolean,server_rst:boolean>")
        queries = {k: v["Properties"] for k, v in self.template["Resources"].items()
                   if v["Type"] == "AWS::Athena::NamedQuery"}
        self.assertEqual({q["Name"]["Fn::Sub"].split("}-", 1)[1] for q in queries.values()},
                         {"top-ports", "top-payload-services", "new-sources-per-day"})
        # every column a named query reads is the table's (or the partition key)
        known = set(self.columns()) | {"dt"}
        for q in queries.values():
            self.assertEqual(q["Database"], {"Ref": "RecordsDatabase"})
            for name in ("src_addr", "dst_port", "service", "payload_len", "proto", "sensor"):
                if name in q["QueryString"]:
                    self.assertIn(name, known)

    def test_every_record_fits_the_table_and_its_partition(self):
        s3 = self.moto.client("s3")
        s3.create_bucket(Bucket=PCAPS)
        s3.create_bucket(Bucket=RECORDS)
        names = sorted(n[:-5] for n in os.listdir(self.tmp.path) if n.endswith(".pcap"))
        self.assertGreater(len(names), 10)
        keys = []
        for i, name in enumerate(names):
            key = "sensors/edge-%d/pcap/2025/11/25/19/%s.pcap" % (1 + i % 2, name)
            with open(os.path.join(self.tmp.path, name + ".pcap"), "rb") as f:
                s3.put_object(Bucket=PCAPS, Key=key, Body=f.read())
            keys.append(key)
        # two flows of one pcap, a day apart: two objects, one per day
        with open(os.path.join(self.tmp.path, "http_simple.pcap"), "rb") as f:
            first = f.read()
        with open(os.path.join(self.tmp.path, "ssh_banner_both.pcap"), "rb") as f:
            second = f.read()
        two_days = "sensors/edge-2/pcap/2025/11/25/23/two_days.pcap"
        s3.put_object(Bucket=PCAPS, Key=two_days, Body=first + shift_pcap(second, 86400)[24:])
        keys.append(two_days)
        event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": PCAPS}, "object": {"key": k}}} for k in keys]}
        results, logged, log_lines = self.run_lambda([("req-1", event)], RECORDS)
        kind, body, _ = results["req-1"]
        self.assertEqual(kind, "response", log_lines)

        columns, written = self.columns(), []
        objects = self.moto.list_keys(RECORDS)
        self.assertTrue(objects)
        for key in objects:
            m = PARTITION.match(key)
            self.assertTrue(m, key)
            day, sensor, _ = m.groups()
            text = s3.get_object(Bucket=RECORDS, Key=key)["Body"].read().decode()
            self.assertTrue(text.endswith("\n"), key)
            for line in text.splitlines():
                rec = json.loads(line)
                written.append(rec)
                problems = [p for k, v in rec.items()
                            for p in (misfits(v, columns[k], k) if k in columns else ["%s: no such column" % k])]
                self.assertEqual(problems, [], (key, rec))
                init_day = datetime.datetime.fromtimestamp(rec["init_ts"], datetime.timezone.utc).strftime("%Y-%m-%d")
                self.assertEqual((day, sensor), (init_day, rec["sensor"]), key)
        self.assertEqual(len(written), body["flows"])
        # the same records as the log group's, each once
        canon = sorted(json.dumps(r, sort_keys=True) for r in written)
        self.assertEqual(canon, sorted(json.dumps(r, sort_keys=True) for r in logged))
        self.assertGreater(len({(r["sensor"]) for r in written}), 1)
        self.assertTrue(any("started_by" in r for r in written))
        split = [k for k in objects if k.endswith("__two_days.jsonl")]
        self.assertEqual(len(split), 2, objects)
        self.assertEqual(len({PARTITION.match(k).group(1) for k in split}), 2)
        # the checker can fail: a record with a column the table lacks, or a string in an int column
        self.assertTrue(misfits("80", "int", "dst_port"))
        self.assertTrue(misfits({"syn": True, "bogus": 1}, columns["tcp"], "tcp"))
        self.assertTrue(misfits(2 ** 40, "int", "src_port"))
        # the analyzer's warnings are JSON log lines with a level (Lambda's JSON log format)
        for line in log_lines:
            self.assertIn(line["level"], ("WARN", "ERROR"), line)
            self.assertTrue(line["message"] and line["timestamp"].endswith("Z"), line)
        self.assertTrue(any("not_a_pcap" in x["message"] and x["requestId"] == "req-1" for x in log_lines),
                        log_lines)

    def test_unwritable_records_fail_the_invocation(self):
        s3 = self.moto.client("s3")
        s3.create_bucket(Bucket=PCAPS)
        key = "sensors/edge-9/pcap/2025/11/25/19/http_simple.pcap"
        with open(os.path.join(self.tmp.path, "http_simple.pcap"), "rb") as f:
            s3.put_object(Bucket=PCAPS, Key=key, Body=f.read())
        event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": PCAPS}, "object": {"key": key}}}]}
        results, logged, log_lines = self.run_lambda([("req-2", event)], "lurker-records-missing")
        kind, body, etype = results["req-2"]
        self.assertEqual((kind, etype), ("error", "RecordsNotWritten"), body)
        self.assertEqual(len(logged), 1)  # the record still reached the log group
        errors = [x for x in log_lines if x["level"] == "ERROR"]
        self.assertEqual(len(errors), 1, log_lines)
        self.assertIn("records not written to S3", errors[0]["message"])
        self.assertEqual(errors[0]["requestId"], "req-2")


if __name__ == "__main__":
    unittest.main()
