"""Fixtures and the end-of-run summary of the reliability and security suite.

Every scenario runs real ansible-playbook (at -vvvv) against the Graph emulator through ``Playbooks``, which also
scans everything those runs printed and wrote for secrets.  Each test fills a ``Tally``; the figures travel in
the test reports (so they survive pytest-xdist) and are summed up in a "reliability summary" section at the end
(and written as JSON to $RELIABILITY_SUMMARY_FILE when set).  The session fails when a figure that must be 0 is
not, whether or not a test assertion caught it.

The summary is printed when the session is started on this directory (``pytest tests/reliability``); under
pytest-xdist the controller only loads this conftest then.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import sys
from collections import Counter

import pytest

from tests.integration import conftest as integration
from tests.integration.secret_scan import find_secrets, playbook_sources
from tests.reliability.checks import ACCESS_TOKEN_PATTERN, MUST_BE_ZERO, emulator_secrets

# The integration suite's fixtures, shared rather than copied: run_playbook (real ansible-playbook against the
# emulator) and execution_path (parametrizes a test over the in-process and the module path).
run_playbook = integration.run_playbook
execution_path = integration.execution_path

SUMMARY_PROPERTY = "reliability"
SUMMARY_FILE_ENV = "RELIABILITY_SUMMARY_FILE"
REPO_ROOT = integration.REPO_ROOT
EMULATOR_CTL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulator_ctl.py")

FIGURES = (
    ("runs", "module runs (task items)"),
    ("converged", "runs converged"),
    ("failed_cleanly", "runs failed cleanly"),
    ("rejected_before_any_request", "bad inputs rejected before any request"),
    ("secret_scans", "secret scans"),
    ("planted_secrets_found", "planted secrets found (scanner self-check)"),
    ("unclean_failures", "unclean or unclear failures"),
    ("wrong_reports", "health or audit reports unlike the tenant"),
    ("lost_or_foreign_writes", "lost or foreign writes"),
    ("duplicate_creates", "duplicate creates"),
    ("budget_violations", "retry budget violations"),
    ("retry_after_violations", "Retry-After violations"),
    ("secret_leaks", "secret leaks"),
)


class Tally:
    """The figures of one scenario (test). Record them before asserting, so that a failing test still counts."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.counts = Counter()
        self.faults = Counter()

    def add(self, name, amount=1):
        self.counts[name] += amount

    def add_faults(self, faults):
        """Fired counts from the emulator's fault list, by kind (status faults by status code)."""
        for fault in faults:
            label = f"status {fault['status']}" if fault["kind"] == "status" else fault["kind"]
            self.faults[label] += fault["fired"]

    def as_dict(self):
        return {"scenario": self.scenario, "counts": dict(self.counts), "faults": dict(self.faults)}


@pytest.fixture
def tally(request):
    recorded = Tally(request.node.nodeid)
    yield recorded
    request.node.user_properties.append((SUMMARY_PROPERTY, recorded.as_dict()))


class Playbooks:
    """Runs playbooks for one test (at -vvvv, remote_tmp inside the test's directory) and scans them for secrets."""

    def __init__(self, run_playbook_fixture, emulator, tmp_path, recorded):
        self._run = run_playbook_fixture
        self.emulator = emulator
        self.tmp_path = tmp_path
        self.tally = recorded
        self.runs = []
        self.remote_tmp = tmp_path / "remote-tmp"
        self.extra_secrets = {}
        self.secret_env = {}
        self.token_caches = []

    def run(self, plays, hosts=("localhost",), env=None, forks=None):
        """Run a full playbook (a list of plays) on local-connection hosts; returns the PlaybookRun."""
        inventory = "".join(
            f"{host} ansible_connection=local ansible_python_interpreter={sys.executable}\n" for host in hosts
        )
        # Each run's token cache in a directory of its own that outlives the run (by default it goes with Ansible's
        # temporary directory), so that scan() can read it and everything around it.
        token_cache = self.tmp_path / f"token-cache-{len(self.runs) + 1}" / "tokens"
        self.token_caches.append(token_cache)
        environment = {"ANSIBLE_REMOTE_TEMP": str(self.remote_tmp), "MSGRAPH_TOKEN_CACHE_DIR": str(token_cache)}
        environment.update(self.secret_env)
        if forks:
            environment["ANSIBLE_FORKS"] = str(forks)
        environment.update(env or {})
        result = self._run(plays, play=False, inventory=inventory, verbosity=4, env=environment)
        self.runs.append(result)
        return result

    def ctl(self, action, payload=None):
        """A shell command that makes one control call; for a per-item ``when:`` (see emulator_ctl.py)."""
        info_file = os.path.join(self.emulator.workdir, "info.json")
        command = f"PYTHONPATH={REPO_ROOT} {sys.executable} {EMULATOR_CTL} {info_file} {action}"
        if payload is not None:
            command += " " + shlex.quote(json.dumps(payload))
        return command

    def add_secret(self, label, value):
        """Scan for this value too."""
        self.extra_secrets[label] = value

    def secret_variable(self, value):
        """The name of an environment variable that will hold ``value`` for the runs.

        Playbooks never hold a secret literally: when a task fails, ansible-core prints the playbook lines around
        it (module_defaults included), which would show a literal secret. Real playbooks take secrets from vault,
        variables or the environment; these take them from the environment.
        """
        for name, known in self.secret_env.items():
            if known == value:
                return name
        name = f"RELIABILITY_SECRET_{len(self.secret_env) + 1}"
        self.secret_env[name] = value
        return name

    def tenant_logins(self, tenants):
        """{tenant id: {client_id, secret_variable}} of seeded tenants (the control API's answer), for a play's
        ``tenants`` variable (checks.TENANT_OF_ITEM); their secrets are scanned for too."""
        logins = {}
        for tenant in tenants:
            self.add_secret(f"client secret of tenant {tenant['tenant_id']}", tenant["client_secret"])
            logins[tenant["tenant_id"]] = {
                "client_id": tenant["client_id"],
                "secret_variable": self.secret_variable(tenant["client_secret"]),
            }
        return logins

    def secret(self, value):
        """A template that yields ``value`` (see secret_variable)."""
        return "{{ lookup('ansible.builtin.env', '" + self.secret_variable(value) + "') }}"

    def connection(self, info, tenant=0, **overrides):
        """Connection options for module_defaults, with the tenant's secret as an environment lookup."""
        creds = info["tenants"][tenant]
        options = {
            "tenant_id": creds["tenant_id"],
            "client_id": creds["client_id"],
            "client_secret": self.secret(creds["client_secret"]),
            "graph_endpoint": info["graph_endpoint"],
            "authority_host": info["authority_host"],
            "ca_path": info["ca_path"],
        }
        options.update(overrides)
        return {key: value for key, value in options.items() if value is not None}

    def scan(self):
        """Scan every run of this test (and the emulator's own log) for every known secret and any access token
        (except in the runs' token caches, which are scanned for secrets only).

        A fresh secret is planted first, raw in a text and base64-encoded in a file of the scanned tree; the scan
        must find both, or its zero is worthless. Returns the real hits.
        """
        known = dict(emulator_secrets(self.emulator.info), **self.extra_secrets)
        planted = "planted-" + secrets.token_urlsafe(24)
        plant_dir = self.tmp_path / "planted"
        plant_dir.mkdir(exist_ok=True)
        (plant_dir / "blob.txt").write_text("x" + base64.b64encode(b"..." + planted.encode()).decode() + "\n")
        texts = {"emulator log": self.emulator.read_log(), "planted text": f"Authorization: {planted}"}
        paths = [plant_dir]
        exclude = []
        for index, run in enumerate(self.runs, 1):
            sources = playbook_sources(run)
            texts.update({f"run{index} {name}": text for name, text in sources["texts"].items()})
            paths.extend(sources["paths"])
            exclude.extend(sources["exclude"])
        if self.remote_tmp.exists():
            paths.append(self.remote_tmp)
        # Access tokens belong in the token caches and nowhere else: around them, tokens and secrets are looked for;
        # in them, secrets only (a cache holds tokens, never a credential).
        cache_files = []
        for token_cache in self.token_caches:
            token_cache.parent.mkdir(parents=True, exist_ok=True)
            paths.append(token_cache.parent)
            cache_files.extend(path for path in token_cache.rglob("*") if path.is_file())
        exclude.extend(cache_files)
        hits = find_secrets(
            dict(known, planted=planted),
            texts=texts,
            paths=paths,
            patterns={"access token": ACCESS_TOKEN_PATTERN},
            exclude=exclude,
        )
        hits.extend(find_secrets(known, paths=cache_files))
        planted_sources = {hit.source for hit in hits if hit.label == "planted"}
        assert "planted text" in planted_sources, "the secret scan missed a planted raw secret"
        assert str(plant_dir / "blob.txt") in planted_sources, "the secret scan missed a planted base64 secret"
        leaks = [hit for hit in hits if hit.label != "planted"]
        self.tally.add("secret_scans")
        self.tally.add("planted_secrets_found", len(planted_sources))
        self.tally.add("secret_leaks", len(leaks))
        return leaks


@pytest.fixture
def playbooks(run_playbook, emulator, tmp_path, tally):  # pylint: disable=redefined-outer-name  # fixtures chain
    return Playbooks(run_playbook, emulator, tmp_path, tally)


# --------------------------------------------------------------------------------------------------------------------
# Summary across the session (controller side under pytest-xdist: reports carry the figures)
# --------------------------------------------------------------------------------------------------------------------

_TALLIES = []


def _is_xdist_worker(config):
    return hasattr(config, "workerinput")


def pytest_runtest_logreport(report):
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == SUMMARY_PROPERTY:
            _TALLIES.append(value)


def _summary():
    counts = Counter()
    faults = Counter()
    for entry in _TALLIES:
        counts.update(entry["counts"])
        faults.update(entry["faults"])
    return {
        "scenarios": len(_TALLIES),
        "figures": {name: counts.get(name, 0) for name, _label in FIGURES},
        "faults_injected": dict(sorted(faults.items())),
        "must_be_zero": {name: counts.get(name, 0) for name in MUST_BE_ZERO},
    }


def pytest_sessionfinish(session):
    if not _TALLIES or _is_xdist_worker(session.config):
        return
    summary = _summary()
    path = os.environ.get(SUMMARY_FILE_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2, sort_keys=True)
    if any(summary["must_be_zero"].values()) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if not _TALLIES or _is_xdist_worker(terminalreporter.config):
        return
    summary = _summary()
    write = terminalreporter.write_line
    terminalreporter.section("reliability summary")
    write(f"scenarios run: {summary['scenarios']}")
    faults = summary["faults_injected"]
    write(f"faults injected: {sum(faults.values())} ({', '.join(f'{k}: {v}' for k, v in faults.items()) or 'none'})")
    for name, label in FIGURES:
        value = summary["figures"][name]
        marker = ""
        if name in MUST_BE_ZERO:
            marker = "  (must be 0)" if value == 0 else "  <-- MUST BE 0"
        write(f"{label}: {value}{marker}")
    bad = [name for name, value in summary["must_be_zero"].items() if value]
    write("verdict: " + ("FAILED (" + ", ".join(bad) + ")" if bad else "all must-be-0 figures are 0"))
