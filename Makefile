# Development entry points for msgraph.intune. Run `make help` for the list.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.stamp-requirements-dev
DEV_REQUIREMENTS := tests/requirements-dev.txt
COLLECTION_LINK := .collections/ansible_collections/msgraph/intune
PYTEST_ARGS ?= -n 2
# Stages of `make test`, in order; add new sub-targets here.
TEST_STAGES ?= lint sanity pytest docs-lint publish-check matrix-extra

# pytest runs with proxies on a closed loopback port: a request that escapes the emulator (to a Microsoft host,
# or to 169.254.169.254) fails at once instead of leaving the machine. Only the pytest recipe gets these;
# venv creation and sanity need the package registry.
LOOPBACK_ONLY_ENV := HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
	https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
	NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

.PHONY: help venv venv-latest venv-oldest lint sanity pytest test demo clean import-time docs-lint publish-check matrix \
	matrix-extra bench bench-scale bench-baseline test-reliability browser bench-report report-screenshot

help:
	@echo "make venv      create/refresh $(VENV) (PYTHON=$(PYTHON)) and the .collections link"
	@echo "make lint      ruff check, ruff format --check, ansible-lint (production profile), modules' EXAMPLES"
	@echo "make sanity    ansible-test sanity --venv with the newest ansible-core (.venv-latest)"
	@echo "make pytest    the pytest suites under tests/ (loopback-only proxies); needs make browser"
	@echo "make browser   install Debian's chromium for tests/browser/ when /usr/bin/chromium is missing (as root)"
	@echo "make test      venv + $(TEST_STAGES), with timings"
	@echo "make demo      examples/demo.yml against the Graph emulator: check + diff, apply, apply again (changed=0)"
	@echo "make test-reliability  faults, throttling, bad input and secret scans through ansible-playbook (~3 min)"
	@echo "make docs-lint antsibull-docs lint-collection-docs --plugin-docs, antsibull-changelog lint"
	@echo "make publish-check  build the tarball and run galaxy-importer on it (Galaxy's and Automation Hub's checks)"
	@echo "make matrix    sanity + tests/integration + tests/ecosystem on .venv-oldest (2.16), .venv (2.19), .venv-latest"
	@echo "make bench     msgraph.intune vs ansible.builtin.uri vs the request floor on the emulator (BENCH_ARGS=...)"
	@echo "make bench-scale  the baseline role's audit of 1,000 tenants, forks 10: wall, CPU, memory per worker, round trips"
	@echo "make bench-baseline  the role's audit (drift + health) of 50 tenants vs the same audit with ansible.builtin.uri"
	@echo "make bench-report  report.html of 500 tenants: size, templating, load and filter times in Chromium"
	@echo "make report-screenshot  regenerate docs/images/report*.png from the demo data"
	@echo "make import-time  module start-up import time with and without msal"
	@echo "make clean     remove venvs, caches and test output"

venv: $(VENV_STAMP) $(COLLECTION_LINK)

# Re-installs only when the requirement list changes; works over an existing venv as well as from nothing.
$(VENV_STAMP): $(DEV_REQUIREMENTS)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -r $(DEV_REQUIREMENTS)
	@touch $@

# Lets ansible-playbook (via ansible.cfg) and ansible-lint resolve msgraph.intune.* from the working tree.
$(COLLECTION_LINK):
	@mkdir -p $(@D)
	@ln -sfn ../../.. $@

venv-latest:
	@tools/venv-latest.sh >/dev/null

venv-oldest:
	@tools/venv-oldest.sh >/dev/null

# Every linter runs even when an earlier one fails, so that one run reports everything.
# ansible-lint wants its venv's bin/ on PATH (it warns and adds it itself otherwise).
lint: venv
	@status=0; \
	echo "ruff check ."; $(VENV)/bin/ruff check . || status=1; \
	echo "ruff format --check ."; $(VENV)/bin/ruff format --check . || status=1; \
	echo "ansible-lint"; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/ansible-lint || status=1; \
	echo "lint_examples"; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python tools/lint_examples.py || status=1; \
	exit $$status

sanity: venv
	tools/sanity.sh

# The browser tests (tests/browser/) drive Debian's Chromium; installed only when missing, so a fresh machine gets it
# as root (as CI runs) and elsewhere this fails loudly instead of the tests skipping.
browser:
	@if [[ ! -x /usr/bin/chromium ]]; then \
		if [[ $$(id -u) -ne 0 ]]; then \
			echo "make browser: /usr/bin/chromium is missing; as root: apt-get install -y chromium" >&2; exit 1; \
		fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

# The output is also kept in .tmp/pytest.log, so that `make test` can end on pytest's summary line.
pytest: venv browser
	@mkdir -p .tmp
	$(LOOPBACK_ONLY_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS) --ignore=tests/reliability 2>&1 | tee .tmp/pytest.log

# Times every stage. A failed venv stops at once; later stages all run even after a failure (one run shows
# every problem), and the target fails if any did. On success it ends on pytest's own summary line, since CI
# reads the closing line to count the tests.
test:
	@rm -f .tmp/pytest.log; failed=""; total_start=$$(date +%s); \
	for stage in venv $(TEST_STAGES); do \
		start=$$(date +%s); \
		if $(MAKE) --no-print-directory $$stage; then result=ok; else result=FAILED; failed="$$failed $$stage"; fi; \
		echo "[make test] $$stage: $$(( $$(date +%s) - start ))s $$result"; \
		if [[ $$stage == venv && -n $$failed ]]; then break; fi; \
	done; \
	echo "[make test] total: $$(( $$(date +%s) - total_start ))s"; \
	if [[ -s .tmp/pytest.log ]]; then echo "[make test] pytest summary:"; tail -n 1 .tmp/pytest.log; fi; \
	if [[ -n $$failed ]]; then echo "[make test] FAILED:$$failed"; exit 1; fi

demo: venv
	tools/demo.sh

import-time: venv
	tools/import_time.sh

docs-lint: venv
	tools/docs_lint.sh

publish-check: venv
	tools/publish_check.sh

# All six legs: {sanity, tests} x {.venv-oldest, .venv, .venv-latest}, with a wall time per leg.
matrix: venv
	tools/matrix.sh

# The legs that make test's sanity (newest core) and pytest (.venv) stages do not already run.
matrix-extra: venv
	tools/matrix.sh sanity:oldest tests:oldest sanity:base tests:latest

# The reliability and security suite (tests/reliability/): throttling storms, random faults, lost answers,
# concurrent edits, token expiry, bad and odd input, TLS, all at -vvvv with secret scans. Ends with its
# "reliability summary" (also written to .tmp/reliability-summary.json) and fails when a must-be-0 figure is not 0.
test-reliability: venv
	@mkdir -p .tmp
	$(LOOPBACK_ONLY_ENV) RELIABILITY_SUMMARY_FILE=.tmp/reliability-summary.json \
		$(VENV)/bin/pytest tests/reliability -n 2

BENCH_ARGS ?=
bench: venv
	$(LOOPBACK_ONLY_ENV) $(VENV)/bin/python benchmarks/run_bench.py $(BENCH_ARGS)

bench-scale: venv
	$(LOOPBACK_ONLY_ENV) $(VENV)/bin/python benchmarks/bench_baseline.py --scale $(BENCH_ARGS)

bench-baseline: venv
	$(LOOPBACK_ONLY_ENV) $(VENV)/bin/python benchmarks/bench_baseline.py $(BENCH_ARGS)

bench-report: venv browser
	$(LOOPBACK_ONLY_ENV) PYTHONPATH=$(CURDIR) $(VENV)/bin/python benchmarks/bench_report.py $(BENCH_ARGS)

report-screenshot: venv browser
	$(LOOPBACK_ONLY_ENV) PYTHONPATH=$(CURDIR) $(VENV)/bin/python tools/report_screenshot.py

clean:
	rm -rf $(VENV) .venv-latest .venv-oldest .collections .ansible .tmp .cache .pytest_cache .ruff_cache tests/output
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
