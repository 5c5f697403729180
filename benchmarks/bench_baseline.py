# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench-baseline and make bench-scale: the audit an MSP schedules, drift and connector health of many tenants.

    .venv/bin/python benchmarks/bench_baseline.py [--tenants 50] [--forks 10] [--latency-ms 200] [--repetitions 3]
    .venv/bin/python benchmarks/bench_baseline.py --scale [--tenants 1000]

The default mode runs the msgraph.intune.baseline role (audit_role.yml: baseline_mode=audit, health of every kind)
and the same audit written by hand with ansible.builtin.uri (audit_uri.yml) alternately, against one emulator whose
tenants hold the 4 baseline kinds (some drifted), groups, and the 7 other health kinds (some tokens expiring, some
connectors unhealthy, two tenants with a second page of VPP tokens). Every Graph round trip (a request on its own, or
one $batch) gets the latency; token and discovery requests get none. Each run is checked (exit status, no write, no
unexpected failed request, exactly the seeded drift and health problems in its report) and a broken run makes the
script exit 1. The last line is

    baseline tenants=N objects=O seconds=S tokens=T requests=R round_trips=P uri_seconds=U ratio baseline/uri=X

--scale runs the role alone on 1,000 tenants (one run, progress on the way) and ends on a ``scale ...`` line with the
wall time, CPU, peak memory per worker, tokens and round trips per tenant. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import statistics
import sys
import uuid

from run_bench import (
    BENCH_DIR,
    DEFAULT_RESULTS,
    VENV_BIN,
    Report,
    Run,
    ansible_environment,
    execute,
    median_of,
    start_bench_emulator,
)

MTD_ID = "fc780465-2017-40d4-a0c5-307022471b92"
ID_NAMESPACE = uuid.UUID("0b6f3a52-47c1-4d55-9e3a-5a8e1f0c2d7b")  # fixed: the same ids on every run
GROUP_TARGET = "#microsoft.graph.groupAssignmentTarget"
EXCLUSION_TARGET = "#microsoft.graph.exclusionGroupAssignmentTarget"
MODULE_TARGET_TYPES = {GROUP_TARGET: "group", EXCLUSION_TARGET: "exclusion_group"}
GROUP_NAMES = ("Mac fleet", "Mac lab", "Windows fleet", "Kiosks")  # the first two are the baseline's
SCHOOL_DISTRICTS = (13, 37)  # tenants with a VPP token per school: more than one page of them
SCHOOL_TOKENS = 120  # the emulator's page size is 100
THRESHOLDS = {"expiry_warning_days": 30, "expiry_critical_days": 7, "stale_after_hours": 24}
NDES_MINIMUM_VERSION = "6.2406.0.1001"  # the health check's default
SINGLETON_PATHS = (
    "deviceManagement/applePushNotificationCertificate",
    "deviceManagement/androidManagedStoreAccountEnterpriseSettings",
    "deviceManagement/windowsAutopilotSettings",
)
VARIANTS = {
    # name -> (playbook, extra inventory vars, extra environment)
    "role": ("audit_role.yml", {}, {}),
    "uri": ("audit_uri.yml", {}, {}),
    # Proposals, measured with --extra-variants: every kind from beta (one batch per tenant), and no batching at all.
    "role_beta": ("audit_role.yml", {"bench_api_version": "beta"}, {}),
    "role_unbatched": ("audit_role.yml", {}, {"MSGRAPH_BATCH": "false"}),
}


class Kind:
    """A baseline kind: its key, collection, what finds an object, the desired object, its group targets and the
    property (and value) that drifted tenants have instead."""

    def __init__(self, key, path, finder, desired, targets, drift):
        self.key = key
        self.path = path
        self.finder = finder
        self.desired = desired
        self.targets = targets  # {Graph property: ((target type, group name), ...)}
        self.drift = drift


KINDS = (
    Kind(
        "device_management_partners",
        "deviceManagement/deviceManagementPartners",
        "displayName",
        {
            "displayName": "Jamf Pro",
            "partnerState": "enabled",
            "partnerAppType": "multiTenantApp",
            "isConfigured": True,
        },
        {"groupsRequiringPartnerEnrollment": ((GROUP_TARGET, "Mac fleet"), (EXCLUSION_TARGET, "Mac lab"))},
        ("partnerState", "unresponsive"),
    ),
    Kind(
        "compliance_management_partners",
        "deviceManagement/complianceManagementPartners",
        "displayName",
        {"displayName": "Jamf compliance", "partnerState": "enabled", "macOsOnboarded": True},
        {"macOsEnrollmentAssignments": ((GROUP_TARGET, "Mac fleet"),)},
        ("macOsOnboarded", False),
    ),
    Kind(
        "remote_assistance_partners",
        "deviceManagement/remoteAssistancePartners",
        "displayName",
        {"displayName": "TeamViewer", "onboardingUrl": "https://start.teamviewer.com/intune"},
        {},
        ("onboardingUrl", "https://start.teamviewer.com/old"),
    ),
    Kind(
        "mobile_threat_defense_connectors",
        "deviceManagement/mobileThreatDefenseConnectors",
        "id",
        {"id": MTD_ID, "androidEnabled": True, "iosEnabled": True, "partnerUnresponsivenessThresholdInDays": 7},
        {},
        ("androidEnabled", False),
    ),
)
OPTIONS = {
    "displayName": "display_name",
    "partnerState": "partner_state",
    "partnerAppType": "partner_app_type",
    "isConfigured": "is_configured",
    "macOsOnboarded": "mac_os_onboarded",
    "onboardingUrl": "onboarding_url",
    "id": "id",
    "androidEnabled": "android_enabled",
    "iosEnabled": "ios_enabled",
    "partnerUnresponsivenessThresholdInDays": "partner_unresponsiveness_threshold_in_days",
    "groupsRequiringPartnerEnrollment": "groups_requiring_partner_enrollment",
    "macOsEnrollmentAssignments": "mac_os_enrollment_assignments",
}
# The uri playbook's reads: (health kind, version, path, $select or None, singleton). The 4 baseline lists come whole
# (the drift compare needs every property); $select keeps the VPP token and the APNs certificate off the wire.
URI_READS = (
    *((kind.key, "v1.0", kind.path, None, False) for kind in KINDS),
    (
        "apple_push_notification_certificate",
        "v1.0",
        "deviceManagement/applePushNotificationCertificate",
        "id,appleIdentifier,topicIdentifier,expirationDateTime,lastModifiedDateTime,certificateUploadStatus",
        True,
    ),
    (
        "vpp_tokens",
        "v1.0",
        "deviceAppManagement/vppTokens",
        "id,organizationName,appleId,vppTokenAccountType,state,expirationDateTime,lastSyncDateTime,lastSyncStatus",
        False,
    ),
    ("dep_onboarding_settings", "beta", "deviceManagement/depOnboardingSettings", None, False),
    ("ndes_connectors", "beta", "deviceManagement/ndesConnectors", None, False),
    ("exchange_connectors", "v1.0", "deviceManagement/exchangeConnectors", None, False),
    ("managed_google_play", "beta", "deviceManagement/androidManagedStoreAccountEnterpriseSettings", None, True),
    ("windows_autopilot_settings", "beta", "deviceManagement/windowsAutopilotSettings", None, True),
)


# --------------------------------------------------------------------------------------------------------------------
# Data: every tenant's objects, and the drift and health problems its audit must report
# --------------------------------------------------------------------------------------------------------------------


def graph_time(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def group_id(tenant, name):
    return str(uuid.uuid5(ID_NAMESPACE, f"group/{tenant}/{name}"))


class TenantSeed:
    """One tenant's seed (Graph objects by seed key), the drift rows and the non-ok health findings it must give.

    Drift rows are (kind, object, status, option); findings are counted by (kind, check, severity). Health problems
    are spread by tenant number (a story per remainder of 12), so that every kind's rules find something somewhere.
    """

    def __init__(self, tenant, now):
        self.tenant = tenant
        self.now = now
        self.collections = {}
        self.drift = set()
        self.problems = collections.Counter()
        self.story = tenant % 12
        self._baseline_kinds()
        self._health_kinds()

    @property
    def objects(self):
        """Objects that the audit reads and judges (groups are looked up, not audited)."""
        return sum(
            (1 if value else 0) if isinstance(value, dict) or value is None else len(value)
            for key, value in self.collections.items()
            if key != "groups"
        )

    def ago(self, **delta):
        return graph_time(self.now - datetime.timedelta(**delta))

    def ahead(self, **delta):
        return graph_time(self.now + datetime.timedelta(**delta))

    def problem(self, kind, check, severity):
        self.problems[(kind, check, severity)] += 1

    def _baseline_kinds(self):
        t = self.tenant
        self.collections["groups"] = [{"id": group_id(t, name), "displayName": name} for name in GROUP_NAMES]
        service_set = {  # what the service sets: never in the baseline
            "device_management_partners": {
                "lastHeartbeatDateTime": self.ago(days=3) if self.story == 10 else self.ago(hours=1)
            },
            "compliance_management_partners": {"lastHeartbeatDateTime": self.ago(hours=2)},
            "remote_assistance_partners": {
                "onboardingStatus": "onboarded",
                "lastConnectionDateTime": self.ago(hours=2),
            },
            "mobile_threat_defense_connectors": {
                "partnerState": "enabled",
                "lastHeartbeatDateTime": self.ago(days=10) if self.story == 11 else self.ago(hours=1),
            },
        }
        if self.story == 10:
            self.problem("device_management_partners", "heartbeat", "warning")
        if self.story == 11:
            self.problem("mobile_threat_defense_connectors", "heartbeat", "critical")
        for number, kind in enumerate(KINDS):
            obj = dict(kind.desired, **service_set[kind.key])
            obj.setdefault("id", str(uuid.uuid5(ID_NAMESPACE, f"{kind.key}/{t}")))
            for prop, targets in kind.targets.items():
                obj[prop] = [
                    {"target": {"@odata.type": target_type, "groupId": group_id(t, name)}}
                    for target_type, name in targets
                ]
            label = kind.desired[kind.finder]
            if (t + number) % 2 == 0:  # half of all objects, spread over every tenant and kind
                prop, value = kind.drift
                obj[prop] = value
                self.drift.add((kind.key, label, "drift", OPTIONS[prop]))
                if kind.key == "device_management_partners":  # unresponsive is a health problem too
                    self.problem(kind.key, "state", "critical")
            if number == 0 and t % 5 == 3:  # the exclusion of "Mac lab" is gone
                obj["groupsRequiringPartnerEnrollment"] = obj["groupsRequiringPartnerEnrollment"][:1]
                self.drift.add((kind.key, label, "drift", OPTIONS["groupsRequiringPartnerEnrollment"]))
            self.collections[kind.path.rsplit("/", 1)[1]] = [obj]
        if t % 9 == 4:  # an old partner that the baseline does not name
            self.collections["remoteAssistancePartners"].append(
                {"id": str(uuid.uuid5(ID_NAMESPACE, f"old-rap/{t}")), "displayName": "Old TeamViewer"}
            )
            self.drift.add(("remote_assistance_partners", "Old TeamViewer", "unmanaged", None))

    def _health_kinds(self):
        t, story = self.tenant, self.story
        self.collections["applePushNotificationCertificate"] = {
            "appleIdentifier": f"intune-admin@tenant{t:04d}.example",
            "topicIdentifier": "com.apple.mgmt.External.0c5e6ee4",
            "expirationDateTime": self.ahead(days=20) if story == 1 else self.ahead(days=200),
            "lastModifiedDateTime": self.ago(days=165),
            "certificateUploadStatus": "success",
            "certificate": "MIIC-not-a-real-certificate",
        }
        if story == 1:
            self.problem("apple_push_notification_certificate", "expiry", "warning")
        tokens = SCHOOL_TOKENS if t in SCHOOL_DISTRICTS else 1
        self.collections["vppTokens"] = []
        for number in range(tokens):
            token = {
                "id": str(uuid.uuid5(ID_NAMESPACE, f"vpp/{t}/{number}")),
                "organizationName": f"Tenant {t:04d} school {number}" if tokens > 1 else f"Tenant {t:04d}",
                "appleId": f"vpp{number}@tenant{t:04d}.example",
                "vppTokenAccountType": "education" if tokens > 1 else "business",
                "state": "valid",
                "expirationDateTime": self.ahead(days=300),
                "lastSyncDateTime": self.ago(hours=2),
                "lastSyncStatus": "completed",
                "token": "not-a-real-vpp-token",
            }
            self.collections["vppTokens"].append(token)
        first, last = self.collections["vppTokens"][0], self.collections["vppTokens"][-1]
        if story == 2:
            first["expirationDateTime"] = self.ahead(days=5)
            self.problem("vpp_tokens", "expiry", "critical")
        if story == 9:
            first["lastSyncStatus"] = "failed"
            self.problem("vpp_tokens", "sync", "warning")
        if tokens > 1:  # on the second page: found only by an audit that reads it
            last["expirationDateTime"] = self.ahead(days=15)
            self.problem("vpp_tokens", "expiry", "warning")
        self.collections["depOnboardingSettings"] = [
            {
                "id": str(uuid.uuid5(ID_NAMESPACE, f"dep/{t}")),
                "tokenName": f"ABM tenant {t:04d}",
                "appleIdentifier": f"abm@tenant{t:04d}.example",
                "tokenExpirationDateTime": self.ago(days=3) if story == 3 else self.ahead(days=250),
                "lastSuccessfulSyncDateTime": self.ago(hours=3),
                "lastSyncErrorCode": 0,
                "tokenType": "dep",
            }
        ]
        if story == 3:
            self.problem("dep_onboarding_settings", "expiry", "critical")
        self.collections["ndesConnectors"] = [
            {
                "id": str(uuid.uuid5(ID_NAMESPACE, f"ndes/{t}")),
                "displayName": f"PKI connector {t:04d}",
                "machineName": f"pki{t:04d}.corp.example",
                "state": "inactive" if story == 5 else "active",
                "lastConnectionDateTime": self.ago(days=3) if story == 5 else self.ago(minutes=30),
                "connectorVersion": "6.2301.0.100" if story == 4 else "6.2501.500.1",
            }
        ]
        if story == 4:
            self.problem("ndes_connectors", "version", "warning")
        if story == 5:
            self.problem("ndes_connectors", "state", "critical")
            self.problem("ndes_connectors", "heartbeat", "warning")
        self.collections["exchangeConnectors"] = []
        if t % 4 != 0:  # the others run Exchange Online only
            self.collections["exchangeConnectors"].append(
                {
                    "id": str(uuid.uuid5(ID_NAMESPACE, f"exchange/{t}")),
                    "serverName": f"exch{t:04d}.corp.example",
                    "status": "disconnected" if story == 6 else "connected",
                    "lastSyncDateTime": self.ago(days=2) if story == 6 else self.ago(hours=1),
                    "version": "15.2.1544.4",
                }
            )
            if story == 6:
                self.problem("exchange_connectors", "state", "critical")
                self.problem("exchange_connectors", "sync", "warning")
        self.collections["androidManagedStoreAccountEnterpriseSettings"] = (
            None  # never set up: Graph answers 404
            if t % 6 == 5
            else {
                "bindStatus": "bound" if story == 8 else "boundAndValidated",
                "lastAppSyncDateTime": self.ago(hours=4),
                "lastAppSyncStatus": "credentialsNotValid" if story == 8 else "success",
                "ownerOrganizationName": f"Tenant {t:04d}",
            }
        )
        if story == 8:
            self.problem("managed_google_play", "state", "critical")
            self.problem("managed_google_play", "sync", "warning")
        self.collections["windowsAutopilotSettings"] = {
            "syncStatus": "failed" if story == 7 else "completed",
            "lastSyncDateTime": self.ago(hours=5),
        }
        if story == 7:
            self.problem("windows_autopilot_settings", "sync", "warning")


def module_baseline():
    """baseline_desired for the role: each kind's desired object as module options, group targets by name."""
    baseline = {}
    for kind in KINDS:
        options = {OPTIONS[name]: value for name, value in kind.desired.items()}
        for prop, targets in kind.targets.items():
            options[OPTIONS[prop]] = [
                {"type": MODULE_TARGET_TYPES[target_type], "group_display_name": name} for target_type, name in targets
            ]
        baseline[kind.key] = [options]
    return baseline


def uri_baseline():
    """The same baseline as the uri playbook holds it: Graph names, group targets per object key."""
    return [
        {
            "kind": kind.key,
            "key": kind.finder,
            "objects": [kind.desired],
            "targets": {
                kind.desired[kind.finder]: {
                    prop: [{"type": target_type, "group": name} for target_type, name in targets]
                    for prop, targets in kind.targets.items()
                }
            },
        }
        for kind in KINDS
    ]


def baseline_group_names():
    return sorted({name for kind in KINDS for targets in kind.targets.values() for _type, name in targets})


# --------------------------------------------------------------------------------------------------------------------
# Emulator, inventory, runs
# --------------------------------------------------------------------------------------------------------------------


def write_inventory(path, emulator, tenants, report_dir, extra_vars):
    info = emulator.info
    hosts = {}
    for index in range(tenants):
        tenant = emulator.tenant(index)
        hosts[host_name(index)] = {
            "bench_tenant_id": tenant["tenant_id"],
            "bench_client_id": tenant["client_id"],
            "bench_client_secret": tenant["client_secret"],
        }
    uri_reads = [
        {"kind": kind, "version": version, "path": path, "select": select, "singleton": singleton}
        for kind, version, path, select, singleton in URI_READS
    ]
    inventory = {
        "tenants": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "bench_graph_endpoint": info["graph_endpoint"],
                "bench_authority_host": info["authority_host"],
                "bench_ca_path": info["ca_path"],
                "bench_report_dir": report_dir,
                "bench_baseline": module_baseline(),
                "bench_health_options": THRESHOLDS,
                "bench_uri_reads": uri_reads,
                "bench_uri_baseline": uri_baseline(),
                "bench_group_names": baseline_group_names(),
                "bench_expiry_warning_days": THRESHOLDS["expiry_warning_days"],
                "bench_expiry_critical_days": THRESHOLDS["expiry_critical_days"],
                "bench_stale_after_hours": THRESHOLDS["stale_after_hours"],
                "bench_ndes_minimum_version": NDES_MINIMUM_VERSION,
                **extra_vars,
            },
            "hosts": hosts,
        }
    }
    # JSON, which the yaml inventory plugin reads too: ansible-lint leaves .json files alone.
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle, indent=1)


def host_name(index):
    return f"tenant{index:04d}"


class AuditRun(Run):
    """A run of one variant, with where its reports went, the load average at its start and the CPU that other
    processes of the machine used while it ran (in cores: other helpers' tests, not this benchmark)."""

    def __init__(self, variant, repetition):
        super().__init__(variant, repetition)
        self.report_dir = None
        self.load_average = None
        self.other_cores = None


class MachineCpu:
    """CPU seconds that the machine (/proc/stat) used so far, less this script's and the emulator's: less a run's own
    CPU too, what other processes used while it ran."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, emulator_pid):
        self.emulator_pid = emulator_pid

    def sample(self):
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        with open(f"/proc/{self.emulator_pid}/stat", encoding="ascii") as handle:
            emulator = sum(int(value) for value in handle.read().rsplit(")", 1)[1].split()[11:13])
        own = os.times()
        return (busy - emulator) / self.TICK - own.user - own.system


class AuditBench:
    """Runs the variants against one emulator, each run from a freshly seeded state, and checks every run."""

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.emulator = start_bench_emulator(args.tenants)
        self.tenant_ids = [self.emulator.tenant(index)["tenant_id"] for index in range(args.tenants)]
        self.counter = 0
        self.seeds = []
        self.cpu = MachineCpu(self.emulator.process.pid)

    def stop(self):
        self.emulator.stop()

    def prepare(self):
        """Reset and seed the emulator (dates relative to now), clear the log, add the latency on Graph round trips."""
        control = self.emulator.control
        control.reset()
        now = datetime.datetime.now(datetime.timezone.utc)
        self.seeds = [TenantSeed(index, now) for index in range(self.args.tenants)]
        control.seed({self.tenant_ids[seed.tenant]: seed.collections for seed in self.seeds})
        control.clear_log()
        if self.args.latency_ms > 0:
            # scope single: a request on its own and a whole $batch (its sub-requests run side by side) are each one
            # round trip; the token endpoint and discovery are not Graph paths.
            control.add_fault(
                method="*",
                path=r"^/(v1\.0|beta)/",
                kind="latency",
                latency=self.args.latency_ms / 1000,
                probability=1,
                times=None,
                scope="single",
            )

    def run(self, variant, label, sample_memory=False, progress=None):
        playbook, extra_vars, extra_env = VARIANTS[variant]
        self.counter += 1
        name = f"{self.counter:03d}-{variant}-{label}"
        report_dir = os.path.join(self.workdir, "reports", name)
        os.makedirs(report_dir)
        inventory = os.path.join(self.workdir, "inventory.json")
        write_inventory(inventory, self.emulator, self.args.tenants, report_dir, extra_vars)
        timeline = os.path.join(self.workdir, "timelines", name + ".jsonl")
        open(timeline, "w", encoding="ascii").close()  # pylint: disable=consider-using-with  # an empty file
        self.prepare()
        run = AuditRun(variant, label)
        run.log_path = os.path.join(self.workdir, "logs", name + ".log")
        run.report_dir = report_dir
        run.load_average = os.getloadavg()[0]
        cpu_before = self.cpu.sample()
        if self.args.collections_path:  # a changed copy of the collection, to measure a proposal
            extra_env = dict(extra_env, ANSIBLE_COLLECTIONS_PATH=os.path.abspath(self.args.collections_path))
        env = ansible_environment(self.workdir, os.path.join(self.workdir, "counts", name), timeline, extra_env)
        command = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inventory, "--forks", str(self.args.forks)]
        command.append(os.path.join(BENCH_DIR, playbook))
        connections_before = self.emulator.control.stats()["connections"]
        watch = (lambda elapsed: progress(elapsed, timeline)) if progress else None
        execute(run, command, self.workdir, env, self.args.run_timeout, sample_memory=sample_memory, progress=watch)
        run.other_cores = max(self.cpu.sample() - cpu_before - run.cpu, 0) / run.wall
        run.connections = self.emulator.control.stats()["connections"] - connections_before
        run.log = self.emulator.control.log()
        with open(timeline, encoding="utf-8") as handle:
            run.events = [json.loads(line) for line in handle if line.strip()]
        self.verify(run)
        return run

    # -- checks ------------------------------------------------------------------------------------------------------

    def verify(self, run):
        if run.rc != 0:
            run.problems.append(f"ansible-playbook exited with {run.rc} (see {run.log_path})")
            return
        writes = [e for e in run.log if e["kind"] == "graph" and e["method"] != "GET"]
        if writes:
            run.problems.append(f"wrote to Graph: {[(e['method'], e['path']) for e in writes[:3]]}")
        failed = [e for e in run.log if not expected_answer(e)]
        if failed:
            run.problems.append(f"{len(failed)} requests failed: {[(e['path'], e['status']) for e in failed[:3]]}")
        try:
            drift, problems = (read_role_report if run.variant.startswith("role") else read_uri_report)(run.report_dir)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            run.problems.append(f"its report cannot be read: {exc!r}")
            return
        for seed in self.seeds:
            host = host_name(seed.tenant)
            if drift.get(host) != seed.drift:
                run.problems.append(
                    f"{host}: drift {sorted(drift.get(host) or (), key=str)} != {sorted(seed.drift, key=str)}"
                )
            if problems.get(host, collections.Counter()) != seed.problems:
                run.problems.append(f"{host}: health {dict(problems.get(host) or {})} != {dict(seed.problems)}")
        del run.problems[6:]  # the first few tell what is wrong


def expected_answer(entry):
    """Every request must succeed; a singleton that was never set up answers 404 (Graph's way to say so)."""
    if entry["status"] is not None and entry["status"] < 400:
        return True
    return entry["status"] == 404 and entry["kind"] == "graph" and entry["path"].endswith(SINGLETON_PATHS)


def read_role_report(report_dir):
    """({host: drift rows}, {host: Counter of non-ok findings}) from the role's drift.json and health.json."""
    with open(os.path.join(report_dir, "role", "drift.json"), encoding="utf-8") as handle:
        drift_report = json.load(handle)
    with open(os.path.join(report_dir, "role", "health.json"), encoding="utf-8") as handle:
        health_report = json.load(handle)
    drift = {}
    for host, part in drift_report["tenants"].items():
        drift[host] = {
            (row["kind"], row["object"], row["status"], row["property"] if row["status"] == "drift" else None)
            for row in part["entries"]
        }
    problems = {
        host: collections.Counter(
            (finding["kind"], finding["check"], finding["severity"])
            for finding in part["findings"]
            if finding["severity"] != "ok"
        )
        for host, part in health_report["tenants"].items()
    }
    return drift, problems


def read_uri_report(report_dir):
    """The same from the uri playbook's report (Graph property names turned into the role's option names)."""
    with open(os.path.join(report_dir, "uri-audit.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    drift = {
        host: {
            (row["kind"], row["object"], row["status"], OPTIONS[row["property"]] if row["status"] == "drift" else None)
            for row in part["drift"]
        }
        for host, part in report.items()
    }
    problems = {
        host: collections.Counter(
            (finding["kind"], finding["check"], finding["severity"])
            for finding in part["health"]
            if finding["severity"] != "ok"
        )
        for host, part in report.items()
    }
    return drift, problems


# --------------------------------------------------------------------------------------------------------------------
# What a run cost: requests, round trips, and where its time went
# --------------------------------------------------------------------------------------------------------------------


class Counts:
    """Requests of one run by kind, and round trips per tenant (requests on their own plus batches)."""

    def __init__(self, run, tenant_ids):
        log = run.log
        self.tokens = sum(1 for e in log if e["kind"] == "token")
        self.discovery = sum(1 for e in log if e["kind"] == "discovery")
        self.requests = sum(1 for e in log if e["kind"] == "graph")
        self.batches = sum(1 for e in log if e["kind"] == "batch")
        self.single = sum(1 for e in log if e["kind"] == "graph" and e["batch_seq"] is None)
        self.round_trips = self.single + self.batches
        by_tenant = collections.Counter(
            e["tenant"] for e in log if e["kind"] == "batch" or (e["kind"] == "graph" and e["batch_seq"] is None)
        )
        tokens = collections.Counter(e["tenant"] for e in log if e["kind"] == "token")
        self.trips_per_tenant = [by_tenant.get(tenant, 0) for tenant in tenant_ids]
        self.tokens_per_tenant = [tokens.get(tenant, 0) for tenant in tenant_ids]
        # Round trips that only read next pages: what "without paging" leaves out.
        pages_only = collections.defaultdict(lambda: True)
        for entry in log:
            if entry["kind"] == "graph" and entry["batch_seq"] is not None:
                pages_only[entry["batch_seq"]] &= "$skiptoken" in entry["query"]
        self.page_trips = sum(1 for e in log if e["kind"] == "batch" and pages_only[e["seq"]]) + sum(
            1 for e in log if e["kind"] == "graph" and e["batch_seq"] is None and "$skiptoken" in e["query"]
        )

    @staticmethod
    def spread(values, median=True):
        """ "N" when every tenant has N, else "low-high" (with the median)."""
        low, high = min(values), max(values)
        if low == high:
            return f"{low}"
        return f"{low}-{high} (median {statistics.median(values):g})" if median else f"{low}-{high}"


def task_spans(run):
    """[(task name, start, seconds, hosts that reported a result)] from the bench_timeline events, in order; times
    are seconds after ansible-playbook started. Skipped hosts report nothing."""
    starts = [e for e in run.events if e["event"] == "task_start"]
    end = next((e["time"] for e in run.events if e["event"] == "stats"), run.started + run.wall)
    done = collections.Counter(e["task"] for e in run.events if e["event"] == "task_done")
    spans = []
    for number, event in enumerate(starts):
        finish = starts[number + 1]["time"] if number + 1 < len(starts) else end
        spans.append((event["task"], event["time"] - run.started, finish - event["time"], done[event["task"]]))
    return spans, end - run.started


def tenant_task(spans, run):
    """The span with the most Graph round trips in it: the task that audits each tenant."""

    def trips(span):
        _name, start, seconds, _hosts = span
        return sum(
            1 for e in run.log if e["kind"] in ("graph", "batch") and start <= e["time"] - run.started < start + seconds
        )

    return max(range(len(spans)), key=lambda index: trips(spans[index]))


def per_tenant_phases(run, tenant_ids, task_name, latency):
    """Medians over tenants: sign-in (first request to the first Graph round trip), Graph (first round trip to the
    end of the last, latency included) and the time from the last answer to the tenant's result at the controller."""
    by_tenant = collections.defaultdict(list)
    for entry in run.log:
        if entry["kind"] in ("token", "discovery", "batch") or (
            entry["kind"] == "graph" and entry["batch_seq"] is None
        ):
            by_tenant[entry["tenant"]].append(entry)
    done = {e["host"]: e["time"] for e in run.events if e["event"] == "task_done" and e["task"] == task_name}
    signin, graph, after = [], [], []
    for index, tenant in enumerate(tenant_ids):
        entries = sorted(by_tenant.get(tenant, []), key=lambda e: e["time"])
        trips = [e for e in entries if e["kind"] != "token" and e["kind"] != "discovery"]
        if not entries or not trips or host_name(index) not in done:
            continue
        signin.append(trips[0]["time"] - entries[0]["time"])
        graph.append(trips[-1]["time"] + latency - trips[0]["time"])
        after.append(done[host_name(index)] - (trips[-1]["time"] + latency))
    if not graph:
        return None
    return {
        "signin_s": statistics.median(signin),
        "graph_s": statistics.median(graph),
        "after_last_answer_s": statistics.median(after),
    }


def explain(report, run, tenant_ids, forks, latency):
    """Print where a run's time went: playbook start, every task, teardown, and for the role the tenant task (the one
    with the most round trips in it) per tenant."""
    spans, stats_at = task_spans(run)
    if not spans:
        report("    (no timeline)")
        return {}
    tenants = len(tenant_ids)
    first = spans[0][1]
    report(f"    playbook start (parse, inventory, role) -> first task: {first:6.2f} s")
    index = tenant_task(spans, run)
    parts = dict.fromkeys(("before the tenant task", "tenant task", "run once after it", "skipped on every host"), 0.0)
    parts["per host after it"] = 0.0
    for number, (name, _start, seconds, hosts) in enumerate(spans):
        how = "skipped on every host" if hosts == 0 else "1 host" if hosts == 1 else f"{hosts} hosts"
        if number <= index:
            part = "tenant task" if number == index else "before the tenant task"
        else:  # the reports are written once, on the controller; skipped tasks still cost every host a worker
            part = "skipped on every host" if hosts == 0 else "run once after it" if hosts == 1 else "per host after it"
        parts[part] += seconds
        report(f"    {seconds:6.2f} s  {name.split(' : ', 1)[-1][:80]:<80} {how}")
    report(f"    ansible-playbook stats -> exit: {run.wall - stats_at:6.2f} s")
    report(
        "    parts: "
        + ", ".join(f"{part} {value:.2f} s" for part, value in parts.items())
        + f", playbook start {first:.2f} s, teardown {run.wall - stats_at:.2f} s"
    )
    summary = {"to_first_task_s": first, "parts_s": dict(parts), "teardown_s": run.wall - stats_at}
    if not run.variant.startswith("role"):
        return summary
    name, _start, seconds, hosts = spans[index]
    slot = seconds * min(forks, tenants) / max(hosts, 1)
    phases = per_tenant_phases(run, tenant_ids, name, latency)
    summary["tenant_task"] = {"name": name, "seconds": seconds, "worker_seconds_per_tenant": slot, "phases": phases}
    line = f"    tenant task: {seconds:.2f} s for {hosts} tenants at forks {forks}: {slot:.2f} s of a worker per tenant"
    if phases:
        outside = slot - phases["signin_s"] - phases["graph_s"] - phases["after_last_answer_s"]
        line += (
            f" = sign-in {phases['signin_s']:.2f} + Graph round trips {phases['graph_s']:.2f} + last answer -> result "
            f"{phases['after_last_answer_s']:.2f} + before the first request {outside:.2f} (fork, templating, imports)"
        )
        summary["tenant_task"]["before_first_request_s"] = outside
    report(line)
    return summary


# --------------------------------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------------------------------


def describe_data(report, seeds, args):
    problems = sum(sum(seed.problems.values()) for seed in seeds)
    drift = sum(len(seed.drift) for seed in seeds)
    objects = sum(seed.objects for seed in seeds)
    report(
        f"{args.tenants} tenants, forks {args.forks}, {args.latency_ms:g} ms per Graph round trip (token endpoint "
        f"apart): {objects} objects of 11 kinds ({len(KINDS)} baseline kinds, 7 more health kinds), {drift} drift "
        f"entries, {problems} health problems, {sum(s.tenant in SCHOOL_DISTRICTS for s in seeds)} tenants with a "
        "second page of VPP tokens"
    )
    return objects


def run_line(report, run, counts, tenants):
    verdict = "  BROKEN" if run.problems else ""
    report(
        f"  run {run.repetition:<4} {run.variant:<15} {run.wall:7.2f} s  cpu {run.cpu:7.2f} s  tokens {counts.tokens}  "
        f"requests {counts.requests}  round trips/tenant {counts.round_trips / tenants:.2f}  "
        f"load {run.load_average:.1f}, other processes {run.other_cores:.2f} cores{verdict}"
    )


def measure(args, bench, report, variants, sample_memory=False, progress=None):
    """Every variant once per repetition, alternately; returns ({variant: [runs]}, [broken runs])."""
    runs = {variant: [] for variant in variants}
    for repetition in range(1, args.repetitions + 1):
        for variant in variants:
            run = bench.run(variant, str(repetition), sample_memory=sample_memory, progress=progress)
            runs[variant].append(run)
            run_line(report, run, Counts(run, bench.tenant_ids), args.tenants)
    report()
    broken = [run for variant_runs in runs.values() for run in variant_runs if run.problems]
    for run in broken:
        report(f"BROKEN RUN {run.variant} {run.repetition}: " + "; ".join(run.problems))
    return runs, broken


def variant_table(report, runs, bench, args):
    """The medians and counts of every variant, and where the last run of each spent its time; returns them."""
    report(
        f"{'variant':<15}{'wall s':>8}{'min':>7}{'max':>7}{'cpu s':>8}{'token':>6}{'discov':>7}{'Graph req':>10}"
        f"{'batches':>8}{'single':>7}{'trips/tenant':>13}{'paging trips':>13}{'TLS':>5}"
    )
    summary = {}
    for variant, variant_runs in runs.items():
        last = variant_runs[-1]
        counts = Counts(last, bench.tenant_ids)
        walls = [run.wall for run in variant_runs]
        report(
            f"{variant:<15}{median_of(variant_runs, 'wall'):>8.2f}{min(walls):>7.2f}{max(walls):>7.2f}"
            f"{median_of(variant_runs, 'cpu'):>8.2f}{counts.tokens:>6}{counts.discovery:>7}{counts.requests:>10}"
            f"{counts.batches:>8}{counts.single:>7}{counts.round_trips / args.tenants:>13.2f}"
            f"{counts.page_trips:>13}{last.connections:>5}"
        )
        summary[variant] = {
            "wall_median_s": median_of(variant_runs, "wall"),
            "cpu_median_s": median_of(variant_runs, "cpu"),
            "tokens": counts.tokens,
            "requests": counts.requests,
            "round_trips_per_tenant": counts.round_trips / args.tenants,
            "page_round_trips": counts.page_trips,
            "runs": [run.summary() for run in variant_runs],
        }
    report()
    report("Where the time goes (the last run of each variant; seconds from the bench_timeline callback):")
    for variant, variant_runs in runs.items():
        report(f"  {variant}:")
        summary[variant]["breakdown"] = explain(
            report, variant_runs[-1], bench.tenant_ids, args.forks, args.latency_ms / 1000
        )
    report()
    return summary


def write_summary(workdir, summary, report):
    with open(os.path.join(workdir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, default=str)
    report(f"results: {workdir}")


def bench_mode(args, workdir, report):
    variants = ["role", "uri", *[v for v in args.extra_variants if v not in ("role", "uri")]]
    bench = AuditBench(args, workdir)
    try:
        bench.prepare()
        objects = describe_data(report, bench.seeds, args)
        report(f"{args.repetitions} alternating repetitions of {', '.join(variants)}; load average {load()}")
        runs, broken = measure(args, bench, report, variants)
        summary = {"mode": "baseline", "args": vars(args), "variants": variant_table(report, runs, bench, args)}
    finally:
        bench.stop()
    role = Counts(runs["role"][-1], bench.tenant_ids)
    seconds = median_of(runs["role"], "wall")
    uri_seconds = median_of(runs["uri"], "wall")
    ratio = seconds / uri_seconds
    trips = role.round_trips / args.tenants
    trips_unpaged = (role.round_trips - role.page_trips) / args.tenants
    report(
        f"role per tenant: tokens {Counts.spread(role.tokens_per_tenant)}, round trips "
        f"{Counts.spread(role.trips_per_tenant)} ({trips_unpaged:.2f} without the {role.page_trips} that read a next "
        f"page), {role.requests / args.tenants:.2f} Graph requests, {role.discovery / args.tenants:g} discovery; "
        f"cpu role/uri {median_of(runs['role'], 'cpu') / median_of(runs['uri'], 'cpu'):.2f}"
    )
    for name, met in (
        ("round trips per tenant without paging <= 2 (1 is the aim)", trips_unpaged <= 2),
        ("tokens == tenants", role.tokens == args.tenants),
        ("ratio baseline/uri <= 0.15", ratio <= 0.15),
    ):
        report(f"target {name}: {'met' if met else 'MISSED'}")
    summary.update(objects=objects, ratio=ratio, round_trips_per_tenant=trips, round_trips_unpaged=trips_unpaged)
    write_summary(workdir, summary, report)
    report(
        f"baseline tenants={args.tenants} objects={objects} seconds={seconds:.2f} tokens={role.tokens} "
        f"requests={role.requests} round_trips={trips:.2f} uri_seconds={uri_seconds:.2f} "
        f"ratio baseline/uri={ratio:.2f}"
    )
    return 1 if broken else 0


def scale_mode(args, workdir, report):
    """The role (and any extra variants, alternately) with the workers' memory sampled and progress every 10 s."""
    variants = ["role", *[v for v in args.extra_variants if v != "role"]]
    bench = AuditBench(args, workdir)

    def progress(elapsed, timeline):
        with open(timeline, encoding="utf-8") as handle:
            events = [json.loads(line) for line in handle if line.strip()]
        started = [e["task"] for e in events if e["event"] == "task_start"]
        if started:
            task = started[-1]
            done = sum(1 for e in events if e["event"] == "task_done" and e["task"] == task)
            where = f"task {len(started)} ({task.split(' : ', 1)[-1][:60]}): {done} of {args.tenants} hosts done"
        else:
            where = "starting"
        report(f"    {elapsed:6.0f} s: {where}, load {load()}")

    try:
        bench.prepare()
        objects = describe_data(report, bench.seeds, args)
        report(f"{args.repetitions} run(s) of {', '.join(variants)}; load average {load()}")
        runs, broken = measure(args, bench, report, variants, sample_memory=True, progress=progress)
        summary = {"mode": "scale", "args": vars(args), "objects": objects}
        summary["variants"] = variant_table(report, runs, bench, args)
    finally:
        bench.stop()
    role_runs = runs["role"]
    counts = Counts(role_runs[-1], bench.tenant_ids)
    memory = {
        key: statistics.median(run.memory[key] for run in role_runs if run.memory[key] is not None)
        for key in role_runs[-1].memory
    }
    wall = median_of(role_runs, "wall")
    cpu = median_of(role_runs, "cpu")
    report(
        f"role: wall {wall:.2f} s, cpu {cpu:.2f} s ({cpu / args.tenants * 1000:.0f} ms per tenant), {counts.requests} "
        f"Graph requests in {counts.batches} batches and {counts.single} requests on their own, "
        f"{role_runs[-1].connections} TLS connections"
    )
    report(
        f"memory: {memory['workers_seen']:.0f} workers, peak RSS per worker {memory['worker_peak_rss_mb_median']:.1f} "
        f"MB (max {memory['worker_peak_rss_mb_max']:.1f}), peak USS {memory['worker_peak_uss_mb_median']:.1f} MB (max "
        f"{memory['worker_peak_uss_mb_max']:.1f}), controller peak RSS {memory['controller_peak_rss_mb']:.1f} MB"
    )
    report(
        f"per tenant: tokens {Counts.spread(counts.tokens_per_tenant)}, round trips "
        f"{Counts.spread(counts.trips_per_tenant)}, {counts.discovery / args.tenants:g} discovery"
    )
    summary.update(memory_medians=memory, round_trips_per_tenant=counts.round_trips / args.tenants)
    write_summary(workdir, summary, report)
    report(
        f"scale tenants={args.tenants} forks={args.forks} wall={wall:.2f}s cpu={cpu:.2f}s "
        f"worker_peak_rss_mb={memory['worker_peak_rss_mb_max']:.1f} "
        f"worker_peak_uss_mb={memory['worker_peak_uss_mb_max']:.1f} "
        f"tokens_per_tenant={Counts.spread(counts.tokens_per_tenant, median=False)} "
        f"round_trips_per_tenant={counts.round_trips / args.tenants:.2f}"
    )
    return 1 if broken else 0


def load():
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="The baseline role's audit of many tenants (see benchmarks/README.md)."
    )
    parser.add_argument("--scale", action="store_true", help="the role alone on many tenants (default 1000)")
    parser.add_argument("--tenants", type=int, help="tenants, one inventory host each (default 50; 1000 with --scale)")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=200, help="added to each Graph round trip (default 200)")
    parser.add_argument("--repetitions", type=int, help="runs per variant (default 3; 1 with --scale)")
    parser.add_argument(
        "--extra-variants",
        default="",
        help="comma-separated extra measured variants: role_beta (every kind read from beta: one batch per tenant), "
        "role_unbatched (MSGRAPH_BATCH=false)",
    )
    parser.add_argument(
        "--collections-path",
        help="ANSIBLE_COLLECTIONS_PATH with the msgraph.intune to run (default: this tree); to measure a change",
    )
    parser.add_argument("--results-dir", default=DEFAULT_RESULTS, help="where a timestamped result folder goes")
    parser.add_argument("--run-timeout", type=float, default=3600, help="seconds before a run is killed")
    args = parser.parse_args(argv)
    args.tenants = args.tenants or (1000 if args.scale else 50)
    args.repetitions = args.repetitions or (1 if args.scale else 3)
    args.extra_variants = [v for v in args.extra_variants.split(",") if v]
    unknown = [v for v in args.extra_variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {', '.join(unknown)}")
    if args.tenants < 1 or args.repetitions < 1 or args.forks < 1:
        parser.error("--tenants, --repetitions and --forks must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    mode = "audit-scale" if args.scale else "audit"
    workdir = os.path.join(os.path.abspath(args.results_dir), f"{mode}-{stamp}")
    for sub in ("logs", "counts", "timelines", "reports"):
        os.makedirs(os.path.join(workdir, sub), exist_ok=True)
    report = Report(os.path.join(workdir, "report.txt"))
    try:
        return scale_mode(args, workdir, report) if args.scale else bench_mode(args, workdir, report)
    finally:
        report.save()


if __name__ == "__main__":
    sys.exit(main())
