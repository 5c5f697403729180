#!/usr/bin/env bash
# Run sanity and the playbook-level tests (tests/integration and tests/ecosystem) on three ansible-core versions:
#   oldest  .venv-oldest  (made by tools/venv-oldest.sh: Python 3.10, ansible-core 2.16, the oldest supported)
#   base    .venv         (made by `make venv`: Python 3.11, ansible-core 2.19, the development series)
#   latest  .venv-latest  (made by tools/venv-latest.sh: the newest Python >= 3.12 and the newest ansible-core)
# and print the wall time of each leg.
#
#   tools/matrix.sh                          all six legs
#   tools/matrix.sh sanity:base tests:latest only these legs (LEG = sanity|tests : oldest|base|latest)
#
# Sanity reuses tools/sanity.sh (SANITY_VENV picks the venv). The tests run with the same loopback-only proxies
# as `make pytest`; MATRIX_PYTEST_ARGS (default "-n 2 -q") goes to pytest. Every leg runs even after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

legs=("$@")
if ((${#legs[@]} == 0)); then
    legs=(sanity:oldest sanity:base sanity:latest tests:oldest tests:base tests:latest)
fi
for leg in "${legs[@]}"; do
    [[ $leg =~ ^(sanity|tests):(oldest|base|latest)$ ]] || {
        echo "[matrix] unknown leg '$leg' (use sanity|tests : oldest|base|latest, e.g. tests:oldest)" >&2
        exit 2
    }
done

# What the test legs need on top of ansible-core; .venv has them from tests/requirements-dev.txt.
test_requirements=(pytest pytest-xdist requests msal pyyaml ansible-runner ansible-builder)
test_imports="import pytest, xdist, requests, msal, yaml, ansible_runner, ansible_builder"

# Prints the flavour's venv, building it when needed; prints nothing when the flavour has no venv on this machine.
venv_for() {
    case $1 in
    oldest) tools/venv-oldest.sh || true ;;
    base) echo .venv ;;
    latest) tools/venv-latest.sh ;;
    esac
}

describe() {
    "$1/bin/python" -c 'import sys, ansible.release as r; print("Python %d.%d.%d, ansible-core %s" % (sys.version_info[:3] + (r.__version__,)))'
}

run_sanity() {
    local venv=$1
    # The 3.9 compile/import pass does not depend on the controller's ansible-core: the latest leg runs it once.
    local py39=0
    [[ $venv == .venv-latest ]] && py39=1
    SANITY_VENV="$venv" SANITY_PY39="${SANITY_PY39:-$py39}" tools/sanity.sh
}

run_tests() {
    local venv=$1
    if ! "$venv/bin/python" -c "$test_imports" 2>/dev/null; then
        echo "[matrix] installing ${test_requirements[*]} into $venv"
        "$venv/bin/python" -m pip install --quiet "${test_requirements[@]}"
    fi
    # shellcheck disable=SC2086  # MATRIX_PYTEST_ARGS is a list of arguments
    env HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
        http_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
        "$venv/bin/python" -m pytest ${MATRIX_PYTEST_ARGS:--n 2 -q} tests/integration tests/ecosystem
}

summary=()
failed=0
total_start=$SECONDS
for leg in "${legs[@]}"; do
    kind=${leg%%:*}
    flavour=${leg##*:}
    venv="$(venv_for "$flavour")"
    if [[ $flavour == latest && $venv == .venv ]]; then
        echo "[matrix] $leg: no Python >= 3.12, so no .venv-latest: skipped (the base leg covers .venv)"
        summary+=("$leg: skipped (no .venv-latest)")
        continue
    fi
    if [[ -z $venv ]]; then
        echo "[matrix] $leg: no .venv-oldest (see the message of tools/venv-oldest.sh above)"
        summary+=("$leg: FAILED (no .venv-oldest)")
        failed=1
        continue
    fi
    echo "[matrix] $leg: $venv ($(describe "$venv"))"
    start=$SECONDS
    case $kind in
    sanity) if run_sanity "$venv"; then result=ok; else result=FAILED; fi ;;
    tests) if run_tests "$venv"; then result=ok; else result=FAILED; fi ;;
    esac
    [[ $result == ok ]] || failed=1
    summary+=("$leg: $((SECONDS - start))s $result ($(describe "$venv"))")
done

for line in "${summary[@]}"; do
    echo "[matrix] $line"
done
echo "[matrix] total: $((SECONDS - total_start))s"
exit "$failed"
