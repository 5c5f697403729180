#!/usr/bin/env bash
# Make sure .venv-oldest exists and print its folder on stdout: the oldest ansible-core the collection supports
# (requires_ansible in meta/runtime.yml; 2.16 is what Red Hat AAP 2.5 execution environments ship), for tools/matrix.sh.
# It is built from Python 3.10, the oldest controller Python ansible-core 2.16 runs on (3.11 or 3.12 when 3.10 is
# missing): .venv (3.11) and .venv-latest (3.12+) cover the newer ones. Exits 1 when no Python 3.10-3.12 is found.
set -euo pipefail
cd "$(dirname "$0")/.."

series=2.16
# The leg must test the floor the collection declares: a new floor needs a new series (and its Pythons) here.
floor="$(sed -nE 's/^requires_ansible: *"?>=([0-9]+\.[0-9]+)\..*/\1/p' meta/runtime.yml)"
if [[ $floor != "$series" ]]; then
    echo "[venv-oldest] meta/runtime.yml requires ansible-core >= ${floor:-?}, but this script builds $series: update it" >&2
    exit 2
fi

for version in 3.10 3.11 3.12; do
    if python="$(tools/pick-python.sh "$version")"; then
        exec tools/venv-build.sh .venv-oldest "$python" "ansible-core~=$series.0"
    fi
done
echo "[venv-oldest] no Python 3.10, 3.11 or 3.12 found for ansible-core $series" >&2
exit 1
