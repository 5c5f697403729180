# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench-baseline: the baseline role's audit of many tenants against the same audit written with uri.

    .venv/bin/python benchmarks/bench_baseline.py [--tenants 50] [--forks 10] [--latency-ms 50] [--repetitions 3]

One emulator serves every tenant; each tenant has one object of each of the four kinds, half of all objects drifted
(one property each), and every request gets the latency. Both variants run alternately; each run is checked (exit
status, no write, every drifted object found) and a broken run makes the script exit 1. The last line is
``baseline tenants=N objects=M seconds=S tokens=T requests=R uri_seconds=U ratio baseline/uri=X``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from run_bench import VENV_BIN, ansible_environment, start_bench_emulator

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
MTD_ID = "fc780465-2017-40d4-a0c5-307022471b92"
# (baseline key, collection, what finds an object, desired Graph object, the drifted property and its value)
KINDS = (
    (
        "device_management_partners",
        "deviceManagementPartners",
        "displayName",
        {"displayName": "Jamf Pro", "partnerState": "enabled", "isConfigured": True},
        ("partnerState", "unresponsive"),
    ),
    (
        "compliance_management_partners",
        "complianceManagementPartners",
        "displayName",
        {"displayName": "Jamf compliance", "partnerState": "enabled", "macOsOnboarded": True},
        ("macOsOnboarded", False),
    ),
    (
        "remote_assistance_partners",
        "remoteAssistancePartners",
        "displayName",
        {"displayName": "TeamViewer", "onboardingUrl": "https://start.teamviewer.com/intune"},
        ("onboardingUrl", "https://start.teamviewer.com/old"),
    ),
    (
        "mobile_threat_defense_connectors",
        "mobileThreatDefenseConnectors",
        "id",
        {"id": MTD_ID, "androidEnabled": True, "partnerUnresponsivenessThresholdInDays": 7},
        ("androidEnabled", False),
    ),
)
OPTIONS = {
    "displayName": "display_name",
    "partnerState": "partner_state",
    "isConfigured": "is_configured",
    "macOsOnboarded": "mac_os_onboarded",
    "onboardingUrl": "onboarding_url",
    "id": "id",
    "androidEnabled": "android_enabled",
    "partnerUnresponsivenessThresholdInDays": "partner_unresponsiveness_threshold_in_days",
}
VARIANTS = {"role": "baseline_role.yml", "uri": "baseline_uri.yml"}


def drifted(tenant, kind_number):
    return (tenant + kind_number) % 2 == 0  # half of all objects, spread over every tenant and kind


def seed_state(tenants):
    state = {}
    for tenant in range(tenants):
        collections = {}
        for number, (_key, collection, _finder, desired, (name, value)) in enumerate(KINDS):
            obj = dict(desired)
            if drifted(tenant, number):
                obj[name] = value
            collections[collection] = [obj]
        state[tenant] = collections
    return state


def write_inventory(path, emulator, tenants, report_dir):
    info = emulator.info
    baseline = {key: [{OPTIONS[name]: value for name, value in desired.items()}] for key, _c, _f, desired, _d in KINDS}
    graph_baseline = [
        {"collection": collection, "key": finder, "objects": [desired]} for _k, collection, finder, desired, _d in KINDS
    ]
    hosts = {}
    for index in range(tenants):
        tenant = emulator.tenant(index)
        hosts[f"tenant{index:03d}"] = {
            "bench_tenant_id": tenant["tenant_id"],
            "bench_client_id": tenant["client_id"],
            "bench_client_secret": tenant["client_secret"],
        }
    inventory = {
        "tenants": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "bench_graph_endpoint": info["graph_endpoint"],
                "bench_authority_host": info["authority_host"],
                "bench_ca_path": info["ca_path"],
                "bench_report_dir": report_dir,
                "bench_baseline": baseline,
                "bench_graph_baseline": graph_baseline,
            },
            "hosts": hosts,
        }
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle, indent=1)


def run_variant(variant, emulator, state, inventory, workdir, forks, latency):
    """Wall seconds of one run, and what the emulator saw; raises on a broken run."""
    emulator.control.reset()
    emulator.control.seed({emulator.tenant(t)["tenant_id"]: collections for t, collections in state.items()})
    emulator.control.clear_log()
    if latency > 0:
        emulator.control.add_fault(method="*", path="", kind="latency", latency=latency, probability=1, times=None)
    # run_bench's environment: loopback-only proxies, this tree's collection, a private ANSIBLE_HOME.
    env = ansible_environment(workdir, os.path.join(workdir, "processes"), os.path.join(workdir, "timeline"), {})
    command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, "--forks", str(forks)]
    command.append(os.path.join(BENCH_DIR, VARIANTS[variant]))
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    wall = time.perf_counter() - start
    log = emulator.control.log()
    if completed.returncode != 0:
        raise RuntimeError(f"{variant} run failed (rc {completed.returncode}):\n{completed.stdout[-3000:]}")
    writes = [entry for entry in log if entry["kind"] == "graph" and entry["method"] != "GET"]
    if writes:
        raise RuntimeError(f"{variant} run wrote to Graph: {writes[:3]}")
    return wall, log


def found_drift(variant, report_dir):
    """Drifted objects that the run's report lists (each drifted object differs in one property)."""
    if variant == "role":
        with open(os.path.join(report_dir, "role", "drift.json"), encoding="utf-8") as handle:
            return [row for row in json.load(handle)["entries"] if row["status"] == "drift"]
    with open(os.path.join(report_dir, "uri-drift.json"), encoding="utf-8") as handle:
        return [row for rows in json.load(handle).values() for row in rows if row["status"] == "drift"]


def main(argv=None):
    parser = argparse.ArgumentParser(description="The baseline role's audit against the same audit with uri.")
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args(argv)

    state = seed_state(args.tenants)
    expected_drift = sum(drifted(t, k) for t in range(args.tenants) for k in range(len(KINDS)))
    emulator = start_bench_emulator(args.tenants)
    walls = {variant: [] for variant in VARIANTS}
    last_log = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-baseline-") as workdir:
            report_dir = os.path.join(workdir, "reports")
            os.makedirs(report_dir)
            inventory = os.path.join(workdir, "inventory.json")
            write_inventory(inventory, emulator, args.tenants, report_dir)
            print(
                f"bench-baseline: {args.tenants} tenants, {len(KINDS)} kinds, one object each, {expected_drift} drifted, "
                f"{args.latency_ms:g} ms latency, forks {args.forks}, {args.repetitions} alternating repetitions"
            )
            for repetition in range(1, args.repetitions + 1):
                for variant in VARIANTS:
                    wall, log = run_variant(
                        variant, emulator, state, inventory, workdir, args.forks, args.latency_ms / 1000
                    )
                    found = len(found_drift(variant, report_dir))
                    if found != expected_drift:
                        raise RuntimeError(f"{variant} found {found} drifted objects, expected {expected_drift}")
                    walls[variant].append(wall)
                    last_log[variant] = log
                    print(f"  run {repetition} {variant:<5} {wall:6.2f} s  drift found {found}")
    finally:
        emulator.stop()

    role_log = last_log["role"]
    tokens = sum(1 for entry in role_log if entry["kind"] == "token")
    discovery = sum(1 for entry in role_log if entry["kind"] == "discovery")
    requests = sum(1 for entry in role_log if entry["kind"] == "graph")
    uri_requests = sum(1 for entry in last_log["uri"] if entry["kind"] == "graph")
    seconds = statistics.median(walls["role"])
    uri_seconds = statistics.median(walls["uri"])
    print(
        f"per tenant: role {tokens / args.tenants:g} token, {discovery / args.tenants:g} discovery, "
        f"{requests / args.tenants:g} Graph requests (minimum for an audit: {len(KINDS)} lists); "
        f"uri {uri_requests / args.tenants:g} Graph requests"
    )
    print(
        f"baseline tenants={args.tenants} objects={args.tenants * len(KINDS)} seconds={seconds:.2f} tokens={tokens} "
        f"requests={requests} uri_seconds={uri_seconds:.2f} ratio baseline/uri={seconds / uri_seconds:.2f}"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        print(f"bench-baseline: BROKEN: {exc}", file=sys.stderr)
        sys.exit(1)
