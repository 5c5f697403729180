#!/usr/bin/env bash
# `make publish-check`: build the collection tarball as a release does (`ansible-galaxy collection build` in this
# checkout, build_ignore applies) and run galaxy-importer on it: the checks Galaxy and Automation Hub run on every
# upload, with the settings in tools/galaxy-importer.cfg (no ansible-test, no container, ansible-lint on).
# Fails when the importer fails, prints an error or warning line (ansible-lint findings are warning lines), or does
# not end on its success line. The importer's full output is kept in .tmp/publish-check/importer.log.
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root="$PWD"
venv_bin="$repo_root/${VENV:-.venv}/bin"
work="$repo_root/.tmp/publish-check"

rm -rf "$work"
mkdir -p "$work/dist" "$work/ansible-tmp"
"$venv_bin/ansible-galaxy" collection build --output-path "$work/dist"
tarballs=("$work"/dist/*.tar.gz)
tarball=${tarballs[0]}

status=0
# Run in $work: the importer writes importer_result.json into its working directory. Its ansible-lint and
# ansible-doc calls are looked up on PATH: the venv's.
(
    cd "$work"
    GALAXY_IMPORTER_CONFIG="$repo_root/tools/galaxy-importer.cfg" GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="$work/ansible-tmp" \
        PATH="$venv_bin:$PATH" "$venv_bin/python" -m galaxy_importer.main "$tarball"
) >"$work/importer.log" 2>&1 || status=$?
cat "$work/importer.log"

# Logger lines start with their level; Python warnings and exceptions read "<Name>Warning:" / "<Name>Error:".
findings="$(grep -nE '^(WARNING|ERROR|CRITICAL)\b|[A-Za-z](Warning|Error):|^Traceback' "$work/importer.log" || true)"
if ((status != 0)); then
    echo "[publish-check] FAILED: galaxy-importer exited with status $status" >&2
elif [[ -n $findings ]]; then
    echo "[publish-check] FAILED: galaxy-importer reported errors or warnings:" >&2
    echo "$findings" >&2
    status=1
elif [[ "$(tail -n 1 "$work/importer.log")" != "Importer processing completed successfully" ]]; then
    echo "[publish-check] FAILED: galaxy-importer did not report success" >&2
    status=1
else
    echo "[publish-check] $(basename "$tarball"): imported with no error and no warning"
fi
exit "$status"
