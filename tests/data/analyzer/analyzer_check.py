"""Shared by the analyzer's integration tests: run lurker-analyzer, tshark's follow and the Python/dpkt reference on
the same pcap and compare the client's bytes flow by flow."""
import base64
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("LURKER_ROOT") or os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import lurkertest  # noqa: E402

ANALYZER = os.path.join(lurkertest.BIN, "lurker-analyzer")
REFERENCE = os.path.join(ROOT, "bench", "analyzer_reference.py")
CRAFT = os.path.join(HERE, "make_crafted.py")


def run_analyzer(*args, input=None, env=None):
    """Returns (records, stderr, returncode); every stdout line must be a JSON object (checked here)."""
    r = subprocess.run([ANALYZER] + list(args), capture_output=True, timeout=120, input=input, env=env)
    records = []
    for line in r.stdout.splitlines():
        line.decode("utf-8")  # raises on invalid UTF-8
        records.append(json.loads(line))
    return records, r.stderr.decode("utf-8", "replace"), r.returncode


def payload(rec, key="payload"):
    return base64.b64decode(rec[key])


def endpoint(addr, port):
    return "[%s]:%d" % (addr, port) if ":" in addr else "%s:%d" % (addr, port)


def tshark_follow(pcap, streams=None):
    """{client "ADDR:PORT" -> client bytes} from `tshark -z follow,tcp,raw,N` for TCP streams 0..streams-1 (all
    streams when streams is None)."""
    if streams is None:
        r = subprocess.run(["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "tcp.stream"], capture_output=True,
                           text=True, timeout=60)
        streams = len({s for s in r.stdout.split() if s.strip()})
    if not streams:
        return {}
    argv = ["tshark", "-n", "-r", pcap, "-q"]
    for s in range(streams):
        argv += ["-z", "follow,tcp,raw,%d" % s]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout
    result = {}
    for block in out.split("===================================================================\n"):
        m0 = re.search(r"^Node 0: (.*)$", block, re.M)
        m1 = re.search(r"^Node 1: (.*)$", block, re.M)
        if not m0 or not m1:
            continue
        after = block[m1.end() + 1:]
        node0 = bytes.fromhex("".join(l for l in after.splitlines() if l and not l.startswith("\t")))
        node1 = bytes.fromhex("".join(l[1:] for l in after.splitlines() if l.startswith("\t")))
        result[m0.group(1)] = node0
        result[m1.group(1)] = node1
    return result


def reference_many(pcaps):
    """{pcap -> {client "ADDR:PORT" -> client bytes}} from the original algorithm (bench/analyzer_reference.py),
    one Python process for all."""
    r = subprocess.run([lurkertest.DEBIAN_PY, REFERENCE] + list(pcaps), capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("reference failed: %s" % r.stderr)
    out = {p: {} for p in pcaps}
    for line in r.stdout.splitlines():
        f = json.loads(line)
        addr, port = f["client"].rsplit(":", 1)
        out[f["pcap"]][endpoint(addr, int(port))] = bytes.fromhex(f["payload_hex"])
    return out


def reference(pcap):
    return reference_many([pcap])[pcap]


def differential(test, pcap, records, skip_reference=False, ref=None):
    """Asserts, for every TCP record, that tshark's follow gives the same client bytes (up to the first gap, where
    tshark stops) and, for gap-free flows, that the original algorithm does too (ref: its output for this pcap, or
    None to run it here). Returns how many flows compared."""
    follow = tshark_follow(pcap, sum(1 for r in records if r["proto"] == "tcp"))
    if ref is None:
        ref = {} if skip_reference else reference(pcap)
    compared = 0
    for rec in records:
        if rec["proto"] != "tcp":
            continue
        key = endpoint(rec["src_addr"], rec["src_port"])
        mine = payload(rec)
        if rec["gaps"]:
            mine = mine[:rec["gap_ranges"][0]["offset"]]
        if mine or key in follow:
            test.assertEqual(follow.get(key, b""), mine, "%s flow %s: analyzer and tshark differ" % (pcap, key))
        # the reference reads broken files its own way (dpkt): compare only what both read whole
        if not skip_reference and rec["gaps"] == 0 and not rec["truncated"]:
            test.assertEqual(ref.get(key, b""), payload(rec), "%s flow %s: analyzer and reference differ" % (pcap, key))
        compared += 1
    return compared


def make_crafted(outdir):
    lurkertest.sh(lurkertest.DEBIAN_PY, CRAFT, outdir, timeout=120)
