#!/usr/bin/env bash
# Make sure the sanity venv exists and print its folder (relative to the repo root) on stdout.
# Sanity wants the newest ansible-core, which needs Python >= 3.12: .venv-latest is built from the newest such
# Python (see tools/pick-python.sh). Without one, sanity falls back to .venv (Python 3.11 / ansible-core 2.19).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python="$(tools/pick-python.sh)"; then
    echo "[venv-latest] no Python >= 3.12 found; sanity falls back to .venv" >&2
    echo .venv
    exit 0
fi
exec tools/venv-build.sh .venv-latest "$python" "ansible-core>=2.19"
