#!/usr/bin/env bash
# Demo: start the Graph emulator on a free loopback port, wait until it serves, print its endpoint, stop it.
# Extend below the "demo steps" marker (e.g. run an example playbook against "$graph_endpoint").
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
demo_dir=.tmp/demo
info_file="$demo_dir/emulator.json"
log_file="$demo_dir/emulator.log"
startup_timeout=${DEMO_STARTUP_TIMEOUT:-30}

mkdir -p "$demo_dir"
rm -f "$info_file"
"$python" tests/emulator/graph_emulator.py --port 0 --info-file "$info_file" >"$log_file" 2>&1 &
emulator_pid=$!

stop_emulator() {
    if kill -0 "$emulator_pid" 2>/dev/null; then
        kill -TERM "$emulator_pid"
        wait "$emulator_pid" || echo "[demo] emulator exited with status $? (log: $log_file)" >&2
    fi
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

graph_endpoint="$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["graph_endpoint"])' "$info_file")"
echo "[demo] Graph emulator ready (pid $emulator_pid): graph endpoint $graph_endpoint"
echo "[demo] connection details: $info_file"

# --- demo steps ---

stop_emulator
trap - EXIT
echo "[demo] emulator stopped"
