#!/usr/bin/env bash
# Creates the Python venv with the pinned SDKs (tests/sdk/requirements.txt) that the SDK
# conformance tests run, and prints its path. Idempotent: when the venv already holds
# exactly these requirements (a stamp of the file's hash) it returns at once.
#   RINGSTORE_SDK_VENV  where the venv lives (default: target/sdk-venv)
#   PYTHON              the interpreter to build it from (default: python3.11, else python3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${RINGSTORE_SDK_VENV:-$root/target/sdk-venv}"
req="$here/requirements.txt"

python="${PYTHON:-}"
if [ -z "$python" ]; then
    if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
want="$(sha256sum "$req" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements-stamp" 2>/dev/null)" = "$want" ]; then
    echo "$venv"
    exit 0
fi

"$python" -c 'import sys; assert sys.version_info >= (3, 10), "the SDKs need Python 3.10+"'
echo "creating the SDK venv in $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
echo "$want" >"$venv/.requirements-stamp"
echo "$venv"
