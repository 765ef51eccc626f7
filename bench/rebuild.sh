#!/usr/bin/env bash
# Scrub and rebuild throughput with foreground GET p99 (BENCHMARKS.md, "Scrub and rebuild"):
# six 1 GiB prefilled device files (4+2) under target/integrity, 800 MiB of objects, then
# an uncapped scrub, a capped scrub, and the rebuild of a replaced device while serving.
# Bounded: every wait in the program gives up after 600 s. Needs ~8 GiB free under target/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/integrity}"
cargo build --release -p ringstore-engine --example integrity
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
target/release/examples/integrity "$dir"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
