#!/usr/bin/env bash
# bench/small_ops.sh: the 4 KiB path over the binary protocol, with the CPU each side
# spends per operation. For each build directory given (default: target/release), starts
# `ringstore serve --cores 2` on six 1 GiB device files under target/, runs
# `ringbench put` (50 000 keys) and `ringbench get` (2 000 keys) with 64 workers, and
# samples utime + stime of the daemon and of ringbench from /proc/PID/stat over a window
# inside the measured phase. Several build directories run back to back (A/B pairs on
# one data directory, formatted once). Output: one line per run, and the JSON reports
# under target/small-ops/.
#
#   bash bench/small_ops.sh [BUILD_DIR...]
#
# Knobs (environment): RB_DURATION (10s), RB_WARMUP (2s), RB_CONCURRENCY (64),
# RB_WINDOW (CPU sample window in seconds, 5), RB_ROUNDS (pairs, 1),
# RB_RINGBENCH_ARGS (extra ringbench flags, for example "--threads 1").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/target/small-ops
mkdir -p "$out"
duration=${RB_DURATION:-10s}
warmup=${RB_WARMUP:-2s}
conc=${RB_CONCURRENCY:-64}
window=${RB_WINDOW:-5}
rounds=${RB_ROUNDS:-1}
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("$root/target/release")
data=$out/data
pid=
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
ulimit -l unlimited 2>/dev/null || ulimit -l 8192 2>/dev/null || true
export RINGSTORE_ROOT_ACCESS_KEY_ID=RBENCHACCESSKEY00001
export RINGSTORE_ROOT_SECRET_ACCESS_KEY=rbench-secret-0123456789abcdefghijklmnopqrst
export RINGSTORE_ACCESS_KEY_ID=$RINGSTORE_ROOT_ACCESS_KEY_ID
export RINGSTORE_SECRET_ACCESS_KEY=$RINGSTORE_ROOT_SECRET_ACCESS_KEY
source "$root/bench/lib.sh"
port=$(free_port)
ticks=$(getconf CLK_TCK)

# cpu_ticks PID: utime + stime of a process (all its threads).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_daemon() {
    RINGSTORE_LOG=warn "$1/ringstore" serve --data-dir "$data" --device-size 1GiB --cores 2 \
        --listen "127.0.0.1:$port" --metrics-listen "" --http-listen "" > "$out/ringstore.log" 2>&1 &
    pid=$!
    wait_port "$port" 180 || { echo "see $out/ringstore.log" >&2; exit 1; }
}

# run BUILD NAME WORKLOAD KEYS
run() {
    local build=$1 name=$2 workload=$3 keys=$4
    local json=$out/$name-$workload.json
    # shellcheck disable=SC2086
    "$build/ringbench" "$workload" --target "ringstore://127.0.0.1:$port" --size 4KiB \
        -c "$conc" --keys "$keys" --duration "$duration" --warmup "$warmup" --no-progress \
        --json "$json" ${RB_RINGBENCH_ARGS:-} > "$out/$name-$workload.txt" 2>&1 &
    local bench=$!
    # The window starts 2 s into the measured phase (get's prepare phase of 2 000 puts
    # takes well under a second more).
    sleep "$(( ${warmup%s} + 2 ))"
    local d0 b0 d1 b1 load
    d0=$(cpu_ticks "$pid"); b0=$(cpu_ticks "$bench")
    local t0; t0=$(date +%s.%N)
    sleep "$window"
    d1=$(cpu_ticks "$pid"); b1=$(cpu_ticks "$bench")
    local t1; t1=$(date +%s.%N)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    wait "$bench" || echo "ringbench $workload failed (see $out/$name-$workload.txt)" >&2
    python3 - "$json" "$d0" "$d1" "$b0" "$b1" "$t0" "$t1" "$ticks" "$name" "$load" <<'PY'
import json, sys
path, d0, d1, b0, b1, t0, t1, hz, name, load = sys.argv[1:]
r = json.load(open(path))
op = r["ops"][0]
rate = op["ops_per_s"]
secs = float(t1) - float(t0)
us = lambda a, b: (int(b) - int(a)) / int(hz) * 1e6 / (rate * secs)
lat = op["latency_us"]
print(f"{name:>10} {r['run']['workload']:>4}: {rate:9,.0f}/s  p50 {lat['p50']/1000:.2f} ms  "
      f"p99 {lat['p99']/1000:.2f} ms  errors {op['errors']}  daemon {us(d0, d1):5.1f} us/op  "
      f"ringbench {us(b0, b1):5.1f} us/op  load {load}")
PY
}

# One data directory for every build: formatted (6 x 1 GiB, written full) by the first
# start, reused by the others.
rm -rf "$data"
for round in $(seq "$rounds"); do
    for build in "${builds[@]}"; do
        name=$(basename "$(dirname "$build")")-$(basename "$build")-$round
        start_daemon "$build"
        run "$build" "$name" put 50000
        # get prepares its 2 000 keys first (unmeasured); its window starts after them.
        run "$build" "$name" get 2000
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        pid=
    done
done
