#!/usr/bin/env python3
"""The fault matrix: a counted workload against responder, capturer and shipper under supervisord, S3 = moto's
server with signature checking, one fault injected per scenario, then every flow accounted for.

    tests/faults/run.py [--full] [--only NAME[,NAME]] [--json OUT]

The short version (default) runs in `make test` through tests/integration/test_faults.py; --full is the long run
whose figures go into bench/RESULTS.md ("Faults"). Needs root. Traffic stays inside the namespaces it creates;
S3 is on loopback.
"""
import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import lurkertest as lt  # noqa: E402
import motoserver  # noqa: E402
import reconcile  # noqa: E402

BUCKET = "lurker-faults"


class Scale:
    def __init__(self, full):
        self.full = full
        self.flows = 400 if full else 60
        self.spoofed = 2000 if full else 200
        self.duration = 60.0 if full else 6.0
        # each flow retransmits its payload for `hold` seconds (gaps 0.2, 0.4, 0.8, 1.6, 3.2 s), then resets;
        # flow_timeout stays above the longest gap so a flow is one pcap
        self.hold = 8.0 if full else 3.0
        self.flow_timeout = 10 if full else 4
        self.outage = 120.0 if full else 8.0
        self.kills = 5 if full else 2
        self.flood_pps = 300000 if full else 100000
        self.flood_seconds = 10 if full else 3
        self.malformed = 20000 if full else 2000


class Sampler(threading.Thread):
    """Peak RSS of the three processes and peak spool size, sampled twice a second."""

    def __init__(self, supervisor, spool):
        super().__init__(daemon=True)
        self.supervisor, self.spool = supervisor, spool
        self.peak_rss_kb = {}
        self.peak_spool_bytes = 0
        self.stop_flag = False

    def run(self):
        while not self.stop_flag:
            for name in lt.Supervisor.PROGRAMS:
                pid = self.supervisor.pid(name)
                try:
                    with open("/proc/%d/status" % pid) as f:
                        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
                    self.peak_rss_kb[name] = max(self.peak_rss_kb.get(name, 0), rss)
                except (OSError, StopIteration, ValueError):
                    pass
            total = 0
            for d, _, files in os.walk(self.spool):
                for f in files:
                    try:
                        total += os.path.getsize(os.path.join(d, f))
                    except OSError:
                        pass
            self.peak_spool_bytes = max(self.peak_spool_bytes, total)
            time.sleep(0.5)


class Scenario:
    """One run: set-up, workload, fault, recovery, reconciliation."""

    def __init__(self, name, scale, work):
        self.name, self.scale, self.work = name, scale, work
        self.procs = lt.Processes()
        self.topo = lt.Topology()
        self.shm = lt.unique_shm_name()
        self.spool = os.path.join(work, "spool")
        self.config = os.path.join(work, "lurker.yaml")
        self.tmpfs = False
        self.fault_end = None

    def config_text(self, endpoint):
        return """queue_slots: 1024
responder:
  rate_limit: 200000
  burst: 50000
  source_rate_limit: 100000
  source_burst: 100000
capturer:
  flow_timeout: %ds
  batch_interval: 5s
  max_flow_age: 2m
  buffer_size: 32MiB
  max_flows: 50000
shipper:
  storage: s3
  concurrency: 4
  max_retries: 3
  failed_retry_interval: 10s
  s3:
    bucket: %s
    region: us-east-1
    endpoint: %s
    path_style: true
""" % (self.scale.flow_timeout, BUCKET, endpoint)

    def setup(self, moto):
        os.makedirs(self.spool)
        if self.name == "spool_full":
            # a small disk that the workload fills: the capturer must count what it cannot write
            lt.sh("mount", "-t", "tmpfs", "-o", "size=48k", "lurker-faults", self.spool)
            self.tmpfs = True
        self.topo.up()
        self.moto = moto
        moto.create_bucket(BUCKET)
        self.gate = motoserver.TcpGate(moto.port)
        self.gate.open()
        # a second identity that revokes and restores the shipper's rights (the shipper's own key cannot undo a
        # deny-all on itself)
        iam = moto.client("iam")
        iam.create_user(UserName="lurker-faults-admin")
        iam.put_user_policy(UserName="lurker-faults-admin", PolicyName="admin", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        k = iam.create_access_key(UserName="lurker-faults-admin")["AccessKey"]
        self.admin_iam = moto.client("iam", access_key=k["AccessKeyId"], secret_key=k["SecretAccessKey"])
        lt.write_config(self.config, self.shm, self.spool, self.topo.s_if, extra=self.config_text(
            "http://127.0.0.1:%d" % self.gate.port), spool_quota={"spool_full": "1MiB", "syn_flood": "2MiB"}.get(
                self.name, "512MiB"))
        env = {k: v for k, v in moto.env().items() if k.startswith("AWS_")}
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        self.supervisor = lt.Supervisor(self.topo, self.procs, self.config, self.work, env=env)
        self.supervisor.start()
        lt.wait_for(lambda: lt.ctl_status_json(self.shm).get("healthy"), timeout=20, what="healthy sensor")
        self.sampler = Sampler(self.supervisor, self.spool)
        self.sampler.start()

    def workload(self, malformed=0):
        out = os.path.join(self.work, "sent.json")
        argv = self.topo.in_ns(self.topo.attacker, [
            sys.executable, os.path.join(HERE, "traffic.py"), "--target", lt.SENSOR_V4,
            "--target6", lt.SENSOR_V6, "--flows", str(self.scale.flows), "--spoofed", str(self.scale.spoofed),
            "--malformed", str(malformed), "--duration", str(self.scale.duration), "--hold",
            str(self.scale.hold), "--out", out])
        return self.procs.start(argv), out

    # -- faults ------------------------------------------------------------------------------------------------
    def inject(self):
        s, sc = self.scale, self.name
        if sc.startswith("kill9_"):
            victim = sc[len("kill9_"):]
            for _ in range(s.kills):
                time.sleep(s.duration / (s.kills + 1))
                self.supervisor.kill9(victim)
        elif sc == "s3_outage":
            time.sleep(2)
            self.gate.close()
            time.sleep(s.outage)
            self.gate.open()
        elif sc == "spool_full":
            # S3 unreachable while the workload runs, so finished flows pile up on a 48 KiB disk until it is full
            time.sleep(1)
            self.gate.close()
            time.sleep(s.duration + s.hold)
            self.gate.open()
        elif sc == "creds_revoked":
            time.sleep(2)
            iam = self.admin_iam
            iam.put_user_policy(UserName=self.moto.user, PolicyName="deny-all", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}))
            time.sleep(s.outage)
            iam.delete_user_policy(UserName=self.moto.user, PolicyName="deny-all")
        elif sc == "syn_flood":
            time.sleep(2)
            flood = os.path.join(lt.BUILD, "helpers", "responder_synflood")
            argv = self.topo.in_ns(self.topo.attacker, [
                flood, "-i", self.topo.a_if, "-d", lt.SENSOR_V4, "-S", "198.51.100.0/24", "-r", str(s.flood_pps),
                "-n", str(s.flood_pps * s.flood_seconds), "-p", "1-65535", "-w", "500"])
            r = lt.sh(*argv, timeout=s.flood_seconds * 4 + 60)
            self.flood_result = json.loads(r.stdout.strip().splitlines()[-1])
        elif sc == "config_restart":
            time.sleep(s.duration / 2)
            with open(self.config) as f:
                text = f.read()
            with open(self.config, "w") as f:
                f.write(text.replace("flow_timeout: %ds" % s.flow_timeout, "flow_timeout: %ds" % (s.flow_timeout + 1)))
            self.supervisor.ctl("restart", "all")
        self.fault_end = time.monotonic()

    def settled(self):
        c = lt.ctl_status_json(self.shm)
        counters = c.get("counters", {})
        spool_files = [f for f in os.listdir(self.spool) if f.endswith(".pcap")]
        failed = os.path.join(self.spool, "failed")
        parked = os.listdir(failed) if os.path.isdir(failed) else []
        return (c.get("healthy") and counters.get("flows_open", 1) == 0 and not spool_files and not parked
                and c.get("queue_depth", 1) == 0 and counters.get("flows_batch_open", 1) == 0
                and counters.get("memory_bytes", 1) == 0)

    def run(self):
        figures = {"scenario": self.name}
        started = time.monotonic()
        with motoserver.MotoServer(log_path=os.path.join(self.work, "moto.log")) as moto:
            try:
                self.setup(moto)
                workload, sent_path = self.workload(malformed=self.scale.malformed if self.name == "malformed" else 0)
                fault = threading.Thread(target=self.inject)
                fault.start()
                fault.join()
                workload.wait(timeout=self.scale.duration * 3 + self.scale.hold + 120)
                recovered = lt.wait_for(self.settled, timeout=240 if self.scale.full else 120, interval=1,
                                        what="[%s] every flow shipped" % self.name)
                figures["time_to_recover_s"] = round(time.monotonic() - self.fault_end, 1) if recovered else None
                self.sampler.stop_flag = True
                with open(sent_path) as f:
                    sent = json.load(f)
                s3 = moto.client("s3")
                blobs = [(k, s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()) for k in moto.list_keys(BUCKET)]
                status = lt.ctl_status_json(self.shm)
                figures.update(reconcile.reconcile(sent, blobs, status.get("counters", {}), lt.ATTACKER_V4))
                figures["objects_stored"] = len(blobs)
                if getattr(self, "flood_result", None):
                    figures["flood"] = self.flood_result
                figures["counters"] = status.get("counters", {})
                figures["peak_rss_kb"] = self.sampler.peak_rss_kb
                figures["peak_spool_bytes"] = self.sampler.peak_spool_bytes
                figures["crashes"] = {n: self.supervisor.log(n).count("AddressSanitizer") +
                                      self.supervisor.log(n).count("runtime error") for n in lt.Supervisor.PROGRAMS}
            finally:
                self.teardown()
        figures["wall_s"] = round(time.monotonic() - started, 1)
        return figures

    def teardown(self):
        if getattr(self, "sampler", None):
            self.sampler.stop_flag = True
        if getattr(self, "supervisor", None):
            self.supervisor.stop()
        self.procs.stop_all()
        if getattr(self, "gate", None):
            self.gate.close()
        self.topo.down()
        lt.remove_shm(self.shm)
        if self.tmpfs:
            lt.sh("umount", "-l", self.spool, check=False)


# The short matrix `make test` runs; the full one is `tests/faults/run.py --full`.
SHORT = ["kill9_capturer", "kill9_shipper", "s3_outage", "spool_full", "malformed"]
SCENARIOS = ["baseline", "kill9_responder", "kill9_capturer", "kill9_shipper", "s3_outage", "spool_full",
             "creds_revoked", "syn_flood", "malformed", "config_restart"]


def main():
    # the TCP gate in front of moto holds two descriptors per upload connection in this process
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only")
    ap.add_argument("--short", action="store_true", help="the scenarios make test runs: " + ",".join(SHORT))
    ap.add_argument("--json")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else SHORT if args.short else SCENARIOS
    scale = Scale(args.full)
    results = []
    for name in names:
        work = tempfile.mkdtemp(prefix="lurker-faults-%s-" % name)
        print("== %s" % name, flush=True)
        try:
            fig = Scenario(name, scale, work).run()
        except Exception as e:  # a scenario that could not finish is a result too
            fig = {"scenario": name, "error": str(e), "work": work}
        else:
            if fig.get("flows_lost") or fig.get("duplicate_objects"):
                fig["work"] = work  # keep the logs of a scenario that lost something
            else:
                shutil.rmtree(work, ignore_errors=True)
        results.append(fig)
        print(json.dumps({k: v for k, v in fig.items() if k not in ("missing", "duplicates", "counters")}),
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    bad = [r["scenario"] for r in results if r.get("error") or r.get("flows_lost") or
           r.get("duplicate_objects") or any(r.get("crashes", {}).values())]
    print("scenarios with losses or errors: %s" % (", ".join(bad) or "none"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
