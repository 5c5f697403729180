#!/usr/bin/env bash
# Print the path of a CPython interpreter, or exit 1 when none fits.
#   tools/pick-python.sh            newest Python >= 3.12 (for the ansible-core used by sanity)
#   tools/pick-python.sh 3.9        newest Python 3.9.x
# Looks at pyenv's installed versions first, then pythonX.Y on PATH. Every candidate is run once,
# because pyenv shims exist on PATH even for versions that are not selected (and then fail).
set -euo pipefail

exact="${1:-}"
min_minor=12

candidates=()
if command -v pyenv >/dev/null 2>&1; then
    pyenv_root="$(pyenv root)"
    while IFS= read -r version; do
        # Plain CPython releases only: skips virtualenvs, -dev builds, pypy and the like.
        [[ $version =~ ^3\.[0-9]+\.[0-9]+$ ]] || continue
        candidates+=("$pyenv_root/versions/$version/bin/python3")
    done < <(pyenv versions --bare 2>/dev/null || true)
fi
if [[ -n $exact ]]; then
    names=("python$exact")
else
    names=(python3.14 python3.13 python3.12)
fi
for name in "${names[@]}"; do
    if path="$(command -v "$name")"; then
        candidates+=("$path")
    fi
done

best_path=""
best_version=""
for candidate in "${candidates[@]}"; do
    [[ -x $candidate ]] || continue
    version="$("$candidate" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" || continue
    minor="${version#3.}"
    minor="${minor%%.*}"
    if [[ -n $exact ]]; then
        [[ $version == "$exact".* ]] || continue
    else
        ((minor >= min_minor)) || continue
    fi
    if [[ -z $best_version || "$(printf '%s\n%s\n' "$best_version" "$version" | sort -V | tail -n 1)" != "$best_version" ]]; then
        best_path="$candidate"
        best_version="$version"
    fi
done

[[ -n $best_path ]] || exit 1
echo "$best_path"
