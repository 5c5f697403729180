"""Graph JSON batching through real ansible-playbook against the emulator, on both execution paths.

Every scenario signs in to tenants of its own, seeded alike, so that the emulator's log splits by tenant into the
requests of each task. What the log shows of a tenant: its round trips (``batch`` entries and ``graph`` entries sent
on their own), the sub-requests of each batch (``graph`` entries with the batch's ``batch_seq``), their statuses,
their client-request-ids (kept by a read across its retries) and the times they arrived.

* More than 20 reads in one task (25 group names, 25 group ids) go in batches of 20; the answers come back shuffled
  (the emulator never answers in request order), so only matching by id gives every name its own group.
* A sub-request answered 429 with Retry-After 0.3 is retried alone, in a batch of its own, at least 0.3 s later; one
  without Retry-After after the client's backoff (at least half its first step of 1 s); a 503 on the outer POST
  re-sends the batch; a 403 and a 404 inside a batch belong to their read only (a per-kind finding of the health
  check, an error entry of a baseline audit); a 429 that persists ends that read's retries after max_retries.
* Paging: with page size 1 the next pages of several lists travel together in the next batch. A repeated
  @odata.nextLink cannot be had from the emulator (its skiptokens always move on); the unit tests cover it
  (tests/unit/plugins/module_utils/test_graph_batch.py, test_a_repeated_next_link_stops_that_read).
* An endpoint whose $batch answers 404: the same results from single requests, one warning at -v, none without.
* ``batch: false`` and MSGRAPH_BATCH=false: no batch at all, the same results, the same reads and the same writes
  (every write a request of its own) as with batching on.
* A sign-in that fails (here: throttled until the retries are spent) fails the task before any read, batched or not.
"""

from __future__ import annotations

import copy
import re

from tests.integration.conftest import failed_result, graph_target

MTD_ID = "fc780465-2017-40d4-a0c5-307022471b92"
GROUP = "#microsoft.graph.groupAssignmentTarget"
TOKEN_MARKER = "vpp-token-marker-batching-5d2e"
CERTIFICATE_MARKER = "apns-certificate-marker-batching-c41f"
FALLBACK_WARNING = "does not serve JSON batching"
# The first backoff step of the client without Retry-After is 1 s, with "equal jitter": at least half of it.
SHORTEST_BACKOFF = 0.5
HEALTH_KINDS = (
    "device_management_partners",
    "compliance_management_partners",
    "remote_assistance_partners",
    "mobile_threat_defense_connectors",
    "apple_push_notification_certificate",
    "vpp_tokens",
    "dep_onboarding_settings",
    "ndes_connectors",
    "exchange_connectors",
    "managed_google_play",
    "windows_autopilot_settings",
)
VPP_PATH = "/v1.0/deviceAppManagement/vppTokens"
RAP_PATH = "/v1.0/deviceManagement/remoteAssistancePartners"


def group_id(number):
    return f"00000000-0000-4000-8000-{number:012d}"


def group_name(number):
    return f"Fleet {number:02d}"


FLEET = range(1, 26)  # 25 groups: more than one batch holds
GROUPS = [{"id": group_id(number), "displayName": group_name(number)} for number in FLEET]


def named_targets(numbers):
    return [{"type": "group", "group_display_name": group_name(number)} for number in numbers]


def graph_targets(numbers):
    return [graph_target(GROUP, groupId=group_id(number)) for number in numbers]


# -- tenants ----------------------------------------------------------------------------------------------------------

HEALTH_SEED = {
    "vppTokens": [
        {
            "id": "vpp-1",
            "organizationName": "Contoso",
            "appleId": "vpp@example.com",
            "state": "valid",
            "lastSyncStatus": "completed",
            "expirationDateTime": "2099-01-01T00:00:00Z",
            "lastSyncDateTime": "2020-01-01T00:00:00Z",
            "token": TOKEN_MARKER,
        }
    ],
    "applePushNotificationCertificate": {
        "id": "apns-1",
        "appleIdentifier": "mdm@example.com",
        "expirationDateTime": "2099-01-01T00:00:00Z",
        "certificateUploadStatus": "success",
        "certificate": CERTIFICATE_MARKER,
    },
    "exchangeConnectors": [
        {"id": "exch-1", "serverName": "exch01", "status": "connected", "lastSyncDateTime": "2020-01-01T00:00:00Z"}
    ],
    "depOnboardingSettings": [
        {"id": "dep-1", "tokenName": "ADE token", "tokenExpirationDateTime": "2020-06-01T00:00:00Z"}
    ],
    "ndesConnectors": [
        {"id": "ndes-1", "displayName": "NDES 1", "state": "inactive", "connectorVersion": "6.2301.1.0"}
    ],
    "androidManagedStoreAccountEnterpriseSettings": None,
    "windowsAutopilotSettings": {
        "id": "autopilot-1",
        "syncStatus": "failed",
        "lastSyncDateTime": "2020-01-01T00:00:00Z",
    },
}


def split_tenant():
    """A partner that targets all 25 groups, a compliance partner that drifts, and the other kinds in line."""
    return {
        "groups": GROUPS,
        "deviceManagementPartners": [
            {
                "id": "dmp-1",
                "displayName": "Jamf Pro",
                "partnerState": "enabled",
                "isConfigured": True,
                "groupsRequiringPartnerEnrollment": graph_targets(FLEET),
            }
        ],
        "complianceManagementPartners": [
            {
                "id": "cmp-1",
                "displayName": "Jamf compliance",
                "partnerState": "unavailable",
                "iosOnboarded": True,
                "iosEnrollmentAssignments": graph_targets((1, 2, 3)),
            }
        ],
        "remoteAssistancePartners": [{"id": "rap-1", "displayName": "TeamViewer", "onboardingStatus": "onboarded"}],
        "mobileThreatDefenseConnectors": [{"id": MTD_ID, "androidEnabled": True}],
    }


SPLIT_BASELINE = {
    "device_management_partners": [
        {
            "display_name": "Jamf Pro",
            "partner_state": "enabled",
            "groups_requiring_partner_enrollment": named_targets(FLEET),
        }
    ],
    "compliance_management_partners": [
        {
            "display_name": "Jamf compliance",
            "partner_state": "enabled",
            "ios_enrollment_assignments": named_targets((1, 2, 3)),
        }
    ],
    "remote_assistance_partners": [{"display_name": "TeamViewer"}],
    "mobile_threat_defense_connectors": [{"id": MTD_ID, "android_enabled": True}],
}


def drifting_tenant():
    """Drift of every sort a baseline handles (a property, a group target, an object missing, one unmanaged, a bound
    action), and every health kind."""
    return dict(
        copy.deepcopy(HEALTH_SEED),
        groups=GROUPS[:2],
        deviceManagementPartners=[
            {
                "id": "dmp-1",
                "displayName": "Jamf Pro",
                "partnerState": "unresponsive",
                "isConfigured": True,
                "lastHeartbeatDateTime": "2020-01-01T00:00:00Z",
                "groupsRequiringPartnerEnrollment": graph_targets((2,)),
            }
        ],
        complianceManagementPartners=[{"id": "cmp-old", "displayName": "Old compliance", "partnerState": "enabled"}],
        remoteAssistancePartners=[{"id": "rap-1", "displayName": "TeamViewer", "onboardingStatus": "notOnboarded"}],
        mobileThreatDefenseConnectors=[{"id": MTD_ID, "androidEnabled": False}],
    )


DRIFT_BASELINE = {
    "device_management_partners": [
        {
            "display_name": "Jamf Pro",
            "partner_state": "enabled",
            "groups_requiring_partner_enrollment": named_targets((1,)),
        }
    ],
    "compliance_management_partners": [
        {
            "display_name": "Jamf compliance",
            "partner_state": "enabled",
            "mac_os_onboarded": True,
            "mac_os_enrollment_assignments": named_targets((1, 2)),
        }
    ],
    "remote_assistance_partners": [{"display_name": "TeamViewer", "onboarding": "started"}],
    "mobile_threat_defense_connectors": [{"id": MTD_ID, "android_enabled": True}],
}


def seed_tenants(emulator, states):
    """Seed ``{tenant id: state}`` (new tenants); returns ``{tenant id: credentials}``."""
    answer = emulator.control.seed(states)
    wanted = {tenant_id.casefold(): tenant_id for tenant_id in states}
    return {wanted[t["tenant_id"].casefold()]: t for t in answer["tenants"] if t["tenant_id"].casefold() in wanted}


def login(info, credentials):
    return {
        "tenant_id": credentials["tenant_id"],
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
        "graph_endpoint": info["graph_endpoint"],
        "authority_host": info["authority_host"],
        "ca_path": info["ca_path"],
    }


def task(name, module, connection, environment=None, **options):
    entry = {"name": name, f"msgraph.intune.{module}": dict(connection, **options)}
    if environment:
        entry["environment"] = environment
    return entry


def control_task(info, name, path, body=None, method="POST"):
    """A call of the emulator's control API from the play, between two tasks."""
    args = {"url": f"{info['control_url']}/{path}", "method": method, "ca_path": info["ca_path"]}
    if body is not None:
        args.update(body_format="json", body=body)
    return {"name": name, "ansible.builtin.uri": args}


# -- the log of one tenant --------------------------------------------------------------------------------------------


class TenantLog:
    """The logged requests of one tenant (token requests apart)."""

    def __init__(self, log, tenant_id):
        self.entries = [
            entry
            for entry in log
            if entry["kind"] in ("graph", "batch") and (entry["tenant"] or "").casefold() == tenant_id.casefold()
        ]

    @property
    def batches(self):
        return [entry for entry in self.entries if entry["kind"] == "batch"]

    @property
    def sizes(self):
        return [entry["size"] for entry in self.batches]

    @property
    def round_trips(self):
        return [entry for entry in self.entries if entry["kind"] == "batch" or entry["batch_seq"] is None]

    @property
    def writes(self):
        return [entry for entry in self.entries if entry["kind"] == "graph" and entry["method"] != "GET"]

    def inside(self, batch):
        return [entry for entry in self.entries if entry["batch_seq"] == batch["seq"]]

    def on(self, path):
        return [entry for entry in self.entries if entry["kind"] == "graph" and entry["path"] == path]

    def reads(self):
        """Every GET as (path, query) without paging tokens, sorted: what a task read, however it travelled."""
        return sorted(
            (entry["path"], sorted((k, v) for k, v in (entry["query"] or {}).items() if k != "$skiptoken"))
            for entry in self.entries
            if entry["kind"] == "graph" and entry["method"] == "GET"
        )


def batch_of(tenant_log, entry):
    return next(batch for batch in tenant_log.batches if batch["seq"] == entry["batch_seq"])


def ok_result(run, name):
    entries = run.results_of(name)
    assert [entry["status"] for entry in entries] == ["ok"], entries
    return entries[0]["result"]


# -- results, compared ------------------------------------------------------------------------------------------------


def findings_by_kind(health):
    """{kind: [(id, check, status, severity)]}: what each kind was judged, without the wording of times."""
    found = {kind: [] for kind in HEALTH_KINDS}
    for finding in health["findings"]:
        found[finding["kind"]].append((finding["id"], finding["check"], finding["status"], finding["severity"]))
    return found


def comparable(result, created=()):
    """A task result as two tasks against tenants seeded alike must both give it: no invocation (its tenant) and no
    notices about the run (warnings are checked on their own), ids that the emulator gave new objects as
    "<created>", and digits masked in messages and days_left (durations are measured from each task's own clock)."""
    kept = {key: value for key, value in result.items() if key not in ("invocation", "warnings", "deprecations")}

    def scrub(value, key=None):
        if isinstance(value, dict):
            return {name: scrub(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if key == "days_left":
            return "#"
        if isinstance(value, str):
            if value in created:
                return "<created>"
            return re.sub(r"\d+", "#", value) if key == "message" else value
        return value

    return scrub(kept)


def fallback_warnings(result):
    return [warning for warning in result.get("warnings") or [] if FALLBACK_WARNING in warning]


# -- more than 20 reads, shuffled answers, a throttled read retried alone ---------------------------------------------


def test_25_group_names_and_ids_split_into_batches_and_a_throttled_read_is_retried_alone(
    emulator, run_playbook, execution_path
):
    info = emulator.info
    tenants = seed_tenants(emulator, {"batching-audit": split_tenant(), "batching-export": split_tenant()})
    emulator.control.add_fault(
        method="GET", path=f"^{RAP_PATH}$", kind="status", status=429, retry_after=0.3, times=1, scope="batched"
    )
    run = run_playbook(
        [
            task(
                "audit",
                "tenant_baseline",
                login(info, tenants["batching-audit"]),
                mode="audit",
                baseline=SPLIT_BASELINE,
            ),
            task("export", "tenant_baseline", login(info, tenants["batching-export"]), mode="export"),
        ]
    )
    assert run.rc == 0, run.output
    log = emulator.control.log()

    # Audit: 4 lists and 25 names are 29 reads, in batches of 20 and 9; the throttled list alone in a third one.
    audit = ok_result(run, "audit")
    assert [
        (row["kind"], row["status"], row["property"], row["current"], row["desired"]) for row in audit["drift"]
    ] == [("compliance_management_partners", "drift", "partner_state", "unavailable", "enabled")]
    audited = TenantLog(log, "batching-audit")
    assert audited.sizes == [20, 9, 1]
    assert len(audited.round_trips) == 3
    group_reads = audited.on("/v1.0/groups")
    assert len(group_reads) == 25 and {entry["status"] for entry in group_reads} == {200}
    throttled, retried = audited.on(RAP_PATH)
    assert (throttled["status"], throttled["fault"], retried["status"]) == (429, "status", 200)
    assert retried["client_request_id"] == throttled["client_request_id"]
    assert audited.inside(batch_of(audited, retried)) == [retried]
    assert retried["time"] - throttled["time"] >= 0.3

    # Export: the 4 lists in one batch, then the 25 group ids of the partner's targets in batches of 20 and 5, each
    # named correctly although every batch is answered out of order.
    export = ok_result(run, "export")
    assert export["baseline"]["device_management_partners"] == [
        {
            "display_name": "Jamf Pro",
            "partner_state": "enabled",
            "partner_app_type": "unknown",
            "is_configured": True,
            "groups_requiring_partner_enrollment": named_targets(FLEET),
        }
    ]
    assert export["baseline"]["compliance_management_partners"][0]["ios_enrollment_assignments"] == named_targets(
        (1, 2, 3)
    )
    exporting = TenantLog(log, "batching-export")
    assert exporting.sizes == [4, 20, 5]
    named = [entry["path"] for batch in exporting.batches[1:3] for entry in exporting.inside(batch)]
    assert sorted(named) == sorted(f"/v1.0/groups/{group_id(number)}" for number in FLEET)
    assert audited.writes == exporting.writes == []


# -- faults inside and around the batches of a health check ------------------------------------------------------------


def health_tenant():
    return dict(
        copy.deepcopy(HEALTH_SEED),
        deviceManagementPartners=[{"id": "dmp-1", "displayName": "Jamf Pro", "partnerState": "enabled"}],
        complianceManagementPartners=[{"id": "cmp-1", "displayName": "Jamf compliance", "partnerState": "enabled"}],
    )


def fault(path, status, method="GET", scope="batched", **spec):
    return dict(spec, method=method, path=path, kind="status", status=status, scope=scope)


def test_faults_inside_a_batch_belong_to_their_read_and_the_outer_post_is_retried(
    emulator, run_playbook, execution_path
):
    info = emulator.info
    names = ("reference", "429", "503", "errors", "audit-errors", "budget")
    tenants = seed_tenants(emulator, {f"batching-health-{name}": health_tenant() for name in names})

    def health(name, **options):
        return task(f"health {name}", "connector_health", login(info, tenants[f"batching-health-{name}"]), **options)

    vpp = f"^{VPP_PATH}$"
    compliance_list = "^/v1.0/deviceManagement/complianceManagementPartners$"
    run = run_playbook(
        [
            health("reference"),
            control_task(info, "a 429 without Retry-After", "faults", fault(vpp, 429, times=1)),
            health("429"),
            control_task(
                info,
                "a 503 on the batch",
                "faults",
                fault(r"/\$batch$", 503, "POST", "single", retry_after=0.1, times=1),
            ),
            health("503"),
            control_task(info, "a 403 inside", "faults", fault(vpp, 403)),
            control_task(info, "a 404 inside", "faults", fault("^/v1.0/deviceManagement/exchangeConnectors$", 404)),
            control_task(info, "a 403 on a list", "faults", fault(compliance_list, 403)),
            health("errors"),
            task(
                "audit errors",
                "tenant_baseline",
                login(info, tenants["batching-health-audit-errors"]),
                mode="audit",
                baseline={
                    "device_management_partners": [{"display_name": "Jamf Pro", "partner_state": "enabled"}],
                    "compliance_management_partners": [{"display_name": "Jamf compliance"}],
                },
                health={"kinds": ["vpp_tokens", "device_management_partners"]},
            ),
            control_task(info, "no more faults", "faults", method="DELETE"),
            control_task(info, "a 429 that persists", "faults", fault(vpp, 429, retry_after=0.05)),
            health("budget", max_retries=1),
            control_task(info, "no faults at the end", "faults", method="DELETE"),
        ]
    )
    assert run.rc == 0, run.output
    assert TOKEN_MARKER not in run.output and CERTIFICATE_MARKER not in run.output
    log = emulator.control.log()
    logs = {name: TenantLog(log, f"batching-health-{name}") for name in names}
    results = {name: ok_result(run, f"health {name}") for name in names if name != "audit-errors"}
    reference = findings_by_kind(results["reference"])
    assert all(reference[kind] for kind in HEALTH_KINDS), reference
    # One batch per API version: v1.0 holds 7 kinds, beta the 4 that exist there only.
    assert logs["reference"].sizes == [7, 4] and len(logs["reference"].round_trips) == 2
    for name, result in results.items():
        assert TOKEN_MARKER not in str(result) and CERTIFICATE_MARKER not in str(result), name

    # A 429 without Retry-After: that read alone, in a batch of its own, after the client's backoff.
    assert findings_by_kind(results["429"]) == reference
    throttled, retried = logs["429"].on(VPP_PATH)
    assert (throttled["status"], retried["status"]) == (429, 200)
    assert retried["client_request_id"] == throttled["client_request_id"]
    assert logs["429"].sizes == [7, 4, 1] and logs["429"].inside(batch_of(logs["429"], retried)) == [retried]
    assert retried["time"] - throttled["time"] >= SHORTEST_BACKOFF

    # A 503 on the outer POST: the batch is sent again (the same request), its sub-requests ran once.
    assert findings_by_kind(results["503"]) == reference
    refused, resent, beta = logs["503"].batches
    assert (refused["status"], refused["size"], resent["status"], resent["size"], beta["size"]) == (
        503,
        None,
        200,
        7,
        4,
    )
    assert resent["client_request_id"] == refused["client_request_id"] and resent["path"] == "/v1.0/$batch"
    assert resent["time"] - refused["time"] >= 0.1
    assert logs["503"].inside(refused) == [] and len(logs["503"].on(VPP_PATH)) == 1

    # A 403 and a 404 inside a batch: a finding of that kind only; the others are judged as before.
    errors = findings_by_kind(results["errors"])
    assert errors["vpp_tokens"] == [(None, "state", "forbidden", "warning")]
    assert errors["compliance_management_partners"] == [(None, "state", "forbidden", "warning")]
    assert errors["exchange_connectors"] == [(None, "state", "error", "warning")]
    faulted = ("vpp_tokens", "compliance_management_partners", "exchange_connectors")
    assert {kind: errors[kind] for kind in HEALTH_KINDS if kind not in faulted} == {
        kind: reference[kind] for kind in HEALTH_KINDS if kind not in faulted
    }
    messages = {finding["kind"]: finding["message"] for finding in results["errors"]["findings"]}
    assert "DeviceManagementServiceConfig.Read.All or DeviceManagementApps.Read.All" in messages["vpp_tokens"]
    assert "HTTP 404" in messages["exchange_connectors"] and "client-request-id" in messages["exchange_connectors"]
    assert logs["errors"].sizes == [7, 4]  # failed reads are final: nothing is retried

    # The same 403 in a baseline audit: an error entry for that kind; the partner is audited, health judged.
    audit = ok_result(run, "audit errors")
    [error] = [row for row in audit["drift"] if row["status"] == "error"]
    assert error["kind"] == "compliance_management_partners" and "HTTP 403" in error["message"]
    assert audit["counts"] == {"drift": 0, "missing": 0, "unmanaged": 0, "error": 1}
    audit_findings = findings_by_kind(audit["health"])
    assert audit_findings["vpp_tokens"] == [(None, "state", "forbidden", "warning")]
    assert audit_findings["device_management_partners"] == reference["device_management_partners"]
    assert logs["audit-errors"].sizes == [3]  # two lists and the health kind in one batch

    # A 429 that persists: that read fails after max_retries + 1 attempts, within its Retry-After; the task does not.
    budget = findings_by_kind(results["budget"])
    assert budget["vpp_tokens"] == [(None, "state", "error", "warning")]
    assert {kind: budget[kind] for kind in HEALTH_KINDS if kind != "vpp_tokens"} == {
        kind: reference[kind] for kind in HEALTH_KINDS if kind != "vpp_tokens"
    }
    [message] = [finding["message"] for finding in results["budget"]["findings"] if finding["kind"] == "vpp_tokens"]
    assert "was throttled (HTTP 429, Retry-After 0.05) after 2 attempts" in message
    attempts = logs["budget"].on(VPP_PATH)
    assert [entry["status"] for entry in attempts] == [429, 429]
    assert len({entry["client_request_id"] for entry in attempts}) == 1
    assert attempts[1]["time"] - attempts[0]["time"] >= 0.05
    assert all(not TenantLog(log, f"batching-health-{name}").writes for name in names)


# -- a sign-in that fails is the task's failure, not one read's ------------------------------------------------------


def test_a_throttled_sign_in_fails_the_task_instead_of_its_first_reads(emulator, run_playbook, execution_path):
    """The token endpoint keeps answering 503 until the retries of the first sign-in are spent: the task fails with
    the sign-in's error and sends no read, whether its reads would travel in batches or on their own (a later
    sign-in, which the fault no longer meets, must not turn that into per-kind errors)."""
    info = emulator.info
    tenants = seed_tenants(emulator, {"batching-sign-in": health_tenant(), "batching-sign-in-alone": health_tenant()})
    for tenant_id in tenants:
        emulator.control.add_fault(
            method="POST", path=f"^/{tenant_id}/oauth2/v2.0/token$", kind="status", status=503, retry_after=0.1, times=2
        )
    run = run_playbook(
        [
            dict(
                task("batched", "connector_health", login(info, tenants["batching-sign-in"]), max_retries=1),
                ignore_errors=True,
            ),
            dict(
                task(
                    "alone",
                    "connector_health",
                    login(info, tenants["batching-sign-in-alone"]),
                    max_retries=1,
                    kinds=["vpp_tokens"],
                ),
                ignore_errors=True,
            ),
        ]
    )
    log = emulator.control.log()
    for name, tenant_id in (("batched", "batching-sign-in"), ("alone", "batching-sign-in-alone")):
        result = failed_result(run, name)
        assert result["msg"].startswith(f"token request failed for tenant {tenant_id}"), result["msg"]
        assert "HTTP 503" in result["msg"] and "findings" not in result
        assert TenantLog(log, tenant_id).entries == [], name


# -- paging of several lists at once ----------------------------------------------------------------------------------


def test_the_next_pages_of_several_lists_travel_together(emulator, run_playbook, execution_path):
    info = emulator.info
    state = {
        "deviceManagementPartners": [{"id": f"dmp-{n}", "displayName": f"Partner {n}"} for n in (1, 2, 3)],
        "complianceManagementPartners": [{"id": f"cmp-{n}", "displayName": f"Compliance {n}"} for n in (1, 2)],
        "remoteAssistancePartners": [{"id": f"rap-{n}", "displayName": f"Assistance {n}"} for n in (1, 2)],
        "mobileThreatDefenseConnectors": [{"id": MTD_ID}],
    }
    tenants = seed_tenants(emulator, {"batching-pages": state})
    emulator.control.config(page_size=1)
    baseline = {
        "device_management_partners": [{"display_name": "Partner 1"}],
        "compliance_management_partners": [],
        "remote_assistance_partners": [],
        "mobile_threat_defense_connectors": [],
    }
    run = run_playbook(
        [task("audit", "tenant_baseline", login(info, tenants["batching-pages"]), mode="audit", baseline=baseline)]
    )
    assert run.rc == 0, run.output
    audit = ok_result(run, "audit")
    unmanaged = sorted((row["kind"], row["id"]) for row in audit["drift"] if row["status"] == "unmanaged")
    assert unmanaged == sorted(
        [("device_management_partners", "dmp-2"), ("device_management_partners", "dmp-3")]
        + [("compliance_management_partners", f"cmp-{n}") for n in (1, 2)]
        + [("remote_assistance_partners", f"rap-{n}") for n in (1, 2)]
        + [("mobile_threat_defense_connectors", MTD_ID)]
    )
    assert audit["counts"] == {"drift": 0, "missing": 0, "unmanaged": 7, "error": 0}
    pages = TenantLog(emulator.control.log(), "batching-pages")
    # The first pages of 4 lists, the second pages of the 3 lists that have one, the third page of the partners.
    assert pages.sizes == [4, 3, 1]
    second, third = pages.batches[1:]
    assert sorted(entry["path"] for entry in pages.inside(second)) == [
        "/v1.0/deviceManagement/complianceManagementPartners",
        "/v1.0/deviceManagement/deviceManagementPartners",
        "/v1.0/deviceManagement/remoteAssistancePartners",
    ]
    assert [entry["path"] for entry in pages.inside(third)] == ["/v1.0/deviceManagement/deviceManagementPartners"]
    assert all("$skiptoken" in entry["query"] for entry in pages.inside(second) + pages.inside(third))
    assert len(pages.round_trips) == 3


# -- the same results, reads and writes with batching on and off -------------------------------------------------------

BASELINE_COLLECTIONS = (
    "deviceManagementPartners",
    "complianceManagementPartners",
    "remoteAssistancePartners",
    "mobileThreatDefenseConnectors",
)


def created_ids(emulator, tenant_id, seeded):
    """Ids of the objects that the tenant holds and its seed did not."""
    known = {obj["id"] for collection in BASELINE_COLLECTIONS for obj in seeded.get(collection, [])}
    return {
        obj["id"]
        for collection in BASELINE_COLLECTIONS
        for obj in emulator.control.state(collection)[tenant_id]
        if obj["id"] not in known
    }


def test_tenant_baseline_gives_the_same_with_batching_on_and_off(emulator, run_playbook, execution_path):
    info = emulator.info
    modes = ("audit", "apply", "export")
    seeded = drifting_tenant()
    tenants = seed_tenants(emulator, {f"batching-{mode}-{side}": seeded for mode in modes for side in ("on", "off")})
    options = {
        "audit": {"mode": "audit", "baseline": DRIFT_BASELINE, "health": {}},
        "apply": {"mode": "apply", "baseline": DRIFT_BASELINE, "prune": True},
        "export": {"mode": "export"},
    }
    off = {
        "audit": ({"batch": False}, None),
        "apply": ({"batch": False}, None),
        "export": ({}, {"MSGRAPH_BATCH": "false"}),
    }
    tasks = []
    for mode in modes:
        connection = login(info, tenants[f"batching-{mode}-on"])
        tasks.append(task(f"{mode} on", "tenant_baseline", connection, **options[mode]))
        switch, environment = off[mode]
        connection = login(info, tenants[f"batching-{mode}-off"])
        tasks.append(task(f"{mode} off", "tenant_baseline", connection, environment, **options[mode], **switch))
    run = run_playbook(tasks, diff=True)
    assert run.rc == 0, run.output
    log = emulator.control.log()
    logs = {(mode, side): TenantLog(log, f"batching-{mode}-{side}") for mode in modes for side in ("on", "off")}
    created = {key: created_ids(emulator, f"batching-{key[0]}-{key[1]}", seeded) for key in logs}

    for mode in modes:
        on, off_result = ok_result(run, f"{mode} on"), ok_result(run, f"{mode} off")
        assert comparable(on, created[mode, "on"]) == comparable(off_result, created[mode, "off"]), mode
        assert logs[mode, "on"].reads() == logs[mode, "off"].reads(), mode
        assert logs[mode, "off"].batches == [], mode
        assert len(logs[mode, "on"].round_trips) < len(logs[mode, "off"].round_trips), mode
        assert TOKEN_MARKER not in str(on) and CERTIFICATE_MARKER not in str(on)

    # What the results hold: drift of every sort and the health of every kind; the writes that apply made.
    audit = ok_result(run, "audit on")
    assert audit["counts"] == {"drift": 4, "missing": 1, "unmanaged": 1, "error": 0}, audit["drift"]
    assert sorted(audit["health"]["summary"]["kinds"]) == sorted(HEALTH_KINDS)
    # Lists, group names and the health kinds: one batch per API version.
    assert logs["audit", "on"].sizes == [9, 4] and len(logs["audit", "on"].round_trips) == 2
    assert logs["audit", "on"].writes == logs["audit", "off"].writes == []
    assert ok_result(run, "export on")["baseline"]["device_management_partners"][0][
        "groups_requiring_partner_enrollment"
    ] == named_targets((2,))

    # Apply: every write a request of its own, the same writes either way, and the same tenant afterwards.
    def writes(side):
        masked = re.compile("|".join(map(re.escape, created["apply", side])) or "^$")
        return sorted(
            (entry["method"], masked.sub("<created>", entry["path"]), repr(entry["body"]), entry["batch_seq"])
            for entry in logs["apply", side].writes
        )

    assert writes("on") == writes("off")
    assert [(method, batch_seq) for method, _path, _body, batch_seq in writes("on")] == [
        ("DELETE", None),
        ("PATCH", None),
        ("PATCH", None),
        ("POST", None),
        ("POST", None),
    ]
    assert logs["apply", "on"].sizes == [6]  # 4 lists and 2 group names
    for collection in BASELINE_COLLECTIONS:
        states = emulator.control.state(collection)
        on_state, off_state = states["batching-apply-on"], states["batching-apply-off"]
        assert comparable({"objects": on_state}, created["apply", "on"]) == comparable(
            {"objects": off_state}, created["apply", "off"]
        ), collection
    assert emulator.control.state("mobileThreatDefenseConnectors")["batching-apply-on"][0]["androidEnabled"] is True


# -- an endpoint that does not serve $batch ---------------------------------------------------------------------------


def flat(text):
    """Text without whitespace: ansible-core 2.16 wraps warnings at the terminal width."""
    return "".join(text.split())


def test_an_endpoint_without_batch_gives_the_same_results_with_one_warning_at_v(emulator, run_playbook, execution_path):
    info = emulator.info
    names = ("batched", "fallback", "quiet")
    tenants = seed_tenants(
        emulator,
        {f"batching-{kind}-{name}": drifting_tenant() for kind in ("health", "audit") for name in names},
    )

    def pair(name):
        health = task(f"health {name}", "connector_health", login(info, tenants[f"batching-health-{name}"]))
        audit_options = {"mode": "audit", "baseline": DRIFT_BASELINE, "health": {}}
        audit = task(
            f"audit {name}", "tenant_baseline", login(info, tenants[f"batching-audit-{name}"]), **audit_options
        )
        return [health, audit]

    verbose = run_playbook(
        pair("batched") + [control_task(info, "no $batch here", "config", {"batch": 404})] + pair("fallback"),
        verbosity=1,
    )
    assert verbose.rc == 0, verbose.output
    quiet = run_playbook(pair("quiet"))
    assert quiet.rc == 0, quiet.output
    log = emulator.control.log()

    for kind in ("health", "audit"):
        batched = ok_result(verbose, f"{kind} batched")
        fallback = ok_result(verbose, f"{kind} fallback")
        silent = ok_result(quiet, f"{kind} quiet")
        assert comparable(fallback) == comparable(batched) == comparable(silent), kind
        assert fallback_warnings(batched) == [] and fallback_warnings(silent) == [], kind
        [warning] = fallback_warnings(fallback)
        assert "POST /v1.0/$batch answered HTTP 404" in warning and info["graph_endpoint"] in warning
        batched_log = TenantLog(log, f"batching-{kind}-batched")
        for name in ("fallback", "quiet"):
            single = TenantLog(log, f"batching-{kind}-{name}")
            assert [(entry["path"], entry["status"]) for entry in single.batches] == [("/v1.0/$batch", 404)], name
            assert single.reads() == batched_log.reads(), name
            assert all(entry["batch_seq"] is None for entry in single.entries), name
        assert len(batched_log.batches) == 2 and all(entry["batch_seq"] for entry in batched_log.on(VPP_PATH))
    assert flat(FALLBACK_WARNING) in flat(verbose.output)
    assert FALLBACK_WARNING not in quiet.output
