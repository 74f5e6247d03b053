#!/usr/bin/env python3
"""Shipper benchmark: uploads per second of 2 KB pcaps to a local moto S3 server (signature checking on), lurker-shipper
against `aws s3 cp --recursive` of the same files to the same server, measured in the same run.

    python3 bench/shipper_bench.py [--files N] [--concurrency C]

Both times are wall clock from process start to the last upload (the shipper: until its spool is empty; the CLI: until
it exits), so each includes its own start-up. Other load on the machine (other engineers' builds and tests) may have
been present; run it twice if the numbers look odd."""
import argparse
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import lurkertest as lt  # noqa: E402
from motoserver import MotoServer  # noqa: E402

PCAP_SIZE = 2048


def pcap_2k(i):
    """A valid pcap of exactly 2048 bytes: one Ethernet/IPv4/TCP packet whose payload fills it."""
    header = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    pkt_len = PCAP_SIZE - 24 - 16
    payload = (b"bench-%06d-" % i) * 200
    ip = bytes([0x45, 0, (pkt_len - 14) >> 8, (pkt_len - 14) & 255, 0, 1, 0, 0, 64, 6, 0, 0,
                198, 51, 100, 2 + i % 200, 203, 0, 113, 10])
    tcp = struct.pack("!HHIIBBHHH", 10000 + i % 50000, 22, 1, 0, 0x50, 0x18, 1024, 0, 0)
    pkt = (b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp + payload)[:pkt_len]
    ts = 1764074096 + i
    return header + struct.pack("<IIII", ts, i, pkt_len, pkt_len) + pkt, ts


def children_cpu():
    """user+sys seconds of the children waited for so far (moto is reaped only at the end, so it is not counted)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    shipper = os.path.join(lt.BIN, "lurker-shipper")
    aws = shutil.which("aws")
    if not os.path.exists(shipper) or not aws:
        sys.exit("needs %s (make) and the aws CLI" % shipper)

    work = tempfile.mkdtemp(prefix="lurker-bench-shipper-")
    shm = lt.unique_shm_name()
    try:
        with MotoServer() as moto:
            moto.create_bucket("bench")
            source = os.path.join(work, "source")
            spool = os.path.join(work, "spool")
            os.mkdir(source)
            os.mkdir(spool)
            for i in range(args.files):
                body, ts = pcap_2k(i)
                name = "%d%06d_tcp_198.51.100.%d_%d_203.0.113.10_22.pcap" % (ts, i, 2 + i % 200, 10000 + i % 50000)
                for d in (source, spool):
                    with open(os.path.join(d, name), "wb") as f:
                        f.write(body)

            # reference: the AWS CLI, same files, same server, same credentials
            env = moto.env()
            cpu0 = children_cpu()
            t0 = time.monotonic()
            subprocess.run([aws, "--endpoint-url", moto.endpoint, "s3", "cp", "--recursive", "--only-show-errors",
                            source, "s3://bench/cli/"], env=env, check=True)
            cli_s = time.monotonic() - t0
            cli_cpu = children_cpu() - cpu0
            cli_keys = len(moto.list_keys("bench", "cli/"))

            extra = ("log_level: warn\nqueue_slots: 1024\nshipper:\n  storage: s3\n  concurrency: %d\n"
                     "  key_template: \"lurker/{ts}.{us}_{proto}_{src}_{dst}_{sport}_{dport}.pcap\"\n"
                     "  s3:\n    bucket: bench\n    endpoint: %s\n    path_style: true\n"
                     % (args.concurrency, moto.endpoint))
            cfg = lt.write_config(os.path.join(work, "lurker.yaml"), shm, spool, "lo", extra=extra)
            cfg_text = open(cfg).read().replace("log_level: debug\n", "")
            with open(cfg, "w") as f:
                f.write(cfg_text)
            cpu0 = children_cpu()
            t0 = time.monotonic()
            p = subprocess.Popen([shipper, "-c", cfg], env=env, start_new_session=True)
            try:
                while any(n.endswith(".pcap") for n in os.listdir(spool)):
                    if time.monotonic() - t0 > 300:
                        raise SystemExit("shipper did not finish in 300 s")
                    time.sleep(0.005)
                ship_s = time.monotonic() - t0
            finally:
                p.terminate()
                p.wait(15)
            ship_cpu = children_cpu() - cpu0
            ship_keys = len(moto.list_keys("bench", "lurker/"))
    finally:
        lt.remove_shm(shm)
        shutil.rmtree(work, ignore_errors=True)

    if cli_keys != args.files or ship_keys != args.files:
        sys.exit("incomplete: cli stored %d, shipper %d of %d" % (cli_keys, ship_keys, args.files))
    ship_rate, cli_rate = args.files / ship_s, args.files / cli_s
    print("files: %d x %d B to moto (127.0.0.1, SigV4 checked); other load may have been present" %
          (args.files, PCAP_SIZE))
    print("lurker-shipper (concurrency %d): %.2f s  %.0f uploads/s" % (args.concurrency, ship_s, ship_rate))
    print("aws s3 cp --recursive:          %.2f s  %.0f uploads/s" % (cli_s, cli_rate))
    print("ratio shipper/aws-cli: %.2fx" % (ship_rate / cli_rate))
    print("client CPU per upload: shipper %.2f ms, aws cli %.2f ms (%.1fx less)" % (
        ship_cpu * 1000 / args.files, cli_cpu * 1000 / args.files, cli_cpu / max(ship_cpu, 1e-9)))


if __name__ == "__main__":
    main()
