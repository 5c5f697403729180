"""Oracles of the reliability suite: what the emulator's request log and state must show after a run.

Property names come from the tables of tests/integration/conftest.py (ObjectType), value rules are written out here,
and date normalisation comes from the emulator (an independent implementation), never from plugins/: a wrong rule in
the plugin cannot agree with itself. SUBJECTS holds every object type the suite drives, so that a scenario is written
once and runs for each of them.
"""

from __future__ import annotations

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
    return [entry for entry in log if entry["kind"] == "graph" and entry["method"] in WRITE_METHODS]


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


def attempt_groups(log, kinds=("graph", "token")):
    """{client-request-id: [entries, oldest first]}: the attempts of each logical request.

    The client keeps one client-request-id across the retries of a request (msal does the same for a token
    request), so each group is one logical request.
    """
    groups = defaultdict(list)
    for entry in sorted(log, key=lambda item: item["seq"]):
        if entry["kind"] in kinds:
            groups[entry["client_request_id"]].append(entry)
    return dict(groups)


def budget_violations(groups, max_attempts):
    """Groups with more attempts than allowed: ``max_attempts(entries)`` (max_retries + 1), plus one re-send after
    a 401 (the token refresh)."""
    violations = []
    for request_id, entries in groups.items():
        allowed = max_attempts(entries) + (1 if any(entry["status"] == 401 for entry in entries) else 0)
        if len(entries) > allowed:
            violations.append((request_id, entries[0]["method"], entries[0]["path"], len(entries), allowed))
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
    the request is logged when it ends, so the two numbers meet when nothing is held back any more.
    """
    end = time.monotonic() + deadline
    while True:
        fired = sum(fault["fired"] for fault in control.faults() if fault["kind"] == "latency")
        logged = sum(1 for entry in control.log() if entry["fault"] == "latency")
        if logged >= fired:
            return
        if time.monotonic() > end:
            raise AssertionError(f"{fired - logged} delayed request(s) still running after {deadline}s")
        time.sleep(0.05)  # polling a condition; the deadline bounds it
