"""Oracles of the reliability suite: what the emulator's request log and state must show after a run.

Property names come from the tables of tests/integration/conftest.py (ObjectType), value rules are written out here,
and date normalisation comes from the emulator (an independent implementation), never from plugins/: a wrong rule in
the plugin cannot agree with itself. SUBJECTS holds every object type the suite drives, so that a scenario is written
once and runs for each of them; READ_SUBJECTS the read-only tasks (connector_health, tenant_baseline's audit with
health), whose reads travel in JSON batches and whose reports are judged against a fault-free run of the same task.

Write and retry accounting with batches: a batch's outer POST is a log entry of kind ``batch`` (a request of its own,
never a write); its sub-requests are ``graph`` entries with the outer entry's ``batch_seq``. A read keeps its
client-request-id across the batches it is retried in; a re-sent outer POST carries the same attempt of each of its
reads again, so that it counts once (see attempt_groups).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

from tests.emulator.graph_emulator import format_ticks, parse_datetime
from tests.integration.conftest import (
    COMPLIANCE_PARTNER,
    DEVICE_MANAGEMENT_PARTNER,
    MTD_CONNECTOR,
    REMOTE_ASSISTANCE_PARTNER,
    graph_targets,
    module_targets,
    target_sort_key,
)

MODULE = "msgraph.intune.device_management_partner"
INFO_MODULE = "msgraph.intune.device_management_partner_info"
WRITE_METHODS = ("POST", "PATCH", "DELETE")

# What Graph gives a partner created without that property (the documented create defaults).
CREATE_DEFAULTS = {
    "displayName": None,
    "partnerState": "unknown",
    "partnerAppType": "unknown",
    "singleTenantAppId": None,
    "isConfigured": False,
    "lastHeartbeatDateTime": "0001-01-01T00:00:00Z",
    "whenPartnerDevicesWillBeRemovedDateTime": None,
    "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": None,
    "groupsRequiringPartnerEnrollment": [],
}
# Bearer tokens the emulator issues ("emu" + 64 URL-safe characters), for leak scans of tokens no test knows.
ACCESS_TOKEN_PATTERN = r"(?<![A-Za-z0-9_-])emu[A-Za-z0-9_-]{64}(?![A-Za-z0-9_-])"
MUST_BE_ZERO = (
    "unclean_failures",
    "wrong_reports",
    "lost_or_foreign_writes",
    "duplicate_creates",
    "budget_violations",
    "retry_after_violations",
    "secret_leaks",
)


# --------------------------------------------------------------------------------------------------------------------
# Values and partners
# --------------------------------------------------------------------------------------------------------------------


def graph_value(option, value):
    """The value as Graph stores and returns it: instants in UTC with exactly 7 fractional digits."""
    if value is not None and option.endswith("_date_time"):
        return format_ticks(parse_datetime(value))
    return value


# --------------------------------------------------------------------------------------------------------------------
# Subjects: the object types the suite drives, as data
# --------------------------------------------------------------------------------------------------------------------


def begin_onboarding(status):
    """remoteAssistanceOnboardingStatus after `onboarding: started` (onboarding or onboarded already counts)."""
    return status if status in ("onboarding", "onboarded") else "onboarding"


class Subject:
    """One object type the suite drives: its module, its Graph names (tests/integration/conftest.py's ObjectType)
    and what Graph holds after a write.

    ``new_object``: the managed properties of an object created without them; ``actions``: for an option that calls
    bound actions, ``{value: (action segment, status before -> status after)}`` on ``status`` (a Graph name).
    """

    def __init__(self, object_type, new_object, action_option=None, actions=None, status=None):
        self.type = object_type
        self.name = object_type.module.rsplit(".", 1)[1]
        self.module = object_type.module
        self.info_module = object_type.info_module
        self.collection = object_type.collection
        self.path = object_type.path
        self.result_key = object_type.result_key
        self.by_name = object_type.by_name
        self.new_object = dict(new_object)
        self.action_option = action_option
        self.actions = dict(actions or {})
        self.status = status
        self.managed = set(new_object)

    def graph_properties(self, options, group_ids=None, wire=False):
        """{Graph name: value as Graph holds it} for module options (other keys are ignored). Targets are in the
        short form, sorted, group names resolved with ``group_ids``; with ``wire``, as Graph takes them."""
        properties = {}
        for option, value in options.items():
            if option in self.type.target_lists:
                targets = short_targets(value, group_ids)
                properties[self.type.target_lists[option]] = graph_targets(targets) if wire else targets
            elif option in self.type.options:
                properties[self.type.options[option]] = graph_value(option, value)
        return properties

    def canonical(self, graph_object, managed_only=False):
        """A Graph object as compared: no @odata.type, targets in the short form; optionally only what the module
        manages (for created objects, whose other properties belong to the service)."""
        if graph_object is None:
            return None
        found = {key: value for key, value in graph_object.items() if key != "@odata.type"}
        for graph_name in self.type.target_lists.values():
            if found.get(graph_name) is not None:
                found[graph_name] = module_targets(found[graph_name])
        if managed_only:
            found = {key: value for key, value in found.items() if key in self.managed}
        return found

    def body_values(self, body):
        """A write body as graph_properties() gives values: dates normalised, targets in the short form."""
        values = {}
        for key, value in (body or {}).items():
            option = next((option for option, graph in self.type.options.items() if graph == key), None)
            if key in self.type.target_lists.values():
                values[key] = module_targets(value)
            elif option is not None:
                values[key] = graph_value(option, value)
            else:
                values[key] = value
        return values

    def after_actions(self, graph_object, options):
        """The object after the bound actions that ``options`` ask for."""
        value = options.get(self.action_option) if self.action_option else None
        if value is None or graph_object is None:
            return graph_object
        _segment, moves = self.actions[value]
        return dict(graph_object, **{self.status: moves(graph_object[self.status])})

    def object_id_of(self, entry):
        """The object id in an item path of this collection (…/{id}[/action]), else None."""
        marker = self.path + "/"
        if not entry["path"].startswith(marker):
            return None
        return entry["path"][len(marker) :].split("/", 1)[0]

    def action_of(self, entry):
        """The bound action segment of a request on an item path, else None."""
        marker = self.path + "/"
        if not entry["path"].startswith(marker):
            return None
        parts = entry["path"][len(marker) :].split("/")
        return parts[1] if len(parts) > 1 else None

    def is_create(self, entry):
        return entry["method"] == "POST" and entry["path"] == self.path


def short_targets(targets, group_ids=None):
    """Targets as a task writes them, in the short form Graph's are compared in: names resolved, sorted."""
    resolved = []
    for target in targets or []:
        target = dict(target)
        if target.get("group_display_name") is not None:
            target = {"type": target["type"], "group_id": (group_ids or {})[target["group_display_name"]]}
        resolved.append(target)
    return sorted(resolved, key=target_sort_key)


UNSET_DATE = "0001-01-01T00:00:00Z"
SUBJECTS = {
    subject.name: subject
    for subject in (
        Subject(DEVICE_MANAGEMENT_PARTNER, {**CREATE_DEFAULTS}),
        Subject(
            COMPLIANCE_PARTNER,
            {
                "displayName": None,
                "partnerState": "unknown",
                "androidOnboarded": False,
                "iosOnboarded": False,
                "macOsOnboarded": False,
                "androidEnrollmentAssignments": [],
                "iosEnrollmentAssignments": [],
                "macOsEnrollmentAssignments": [],
            },
        ),
        Subject(
            REMOTE_ASSISTANCE_PARTNER,
            {"displayName": None, "onboardingUrl": None, "onboardingStatus": "notOnboarded"},
            action_option="onboarding",
            actions={
                "started": ("beginOnboarding", begin_onboarding),
                "disconnected": ("disconnect", lambda _status: "notOnboarded"),
            },
            status="onboardingStatus",
        ),
        Subject(
            MTD_CONNECTOR,
            {
                graph: (0 if graph == "partnerUnresponsivenessThresholdInDays" else False)
                for graph in MTD_CONNECTOR.options.values()
            },
        ),
    )
}


def emulator_secrets(info):
    """{label: value} of every secret the emulator handed out (all tenants, certificate password and key)."""
    found = {f"client secret of tenant {tenant['tenant_id']}": tenant["client_secret"] for tenant in info["tenants"]}
    found["client certificate password"] = info["client_certificate_password"]
    found["managed identity header"] = info["managed_identity_header"]
    with open(info["client_certificate_pem_path"], encoding="ascii") as handle:
        pem = handle.read()
    key_body = pem.split("PRIVATE KEY-----", 1)[1].split("-----END", 1)[0].split()
    found["client certificate private key"] = max(key_body, key=len)  # one full base64 line of the key
    return found


# --------------------------------------------------------------------------------------------------------------------
# Read subjects: read-only tasks, whose reads travel in JSON batches
# --------------------------------------------------------------------------------------------------------------------

# Seeded secrets of two health kinds: a run never asks for them ($select), so they must appear nowhere it leaves.
VPP_TOKEN_MARKER = "reliability-vpp-token-3f9b27c1e8d4"
APNS_CERTIFICATE_MARKER = "reliability-apns-certificate-b51e08a7c2f6"
# Health kind -> its Graph path under /v1.0 or /beta, written out (not imported from plugins/).
HEALTH_KIND_PATHS = {
    "device_management_partners": "/deviceManagement/deviceManagementPartners",
    "compliance_management_partners": "/deviceManagement/complianceManagementPartners",
    "remote_assistance_partners": "/deviceManagement/remoteAssistancePartners",
    "mobile_threat_defense_connectors": "/deviceManagement/mobileThreatDefenseConnectors",
    "apple_push_notification_certificate": "/deviceManagement/applePushNotificationCertificate",
    "vpp_tokens": "/deviceAppManagement/vppTokens",
    "dep_onboarding_settings": "/deviceManagement/depOnboardingSettings",
    "ndes_connectors": "/deviceManagement/ndesConnectors",
    "exchange_connectors": "/deviceManagement/exchangeConnectors",
    "managed_google_play": "/deviceManagement/androidManagedStoreAccountEnterpriseSettings",
    "windows_autopilot_settings": "/deviceManagement/windowsAutopilotSettings",
}
# What a health kind that could not be read is found to be.
READ_FAILURES = ("forbidden", "error")
# A 404 on these is Graph's "never set up", not a failure.
SINGLETON_KINDS = ("apple_push_notification_certificate", "managed_google_play", "windows_autopilot_settings")
GROUPS_PATH = "/groups"
READ_GROUP_IDS = {
    "Fleet A": "f1ee7a00-0000-4000-8000-00000000000a",
    "Fleet B": "f1ee7b00-0000-4000-8000-00000000000b",
    "Lab": "1ab00000-0000-4000-8000-00000000000c",
}
OLD = "2020-01-01T00:00:00Z"  # long past: expired, stale
LATER = "2099-01-01T00:00:00Z"
READ_BASELINE = {
    "device_management_partners": [
        {
            "display_name": "Jamf Pro",
            "partner_state": "enabled",
            "groups_requiring_partner_enrollment": [
                {"type": "group", "group_display_name": "Fleet A"},
                {"type": "group", "group_display_name": "Fleet B"},
            ],
        }
    ],
    "compliance_management_partners": [
        {
            "display_name": "Jamf compliance",
            "partner_state": "enabled",
            "mac_os_enrollment_assignments": [{"type": "group", "group_display_name": "Lab"}],
        }
    ],
    "remote_assistance_partners": [{"display_name": "TeamViewer"}],
    "mobile_threat_defense_connectors": [{"id": "fc780465-2017-40d4-a0c5-307022471b92", "android_enabled": True}],
}
# How a task item names its own tenant: a play variable ``tenants`` maps tenant ids to logins (see
# Playbooks.tenant_logins in conftest.py), so that every request of the item can be told by its tenant.
TENANT_OF_ITEM = {
    "tenant_id": "{{ item.tenant }}",
    "client_id": "{{ tenants[item.tenant].client_id }}",
    "client_secret": "{{ lookup('ansible.builtin.env', tenants[item.tenant].secret_variable) }}",
}


def read_tenant():
    """What each tenant of the read subjects holds: every health kind but Managed Google Play (never set up), with
    the VPP token's and the push certificate's secrets; partners that drift from READ_BASELINE; its groups."""
    group = "#microsoft.graph.groupAssignmentTarget"
    return {
        "groups": [{"id": group_id, "displayName": name} for name, group_id in READ_GROUP_IDS.items()],
        "deviceManagementPartners": [
            {
                "id": "dmp-1",
                "displayName": "Jamf Pro",
                "partnerState": "enabled",
                "isConfigured": True,
                "lastHeartbeatDateTime": OLD,
                "groupsRequiringPartnerEnrollment": [
                    {"target": {"@odata.type": group, "groupId": READ_GROUP_IDS["Fleet A"]}}
                ],
            }
        ],
        "complianceManagementPartners": [
            {
                "id": "cmp-1",
                "displayName": "Jamf compliance",
                "partnerState": "unavailable",
                "macOsOnboarded": True,
                "macOsEnrollmentAssignments": [{"target": {"@odata.type": group, "groupId": READ_GROUP_IDS["Lab"]}}],
            }
        ],
        "remoteAssistancePartners": [
            {
                "id": "rap-1",
                "displayName": "TeamViewer",
                "onboardingStatus": "onboarded",
                "lastConnectionDateTime": OLD,
            },
            {"id": "rap-2", "displayName": "Old assistance", "onboardingStatus": "notOnboarded"},
        ],
        "mobileThreatDefenseConnectors": [
            {"id": READ_BASELINE["mobile_threat_defense_connectors"][0]["id"], "androidEnabled": False}
        ],
        "vppTokens": [
            {
                "id": "vpp-1",
                "organizationName": "Contoso",
                "state": "valid",
                "expirationDateTime": LATER,
                "lastSyncDateTime": OLD,
                "token": VPP_TOKEN_MARKER,
            }
        ],
        "applePushNotificationCertificate": {
            "id": "apns-1",
            "appleIdentifier": "mdm@example.com",
            "expirationDateTime": OLD,
            "certificate": APNS_CERTIFICATE_MARKER,
        },
        "exchangeConnectors": [{"id": "exch-1", "serverName": "exch01", "status": "disconnected"}],
        "depOnboardingSettings": [{"id": "dep-1", "tokenName": "ADE token", "tokenExpirationDateTime": LATER}],
        "ndesConnectors": [
            {"id": "ndes-1", "displayName": "NDES 1", "state": "active", "connectorVersion": "6.2406.0.1001"}
        ],
        "androidManagedStoreAccountEnterpriseSettings": None,
        "windowsAutopilotSettings": {"id": "autopilot-1", "syncStatus": "failed"},
    }


class ReadSubject:
    """A read-only task the suite drives: it never writes, and what it reports is compared part by part with what a
    fault-free run of the same task reported (the reference).

    The parts are each health kind's findings and (``audits``: tenant_baseline's audit) each object's drift rows.
    Under faults a part is the reference's, or says on its own that it could not be read: a health kind gives one
    forbidden or error finding, a kind that could not be listed one error row (its objects none), an object whose
    group names could not be looked up error rows only. The task fails only when the tenant cannot be reached: a
    round trip (a batch's outer POST) or the sign-in, never one read inside a batch.
    """

    def __init__(self, name, module, options, prefix, audits=False):
        self.name = name
        self.module = module
        self.options = dict(options)
        self.prefix = prefix
        self.audits = audits

    @property
    def task_name(self):
        return f"read {self.name}"

    def task(self, loop, **options):
        """The task for the items of ``loop`` (each with ``key`` and ``tenant``; see TENANT_OF_ITEM)."""
        return {
            "name": self.task_name,
            self.module: dict(TENANT_OF_ITEM, **self.options, **options),
            "loop": loop,
            "loop_control": {"label": "{{ item.key }}"},
        }

    def findings(self, result):
        return (result["health"] if self.audits else result)["findings"]

    def drift(self, result):
        return result.get("drift", []) if self.audits else []

    def unreadable(self, result):
        """(health kinds found unreadable, baseline kinds with an error row)."""
        kinds = {finding["kind"] for finding in self.findings(result) if finding["status"] in READ_FAILURES}
        return kinds, {row["kind"] for row in self.drift(result) if row["status"] == "error"}

    def parts(self, result):
        """{part: sorted rows}: ("health", kind) -> (id, check, status, severity), ("drift", kind, object) -> (id,
        status, property, current, desired). Messages are left out: their durations run on each task's clock."""
        parts = defaultdict(list)
        for finding in self.findings(result):
            parts["health", finding["kind"]].append(
                (finding["id"], finding["check"], finding["status"], finding["severity"])
            )
        for row in self.drift(result):
            values = (json.dumps(row["current"], sort_keys=True), json.dumps(row["desired"], sort_keys=True))
            parts["drift", row["kind"], row["object"]].append((row["id"], row["status"], row["property"], *values))
        return {key: sorted(rows, key=repr) for key, rows in parts.items()}

    def misreports(self, result, reference):
        """The parts of ``result`` that are neither the reference's nor a report that they could not be read."""
        found, wanted = self.parts(result), self.parts(reference)
        unlisted = {key[1] for key, rows in found.items() if key[0] == "drift" and key[2] is None and _errors(rows)}
        wrong = []
        for key in sorted(set(found) | set(wanted), key=repr):
            rows = found.get(key)
            if rows == wanted.get(key):
                continue
            if key[0] == "health" and rows and len(rows) == 1 and rows[0][0] is None and rows[0][2] in READ_FAILURES:
                continue
            if key[0] == "drift" and (_errors(rows) or (rows is None and key[1] in unlisted)):
                continue
            wrong.append((key, rows, wanted.get(key)))
        return wrong

    def unexplained(self, result, entries):
        """Read failures that ``result`` reports and the log of its tenant (``entries``) does not show: a health
        kind's needs a failed request with its status (a sub-request on the kind's path, or a batch); an audit's error
        rows one with any status >= 400 (on the kind's list, or on /groups for an object's group names)."""

        def failed(suffix, status=None):
            return any(
                entry["status"] is not None
                and entry["status"] >= 400
                and status in (None, entry["status"])
                and (entry["kind"] == "batch" or entry["path"].endswith(suffix))
                for entry in entries
            )

        missing = []
        for finding in self.findings(result):
            if finding["status"] in READ_FAILURES and not failed(HEALTH_KIND_PATHS[finding["kind"]], finding["value"]):
                missing.append((finding["kind"], finding["status"], finding["value"]))
        for row in self.drift(result):
            suffix = HEALTH_KIND_PATHS[row["kind"]] if row["object"] is None else GROUPS_PATH
            if row["status"] == "error" and not failed(suffix):
                missing.append((row["kind"], row["object"], row["message"]))
        return missing


def _errors(rows):
    return bool(rows) and all(row[1] == "error" for row in rows)


def fails_on_one_read(result):
    """Whether a failed result names one read inside a batch (a Graph path that is not a batch's) as its cause."""
    path = result.get("path") or ""
    return path.startswith(("/v1.0/", "/beta/")) and not path.endswith("/$batch")


READ_SUBJECTS = {
    subject.name: subject
    for subject in (
        ReadSubject("connector_health", "msgraph.intune.connector_health", {}, "h"),
        ReadSubject(
            "baseline_audit",
            "msgraph.intune.tenant_baseline",
            {"mode": "audit", "baseline": READ_BASELINE, "health": {}},
            "a",
            audits=True,
        ),
    )
}


def endpoint_defaults(info):
    """module_defaults of a play whose items sign in to tenants of their own (TENANT_OF_ITEM)."""
    return {
        "group/msgraph.intune.graph": {
            "graph_endpoint": info["graph_endpoint"],
            "authority_host": info["authority_host"],
            "ca_path": info["ca_path"],
        }
    }


def read_references(playbooks, tenants, tenant_id, **options):
    """{read subject name: result} of a fault-free run of every read subject against ``tenant_id`` (a key of
    ``tenants``, the logins of Playbooks.tenant_logins); ``options`` go to every task. From then on the test's secret
    scan also looks for the secrets that read_tenant() seeds."""
    playbooks.add_secret("seeded VPP token", VPP_TOKEN_MARKER)
    playbooks.add_secret("seeded push certificate", APNS_CERTIFICATE_MARKER)
    item = [{"key": "reference", "tenant": tenant_id}]
    play = {
        "name": "references",
        "hosts": "all",
        "gather_facts": False,
        "vars": {"tenants": tenants},
        "module_defaults": endpoint_defaults(playbooks.emulator.info),
        "tasks": [subject.task(item, **options) for subject in READ_SUBJECTS.values()],
    }
    run = playbooks.run([play])
    references = {}
    for subject in READ_SUBJECTS.values():
        outcomes = list(item_outcomes(run, subject.task_name).values())
        assert len(outcomes) == 1, (subject.name, outcomes)
        status, result = outcomes[0]
        assert status == "ok" and subject.unreadable(result) == (set(), set()), (subject.name, result)
        references[subject.name] = result
    return references


# --------------------------------------------------------------------------------------------------------------------
# Results of a looped task
# --------------------------------------------------------------------------------------------------------------------


def item_outcomes(run, task_name, key="key"):
    """{item[key]: (status, result)} of a looped task; status "ok" or "failed"."""
    outcomes = {}
    for entry in run.results_of(task_name):
        result = entry["result"]
        if "item" not in result:
            continue  # the task's overall result, after its items
        status = {"item_ok": "ok", "item_failed": "failed"}.get(entry["status"], entry["status"])
        outcomes[result["item"][key]] = (status, result)
    return outcomes


def is_clean_failure(result):
    """A failure the module reported itself (message, no traceback), not a crash."""
    message = result.get("msg") or ""
    # ansible-core 2.19 fills in "exception": "(traceback unavailable)" for failures that carry none.
    crashed = (
        "Traceback" in str(result.get("exception") or "")
        or "module_stderr" in result
        or message.startswith(("MODULE FAILURE", "Unexpected failure"))
        or "Traceback" in message
    )
    return bool(message) and not crashed


# --------------------------------------------------------------------------------------------------------------------
# The request log
# --------------------------------------------------------------------------------------------------------------------


def graph_writes(log):
    """Graph writes, sent on their own or (never allowed) inside a batch; a batch's outer POST is no write."""
    return [entry for entry in log if entry["kind"] == "graph" and entry["method"] in WRITE_METHODS]


def batched_writes(log):
    """Writes inside a batch: never sent, since a throttled write may have been applied or not."""
    return [entry for entry in graph_writes(log) if entry["batch_seq"] is not None]


def partner_id_of(entry):
    """The partner id in a Graph item path (…/deviceManagementPartners/{id}[/action]), else None."""
    return SUBJECTS["device_management_partner"].object_id_of(entry)


def filter_name(entry):
    """The display name of a `$filter=displayName eq '...'` list request, else None."""
    text = (entry.get("query") or {}).get("$filter")
    prefix = "displayName eq '"
    if not isinstance(text, str) or not text.startswith(prefix) or not text.endswith("'"):
        return None
    return text[len(prefix) : -1].replace("''", "'")


def attempt_groups(log, kinds=("graph", "token", "batch")):
    """{client-request-id: [entries, oldest first]}: the attempts of each logical request.

    The client keeps one client-request-id across the retries of a request (msal does the same for a token
    request), so each group is one logical request: a request sent on its own, a token request, a batch's outer POST
    (kind batch) or one read inside batches (graph entries with a batch_seq). Such a sub-request's entry gets
    ``outer_request_id``, the client-request-id of the outer POST that carried it (see attempts()).
    """
    outer = {entry["seq"]: entry["client_request_id"] for entry in log if entry["kind"] == "batch"}
    groups = defaultdict(list)
    for entry in sorted(log, key=lambda item: item["seq"]):
        if entry["kind"] not in kinds:
            continue
        if entry["batch_seq"] is not None:
            entry = dict(entry, outer_request_id=outer.get(entry["batch_seq"], f"batch {entry['batch_seq']}"))
        groups[entry["client_request_id"]].append(entry)
    return dict(groups)


def attempts(entries):
    """How many times the client sent one logical request: each entry sent on its own once, and a sub-request once
    per outer POST, since the transport's re-send of a batch (same client-request-id) repeats the same attempt."""
    return len(
        {
            ("outer", entry["outer_request_id"]) if entry["batch_seq"] is not None else ("own", entry["seq"])
            for entry in entries
        }
    )


def budget_violations(groups, max_attempts):
    """Groups with more attempts than allowed: ``max_attempts(entries)`` (max_retries + 1), plus one re-send after
    a 401 (the token refresh)."""
    violations = []
    for request_id, entries in groups.items():
        allowed = max_attempts(entries) + (1 if any(entry["status"] == 401 for entry in entries) else 0)
        if attempts(entries) > allowed:
            violations.append((request_id, entries[0]["method"], entries[0]["path"], attempts(entries), allowed))
    return violations


def retry_after_violations(groups, retry_after):
    """Retries sent sooner after a throttled answer than its Retry-After said (``retry_after(entry)``: seconds or
    None). Log times are when each request arrived, so the measured gap includes the throttled answer's own time."""
    violations = []
    for request_id, entries in groups.items():
        for earlier, later in zip(entries, entries[1:]):
            wanted = retry_after(earlier)
            gap = later["time"] - earlier["time"]
            if wanted is not None and gap < wanted:
                violations.append((request_id, earlier["method"], earlier["path"], earlier["status"], gap, wanted))
    return violations


def wait_until_settled(control, deadline=15.0):
    """Wait until every request held back by a latency fault has finished.

    The client gives up on such a request at its timeout, but the emulator still answers (and applies) it
    afterwards; the final state may only be read once it has. A latency fault counts as fired when it starts and
    the request is logged when it ends, so the two numbers meet when nothing is held back any more. A batch is
    logged after its sub-requests (and after the delay of a slow one), so it is also waited for.
    """
    end = time.monotonic() + deadline
    while True:
        fired = sum(fault["fired"] for fault in control.faults() if fault["kind"] == "latency")
        log = control.log()
        logged = sum(1 for entry in log if entry["fault"] == "latency")
        batches = {entry["seq"] for entry in log if entry["kind"] == "batch"}
        if logged >= fired and {entry["batch_seq"] for entry in log if entry["batch_seq"] is not None} <= batches:
            return
        if time.monotonic() > end:
            raise AssertionError(f"{fired - logged} delayed request(s) still running after {deadline}s")
        time.sleep(0.05)  # polling a condition; the deadline bounds it
