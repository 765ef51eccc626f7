#!/usr/bin/env bash
# The whole test suite: everything CI runs. Installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# glommio registers its io_uring rings and I/O buffers as locked memory.
memlock=$(ulimit -l)
if [ "$memlock" != unlimited ] && [ "$memlock" -lt 512 ]; then
    ulimit -l 8192 2>/dev/null || {
        echo "RLIMIT_MEMLOCK is ${memlock} KiB; ringstore needs at least 512 KiB (ulimit -l)" >&2
        exit 1
    }
fi

export CARGO_TERM_COLOR=never
# Device files live under target/ (a real filesystem: O_DIRECT does not work on tmpfs).
# The black-box tests in tests/ start the real `ringstore` binary: build it first.
cargo build -p ringstore-tools --locked
# The SDK conformance suites (tests/tests/sdk.rs) run the real OSS and S3 SDKs from PyPI,
# pinned in tests/sdk/requirements.txt, in a venv under target/ (reused while unchanged).
bash tests/sdk/setup.sh >/dev/null
cargo test --workspace --locked
# Named crash points are compiled in only with the engine's `failpoints` feature.
cargo test -p ringstore-engine --features failpoints --locked --test crash_points
# The rebuild test that holds a checkpoint across a device replacement (a hold point).
cargo test -p ringstore-engine --features failpoints --locked --test rebuild checkpoint
# Seeded fault simulation over the same feature (FAULT_SIM_SEEDS=N for long runs).
cargo test -p ringstore-engine --features failpoints --locked --test fault_sim
# Short bounded fuzz runs (10 s per target; FUZZ_SECONDS for longer ones by hand).
bash tests/fuzz/run.sh
