#!/usr/bin/env bash
# Import time of a device_management_partner module process at start-up, measured with `python -X importtime`:
# once as a task with auth_method=access_token runs (msal is never imported), once with msal added, as every other
# auth method imports it for its first token request.
#
# Usage: tools/import_time.sh            (environment: PYTHON=.venv/bin/python RUNS=9)
# The two variants run alternately, RUNS times each after one warm-up run each (.pyc compilation, file caches), so
# that a change in machine load affects both alike; medians and minimums are printed. Only the imports made by the
# measured statements count: the interpreter's own start-up imports (site, encodings) are shown apart.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
runs="${RUNS:-9}"
collections=.collections
if [[ ! -e $collections/ansible_collections/msgraph/intune ]]; then
    echo "import_time: $collections/ansible_collections/msgraph/intune is missing; run 'make venv' first" >&2
    exit 1
fi

module="ansible_collections.msgraph.intune.plugins.modules.device_management_partner"
# A marker line on stderr separates the interpreter's start-up imports from those of the measured statements.
start_marker='import sys; sys.stderr.write("IMPORT-TIME-START\n");'
access_token_code="$start_marker import $module; assert 'msal' not in sys.modules, 'msal imported at start-up'"
msal_code="$start_marker import $module; import msal"

parser='
import sys

# Lines look like "import time:  <self us> | <cumulative us> | <name>", the name indented by nesting depth. The
# top-level entries add up to everything a statement imported.
startup = measured = msal = 0
after_marker = False
with open(sys.argv[1], encoding="utf-8") as handle:
    for line in handle:
        if line.startswith("IMPORT-TIME-START"):
            after_marker = True
            continue
        if not line.startswith("import time:") or "cumulative" in line:
            continue  # the header line, or anything else the interpreter wrote
        fields = line.split(":", 1)[1].split("|")
        cumulative, name = int(fields[1]), fields[2].rstrip("\n")
        if name.startswith("  "):  # nested: already counted in its top-level parent
            continue
        if after_marker:
            measured += cumulative
            if name.strip() == "msal":
                msal = cumulative
        else:
            startup += cumulative
print(f"{startup / 1000:.1f} {measured / 1000:.1f} {int(sys.argv[2]) / 1000:.1f} {msal / 1000:.1f}")
'

report='
import statistics, sys

rows = {}
for line in sys.stdin:
    if line.strip():
        variant, *values = line.split()
        rows.setdefault(variant, []).append([float(value) for value in values])


def column(variant, index):
    return [row[index] for row in rows[variant]]


runs, versions = sys.argv[1:3]
print(f"Start-up imports of msgraph.intune.device_management_partner (python -X importtime, {runs} runs each)")
print(f"  {versions}")
header = ("", "imports median / min", "process wall (median)")
print(f"  {header[0]:46} {header[1]:>23} {header[2]:>22}")
labels = {
    "access_token": "auth_method=access_token (msal not imported)",
    "msal": "any other auth method (+ import msal)",
}
for variant, label in labels.items():
    imports = column(variant, 1)
    wall = statistics.median(column(variant, 2))
    print(f"  {label:46} {statistics.median(imports):9.1f} / {min(imports):6.1f} ms {wall:19.1f} ms")
share = column("msal", 3)  # the cumulative time of the "import msal" statement itself
label = "of which import msal (after the module)"
print(f"  {label:46} {statistics.median(share):9.1f} / {min(share):6.1f} ms")
startup = statistics.median(column("access_token", 0))
label = "interpreter start-up imports (not included)"
print(f"  {label:46} {startup:9.1f} ms")
'

# Prints "<start-up ms> <measured ms> <process wall ms> <msal ms>" for one run of the given Python code.
measure() {
    local code=$1 stderr_file started ended
    stderr_file="$(mktemp)"
    started=$(date +%s%N)
    if ! PYTHONPATH="$collections" "$python" -X importtime -c "$code" 2>"$stderr_file"; then
        grep -v '^import time:' "$stderr_file" >&2 || true
        rm -f "$stderr_file"
        return 1
    fi
    ended=$(date +%s%N)
    "$python" -c "$parser" "$stderr_file" "$(((ended - started) / 1000))"
    rm -f "$stderr_file"
}

measure "$access_token_code" >/dev/null
measure "$msal_code" >/dev/null
versions="$("$python" -c 'import sys, ansible.release, msal, requests
print("Python %d.%d.%d, ansible-core %s, requests %s, msal %s" % (
    sys.version_info[:3] + (ansible.release.__version__, requests.__version__, msal.__version__)))')"
results=""
for ((i = 0; i < runs; i++)); do
    without_msal="$(measure "$access_token_code")"
    with_msal="$(measure "$msal_code")"
    results+="access_token $without_msal"$'\n'"msal $with_msal"$'\n'
done
printf '%s' "$results" | "$python" -c "$report" "$runs" "$versions"
