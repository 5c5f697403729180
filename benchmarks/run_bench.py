# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of msgraph.intune.device_management_partner against the Graph emulator (see benchmarks/README.md).

Run with the venv's Python from the repository root::

    .venv/bin/python benchmarks/run_bench.py                  # make bench: module vs uri vs floor

It ends on the line ``ratio module/uri=X.XX module/floor=Y.YY tasks/uri=Z.ZZ tokens=T`` (tasks: the module variant's
job as one task per partner; T: the most token requests one of its runs made). Every run is checked (exit status,
converged state, one GET per partner, one PATCH per drifted partner) and the script exits 1 if any run was broken, so
that a broken run is never reported as a time. make bench-baseline and make bench-scale are bench_baseline.py, which
uses this file's emulator, environment and process helpers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid

import requests

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
VENV_BIN = os.path.dirname(sys.executable)
WRAPPER = os.path.join(BENCH_DIR, "counting-python.sh")
CALLBACK_DIR = os.path.join(BENCH_DIR, "callback_plugins")
DEFAULT_RESULTS = os.path.join(BENCH_DIR, "results")

# Variant name -> (playbook, extra environment). module_forced is the module process path of the same playbook.
# tasks.yml is written per invocation (write_tasks_playbook): one task per partner, as many as --partners.
VARIANTS = {
    "module": ("module.yml", {}),
    "tasks": ("tasks.yml", {}),
    "tasks_uncached": ("tasks.yml", {"MSGRAPH_TOKEN_CACHE": "false"}),  # every task signs in by itself
    "uri": ("uri.yml", {}),
    "floor": ("floor.yml", {}),
    "module_forced": ("module.yml", {"MSGRAPH_INTUNE_FORCE_MODULE": "1"}),
    "baseline": ("baseline.yml", {}),
}
TARGETS = {"uri": 0.4, "floor": 0.8}  # module/<variant> must be at most this

# Graph camelCase names of the properties every benchmark partner manages (lastHeartbeatDateTime is the service's).
PROPERTY_NAMES = (
    "displayName",
    "partnerState",
    "partnerAppType",
    "singleTenantAppId",
    "isConfigured",
    "whenPartnerDevicesWillBeRemovedDateTime",
    "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime",
)
# Property -> a value that differs from the desired one, for drifted partners.
DRIFTS = {
    "displayName": lambda value: value + " (old name)",
    "partnerState": lambda value: "unresponsive",
    "partnerAppType": lambda value: "multiTenantApp",
    "singleTenantAppId": lambda value: str(uuid.uuid5(uuid.NAMESPACE_URL, value)),
    "isConfigured": lambda value: not value,
    "whenPartnerDevicesWillBeRemovedDateTime": lambda value: "2026-06-30T00:00:00.0000000Z",
    "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": lambda value: "2026-05-31T23:59:59.9999999Z",
}
ID_NAMESPACE = uuid.UUID("5d1f2c3e-8a4b-4f6e-9c0d-2b7a1e3f4c5d")  # fixed: the same partner ids on every run
LOOPBACK_ONLY_ENV = {
    # Anything that is not for the emulator fails at once instead of leaving the machine.
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


# --------------------------------------------------------------------------------------------------------------------
# Data: desired partners, drifted seed, floor patches
# --------------------------------------------------------------------------------------------------------------------


def graph_datetime(day_offset, hour=0, minute=0):
    """A date in the normalized form Graph returns (UTC, 7 fractional digits, Z)."""
    moment = datetime.datetime(2027, 1, 1, hour, minute) + datetime.timedelta(days=day_offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


class TenantData:
    """One tenant's desired partners, the drifted state to seed and the PATCH bodies the job needs."""

    def __init__(self, index, count, drifted):
        self.index = index
        self.desired = []
        self.seed = []
        self.patches = []
        # Evenly spread: with 20 and 10 these are the odd positions.
        drifted_positions = {int((k + 0.5) * count / drifted) for k in range(drifted)} if drifted else set()
        drift_number = 0
        for position in range(count):
            partner = {
                "id": str(uuid.uuid5(ID_NAMESPACE, f"partner-{index}-{position}")),
                "displayName": f"Partner {index:03d}-{position:02d}",
                "partnerState": "enabled",
                "partnerAppType": "singleTenantApp",
                "singleTenantAppId": str(uuid.uuid5(ID_NAMESPACE, f"app-{index}-{position}")),
                "isConfigured": True,
                "whenPartnerDevicesWillBeRemovedDateTime": graph_datetime(position % 28),
                "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": graph_datetime(position % 28 - 31, 12, 30),
            }
            current = dict(partner)
            if position in drifted_positions:
                # One property each, and a second one for every third drifted partner, so that every property
                # is compared (and found to differ) somewhere.
                names = [PROPERTY_NAMES[drift_number % len(PROPERTY_NAMES)]]
                if drift_number % 3 == 2:
                    names.append(PROPERTY_NAMES[(drift_number + 3) % len(PROPERTY_NAMES)])
                for name in names:
                    current[name] = DRIFTS[name](partner[name])
                self.patches.append({"id": partner["id"], "body": {name: partner[name] for name in names}})
                drift_number += 1
            self.desired.append(partner)
            self.seed.append(current)

    def mismatches(self, partners):
        """Differences between Graph's partners and the desired state (empty when converged)."""
        by_id = {partner["id"]: partner for partner in partners}
        problems = []
        if len(partners) != len(self.desired):
            problems.append(f"{len(partners)} partners instead of {len(self.desired)}")
        for partner in self.desired:
            current = by_id.get(partner["id"])
            if current is None:
                problems.append(f"{partner['id']} is missing")
                continue
            for name in PROPERTY_NAMES:
                if current.get(name) != partner[name]:
                    problems.append(f"{partner['id']} {name}={current.get(name)!r}, want {partner[name]!r}")
        return problems


# --------------------------------------------------------------------------------------------------------------------
# Emulator and ansible-playbook runs
# --------------------------------------------------------------------------------------------------------------------


def start_bench_emulator(tenants):
    sys.path.insert(0, REPO_ROOT)
    from tests.emulator.harness import start_emulator  # pylint: disable=import-outside-toplevel  # needs sys.path

    return start_emulator("--tenants", str(tenants), "--patch-status", "204")


def prepare_emulator(emulator, data, latency, tokens=False):
    """Seeded state, an empty log and the latency fault on every path; returns {tenant index: token} if asked."""
    control = emulator.control
    control.reset()
    control.seed({emulator.tenant(item.index)["tenant_id"]: item.seed for item in data})
    access_tokens = {item.index: emulator.access_token(item.index) for item in data} if tokens else {}
    control.clear_log()
    if latency > 0:
        control.add_fault(method="*", path="", kind="latency", latency=latency, probability=1, times=None)
    return access_tokens


def write_inventory(path, emulator, data, access_tokens):
    info = emulator.info
    hosts = {}
    for item in data:
        tenant = emulator.tenant(item.index)
        hosts[f"tenant{item.index:03d}"] = {
            "bench_tenant_id": tenant["tenant_id"],
            "bench_client_id": tenant["client_id"],
            "bench_client_secret": tenant["client_secret"],
            "bench_access_token": access_tokens.get(item.index, ""),
            "bench_partners": item.desired,
            "bench_floor_patches": item.patches,
        }
    inventory = {
        "tenants": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": WRAPPER,
                "bench_graph_endpoint": info["graph_endpoint"],
                "bench_authority_host": info["authority_host"],
                "bench_ca_path": info["ca_path"],
            },
            "hosts": hosts,
        }
    }
    # JSON, which the yaml inventory plugin reads too: ansible-lint leaves .json files alone, even git-ignored ones.
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle, indent=1)


def write_tasks_playbook(path, partners):
    """The "tasks" variant: the module variant's job written as one task per partner instead of a loop."""
    import yaml  # pylint: disable=import-outside-toplevel  # PyYAML comes with ansible-core

    options = {
        "id": "{{{{ bench_partners[{index}].id }}}}",
        "display_name": "{{{{ bench_partners[{index}].displayName }}}}",
        "partner_state": "{{{{ bench_partners[{index}].partnerState }}}}",
        "partner_app_type": "{{{{ bench_partners[{index}].partnerAppType }}}}",
        "single_tenant_app_id": "{{{{ bench_partners[{index}].singleTenantAppId }}}}",
        "is_configured": "{{{{ bench_partners[{index}].isConfigured }}}}",
        "when_partner_devices_will_be_removed_date_time": (
            "{{{{ bench_partners[{index}].whenPartnerDevicesWillBeRemovedDateTime }}}}"
        ),
        "when_partner_devices_will_be_marked_as_non_compliant_date_time": (
            "{{{{ bench_partners[{index}].whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime }}}}"
        ),
    }
    play = {
        "name": "Converge partners with msgraph.intune, one task per partner",
        "hosts": "tenants",
        "gather_facts": False,
        "module_defaults": {
            "group/msgraph.intune.graph": {
                "tenant_id": "{{ bench_tenant_id }}",
                "client_id": "{{ bench_client_id }}",
                "client_secret": "{{ bench_client_secret }}",
                "graph_endpoint": "{{ bench_graph_endpoint }}",
                "authority_host": "{{ bench_authority_host }}",
                "ca_path": "{{ bench_ca_path }}",
            }
        },
        "tasks": [
            {
                "name": f"Converge partner {index + 1} of {partners}",
                "msgraph.intune.device_management_partner": {
                    name: template.format(index=index) for name, template in options.items()
                },
            }
            for index in range(partners)
        ],
    }
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump([play], handle, sort_keys=False, width=200)


def ansible_environment(workdir, count_file, timeline_file, extra):
    env = dict(os.environ)
    env.update(LOOPBACK_ONLY_ENV)
    env.update(
        {
            "ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO_ROOT, ".collections"),
            "ANSIBLE_HOME": os.path.join(workdir, "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "ansible-home", "tmp"),
            "ANSIBLE_REMOTE_TEMP": os.path.join(workdir, "ansible-home", "remote-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timeline",
            "BENCH_PYTHON": sys.executable,
            "BENCH_COUNT_FILE": count_file,
            "BENCH_TIMELINE_FILE": timeline_file,
            "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
        }
    )
    # The variants say how the collection runs; the caller's shell does not (a per-run token cache is the default).
    for name in ("MSGRAPH_INTUNE_FORCE_MODULE", "MSGRAPH_TOKEN_CACHE", "MSGRAPH_TOKEN_CACHE_DIR"):
        env.pop(name, None)
    env.update(extra)
    return env


class WorkerMemorySampler(threading.Thread):
    """Samples ansible-playbook's forked workers (its direct children) while it runs.

    Per worker: the last VmHWM seen (peak RSS, which counts pages shared with the parent by fork) and the
    highest USS seen (Private_Clean + Private_Dirty of smaps_rollup: the memory that worker alone adds).
    """

    def __init__(self, root_pid, interval=0.02):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.stop_event = threading.Event()
        self.workers = {}  # pid -> {"hwm_kb": ..., "uss_kb": ...}
        self.root_hwm_kb = 0

    def run(self):
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join()

    def sample(self):
        root = _status_kb(self.root_pid, "VmHWM")
        if root:
            self.root_hwm_kb = max(self.root_hwm_kb, root)
        for pid in _children(self.root_pid):
            hwm = _status_kb(pid, "VmHWM")
            if not hwm:
                continue
            entry = self.workers.setdefault(pid, {"hwm_kb": 0, "uss_kb": 0})
            entry["hwm_kb"] = max(entry["hwm_kb"], hwm)
            entry["uss_kb"] = max(entry["uss_kb"], _uss_kb(pid))


def _children(pid):
    pids = set()
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return pids
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children", encoding="ascii") as handle:
                pids.update(int(child) for child in handle.read().split())
        except OSError:
            continue
    return pids


def _status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _uss_kb(pid):
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return total


class Run:
    """One measured ansible-playbook run and what the emulator saw."""

    def __init__(self, variant, repetition):
        self.variant = variant
        self.repetition = repetition
        self.rc = None
        self.wall = None
        self.cpu = None
        self.started = None
        self.log = []
        self.connections = None
        self.module_processes = None
        self.problems = []
        self.memory = None
        self.log_path = None
        self.events = []  # from the bench_timeline callback: {"time", "event", "host", "task"}

    def count(self, kind, method=None):
        return sum(1 for e in self.log if e["kind"] == kind and (method is None or e["method"] == method))

    @property
    def failed_requests(self):
        return [e for e in self.log if e["status"] is None or e["status"] >= 400]

    def requests_at(self, kind=None):
        """Start times of the logged requests (of one kind), in seconds after ansible-playbook started."""
        entries = sorted(self.log, key=lambda e: e["seq"])
        return [e["time"] - self.started for e in entries if kind is None or e["kind"] == kind]

    def events_at(self, event):
        """Times of one bench_timeline event, in seconds after ansible-playbook started."""
        return [e["time"] - self.started for e in self.events if e["event"] == event]

    def summary(self):
        return {
            "variant": self.variant,
            "repetition": self.repetition,
            "rc": self.rc,
            "wall_s": self.wall,
            "cpu_s": self.cpu,
            "graph_get": self.count("graph", "GET"),
            "graph_patch": self.count("graph", "PATCH"),
            "graph_requests": self.count("graph"),
            "token_requests": self.count("token"),
            "discovery_requests": self.count("discovery"),
            "failed_requests": len(self.failed_requests),
            "tls_connections": self.connections,
            "module_processes": self.module_processes,
            "problems": self.problems,
            "memory": self.memory,
            "log": self.log_path,
        }


def execute(run, command, cwd, env, timeout, sample_memory=False, progress=None, progress_every=10.0):
    """Run one ansible-playbook process for `run`: sets its rc, wall and cpu seconds (user + system of the process
    tree, from RUSAGE_CHILDREN), start time and, when asked, its workers' memory. `progress(elapsed seconds)` is
    called every `progress_every` seconds while it runs."""
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(run.log_path, "w", encoding="utf-8") as output:
        run.started = time.time()
        start = time.perf_counter()
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # waited for just below
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )
        sampler = WorkerMemorySampler(process.pid) if sample_memory else None
        if sampler:
            sampler.start()
        while run.rc is None:
            elapsed = time.perf_counter() - start
            try:
                run.rc = process.wait(timeout=min(progress_every, max(timeout - elapsed, 0.01)))
            except subprocess.TimeoutExpired:
                if time.perf_counter() - start >= timeout:
                    process.kill()
                    run.rc = process.wait()
                    run.problems.append(f"timed out after {timeout}s")
                elif progress:
                    progress(time.perf_counter() - start)
        run.wall = time.perf_counter() - start
        if sampler:
            sampler.stop()
            run.memory = memory_summary(sampler)
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)


class Bench:
    def __init__(self, args, emulator, data, workdir):
        self.args = args
        self.emulator = emulator
        self.data = data
        self.workdir = workdir
        self.latency = args.latency_ms / 1000.0
        self.counter = 0

    def run(self, variant, repetition, verify=True):
        playbook, extra_env = VARIANTS[variant]
        self.counter += 1
        name = f"{self.counter:03d}-{variant}-{repetition}"
        access_tokens = prepare_emulator(self.emulator, self.data, self.latency, tokens=variant == "floor")
        inventory = os.path.join(self.workdir, "inventory.json")
        write_inventory(inventory, self.emulator, self.data, access_tokens)
        count_file = os.path.join(self.workdir, "counts", name)
        timeline_file = os.path.join(self.workdir, "timelines", name + ".jsonl")
        for path in (count_file, timeline_file):
            open(path, "w", encoding="ascii").close()  # pylint: disable=consider-using-with  # an empty file
        result = Run(variant, repetition)
        result.log_path = os.path.join(self.workdir, "logs", name + ".log")
        playbook_path = os.path.join(self.workdir, playbook)  # a generated playbook, else one of benchmarks/
        if not os.path.exists(playbook_path):
            playbook_path = os.path.join(BENCH_DIR, playbook)
        command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, playbook_path]
        command.extend(self.args.ansible_args)
        env = ansible_environment(self.workdir, count_file, timeline_file, extra_env)
        connections_before = self.emulator.control.stats()["connections"]
        execute(result, command, self.workdir, env, self.args.run_timeout)
        result.connections = self.emulator.control.stats()["connections"] - connections_before
        result.log = self.emulator.control.log()
        with open(count_file, encoding="ascii") as handle:
            result.module_processes = sum(1 for line in handle if line.strip())
        with open(timeline_file, encoding="utf-8") as handle:
            result.events = [json.loads(line) for line in handle if line.strip()]
        if verify:
            self.verify(result)
        return result

    def verify(self, result):
        """A run counts only if it succeeded, converged, and sent one GET per partner and one PATCH per drift."""
        if result.rc != 0:
            result.problems.append(f"ansible-playbook exited with {result.rc} (see {result.log_path})")
        if result.variant == "baseline":
            return
        partners = sum(len(item.desired) for item in self.data)
        drifted = sum(len(item.patches) for item in self.data)
        if result.count("graph", "GET") != partners:
            result.problems.append(f"{result.count('graph', 'GET')} GET requests, expected {partners}")
        if result.count("graph", "PATCH") != drifted:
            result.problems.append(f"{result.count('graph', 'PATCH')} PATCH requests, expected {drifted}")
        if result.failed_requests:
            result.problems.append(f"{len(result.failed_requests)} requests failed or were dropped")
        state = self.emulator.control.state()
        for item in self.data:
            tenant_id = self.emulator.tenant(item.index)["tenant_id"]
            for problem in item.mismatches(state.get(tenant_id, []))[:3]:
                result.problems.append(f"tenant {item.index}: not converged: {problem}")


def memory_summary(sampler):
    workers = list(sampler.workers.values())
    hwm = [w["hwm_kb"] / 1024 for w in workers]
    uss = [w["uss_kb"] / 1024 for w in workers if w["uss_kb"]]
    return {
        "workers_seen": len(workers),
        "worker_peak_rss_mb_median": statistics.median(hwm) if hwm else None,
        "worker_peak_rss_mb_max": max(hwm) if hwm else None,
        "worker_peak_uss_mb_median": statistics.median(uss) if uss else None,
        "worker_peak_uss_mb_max": max(uss) if uss else None,
        "controller_peak_rss_mb": sampler.root_hwm_kb / 1024,
    }


# --------------------------------------------------------------------------------------------------------------------
# Profile: where the module variant's time goes
# --------------------------------------------------------------------------------------------------------------------


def measure_rtt(emulator, data, latency, samples=20):
    """Median seconds of one GET with a kept-alive connection, and with a new TCP + TLS connection each time."""
    prepare_emulator(emulator, data[:1], latency)
    token = emulator.access_token(0)
    url = f"{emulator.info['graph_endpoint']}/v1.0/deviceManagement/deviceManagementPartners/{data[0].desired[0]['id']}"
    headers = {"Authorization": f"Bearer {token}"}
    timings = {"keep_alive": [], "new_connection": []}
    with requests.Session() as session:
        session.trust_env = False
        session.get(url, headers=headers, verify=emulator.ca_path, timeout=30)  # opens the connection
        for _sample in range(samples):
            start = time.perf_counter()
            session.get(url, headers=headers, verify=emulator.ca_path, timeout=30).raise_for_status()
            timings["keep_alive"].append(time.perf_counter() - start)
    for _sample in range(samples):
        with requests.Session() as session:
            session.trust_env = False
            start = time.perf_counter()
            session.get(url, headers=headers, verify=emulator.ca_path, timeout=30).raise_for_status()
            timings["new_connection"].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def measure_direct(emulator, data, latency):
    """The module's own code (PARTNER_TASK, as the action plugin runs it) in a plain Python loop, no Ansible."""
    sys.path.insert(0, os.path.join(REPO_ROOT, ".collections"))
    # pylint: disable-next=import-outside-toplevel  # needs the sys.path entry above
    from ansible_collections.msgraph.intune.plugins.module_utils._graph_client import build_graph_client

    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.msgraph.intune.plugins.modules.device_management_partner import TASK as PARTNER_TASK

    item = data[0]
    prepare_emulator(emulator, [item], latency)
    tenant = emulator.tenant(item.index)
    connection = {
        "tenant_id": tenant["tenant_id"],
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "graph_endpoint": emulator.info["graph_endpoint"],
        "authority_host": emulator.info["authority_host"],
        "ca_path": emulator.ca_path,
    }
    option_names = {
        "displayName": "display_name",
        "partnerState": "partner_state",
        "partnerAppType": "partner_app_type",
        "singleTenantAppId": "single_tenant_app_id",
        "isConfigured": "is_configured",
        "whenPartnerDevicesWillBeRemovedDateTime": "when_partner_devices_will_be_removed_date_time",
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": (
            "when_partner_devices_will_be_marked_as_non_compliant_date_time"
        ),
    }
    env_saved = {name: os.environ.get(name) for name in LOOPBACK_ONLY_ENV}
    os.environ.update(LOOPBACK_ONLY_ENV)
    try:
        start = time.perf_counter()
        client = build_graph_client(dict(connection, api_version="v1.0", validate_certs=True))
        client.auth.token()
        token_time = time.perf_counter() - start
        in_requests = [0.0]  # seconds spent inside the transport (the requests themselves)
        send = client.transport.send

        def timed_send(*send_args, **send_kwargs):
            send_start = time.perf_counter()
            try:
                return send(*send_args, **send_kwargs)
            finally:
                in_requests[0] += time.perf_counter() - send_start

        client.transport.send = timed_send
        item_start = time.perf_counter()
        for partner in item.desired:
            params = {name: None for name in PARTNER_TASK.argument_spec}
            params.update(connection, api_version="v1.0", validate_certs=True, state="present", id=partner["id"])
            params.update({option_names[name]: partner[name] for name in PROPERTY_NAMES})
            outcome = PARTNER_TASK.execute(params, False, False, lambda _params: client)
            if outcome.get("failed"):
                raise RuntimeError(f"direct run failed: {outcome.get('msg')}")
        items_time = time.perf_counter() - item_start
    finally:
        for name, value in env_saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    problems = item.mismatches(emulator.control.state()[tenant["tenant_id"]])
    log = emulator.control.log()
    return {
        "token_s": token_time,
        "items_s": items_time,
        "items_in_requests_s": in_requests[0],
        "requests": sum(1 for e in log if e["kind"] == "graph"),
        "problems": problems,
    }


def measure_imports():
    """Seconds a fresh worker-like interpreter spends importing what the action plugin needs."""
    code = (
        "import time\n"
        "import ansible.plugins.action\n"
        "t0 = time.perf_counter()\n"
        "import ansible_collections.msgraph.intune.plugins.action.device_management_partner\n"
        "import ansible_collections.msgraph.intune.plugins.modules.device_management_partner\n"
        "t1 = time.perf_counter()\n"
        "import msal\n"
        "t2 = time.perf_counter()\n"
        "print(t1 - t0, t2 - t1)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO_ROOT, ".collections"))
    samples = []
    for _attempt in range(3):
        output = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout
        samples.append([float(value) for value in output.split()])
    return {
        "action_plugin_s": statistics.median(s[0] for s in samples),
        "msal_s": statistics.median(s[1] for s in samples),
    }


def run_phases(run):
    """Split a run (one task, one host) at the task start, the first request, the first Graph request and the
    last item result. Times in seconds; per_item_s is the average gap between item results."""
    task_start = run.events_at("task_start")[0]
    items = run.events_at("item")
    requests_all = run.requests_at()
    graph = run.requests_at("graph")
    phases = {"to_task_start_s": task_start, "teardown_s": run.wall - items[-1], "total_s": run.wall}
    phases["per_item_s"] = (items[-1] - items[0]) / (len(items) - 1) if len(items) > 1 else None
    if requests_all:
        phases["to_first_request_s"] = requests_all[0] - task_start
        phases["token_s"] = graph[0] - requests_all[0]
        phases["items_s"] = items[-1] - graph[0]
    else:
        phases["items_s"] = items[-1] - task_start
    return phases


def median_phases(runs):
    phases = [run_phases(run) for run in runs]
    return {
        name: statistics.median(p[name] for p in phases) if phases[0][name] is not None else None for name in phases[0]
    }


# --------------------------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------------------------


class Report:
    def __init__(self, path):
        self.lines = []
        self.path = path

    def __call__(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def save(self):
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(self.lines) + "\n")


def median_of(runs, attribute):
    return statistics.median(getattr(run, attribute) for run in runs)


def variant_table(report, runs_by_variant, partners):
    report(
        f"{'variant':<14}{'runs':>5}{'wall s':>8}{'min':>7}{'max':>7}{'cpu s':>7}{'req/partner':>13}"
        f"{'GET':>5}{'PATCH':>6}{'token':>6}{'discov':>7}{'TLS':>5}{'module procs':>14}"
    )
    for variant, runs in runs_by_variant.items():
        last = runs[-1]
        walls = [run.wall for run in runs]
        report(
            f"{variant:<14}{len(runs):>5}{statistics.median(walls):>8.2f}{min(walls):>7.2f}{max(walls):>7.2f}"
            f"{median_of(runs, 'cpu'):>7.2f}{last.count('graph') / partners:>13.2f}{last.count('graph', 'GET'):>5}"
            f"{last.count('graph', 'PATCH'):>6}{last.count('token'):>6}{last.count('discovery'):>7}"
            f"{last.connections:>5}{last.module_processes:>14}"
        )


def report_profile(report, bench, runs_by_variant, partners, drifted):
    """Where the module variant's time goes: its runs' timelines, the baseline's, and a few separate measurements."""
    latency = bench.latency
    rtt = measure_rtt(bench.emulator, bench.data, latency)
    imports = measure_imports()
    direct = measure_direct(bench.emulator, bench.data, latency)
    module = median_phases(runs_by_variant["module"])
    base = median_phases(runs_by_variant["baseline"]) if "baseline" in runs_by_variant else {}
    kept = rtt["keep_alive"]
    requests_per_item = (partners + drifted) / partners
    outside = module["per_item_s"] - requests_per_item * kept if module["per_item_s"] else None
    direct_outside = (direct["items_s"] - direct["items_in_requests_s"]) / partners

    def row(label, module_value, base_value, note=""):
        def cell(value, unit):
            return f"{value * unit:>9.{3 if unit == 1 else 0}f}" if value is not None else f"{'-':>9}"

        unit = 1000 if label.strip().startswith("per item") else 1
        report(f"  {label:<44}{cell(module_value, unit)}{cell(base_value, unit)}  {note}".rstrip())

    report(
        f"Where the module variant's time goes (in-process action plugin; medians of {len(runs_by_variant['module'])} "
        f"runs; RTT = one kept-alive request at {bench.args.latency_ms:g} ms latency = {kept * 1000:.1f} ms):"
    )
    report(f"  {'phase (seconds; per item in ms)':<44}{'module':>9}{'baseline':>9}")
    row(
        "ansible-playbook start -> task start",
        module["to_task_start_s"],
        base.get("to_task_start_s"),
        f"incl. the action plugin's imports (requests...): {imports['action_plugin_s']:.3f} s, once, before fork",
    )
    row(
        "task start -> first request",
        module["to_first_request_s"],
        None,
        f"worker fork, templating, validation, msal import ({imports['msal_s']:.3f} s), client",
    )
    row("OIDC discovery + token request", module["token_s"], None, f"2 requests = {2 * kept:.3f} s of RTT")
    row(
        f"{partners} items: first GET -> last item result",
        module["items_s"],
        base.get("items_s"),
        f"{partners} GET + {drifted} PATCH = {(partners + drifted) * kept:.2f} s of RTT",
    )
    row(
        "per item (average gap between item results)",
        module["per_item_s"],
        base.get("per_item_s"),
        f"module: {requests_per_item:.2f} requests x RTT + {outside * 1000:.1f} ms" if outside is not None else "",
    )
    row("last item result -> ansible-playbook exit", module["teardown_s"], base.get("teardown_s"))
    row("total", module["total_s"], base.get("total_s"))
    report(
        f"  the same code in a plain Python loop (no Ansible): token {direct['token_s']:.3f} s, {partners} items "
        f"{direct['items_s']:.2f} s, of which {direct['items_in_requests_s']:.2f} s in requests: "
        f"{direct_outside * 1000:.1f} ms per item in the module's own code"
    )
    report(
        f"  TLS: {runs_by_variant['module'][-1].connections} connection per module run; a request on a new "
        f"connection takes {rtt['new_connection'] * 1000:.1f} ms instead of {kept * 1000:.1f} ms"
    )
    forced = runs_by_variant.get("module_forced")
    if forced:
        phases = median_phases(forced)
        run = forced[-1]
        report(
            f"  module process path (MSGRAPH_INTUNE_FORCE_MODULE=1): {phases['total_s']:.2f} s, "
            f"{phases['per_item_s']:.2f} s per item; {run.module_processes} module processes, "
            f"{run.count('token')} token + {run.count('discovery')} discovery requests, {run.connections} TLS "
            f"connections, cpu {median_of(forced, 'cpu'):.2f} s"
        )
    if direct["problems"]:
        report(f"  WARNING: the plain Python loop did not converge: {direct['problems'][:3]}")
    return {"rtt": rtt, "imports": imports, "direct": direct, "module_phases": module, "baseline_phases": base}


def print_problems(report, runs):
    broken = [run for run in runs if run.problems]
    for run in broken:
        report(f"BROKEN RUN {run.variant} #{run.repetition}: " + "; ".join(run.problems))
    return broken


# --------------------------------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------------------------------


def bench_mode(args, workdir, report):
    drifted = args.partners // 2 if args.drifted is None else args.drifted
    data = [TenantData(0, args.partners, drifted)]
    write_tasks_playbook(os.path.join(workdir, "tasks.yml"), args.partners)
    variants = ["module", "tasks", "uri", "floor"]
    if args.profile:
        variants.append("baseline")  # cheap, and measured under the same conditions as the others
    variants += [v for v in args.extra_variants if v not in variants]
    emulator = start_bench_emulator(1)
    all_runs = []
    try:
        bench = Bench(args, emulator, data, workdir)

        def measure(variant, repetition, label):
            run = bench.run(variant, repetition)
            all_runs.append(run)
            report(f"  {label:<8} {variant:<14} {run.wall:6.2f} s{'  BROKEN' if run.problems else ''}")
            return run

        report(
            f"msgraph.intune benchmark: {args.partners} partners ({drifted} drifted) in one tenant, latency "
            f"{args.latency_ms:g} ms on every request, {args.repetitions} alternating repetitions of "
            f"{', '.join(variants)}"
        )
        # The first run of a process tree pays for cold caches (the collection's bytecode, the page cache).
        for round_number in range(args.warmup):
            measure("module", f"warmup{round_number}", "warm-up")
        runs_by_variant = {variant: [] for variant in variants}
        for repetition in range(1, args.repetitions + 1):
            for variant in variants:
                runs_by_variant[variant].append(measure(variant, repetition, f"run {repetition}"))
        if args.profile and "module_forced" not in runs_by_variant:
            runs_by_variant["module_forced"] = [measure("module_forced", "profile", "profile")]
        report()
        broken = print_problems(report, all_runs)
        report("Median wall seconds per whole ansible-playbook run; request counts from the emulator log (last run);")
        report("cpu s = user+sys of ansible-playbook and all its processes; module procs = interpreter wrapper count.")
        variant_table(report, runs_by_variant, args.partners)
        report()
        profile = None
        if args.profile and not broken:
            profile = report_profile(report, bench, runs_by_variant, args.partners, drifted)
            report()
    finally:
        emulator.stop()
    module = median_of(runs_by_variant["module"], "wall")
    ratios = {name: module / median_of(runs_by_variant[name], "wall") for name in TARGETS}
    tasks_ratio = median_of(runs_by_variant["tasks"], "wall") / median_of(runs_by_variant["uri"], "wall")
    # Token requests of the 20-task variant: the most any of its runs made (1 when the tasks share one token).
    tasks_tokens = max(run.count("token") for run in runs_by_variant["tasks"])
    # CPU seconds depend much less on other load than wall seconds: shown beside the targets, not one.
    module_cpu = median_of(runs_by_variant["module"], "cpu")
    cpu_ratios = {name: module_cpu / median_of(runs_by_variant[name], "cpu") for name in TARGETS}
    for name, target in TARGETS.items():
        verdict = "met" if ratios[name] <= target else "MISSED"
        report(f"target module/{name} <= {target}: {ratios[name]:.2f} {verdict} (cpu seconds: {cpu_ratios[name]:.2f})")
    summary = {
        "mode": "bench",
        "partners": args.partners,
        "drifted": drifted,
        "latency_ms": args.latency_ms,
        "repetitions": args.repetitions,
        "medians": {variant: median_of(runs, "wall") for variant, runs in runs_by_variant.items()},
        "cpu_medians": {variant: median_of(runs, "cpu") for variant, runs in runs_by_variant.items()},
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "tasks_ratio": tasks_ratio,
        "tasks_token_requests": tasks_tokens,
        "profile": profile,
        "runs": [run.summary() for run in all_runs],
    }
    with open(os.path.join(workdir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, default=str)
    report(f"results: {workdir}")
    report(
        f"ratio module/uri={ratios['uri']:.2f} module/floor={ratios['floor']:.2f} tasks/uri={tasks_ratio:.2f} "
        f"tokens={tasks_tokens}"
    )
    missed = any(ratios[name] > target for name, target in TARGETS.items())
    return 1 if broken or (missed and args.fail_on_target_miss) else 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Benchmark msgraph.intune against ansible.builtin.uri (see README).")
    parser.add_argument("--partners", type=int, default=20, help="partners in the tenant (default 20)")
    parser.add_argument("--drifted", type=int, help="drifted partners (default half)")
    parser.add_argument("--repetitions", type=int, default=5, help="measured runs per variant (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds before the measured ones")
    parser.add_argument("--latency-ms", type=float, default=50, help="latency added to every request (default 50)")
    parser.add_argument("--forks", type=int, help="ansible forks (default: ansible's, 5)")
    parser.add_argument(
        "--extra-variants",
        default="",
        help="comma-separated extra measured variants: module_forced (module process path), baseline (debug loop), "
        "tasks_uncached (the tasks variant with token_cache off)",
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the time breakdown")
    parser.add_argument("--fail-on-target-miss", action="store_true", help="exit 1 when a ratio target is missed")
    parser.add_argument("--results-dir", default=DEFAULT_RESULTS, help="where a timestamped result folder goes")
    parser.add_argument("--run-timeout", type=float, default=600, help="seconds before a run is killed")
    args = parser.parse_args(argv)
    args.extra_variants = [v for v in args.extra_variants.split(",") if v]
    unknown = [v for v in args.extra_variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")
    if args.partners < 1 or args.repetitions < 1:
        parser.error("--partners and --repetitions must be at least 1")
    if args.drifted is not None and not 0 <= args.drifted <= args.partners:
        parser.error("--drifted must be between 0 and --partners")
    args.ansible_args = ["--forks", str(args.forks)] if args.forks else []
    return args


def main(argv=None):
    args = parse_args(argv)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = os.path.join(os.path.abspath(args.results_dir), f"bench-{stamp}")
    for sub in ("logs", "counts", "timelines"):
        os.makedirs(os.path.join(workdir, sub), exist_ok=True)
    report = Report(os.path.join(workdir, "report.txt"))
    try:
        status = bench_mode(args, workdir, report)
    finally:
        report.save()
    return status


if __name__ == "__main__":
    sys.exit(main())
