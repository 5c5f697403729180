#!/usr/bin/env bash
# Run `ansible-test sanity --venv` on a copy of the collection, with the newest ansible-core available.
# ansible-test refuses symlinked collection paths (like .collections/), so the collection is copied to
# .tmp/sanity/ansible_collections/msgraph/intune first: tracked files plus untracked files that git does not ignore.
# Extra arguments go to every ansible-test call (e.g. `tools/sanity.sh --test pep8`).
# SANITY_PY39=0 skips the extra compile/import run on Python 3.9 (the oldest target Python the modules support).
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root="$PWD"

# No sanity ignore entries, ever: fix the finding instead.
shopt -s nullglob
for ignore_file in tests/sanity/ignore-*.txt; do
    if grep -qvE '^[[:space:]]*(#.*)?$' "$ignore_file"; then
        echo "[sanity] $ignore_file has entries; sanity findings must be fixed, not ignored" >&2
        exit 1
    fi
done
shopt -u nullglob

# SANITY_VENV runs sanity with another venv's ansible-core (tools/matrix.sh uses .venv for ansible-core 2.19).
venv="${SANITY_VENV:-$(tools/venv-latest.sh)}"
python_version="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
core_version="$("$venv/bin/python" -c 'import ansible.release; print(ansible.release.__version__)')"
echo "[sanity] using $venv: Python $python_version ($("$venv/bin/python" -c 'import sys; print(sys.executable)')), ansible-core $core_version"

"$venv/bin/python" tools/seed_get_pip.py

work=.tmp/sanity
collection="$work/ansible_collections/msgraph/intune"
rm -rf "$collection"
mkdir -p "$collection"
# ls-files also lists tracked files deleted from the working tree: copy only what exists.
git ls-files -z -co --exclude-standard |
    while IFS= read -r -d '' file; do
        if [[ -e $file || -L $file ]]; then printf '%s\0' "$file"; fi
    done |
    tar --null --files-from=- -cf - | tar -xf - -C "$collection"
# A repository of its own: ansible-test then takes the file list from git, and does not see /work/main's .git.
git -C "$collection" init --quiet
git -C "$collection" add --all
git -C "$collection" -c user.name=sanity -c user.email=sanity@localhost -c commit.gpgsign=false \
    commit --quiet --no-verify --message "sanity snapshot"

cd "$collection"
ansible_test="$repo_root/$venv/bin/ansible-test"
# Tools installed in the venv (shellcheck) are looked up on PATH.
export PATH="$repo_root/$venv/bin:$PATH"
status=0
start=$SECONDS
"$ansible_test" sanity --venv --python "$python_version" --color no "$@" || status=$?
echo "[sanity] Python $python_version, all tests: $((SECONDS - start))s"

if [[ ${SANITY_PY39:-1} != 0 && $python_version != 3.9 ]]; then
    if python39="$("$repo_root/tools/pick-python.sh" 3.9)"; then
        # ansible-test looks for python3.9 on PATH; pyenv's shim is there but fails unless 3.9 is selected.
        bin_dir="$repo_root/$work/bin"
        mkdir -p "$bin_dir"
        ln -sfn "$python39" "$bin_dir/python3.9"
        echo "[sanity] compile + import on Python 3.9 ($python39)"
        start=$SECONDS
        PATH="$bin_dir:$PATH" "$ansible_test" sanity --venv --python 3.9 --test compile --test import --color no "$@" ||
            status=$?
        echo "[sanity] Python 3.9, compile + import: $((SECONDS - start))s"
    else
        echo "[sanity] no Python 3.9 found: skipped compile/import on 3.9"
    fi
fi
exit "$status"
