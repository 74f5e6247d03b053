#!/usr/bin/env python3
"""One batch pcap of N flows (each a SYN, our SYN+ACK and the scanner's RST, as the capturer writes a scan) analysed
by the real lurker-analyzer in Lambda mode: the object on moto's S3 server, one SNS-wrapped S3 event through a
Runtime API stand-in on loopback, the bootstrap's wall time from the event to its response and its peak RSS, and
the CloudWatch Logs volume it writes (its stdout). Compare with infra/output.yml's MemorySize and Timeout.

    python3 bench/analyzer_batch_bench.py [--flows 100000] [--records]

--records: the analyzer also writes the records to a records bucket as JSON Lines (LURKER_RECORDS_BUCKET, as
output.yml sets it), the objects' count and size are reported.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import lurkertest as lt  # noqa: E402
from lambdaruntime import RuntimeApi  # noqa: E402
from motoserver import MotoServer  # noqa: E402

BUCKET = "lurker-bench"


def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def packet(src, dst, sport, dport, seq, ack, flags):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp


def batch_pcap(flows):
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    sensor, t0 = bytes([203, 0, 113, 10]), 1765060800
    for i in range(flows):
        src, sport, dport = bytes([198, 51, 100, 1 + i % 250]), 40000 + (i // 250) % 20000, i % 65536
        ts = t0 + i * 60 // flows
        for k, p in enumerate((packet(src, sensor, sport, dport, 1000, 0, 0x02),
                               packet(sensor, src, dport, sport, 5000, 1001, 0x12),
                               packet(src, sensor, sport, dport, 1001, 0, 0x04))):
            out.append(struct.pack("<IIII", ts, k * 100, len(p), len(p)) + p)
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=100000)
    ap.add_argument("--records", action="store_true", help="also write the records to S3 (LURKER_RECORDS_BUCKET)")
    args = ap.parse_args()
    body = batch_pcap(args.flows)
    key = "pcap/2025/12/06/22/1765060800_batch_bench_1-1.pcap"
    with tempfile.TemporaryDirectory() as tmp, MotoServer() as moto:
        moto.client("s3").create_bucket(Bucket=BUCKET)
        moto.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
        event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps({"Records": [
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": len(body)}}}]})}}]}
        api = RuntimeApi()
        bootstrap = os.path.join(tmp, "bootstrap")
        os.symlink(os.path.join(lt.BIN, "lurker-analyzer"), bootstrap)
        env = moto.env()
        env.update(AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % api.port, AWS_ENDPOINT_URL_S3=moto.endpoint,
                   LAMBDA_TASK_ROOT=tmp)
        if args.records:
            moto.client("s3").create_bucket(Bucket=BUCKET + "-records")
            env.update(LURKER_RECORDS_BUCKET=BUCKET + "-records")
        out_path = os.path.join(tmp, "stdout")
        with open(out_path, "wb") as out:
            p = subprocess.Popen([bootstrap], stdout=out, stderr=subprocess.DEVNULL, env=env)
            started = time.monotonic()
            api.events.put(("bench-1", event))
            rid, kind, result, _ = api.results.get(timeout=600)
            wall = time.monotonic() - started
            with open("/proc/%d/status" % p.pid) as f:  # the bootstrap's own peak, still alive and waiting
                peak_mib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
            p.terminate()
            p.wait(timeout=10)
        api.close()
        if args.records:
            s3 = moto.client("s3")
            sizes = [s3.head_object(Bucket=BUCKET + "-records", Key=k)["ContentLength"]
                     for k in moto.list_keys(BUCKET + "-records")]
            print("RECORDS objects=%d bytes=%.1fMB" % (len(sizes), sum(sizes) / 1e6))
        records = sum(1 for _ in open(out_path, "rb"))
        log_bytes = os.path.getsize(out_path)
    print("BATCH flows=%d object=%.1fMiB result=%s records=%d wall=%.2fs peak_rss=%.0fMiB logs=%.1fMB (%.0f B/record)"
          % (args.flows, len(body) / 2**20, kind, records, wall, peak_mib, log_bytes / 1e6,
             log_bytes / max(records, 1)))
    return 0 if kind == "response" and records == args.flows else 1


if __name__ == "__main__":
    sys.exit(main())
