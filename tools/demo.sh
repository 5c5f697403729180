#!/usr/bin/env bash
# `make demo`: run examples/demo.yml against the Graph emulator, seeded with a tenant whose partners drifted
# (examples/demo_seed.json).
#   1. --check --diff shows the drift; it must not send a single write to Graph.
#   2. The real run applies the desired state.
#   3. A second real run must find nothing to do: changed=0 in the recap and no write in the emulator's log.
# Everything shown is Ansible's own output. The emulator is stopped on every exit; the status is non-zero when a
# playbook run fails or a check above does not hold.
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
ansible_playbook=.venv/bin/ansible-playbook
work=.tmp/demo-run
info_file="$work/emulator.json"
log_file="$work/emulator.log"
vars_file="$work/connection.yml"
startup_timeout=${DEMO_STARTUP_TIMEOUT:-30}

# The emulator listens on 127.0.0.1: never send that through a proxy from the environment.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
# Colours when a person watches; plain text (and a recap that grep can read) otherwise.
if [[ -t 1 ]]; then export ANSIBLE_FORCE_COLOR=1; fi

mkdir -p "$work"
rm -f "$info_file" "$vars_file"
# --tenants 0: the seeded tenant is the only one, so it is the one the info file describes.
"$python" tests/emulator/graph_emulator.py --port 0 --info-file "$info_file" --tenants 0 \
    --seed examples/demo_seed.json >"$log_file" 2>&1 &
emulator_pid=$!

stop_emulator() {
    if kill -0 "$emulator_pid" 2>/dev/null; then
        kill -TERM "$emulator_pid"
        wait "$emulator_pid" || echo "[demo] emulator exited with status $? (log: $log_file)" >&2
    fi
    rm -f "$vars_file" # it holds the emulator tenant's client secret
}
trap stop_emulator EXIT

# The emulator writes its info file atomically once it serves: wait for that file (or for the process to die).
deadline=$((SECONDS + startup_timeout))
until [[ -s $info_file ]]; do
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        echo "[demo] emulator exited before it was ready; its log ($log_file):" >&2
        cat "$log_file" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "[demo] emulator not ready after ${startup_timeout}s; its log ($log_file):" >&2
        cat "$log_file" >&2
        exit 1
    fi
    sleep 0.1
done

# emulator_ctl vars|clear-log|requests|writes: the connection variables for the playbook, or the emulator's
# request log (cleared, or counted: Graph requests, or Graph writes).
emulator_ctl() {
    "$python" - "$info_file" "$1" <<'PYTHON'
import json
import sys

from tests.emulator.harness import Control

with open(sys.argv[1], encoding="utf-8") as handle:
    info = json.load(handle)
command = sys.argv[2]
if command == "vars":
    variables = {
        "intune_tenant_id": info["tenant_id"],
        "intune_client_id": info["client_id"],
        "intune_client_secret": info["client_secret"],
        "intune_graph_endpoint": info["graph_endpoint"],
        "intune_authority_host": info["authority_host"],
        "intune_ca_path": info["ca_path"],
    }
    print(json.dumps(variables, indent=2))  # JSON is YAML, and quotes every value safely
    sys.exit(0)
control = Control(info)
if command == "clear-log":
    control.clear_log()
elif command == "requests":
    print(sum(entry["kind"] == "graph" for entry in control.log()))
elif command == "writes":
    print(len(control.writes()))
else:
    sys.exit(f"unknown command {command}")
PYTHON
}

(
    umask 077
    emulator_ctl vars >"$vars_file"
)
graph_endpoint="$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["graph_endpoint"])' "$info_file")"
echo "[demo] Graph emulator ready (pid $emulator_pid) at $graph_endpoint, tenant contoso.onmicrosoft.com seeded from examples/demo_seed.json"

run_playbook() {
    local output=$1
    shift
    "$ansible_playbook" -i examples/demo_inventory.yml examples/demo.yml -e "@$vars_file" "$@" | tee "$output"
}

echo
echo "[demo] 1/3: check mode with --diff: what would change (nothing is written)"
emulator_ctl clear-log
run_playbook "$work/check.log" --check --diff
check_requests="$(emulator_ctl requests)"
check_writes="$(emulator_ctl writes)"
echo "[demo] check run: $check_requests Graph requests, $check_writes of them writes"
if ((check_writes != 0)); then
    echo "[demo] FAILED: the check run sent $check_writes write request(s) to Graph" >&2
    exit 1
fi
if ((check_requests == 0)); then
    echo "[demo] FAILED: the check run did not read Graph at all" >&2
    exit 1
fi

echo
echo "[demo] 2/3: apply"
emulator_ctl clear-log
run_playbook "$work/apply.log" --diff
echo "[demo] apply run: $(emulator_ctl writes) write request(s)"

echo
echo "[demo] 3/3: apply again: nothing left to change"
emulator_ctl clear-log
run_playbook "$work/again.log"
again_writes="$(emulator_ctl writes)"
recap="$(sed 's/\x1b\[[0-9;]*m//g' "$work/again.log" | grep -E '^localhost[[:space:]]+:' || true)"
if ! grep -qE '[[:space:]]changed=0[[:space:]]' <<<"$recap"; then
    echo "[demo] FAILED: the second apply changed something: ${recap:-no recap found}" >&2
    exit 1
fi
if ((again_writes != 0)); then
    echo "[demo] FAILED: the second apply sent $again_writes write request(s) to Graph" >&2
    exit 1
fi
echo "[demo] second apply: changed=0 and no write request"

stop_emulator
trap - EXIT
echo "[demo] emulator stopped; demo passed"
