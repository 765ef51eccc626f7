#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a few seconds from its seed corpus in
# tests/fuzz/corpus/<target>/ (new inputs go to target/fuzz-corpus/, so the repository's
# corpus stays small). Needs cargo-fuzz; works on the stable toolchain because `-s none`
# builds without a sanitizer (that needs nightly).
#   FUZZ_SECONDS=60 bash tests/fuzz/run.sh        # longer runs by hand
#   bash tests/fuzz/run.sh frame body             # only some targets
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-10}
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --version 0.13.2 --locked || {
        echo "tests/fuzz/run.sh: cargo-fuzz is not installed and could not be installed" \
            "(no network?): run 'cargo install cargo-fuzz --version 0.13.2 --locked'" >&2
        exit 1
    }
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -s none
for t in "${targets[@]}"; do
    work="target/fuzz-corpus/$t"
    mkdir -p "$work"
    log="target/fuzz-$t.log"
    if ! cargo fuzz run -s none "$t" "$work" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz target $t failed: see tests/fuzz/$log and tests/fuzz/artifacts/$t/" >&2
        exit 1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    echo "fuzz $t: ${execs:-?} executions in ${seconds} s, no failure"
done
