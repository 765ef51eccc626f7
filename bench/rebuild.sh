#!/usr/bin/env bash
# Scrub and rebuild throughput with foreground GET p99 (BENCHMARKS.md, "Scrub and rebuild").
#
#   bash bench/rebuild.sh [DIR]
#     six 1 GiB prefilled device files (4+2) under DIR (default target/integrity), 800 MiB
#     of objects, then an uncapped scrub, a capped scrub, and the rebuild of a replaced
#     device while serving and idle. Needs ~8 GiB free under target/.
#
#   bash bench/rebuild.sh --loop RATE_MIB_S [SIZE_MIB]
#     the same on seven loop devices (six for the set, one spare for the replacements),
#     each backed by a SIZE_MIB (default 1536) sparse file in /dev/shm and throttled to
#     RATE_MIB_S read and write by a cgroup v1 blkio group, so that every device has a
#     bandwidth of its own. fio first measures each device alone and all seven at once
#     (io_uring, O_DIRECT, 256 KiB, queue depth 32, from inside the group); then the
#     example runs inside the group with 2.25 GiB of objects and reports the rebuild rate
#     against half the per-device figure. Needs root, losetup, fio and the blkio
#     controller. Everything it set up (loop devices, the group, the files) is removed on
#     exit, also on failure.
#
# Bounded: every wait in the program gives up after 600 s, every fio run after a few s.
set -euo pipefail
cd "$(dirname "$0")/.."

load() { cut -d' ' -f1-3 /proc/loadavg; }

if [[ "${1:-}" != "--loop" ]]; then
    dir="${1:-target/integrity}"
    cargo build --release -p ringstore-engine --example integrity
    echo "load before: $(load)"
    target/release/examples/integrity "$dir"
    echo "load after: $(load)"
    exit 0
fi

rate_mib="${2:?usage: bench/rebuild.sh --loop RATE_MIB_S [SIZE_MIB]}"
size_mib="${3:-1536}"
[[ "$rate_mib" =~ ^[0-9]+$ && "$rate_mib" -gt 0 ]] || { echo "RATE_MIB_S must be a positive integer" >&2; exit 2; }
[[ "$size_mib" =~ ^[0-9]+$ && "$size_mib" -ge 512 ]] || { echo "SIZE_MIB must be an integer >= 512" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "--loop needs root (losetup, cgroups)" >&2; exit 2; }
command -v fio >/dev/null || { echo "--loop needs fio (apt-get install fio)" >&2; exit 2; }
blkio=/sys/fs/cgroup/blkio
[[ -w "$blkio/cgroup.procs" ]] || { echo "--loop needs the cgroup v1 blkio controller at $blkio" >&2; exit 2; }

cargo build --release -p ringstore-engine --example integrity

devices=7
bps=$((rate_mib * 1024 * 1024))
shm="/dev/shm/ringstore-rebuild.$$"
group="$blkio/ringstore-rebuild.$$"
loops=()

cleanup() {
    local rc=$?
    set +e
    # Nothing of ours may still be in the group when it is removed.
    if [[ -d "$group" ]]; then
        while read -r pid; do
            echo "$pid" >"$blkio/cgroup.procs" 2>/dev/null
        done <"$group/cgroup.procs"
        rmdir "$group"
    fi
    for l in "${loops[@]}"; do
        losetup -d "$l"
    done
    rm -rf "$shm"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$shm"
mkdir "$group"
for i in $(seq 0 $((devices - 1))); do
    truncate -s "${size_mib}M" "$shm/dev$i"
    l=$(losetup -f --show "$shm/dev$i")
    loops+=("$l")
    mm=$(cat "/sys/block/$(basename "$l")/dev")
    echo "$mm $bps" >"$group/blkio.throttle.read_bps_device"
    echo "$mm $bps" >"$group/blkio.throttle.write_bps_device"
done
echo "loop devices ${loops[*]} on $shm, ${size_mib} MiB each, throttled to $rate_mib MiB/s read and write"

# Runs a command inside the throttled group.
in_group() { sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$group" "$@"; }

# fio: one job per device given, sequential, 256 KiB (the engine's largest I/O; bigger
# requests are split by the loop device and the throttle charges the split parts again),
# queue depth 32, 4 s. Prints each job's MiB/s on one line.
fio_seq() {
    local rw=$1
    shift
    local args=()
    for l in "$@"; do
        args+=(--name="$(basename "$l")" --filename="$l")
    done
    in_group fio --ioengine=io_uring --direct=1 --bs=256k --iodepth=32 --rw="$rw" \
        --size=256M --runtime=4 --time_based --output-format=terse "${args[@]}" |
        awk -F';' -v rw="$rw" '{ printf "%.0f ", (rw == "read" ? $7 : $48) / 1024 } END { print "" }'
}

echo "load before fio: $(load)"
alone_w=""
alone_r=""
for l in "${loops[@]}"; do
    alone_w+="$(fio_seq write "$l")"
    alone_r+="$(fio_seq read "$l")"
done
echo "fio, each device alone: write MiB/s $alone_w; read MiB/s $alone_r"
all_w=$(fio_seq write "${loops[@]}")
all_r=$(fio_seq read "${loops[@]}")
echo "fio, all $devices devices at once: write MiB/s $all_w; read MiB/s $all_r"
# The per-device figure the rebuild is held to: the lowest write rate of all at once.
device_mib=$(echo "$all_w" | tr ' ' '\n' | grep . | sort -n | head -1)
for l in "${loops[@]}"; do
    blkdiscard "$l" 2>/dev/null || true
done

echo "load before: $(load)"
through() {
    awk '$2 == "Read" || $2 == "Write" { s[$2] += $3 } END { printf "read %.0f MiB, write %.0f MiB", s["Read"] / 1048576, s["Write"] / 1048576 }' \
        "$group/blkio.throttle.io_service_bytes"
}
before=$(through)
in_group env RB_DEVICE_MIB_S="$device_mib" target/release/examples/integrity \
    --devices "$(IFS=,; echo "${loops[*]:0:6}")" --spare "${loops[6]}" --big 288
# Every byte the engine moved must have passed the throttle (O_DIRECT, no page cache).
echo "through the throttle: before the example $before; after it $(through)"
echo "load after: $(load)"
