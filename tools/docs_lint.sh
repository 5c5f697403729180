#!/usr/bin/env bash
# Lint the collection's documentation and changelog; exit non-zero on any finding.
#   - antsibull-docs lint-collection-docs --plugin-docs: plugin DOCUMENTATION/EXAMPLES/RETURN schema and markup,
#     references (O(), RV(), M(), ...) to this collection and to ansible.builtin, extra docs (docs/docsite/ if any)
#   - antsibull-changelog lint: the fragments in changelogs/fragments/
#   - antsibull-changelog lint-changelog-yaml: changelogs/changelog.yaml
# The collection is resolved through .collections/ (the link `make venv` creates), without any ansible.cfg.
# Every check runs even when an earlier one fails, so one run reports everything.
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root="$PWD"
venv_bin="$(cd "${VENV:-.venv}/bin" && pwd)"

if [[ ! -e .collections/ansible_collections/msgraph/intune/galaxy.yml ]]; then
    echo "[docs-lint] .collections/ansible_collections/msgraph/intune is missing: run 'make venv' first" >&2
    exit 2
fi
# antsibull-docs runs ansible-doc and ansible from PATH: use the venv's.
export PATH="$venv_bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$repo_root/.collections"
unset ANSIBLE_CONFIG

status=0
start=$SECONDS
echo "[docs-lint] antsibull-docs lint-collection-docs --plugin-docs"
antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs=all \
    --disallow-unknown-collection-refs --check-extra-docs-refs . || status=1
echo "[docs-lint] antsibull-changelog lint"
antsibull-changelog lint || status=1
echo "[docs-lint] antsibull-changelog lint-changelog-yaml --strict"
antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml || status=1
if ((status == 0)); then result=ok; else result=FAILED; fi
echo "[docs-lint] $((SECONDS - start))s $result"
exit "$status"
