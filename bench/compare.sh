#!/usr/bin/env bash
# bench/compare.sh: measures, in one bounded run on this machine, the ceilings (fio with
# O_DIRECT on the build's filesystem, MD5 on one core), ringstore over the binary protocol
# and over HTTP, the same HTTP workloads against Garage (single node, replication factor 1,
# on loopback), and the engine's write amplification; then writes target/bench/results.md,
# the tables BENCHMARKS.md quotes.
#
# Knobs (environment):
#   RB_DEVICE_SIZE size of each of ringstore's six device files (default 4GiB: with 1 GiB
#                  files, 16 streams overwriting 64 MiB objects fill the set)
#   RB_DURATION    measured time of each ringbench run (default 10s), after RB_WARMUP (2s)
#   RB_DURATION_BIG  the same for the 64 MiB workloads (default 20s: a 10 s run finishes only
#                  20 or 30 objects, so one object more or less moves the MiB/s by 3-5 %)
#   RB_FIO_RUNTIME seconds per fio job (default 10)
#   RB_SCALE=1     also the 10-million-object memory / restart measurement (minutes)
#   GARAGE_BIN     a garage binary; else GARAGE_CACHE/bin/garage, built there when missing
#   GARAGE_CACHE   where garage is installed (default ~/.cache/ringstore-bench/garage)
#   GARAGE_VERSION the garage crate version to build (default 2.5.0)
#   RB_SKIP        space-separated parts to skip: fio md5 binary http nocache garage wamp
#                  (nocache: the second pass of small GETs with the read cache off)
#   RB_WORKLOADS   space-separated workload names to run (default: all of them)
#   RB_BIN_DIR     take ringstore and ringbench from this directory instead of building
#                  them (to compare two builds back to back)
#   RB_GARAGE_FSYNC=false  run Garage with its default of no fsync (reported as
#                  garage-nofsync; the default, true, matches ringstore's durability)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/target/bench
mkdir -p "$out"
duration=${RB_DURATION:-10s}
duration_big=${RB_DURATION_BIG:-20s}
warmup=${RB_WARMUP:-2s}
fio_runtime=${RB_FIO_RUNTIME:-10}
skip=" ${RB_SKIP:-} "
garage_version=${GARAGE_VERSION:-2.5.0}
garage_cache=${GARAGE_CACHE:-$HOME/.cache/ringstore-bench/garage}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
skipped() { [[ "$skip" == *" $1 "* ]]; }
log() { echo "== $*" >&2; }
source "$root/bench/lib.sh"

# The device files (6 x 4 GiB), fio's file (2 GiB), the engine example (6 x 1 GiB) and
# Garage's objects come and go one after the other: ask for room for the largest plus slack.
free_gib=$(df -Pk "$out" | awk 'NR==2 {print int($4 / 1048576)}')
if [ "$free_gib" -lt 30 ]; then
    echo "only $free_gib GiB free under $out: compare.sh needs 30 GiB" >&2
    exit 1
fi

# glommio registers its io_uring rings and buffers as locked memory.
ulimit -l unlimited 2>/dev/null || ulimit -l 8192 2>/dev/null || true

if [ -n "${RB_BIN_DIR:-}" ]; then
    ringstore=$RB_BIN_DIR/ringstore
    ringbench=$RB_BIN_DIR/ringbench
else
    log "building (release)"
    cargo build --release --locked -p ringstore-tools -p ringstore-bench >&2
    ringstore=$root/target/release/ringstore
    ringbench=$root/target/release/ringbench
fi

{
    echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "cores=$(nproc)"
    echo "memory_gib=$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)"
    echo "filesystem=$(df -T "$out" | awk 'NR==2 {print $2}')"
    echo "kernel=$(uname -r)"
    echo "rustc=$(rustc --version)"
    echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"

# 1. Ceilings.
if ! skipped fio; then
    command -v fio >/dev/null || { echo "fio is missing (apt-get install fio)" >&2; exit 1; }
    log "fio ceilings (${fio_runtime} s per job)"
    fio_dir=$out/fio
    mkdir -p "$fio_dir"
    common=(--directory="$fio_dir" --filename=fio.dat --size=2G --direct=1 --ioengine=io_uring
            --time_based --runtime="$fio_runtime" --ramp_time=1 --group_reporting
            --output-format=json)
    # Lay the file out first, so the writes measure the disk, not extent allocation.
    fio --name=layout --directory="$fio_dir" --filename=fio.dat --size=2G --rw=write --bs=1M \
        --direct=1 --ioengine=io_uring --iodepth=32 --output-format=json > /dev/null
    # Writes end with an fsync: ringstore acknowledges only flushed data.
    fio --name=seqwrite --rw=write --bs=1M --iodepth=32 --end_fsync=1 "${common[@]}" \
        > "$out/fio-seqwrite.json"
    fio --name=seqread --rw=read --bs=1M --iodepth=32 "${common[@]}" > "$out/fio-seqread.json"
    fio --name=randread --rw=randread --bs=4k --iodepth=64 "${common[@]}" > "$out/fio-randread.json"
    fio --name=randwrite --rw=randwrite --bs=4k --iodepth=64 --end_fsync=1 "${common[@]}" \
        > "$out/fio-randwrite.json"
    rm -f "$fio_dir/fio.dat"
fi
if ! skipped md5; then
    log "md5, one core"
    "$ringbench" speed md5 --duration 3s > "$out/md5.txt"
fi

# The ringbench workloads: name, workload, size, concurrency, keys.
workloads=(
    "put-4KiB put 4KiB 64 50000"
    "get-4KiB get 4KiB 64 2000"
    "put-64KiB put 64KiB 32 5000"
    "get-64KiB get 64KiB 32 1000"
    "put-64MiB-x1 put 64MiB 1 4"
    "put-64MiB-x16 put 64MiB 16 16"
    "get-64MiB-x1 get 64MiB 1 4"
    "get-64MiB-x16 get 64MiB 16 16"
)
# run_all PREFIX TARGET-ARGS...: every workload against one target.
run_all() {
    local prefix=$1
    shift
    for w in "${workloads[@]}"; do
        read -r name workload size conc keys <<< "$w"
        if [ -n "${RB_WORKLOADS:-}" ] && [[ " $RB_WORKLOADS " != *" $name "* ]]; then
            continue
        fi
        if [ -n "${run_only:-}" ] && [[ " $run_only " != *" $name "* ]]; then
            continue
        fi
        log "$prefix $name"
        local measured=$duration
        [[ "$size" != 64MiB ]] || measured=$duration_big
        "$ringbench" "$workload" "$@" --size "$size" -c "$conc" --keys "$keys" \
            --duration "$measured" --warmup "$warmup" --prefix "$name/" --no-progress \
            --json "$out/$prefix-$name.json" > "$out/$prefix-$name.txt" \
            || echo "$prefix $name failed (see $out/$prefix-$name.txt)" >&2
        # Other work on the machine skews the figures: keep the load next to them.
        echo "load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/$prefix-$name.txt"
    done
}

# ringstore_pass PREFIX-SUFFIX [SERVE-ARGS...]: formats a fresh data directory, starts
# ringstore with SERVE-ARGS and runs the workloads over the binary protocol and (when the
# daemon has it) HTTP, as ringstore-binary$SUFFIX and ringstore-http$SUFFIX.
ringstore_pass() {
    local suffix=$1
    shift
    data=$out/ringstore-data
    rm -rf "$data"
    port=$(free_port)
    http_port=$(free_port)
    args=(serve --data-dir "$data" --device-size "${RB_DEVICE_SIZE:-4GiB}" --cores 2 --listen "127.0.0.1:$port"
          --metrics-listen "" "$@")
    has_http=false
    if "$ringstore" serve --help | grep -q -- --http-listen; then
        has_http=true
        args+=(--http-listen "127.0.0.1:$http_port")
    fi
    log "starting ringstore $* (formats 6 x ${RB_DEVICE_SIZE:-4GiB} device files)"
    RINGSTORE_ROOT_ACCESS_KEY_ID=RBENCHACCESSKEY00001 \
        RINGSTORE_ROOT_SECRET_ACCESS_KEY=rbench-secret-0123456789abcdefghijklmnopqrst \
        RINGSTORE_LOG=warn "$ringstore" "${args[@]}" > "$out/ringstore$suffix.log" 2>&1 &
    pids+=($!)
    # Format writes the six device files full first: minutes on a slow disk.
    wait_port "$port" 600
    export RINGSTORE_ACCESS_KEY_ID=RBENCHACCESSKEY00001
    export RINGSTORE_SECRET_ACCESS_KEY=rbench-secret-0123456789abcdefghijklmnopqrst
    skipped binary || run_all "ringstore-binary$suffix" --target "ringstore://127.0.0.1:$port"
    if $has_http && ! skipped http; then
        run_all "ringstore-http$suffix" --target "http://127.0.0.1:$http_port" --sign s3v4
    elif ! $has_http; then
        echo "this ringstore has no HTTP adapter (--http-listen): HTTP rows skipped" \
            > "$out/ringstore-http.skipped"
    fi
    kill "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
    rm -rf "$data"
}

# 2. ringstore, binary protocol and (when the daemon has it) HTTP, with its defaults: a GET
#    key set of 2000 small objects is then served from the read cache. A second pass runs
#    the small GETs with the read cache off, so every GET reads and verifies its blocks.
if ! skipped binary || ! skipped http; then
    ringstore_pass ""
    if ! skipped nocache && "$ringstore" serve --help | grep -q -- --read-cache; then
        run_only="get-4KiB get-64KiB" ringstore_pass -nocache --read-cache 0
    fi
fi

# 3. Garage, single node, replication factor 1, fsync on (ringstore acknowledges after
#    its data and log are flushed; Garage is run with the same promise).
if ! skipped garage; then
    garage_fsync=${RB_GARAGE_FSYNC:-true}
    garage_prefix=garage
    [ "$garage_fsync" = true ] || garage_prefix=garage-nofsync
    garage=${GARAGE_BIN:-$garage_cache/bin/garage}
    if [ ! -x "$garage" ]; then
        log "building garage $garage_version into $garage_cache (bounded to 3 hours)"
        timeout 3h cargo install garage --locked --version "$garage_version" \
            --root "$garage_cache" >&2
    fi
    gdir=$out/garage
    rm -rf "$gdir"
    mkdir -p "$gdir"
    rpc_port=$(free_port)
    s3_port=$(free_port)
    admin_port=$(free_port)
    cat > "$gdir/garage.toml" <<TOML
metadata_dir = "$gdir/meta"
data_dir = "$gdir/data"
db_engine = "lmdb"
replication_factor = 1
metadata_fsync = $garage_fsync
data_fsync = $garage_fsync
rpc_bind_addr = "127.0.0.1:$rpc_port"
rpc_public_addr = "127.0.0.1:$rpc_port"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3_port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin_port"
TOML
    g() { "$garage" -c "$gdir/garage.toml" "$@"; }
    log "starting garage $("$garage" --version 2>/dev/null | head -1)"
    RUST_LOG=warn "$garage" -c "$gdir/garage.toml" server > "$out/garage.log" 2>&1 &
    pids+=($!)
    wait_port "$rpc_port"
    wait_port "$s3_port"
    node=$(g node id -q 2>/dev/null | cut -d@ -f1)
    g layout assign -z dc1 -c 8G "$node" >&2
    g layout apply --version 1 >&2
    keyinfo=$(g key create ringbench-key)
    key_id=$(echo "$keyinfo" | awk -F': *' '/Key ID/ {print $2; exit}')
    secret=$(echo "$keyinfo" | awk -F': *' '/Secret key/ {print $2; exit}')
    g bucket create ringbench >&2
    g bucket allow --read --write --owner ringbench --key ringbench-key >&2
    RINGSTORE_ACCESS_KEY_ID=$key_id RINGSTORE_SECRET_ACCESS_KEY=$secret \
        run_all "$garage_prefix" --target "http://127.0.0.1:$s3_port" --sign s3v4 --region garage
    kill "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
    rm -rf "$gdir/data" "$gdir/meta"
fi

# 4. Write amplification (and, with RB_SCALE=1, memory and restart at 10 million objects).
if ! skipped wamp; then
    log "write amplification (engine example)"
    cargo run --release --locked -p ringstore-engine --example write_amp -- "$out/write-amp" \
        > "$out/write-amp.txt"
fi
if [ "${RB_SCALE:-0}" = 1 ]; then
    log "10 million objects (engine example)"
    cargo run --release --locked -p ringstore-engine --example scale -- "$out/scale" \
        > "$out/scale.txt"
fi

echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
python3 bench/summarize.py "$out" > "$out/results.md"
log "wrote $out/results.md"
cat "$out/results.md"
