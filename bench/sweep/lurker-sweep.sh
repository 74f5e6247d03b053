#!/usr/bin/env bash
# lurker-sweep.sh - one run, one core: the kernel's SYN-cookie ceiling beside lurker's responder alone and the whole
# sensor (responder + capturer + shipper), on the topology of netns.sh (sensor pinned to CPU1, generator on CPU0).
#
# usage: lurker-sweep.sh [--project DIR] [--firewall output|ingress] [--engine NAME] [--rates "50000 100000 ..."] [--secs S]
#   --project   lurker checkout with bin/ built (default: the repository this script is in, ../.. of bench/sweep)
#   --engine    responder.engine to configure (default: none, the configuration's default)
#   --rates     offered SYN rates to sweep (default "50000 100000 150000 200000 300000 400000 600000")
#   --secs      seconds of load per step (default 3)     --runs  runs per step; every run must keep up (default 3)
#   --profile R instead of the sweep: one run of the whole sensor at R SYN/s offered under `perf record -g -C 1`
#               (the sensor's core: responder, capturer, shipper and the softirq work they cause); prints the
#               reply rate, then perf's top entries by command and symbol (linux-perf; perf.data kept in --perf-out,
#               default /tmp/lurker-sweep-perf.data)
# Prints one line per step and a last line:
#   SWEEP kernel=K/s responder=R/s (R/K) sensor=S/s (S/K) firewall=MODE
# where R and S are the highest offered rates, counted up from the lowest, at which >= 99% of SYNs got a SYN+ACK
# in every run.
# Every SYN here is spoofed-style (random ports, one source), so every SYN is a new flow for the capturer.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd) FW=output ENGINE= RATES="50000 100000 150000 200000 300000 400000 600000" SECS=3 RUNS=3
PROFILE= PERF_OUT=/tmp/lurker-sweep-perf.data
while [ $# -gt 0 ]; do
  case $1 in
    --project) PROJECT=$(cd "$2" && pwd); shift 2 ;; --firewall) FW=$2; shift 2 ;; --engine) ENGINE=$2; shift 2 ;;
    --rates) RATES=$2; shift 2 ;; --secs) SECS=$2; shift 2 ;; --runs) RUNS=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;; --perf-out) PERF_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
for b in lurker-responder lurker-capturer lurker-shipper; do
  [ -x "$PROJECT/bin/$b" ] || { echo "missing $PROJECT/bin/$b: build the project first" >&2; exit 1; }
done
# the tools build in bench/sweep/bin (git-ignored) where this folder is writable, else in a cache of the user's
if [ -z "${BENCH_BIN:-}" ]; then
  if [ -w "$HERE" ]; then BENCH_BIN=$HERE/bin; else BENCH_BIN=${XDG_CACHE_HOME:-$HOME/.cache}/lurker-bench/bin; fi
fi
export BENCH_BIN
if [ ! -x "$BENCH_BIN/synblast" ] || [ ! -x "$BENCH_BIN/ctrmon" ]; then
  mkdir -p "$BENCH_BIN"
  for t in synblast ctrmon minresp pcapcount; do
    cc -O2 -Wall -o "$BENCH_BIN/$t" "$HERE/tools/$t.c" -lpcap || { echo "cannot build $t (apt-get install libpcap-dev)" >&2; exit 1; }
  done
fi
UP=0; ip netns list | grep -qw lbx_sensor || { "$HERE/netns.sh" up --pin >/dev/null; UP=1; }
W=$(mktemp -d -t lurker-sweep.XXXXXX); chmod 755 "$W"
cleanup() { [ $UP = 1 ] && "$HERE/netns.sh" down >/dev/null 2>&1 || true; rm -rf "$W"; rm -f /dev/shm/lurker-sweep; }
trap cleanup EXIT INT TERM

cat >"$W/lurker.yaml.in" <<Y
sensor_id: sweep
log_level: warn
interface: lbx_s
addresses:
  - 10.99.0.2
user: nobody
shm_name: /lurker-sweep
responder:
  rate_limit: 10000000
  burst: 10000000
  source_rate_limit: 10000000
  source_burst: 10000000
  firewall: $FW
${ENGINE:+  engine: $ENGINE}
capturer:
  flow_timeout: 5s
spool:
  directory: RUNDIR/spool
shipper:
  storage: local
  archive_dir: RUNDIR/archive
Y
# Each start gets fresh directories: removing the last step's hundreds of thousands of files before starting would
# delay the start past the generator's wait, and the kernel would answer the first SYNs instead.
cat >"$W/sensor.sh" <<S
#!/bin/sh
# sensor.sh responder|all: lurker's processes in this process group; SIGTERM stops them
d=\$(mktemp -d $W/run.XXXXXX); chmod 755 \$d; mkdir -p \$d/spool \$d/archive; chown nobody \$d/spool \$d/archive
sed "s|RUNDIR|\$d|" $W/lurker.yaml.in > \$d/lurker.yaml
$PROJECT/bin/lurker-responder -c \$d/lurker.yaml &
if [ "\$1" = all ]; then $PROJECT/bin/lurker-capturer -c \$d/lurker.yaml & $PROJECT/bin/lurker-shipper -c \$d/lurker.yaml & fi
trap 'kill -TERM \$(jobs -p) 2>/dev/null; wait' TERM INT
wait
S
chmod +x "$W/sensor.sh"

if [ -n "$PROFILE" ]; then
  command -v perf >/dev/null || { echo "perf missing: apt-get install linux-perf" >&2; exit 1; }
  perf record -q -g -C 1 -o "$PERF_OUT" >/dev/null 2>&1 & PERF_PID=$!
  BENCH_OUT=$W/results.tsv "$HERE/synflood-rate.sh" -n $((PROFILE * SECS)) -r "$PROFILE" -R 1 -w 3 --nft none \
    -l "profile-$PROFILE" -- "$W/sensor.sh all" 2>&1 | grep -E 'MEDIAN|reply runs' || true
  kill -INT "$PERF_PID"; wait "$PERF_PID" || true
  perf report -i "$PERF_OUT" --no-children --sort comm,sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -30
  exit 0
fi

# median over the runs of a step of the CPU1 time per reply, wall minus idle (synflood-rate.sh's last column)
cpu_us() { awk -F'\t' -v l="$1" '$1 == l { print $23 }' "$BENCH_OUT" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
median() { grep MEDIAN | sed -E 's/.*reply_rate=([0-9.]+).*ratio=([0-9.]+).*/\1 \2/'; }
export BENCH_OUT=$W/results.tsv
read -r K _ < <("$HERE/synflood-rate.sh" -n 1000000 -p 7777 -R 1 -l kernel -- kernel:7777 2>&1 | median)
K=${K%.*}; echo "kernel SYN cookies, flood: $K SYN+ACK/s, $(cpu_us kernel) us of CPU1 per reply (wall - idle)"
ceiling() { # $1 = responder|all
  local best=0 r n out rate ratio
  for r in $RATES; do
    n=$((r * SECS)); [ $n -le 5000000 ] || n=5000000
    out=$("$HERE/synflood-rate.sh" -n $n -r $r -R $RUNS -w 3 --nft none -l "lurker-$1-$r" -- "$W/sensor.sh $1" 2>&1)
    read -r rate ratio < <(echo "$out" | median) || { echo "$out" | tail -3 >&2; return 1; }
    # every run must keep up, not just the median one: take the worst run's ratio (column 14 of the TSV)
    ratio=$(awk -F'\t' -v l="lurker-$1-$r" '$1 == l { if (min == "" || $14 < min) min = $14 } END { print min }' "$BENCH_OUT")
    echo "  $1 offered $r/s: worst run answered ratio $ratio (median reply rate $rate/s; runs: $(echo "$out" | grep -o 'reply runs: [0-9. ]*' | cut -d: -f2); $(cpu_us "lurker-$1-$r") us of CPU1 per reply)" >&2
    awk -v x="$ratio" 'BEGIN { exit !(x >= 0.99) }' || break
    best=$r
  done
  echo $best
}
echo "responder alone:"; R=$(ceiling responder)
echo "whole sensor (responder + capturer + shipper):"; S=$(ceiling all)
printf 'SWEEP kernel=%d/s responder=%d/s (%.2f) sensor=%d/s (%.2f) firewall=%s engine=%s\n' "$K" "$R" \
  "$(awk -v a="$R" -v b="$K" 'BEGIN{print a/b}')" "$S" "$(awk -v a="$S" -v b="$K" 'BEGIN{print a/b}')" "$FW" "${ENGINE:-default}"
