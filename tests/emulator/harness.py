"""Start and drive the Graph emulator from tests.

Typical use::

    from tests.emulator.harness import start_emulator

    with start_emulator("--page-size", "1") as emu:
        emu.info["graph_endpoint"]          # https://127.0.0.1:PORT
        token = emu.access_token()          # client-credentials token of the first tenant
        emu.control.add_fault(method="GET", path="deviceManagementPartners", kind="status", status=429)
        emu.control.writes()                # Graph POST/PATCH/DELETE requests seen so far

``info`` is the emulator's info file (see graph_emulator.py); ``control`` wraps the ``/_emulator`` control API
(emulator_control.py describes it; the log's fields are in emulator_state.py, the faults' in emulator_faults.py).
Every HTTP call made here passes ``verify=<the emulator CA>`` explicitly, because REQUESTS_CA_BUNDLE would
otherwise override a session-level ``verify``; sessions also ignore proxy environment variables.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import requests

EMULATOR_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph_emulator.py")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_WRITE_METHODS = ("POST", "PATCH", "DELETE")


class CASession(requests.Session):
    """A requests session that always verifies TLS against one CA bundle and never uses proxies.

    ``verify`` is forced on every request (REQUESTS_CA_BUNDLE would win over ``Session.verify``), which also makes
    it usable as msal's ``http_client``.
    """

    def __init__(self, ca_path):
        super().__init__()
        self.ca_path = ca_path
        self.trust_env = False  # no proxies from the environment: the emulator is on loopback

    def request(self, method, url, *args, **kwargs):  # pylint: disable=signature-differs,arguments-differ
        kwargs["verify"] = self.ca_path
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)


class Control:
    """Client for the emulator control API (``info["control_url"]``); every method returns the decoded JSON."""

    def __init__(self, info, session=None):
        self.info = info
        self.url = info["control_url"]
        self.ca_path = info["ca_path"]
        self.session = session or CASession(self.ca_path)

    def _call(self, method, path, body=None):
        response = self.session.request(method, f"{self.url}/{path}", json=body, verify=self.ca_path)
        if response.status_code != 200:
            raise AssertionError(f"control {method} /{path} failed: {response.status_code} {response.text}")
        return response.json()

    def log(self):
        """All logged (non-control) requests, oldest first: a batch's entry (kind batch) and each of its
        sub-requests (kind graph, ``batch_seq`` = the batch's seq) included."""
        return self._call("GET", "log")["requests"]

    def clear_log(self):
        return self._call("DELETE", "log")

    def writes(self):
        """Logged Graph requests with method POST, PATCH or DELETE (sub-requests of batches included)."""
        return [entry for entry in self.log() if entry["kind"] == "graph" and entry["method"] in _WRITE_METHODS]

    def state(self, collection=None):
        """``{tenant_id: [object, ...]}`` as Graph would return them: the device management partners, or the objects
        of ``collection`` (any seed key, e.g. complianceManagementPartners, groups or vppTokens); a singleton kind
        (e.g. applePushNotificationCertificate) gives ``{tenant_id: object or None}``."""
        return self._call("GET", f"state/{collection}" if collection else "state")["tenants"]

    def reset(self):
        """Seeded state, CLI config; no faults, mutations, log or stats."""
        return self._call("POST", "reset")

    def seed(self, mapping):
        """Replace the partners of the named tenants (creating unknown tenants); returns all tenants' credentials.

        ``mapping`` is ``{tenant_id: [partners]}`` or ``{tenant_id: {seed key: [objects] (a singleton kind: an
        object or None)}}`` (only the named kinds are replaced); the two shapes may be mixed.
        """
        return self._call("POST", "seed", mapping)

    def seed_collections(self, tenant_id, **collections):
        """Replace the named collections of one tenant, e.g. ``seed_collections(tid, groups=[...])``."""
        return self._call("POST", "seed", {tenant_id: collections})

    def config(self, **values):
        """Set any of page_size, patch_status, token_lifetime, batch (True, or 404/405/501: $batch not served) and
        batch_shuffle_seed; returns the whole config."""
        return self._call("POST", "config", values)

    def get_config(self):
        return self._call("GET", "config")

    def add_fault(self, **spec):
        """Add a fault (method, path regex, kind, status, retry_after, latency, times, probability, seed, scope:
        any|single|batched); returns its id."""
        return self._call("POST", "faults", spec)["id"]

    def faults(self):
        """Faults with their ``fired`` counts."""
        return self._call("GET", "faults")["faults"]

    def clear_faults(self):
        return self._call("DELETE", "faults")

    def add_mutation(self, **spec):
        """Add a mutation (method, path regex, tenant, collection, id, set, times); returns its id."""
        return self._call("POST", "mutations", spec)["id"]

    def clear_mutations(self):
        return self._call("DELETE", "mutations")

    def expire_tokens(self):
        return self._call("POST", "expire-tokens")

    def federated_token(self, tenant_id, client_id):
        """A workload-identity token the emulator accepts as ``client_assertion`` for that app registration."""
        return self._call("POST", "federated-token", {"tenant_id": tenant_id, "client_id": client_id})["token"]

    def stats(self):
        return self._call("GET", "stats")


class Emulator:
    """A running emulator process: ``info``, ``control``, ``stop()``; also a context manager."""

    def __init__(self, process, info, workdir, log_path, owns_workdir):
        self.process = process
        self.info = info
        self.workdir = workdir
        self.log_path = log_path
        self._owns_workdir = owns_workdir
        self.session = CASession(info["ca_path"])
        self.control = Control(info, self.session)

    @property
    def ca_path(self):
        return self.info["ca_path"]

    def tenant(self, index=0):
        """``{tenant_id, client_id, client_secret}`` of the index-th tenant."""
        return self.info["tenants"][index]

    def access_token(self, index=0, scope=GRAPH_SCOPE):
        """Get a client-credentials token for the index-th tenant with plain requests."""
        tenant = self.tenant(index)
        response = self.session.post(
            f"{self.info['authority_host']}/{tenant['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": tenant["client_id"],
                "client_secret": tenant["client_secret"],
                "scope": scope,
            },
            verify=self.ca_path,
        )
        if response.status_code != 200:
            raise AssertionError(f"token request failed: {response.status_code} {response.text}")
        return response.json()["access_token"]

    def read_log(self):
        """The emulator's stdout/stderr so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    @property
    def running(self):
        return self.process.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, wait, and assert a clean exit (status 0)."""
        self.session.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"emulator did not stop within {timeout}s:\n{self.read_log()}") from None
        status = self.process.returncode
        if status != 0:
            raise AssertionError(f"emulator exited with {status}:\n{self.read_log()}")
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return status

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def start_emulator(*args, env=None, timeout=15, workdir=None):
    """Start graph_emulator.py with extra CLI ``args`` and wait until its info file exists.

    ``env`` holds variables added to (or, with value None, removed from) the current environment.  The process
    output goes to ``<workdir>/emulator.log``; ``workdir`` defaults to a fresh temporary directory that is deleted by
    a clean ``stop()``.  Raises RuntimeError (with the emulator output) if it exits or is not ready in time.
    """
    owns_workdir = workdir is None
    workdir = tempfile.mkdtemp(prefix="graph-emulator-run-") if owns_workdir else workdir
    info_path = os.path.join(workdir, "info.json")
    log_path = os.path.join(workdir, "emulator.log")
    environment = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    command = [sys.executable, EMULATOR_SCRIPT, "--port", "0", "--info-file", info_path, *[str(a) for a in args]]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # it outlives this function by design
            command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, env=environment
        )
    deadline = time.monotonic() + timeout
    while not os.path.exists(info_path):
        if process.poll() is not None:
            output = _read(log_path)
            raise RuntimeError(f"emulator exited with {process.returncode} before it was ready:\n{output}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"emulator not ready within {timeout}s:\n{_read(log_path)}")
        time.sleep(0.02)  # polling a file's existence; the deadline above bounds the wait
    with open(info_path, encoding="utf-8") as handle:
        info = json.load(handle)  # complete: the emulator writes it with os.replace()
    return Emulator(process, info, workdir, log_path, owns_workdir)


def _read(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()
