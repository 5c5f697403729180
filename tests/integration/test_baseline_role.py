"""The msgraph.intune.baseline role through examples/msp/baseline.yml: audit, apply, prune, export, bad input.

Three emulator tenants; each has the same groups by name with ids of its own, so group names must resolve per tenant.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
import yaml

from tests.integration.conftest import REPO_ROOT, ansible_playbook, graph_target, module_targets

PLAYBOOK = os.path.join(REPO_ROOT, "examples", "msp", "baseline.yml")
HOSTS = ("tenant-a", "tenant-b", "tenant-c")
MTD_ID = "fc780465-2017-40d4-a0c5-307022471b92"
GROUP = "#microsoft.graph.groupAssignmentTarget"
COLLECTIONS = (
    "deviceManagementPartners",
    "complianceManagementPartners",
    "remoteAssistancePartners",
    "mobileThreatDefenseConnectors",
)
BASELINE = {
    "device_management_partners": [
        {
            "display_name": "Jamf Pro",
            "partner_state": "enabled",
            "is_configured": True,
            "groups_requiring_partner_enrollment": [{"type": "group", "group_display_name": "Mac fleet"}],
        }
    ],
    "compliance_management_partners": [
        {
            "display_name": "Jamf compliance",
            "partner_state": "enabled",
            "mac_os_onboarded": True,
            "mac_os_enrollment_assignments": [{"type": "group", "group_display_name": "Mac fleet"}],
        }
    ],
    "remote_assistance_partners": [{"display_name": "TeamViewer", "onboarding": "started"}],
    "mobile_threat_defense_connectors": [
        {"id": MTD_ID, "android_enabled": True, "partner_unresponsiveness_threshold_in_days": 7}
    ],
}


def group_id(tenant, name):
    """Tenant-specific ids for the same group names."""
    number = {"Mac fleet": 1, "Mac lab": 2}[name]
    return f"{number:08x}-0000-4000-8000-{tenant + 1:012x}"


def target(tenant, name):
    return graph_target(GROUP, groupId=group_id(tenant, name))


def in_line(tenant):
    """Graph objects of a tenant that matches BASELINE exactly."""
    return {
        "deviceManagementPartners": [
            {
                "id": f"dmp-{tenant}",
                "displayName": "Jamf Pro",
                "partnerState": "enabled",
                "isConfigured": True,
                "groupsRequiringPartnerEnrollment": [target(tenant, "Mac fleet")],
            }
        ],
        "complianceManagementPartners": [
            {
                "id": f"cmp-{tenant}",
                "displayName": "Jamf compliance",
                "partnerState": "enabled",
                "macOsOnboarded": True,
                "macOsEnrollmentAssignments": [target(tenant, "Mac fleet")],
            }
        ],
        "remoteAssistancePartners": [
            {"id": f"rap-{tenant}", "displayName": "TeamViewer", "onboardingStatus": "onboarded"}
        ],
        "mobileThreatDefenseConnectors": [
            {"id": MTD_ID, "androidEnabled": True, "partnerUnresponsivenessThresholdInDays": 7}
        ],
        "groups": [{"id": group_id(tenant, name), "displayName": name} for name in ("Mac fleet", "Mac lab")],
    }


def drifted_b():
    state = in_line(1)
    state["deviceManagementPartners"][0]["partnerState"] = "unresponsive"
    state["complianceManagementPartners"].append({"id": "cmp-old", "displayName": "Old compliance"})
    state["remoteAssistancePartners"] = []
    return state


def drifted_c():
    state = in_line(2)
    state["deviceManagementPartners"][0]["groupsRequiringPartnerEnrollment"] = [target(2, "Mac lab")]
    state["mobileThreatDefenseConnectors"][0]["androidEnabled"] = False
    return state


def seed(emulator, *states):
    emulator.control.seed({emulator.info["tenants"][i]["tenant_id"]: state for i, state in enumerate(states)})


def inventory(tmp_path, info):
    directory = tmp_path / "inventory"
    (directory / "group_vars").mkdir(parents=True)
    (directory / "host_vars").mkdir()
    (directory / "hosts.yml").write_text(yaml.safe_dump({"intune_tenants": {"hosts": dict.fromkeys(HOSTS)}}))
    group_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    (directory / "group_vars" / "intune_tenants.yml").write_text(yaml.safe_dump(group_vars))
    for index, host in enumerate(HOSTS):
        tenant = info["tenants"][index]
        host_vars = {
            "intune_tenant_id": tenant["tenant_id"],
            "intune_client_id": tenant["client_id"],
            "intune_client_secret": tenant["client_secret"],
            "intune_graph_endpoint": info["graph_endpoint"],
            "intune_authority_host": info["authority_host"],
            "intune_ca_path": info["ca_path"],
        }
        (directory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(host_vars))
    return directory


_DEFAULT = object()  # a baseline left out: BASELINE (None is a value the tests pass on purpose)


class Runner:
    def __init__(self, tmp_path, emulator):
        self.tmp_path = tmp_path
        self.emulator = emulator
        self.inventory = inventory(tmp_path, emulator.info)
        self.reports = tmp_path / "reports"
        self.count = 0

    def __call__(self, mode, baseline=_DEFAULT, extra=None, args=(), limit=None, no_baseline=False):
        self.count += 1
        workdir = self.tmp_path / f"run{self.count}"
        workdir.mkdir()
        variables = {"baseline_mode": mode, "baseline_report_dir": str(self.reports)}
        if not no_baseline:
            variables["baseline_desired"] = BASELINE if baseline is _DEFAULT else baseline
        variables.update(extra or {})
        options = ["--forks", "3", "-e", json.dumps(variables), *args]
        if limit:
            options += ["--limit", limit]
        return ansible_playbook(workdir, PLAYBOOK, self.inventory, options)


@pytest.fixture
def baseline(tmp_path, emulator):
    return Runner(tmp_path, emulator)


def state(emulator, tenant, collection):
    tenant_id = emulator.info["tenants"][tenant]["tenant_id"]
    return emulator.control.state(collection)[tenant_id]


def task_results(run, task):
    """{host: result entry} of a role task (Ansible names it "<role> : <task>")."""
    return {entry["host"]: entry for entry in run.results if entry["task"].endswith(" : " + task)}


CONVERGE = "Apply, audit (never writes) or export the tenant's baseline, or judge its health (never writes)"


def test_audit_reports_drift_of_two_tenants_without_writing(emulator, baseline):
    seed(emulator, in_line(0), drifted_b(), drifted_c())
    emulator.control.clear_log()
    run = baseline("audit")
    assert run.rc == 0, run.output
    assert emulator.control.writes() == []
    # Positive control: every tenant's four kinds were listed (one request each) and its group name looked up, beside
    # the health kinds, all inside batches: two round trips per tenant (a v1.0 batch and a beta batch).
    log = emulator.control.log()
    for index in range(3):
        tenant_id = emulator.info["tenants"][index]["tenant_id"]
        mine = [entry for entry in log if entry["tenant"] == tenant_id]
        drift = sorted(
            entry["path"]
            for entry in mine
            if entry["kind"] == "graph"
            and not entry["path"].startswith("/beta/")
            and "deviceAppManagement" not in entry["path"]
            and entry["path"].rsplit("/", 1)[-1] in (*COLLECTIONS, "groups")
        )
        assert drift == sorted([f"/v1.0/deviceManagement/{c}" for c in COLLECTIONS] + ["/v1.0/groups"]), drift
        assert all(entry["batch_seq"] is not None for entry in mine if entry["kind"] == "graph"), mine
        round_trips = [entry for entry in mine if entry["kind"] == "batch"]
        assert sorted(entry["path"] for entry in round_trips) == ["/beta/$batch", "/v1.0/$batch"], round_trips

    report = json.loads((baseline.reports / "drift.json").read_text())
    rows = [
        {key: row[key] for key in ("tenant", "kind", "object", "status", "property", "current", "desired")}
        for row in report["entries"]
    ]
    assert rows == [
        {
            "tenant": "tenant-b",
            "kind": "device_management_partners",
            "object": "Jamf Pro",
            "status": "drift",
            "property": "partner_state",
            "current": "unresponsive",
            "desired": "enabled",
        },
        {
            "tenant": "tenant-b",
            "kind": "compliance_management_partners",
            "object": "Old compliance",
            "status": "unmanaged",
            "property": "state",
            "current": "present",
            "desired": None,
        },
        {
            "tenant": "tenant-b",
            "kind": "remote_assistance_partners",
            "object": "TeamViewer",
            "status": "missing",
            "property": "state",
            "current": "absent",
            "desired": "present",
        },
        {
            "tenant": "tenant-c",
            "kind": "device_management_partners",
            "object": "Jamf Pro",
            "status": "drift",
            "property": "groups_requiring_partner_enrollment",
            "current": [{"type": "group", "group_id": group_id(2, "Mac lab")}],
            "desired": [{"type": "group", "group_id": group_id(2, "Mac fleet")}],
        },
        {
            "tenant": "tenant-c",
            "kind": "mobile_threat_defense_connectors",
            "object": MTD_ID,
            "status": "drift",
            "property": "android_enabled",
            "current": False,
            "desired": True,
        },
    ]
    assert report["tenants"]["tenant-a"]["entries"] == [] and report["tenants"]["tenant-a"]["audited"] is True
    assert report["tenants"]["tenant-b"]["counts"] == {"drift": 1, "missing": 1, "unmanaged": 1, "error": 0}
    assert report["errors"] == []

    markdown = (baseline.reports / "drift.md").read_text()
    assert markdown.index("## tenant-a") < markdown.index("## tenant-b") < markdown.index("## tenant-c")
    section_a = markdown.split("## tenant-a", 1)[1].split("## tenant-b", 1)[0]
    assert "In line with the baseline" in section_a
    assert '| device_management_partners | Jamf Pro | drift | partner_state | "unresponsive" | "enabled" |' in markdown
    assert '| remote_assistance_partners | TeamViewer | missing | state | "absent" | "present" |' in markdown
    assert "1 drifted property, 1 missing, 1 unmanaged." in markdown


def test_audit_fails_drifting_tenants_after_the_report_and_never_writes_in_check_mode_either(emulator, baseline):
    seed(emulator, in_line(0), drifted_b(), drifted_c())
    run = baseline("audit", extra={"baseline_fail_on_drift": True}, args=["--check"])
    assert run.rc == 2, run.output
    assert emulator.control.writes() == []
    failed = sorted(entry["host"] for entry in run.results if entry["status"] == "failed")
    assert failed == ["tenant-b", "tenant-c"]
    report = json.loads((baseline.reports / "drift.json").read_text())
    assert sorted({row["tenant"] for row in report["entries"]}) == ["tenant-b", "tenant-c"]


def test_a_tenant_that_cannot_be_read_is_reported_then_fails(emulator, baseline):
    seed(emulator, in_line(0), in_line(1), in_line(2))
    host_vars = baseline.inventory / "host_vars" / "tenant-c.yml"
    host_vars.write_text(yaml.safe_dump(dict(yaml.safe_load(host_vars.read_text()), intune_client_secret="wrong")))
    run = baseline("audit")
    assert run.rc == 2, run.output
    report = json.loads((baseline.reports / "drift.json").read_text())
    assert [error["tenant"] for error in report["errors"]] == ["tenant-c"]
    assert "invalid_client" in report["errors"][0]["msg"] or "AADSTS" in report["errors"][0]["msg"]
    assert "Not audited: " in (baseline.reports / "drift.md").read_text()
    assert report["tenants"]["tenant-a"]["audited"] and report["tenants"]["tenant-b"]["audited"]
    failed = {entry["host"] for entry in run.results if entry["status"] == "failed"}
    assert failed == {"tenant-c"}
    assert emulator.control.writes() == []


ONLY_IN_A = {"type": "group", "group_display_name": "Only in A"}


def only_in_a_baseline():
    """The baseline, with a partner target that names a group only tenant A has."""
    desired = json.loads(json.dumps(BASELINE))
    desired["device_management_partners"][0]["groups_requiring_partner_enrollment"].append(ONLY_IN_A)
    desired["compliance_management_partners"][0]["ios_enrollment_assignments"] = [ONLY_IN_A]
    return desired


def with_only_in_a(state, tenant):
    state["groups"].append({"id": f"0000000a-0000-4000-8000-{tenant + 1:012x}", "displayName": "Only in A"})
    return state


def test_a_group_one_tenant_lacks_hides_nothing_else_of_it(emulator, baseline):
    """Tenant B lacks the group: its audit reports an error entry per unresolvable value and all its other drift;
    apply writes nothing to B, fails it once listing every unresolvable value, and converges A and C."""
    b_state = in_line(1)
    b_state["mobileThreatDefenseConnectors"][0]["androidEnabled"] = False
    seed(emulator, with_only_in_a(in_line(0), 0), b_state, with_only_in_a(drifted_c(), 2))
    emulator.control.clear_log()
    audit = baseline("audit", baseline=only_in_a_baseline())
    assert audit.rc == 0, audit.output
    part = json.loads((baseline.reports / "drift.json").read_text())["tenants"]["tenant-b"]
    assert part["audited"] is True
    errors = [row for row in part["entries"] if row["status"] == "error"]
    assert [(row["kind"], row["object"], row["property"], row["desired"]) for row in errors] == [
        ("device_management_partners", "Jamf Pro", "groups_requiring_partner_enrollment", "Only in A"),
        ("compliance_management_partners", "Jamf compliance", "ios_enrollment_assignments", "Only in A"),
    ]
    assert all("no group is named 'Only in A' in this tenant" in row["message"] for row in errors)
    drift = [(row["kind"], row["property"]) for row in part["entries"] if row["status"] == "drift"]
    assert drift == [("mobile_threat_defense_connectors", "android_enabled")]
    assert part["counts"] == {"drift": 1, "missing": 0, "unmanaged": 0, "error": 2}
    assert "Not audited in tenant-b" in (baseline.reports / "drift.md").read_text()
    assert emulator.control.writes() == []

    apply = baseline("apply", baseline=only_in_a_baseline())
    assert apply.rc == 2, apply.output
    tenant_b = emulator.info["tenants"][1]["tenant_id"]
    assert [entry for entry in emulator.control.writes() if entry["tenant"] == tenant_b] == []
    failure = [entry for entry in apply.results if entry["status"] == "failed" and entry["task"].endswith(CONVERGE)]
    assert [entry["host"] for entry in failure] == ["tenant-b"]
    message = failure[0]["result"]["msg"]
    assert "nothing was written to this tenant: 2 part(s)" in message
    assert "device_management_partners[0] (Jamf Pro)" in message
    assert "compliance_management_partners[0] (Jamf compliance)" in message
    assert state(emulator, 1, "mobileThreatDefenseConnectors")[0]["androidEnabled"] is False
    # A and C converged.
    assert state(emulator, 2, "mobileThreatDefenseConnectors")[0]["androidEnabled"] is True
    assert module_targets(state(emulator, 2, "deviceManagementPartners")[0]["groupsRequiringPartnerEnrollment"]) == [
        {"type": "group", "group_id": group_id(2, "Mac fleet")},
        {"type": "group", "group_id": f"0000000a-0000-4000-8000-{3:012x}"},
    ]


def test_a_clean_audit_changes_nothing_on_any_host(emulator, baseline):
    seed(emulator, in_line(0), in_line(1), in_line(2))
    run = baseline("audit")
    assert run.rc == 0, run.output
    recap = [line for line in run.stdout.splitlines() if line.startswith("tenant-")]
    assert len(recap) == 3 and all("changed=0" in line for line in recap), recap


def test_check_diff_of_apply_shows_every_object_before_and_after(emulator, baseline):
    seed(emulator, in_line(0), drifted_b(), in_line(2))
    run = baseline("apply", args=["--check", "--diff"], limit="tenant-b")
    assert run.rc == 0, run.output
    assert emulator.control.writes() == []
    diff = task_results(run, CONVERGE)["tenant-b"]["result"]["diff"]
    assert diff["before"]["device_management_partners"]["Jamf Pro"]["partner_state"] == "unresponsive"
    assert diff["after"]["device_management_partners"]["Jamf Pro"]["partner_state"] == "enabled"
    assert "TeamViewer" in diff["after"]["remote_assistance_partners"]
    assert "remote_assistance_partners" not in diff["before"]
    # Ansible shows it: the partner's state changes from one value to the other in the diff output.
    assert re.search(r'^-\s+"partner_state": "unresponsive",$', run.stdout, re.MULTILINE), run.stdout
    assert re.search(r'^\+\s+"partner_state": "enabled",$', run.stdout, re.MULTILINE), run.stdout


def test_a_typo_in_the_baseline_is_reported_once_before_any_tenant_is_contacted(emulator, baseline):
    seed(emulator, in_line(0), in_line(1), in_line(2))
    emulator.control.clear_log()
    typo = {"device_management_partners": [{"display_name": "Jamf Pro", "partner_sate": "enabled"}]}
    run = baseline("audit", baseline=typo)
    assert run.rc != 0
    expected = "baseline_desired.device_management_partners[0]: Unsupported parameters"
    # One host's failure (Ansible prints a failure as its [ERROR] line and its fatal line), not one per tenant.
    fatal = [line for line in run.output.splitlines() if line.startswith("fatal: [") and expected in line]
    assert [line.split("]", 1)[0] for line in fatal] == ["fatal: [tenant-a"], run.output
    assert "could not be read" not in run.output
    assert [entry for entry in emulator.control.log() if entry["kind"] in ("graph", "token", "discovery")] == []


def test_apply_converges_then_changes_nothing(emulator, baseline):
    seed(emulator, in_line(0), drifted_b(), drifted_c())
    first = baseline("apply")
    assert first.rc == 0, first.output
    assert {host: entry["result"]["changed"] for host, entry in task_results(first, CONVERGE).items()} == {
        "tenant-a": False,
        "tenant-b": True,
        "tenant-c": True,
    }
    assert [
        (entry["method"], entry["path"].rsplit("/", 2)[-2:])
        for entry in emulator.control.writes()
        if entry["tenant"] == emulator.info["tenants"][0]["tenant_id"]
    ] == []
    assert state(emulator, 1, "deviceManagementPartners")[0]["partnerState"] == "enabled"
    assert [p["displayName"] for p in state(emulator, 1, "remoteAssistancePartners")] == ["TeamViewer"]
    assert state(emulator, 1, "remoteAssistancePartners")[0]["onboardingStatus"] == "onboarding"  # created, then begun
    assert [p["displayName"] for p in state(emulator, 1, "complianceManagementPartners")] == [
        "Jamf compliance",
        "Old compliance",
    ]
    assert module_targets(state(emulator, 2, "deviceManagementPartners")[0]["groupsRequiringPartnerEnrollment"]) == [
        {"type": "group", "group_id": group_id(2, "Mac fleet")}
    ]
    assert state(emulator, 2, "mobileThreatDefenseConnectors")[0]["androidEnabled"] is True

    emulator.control.clear_log()
    second = baseline("apply")
    assert second.rc == 0, second.output
    assert emulator.control.writes() == []
    assert [entry["result"]["changed"] for entry in task_results(second, CONVERGE).values()] == [False] * 3
    assert "changed=0" in second.stdout and second.stdout.count("changed=0") == 3


def test_prune_deletes_only_with_prune(emulator, baseline):
    seed(emulator, in_line(0), drifted_b(), in_line(2))
    run = baseline("apply", args=["--limit", "tenant-b"], extra={"baseline_prune": True})
    assert run.rc == 0, run.output
    assert [p["displayName"] for p in state(emulator, 1, "complianceManagementPartners")] == ["Jamf compliance"]
    deletes = [entry["path"] for entry in emulator.control.writes() if entry["method"] == "DELETE"]
    assert deletes == ["/v1.0/deviceManagement/complianceManagementPartners/cmp-old"]


def test_export_then_apply_to_a_tenant_with_other_group_ids(emulator, baseline):
    golden = in_line(0)
    golden["deviceManagementPartners"][0]["groupsRequiringPartnerEnrollment"].append(
        graph_target("#microsoft.graph.exclusionGroupAssignmentTarget", groupId=group_id(0, "Mac lab"))
    )
    empty = {collection: [] for collection in COLLECTIONS}
    seed(emulator, golden, dict(empty, groups=in_line(1)["groups"]), in_line(2))
    export = baseline("export", no_baseline=True, limit="tenant-a")
    assert export.rc == 0, export.output
    assert emulator.control.writes() == []
    exported = yaml.safe_load((baseline.reports / "tenant-a.yml").read_text())
    desired = exported["baseline_desired"]
    assert desired["device_management_partners"][0]["groups_requiring_partner_enrollment"] == [
        {"type": "exclusion_group", "group_display_name": "Mac lab"},
        {"type": "group", "group_display_name": "Mac fleet"},
    ]
    assert "id" not in desired["device_management_partners"][0]  # tenant-specific ids stay home
    assert desired["mobile_threat_defense_connectors"][0]["id"] == MTD_ID  # the MTD partner's id is not
    assert desired["remote_assistance_partners"][0]["onboarding"] == "started"

    apply = baseline("apply", baseline=desired, limit="tenant-b")
    assert apply.rc == 0, apply.output
    assert module_targets(state(emulator, 1, "deviceManagementPartners")[0]["groupsRequiringPartnerEnrollment"]) == [
        {"type": "exclusion_group", "group_id": group_id(1, "Mac lab")},
        {"type": "group", "group_id": group_id(1, "Mac fleet")},
    ]
    emulator.control.clear_log()
    audit = baseline("audit", baseline=desired, limit="tenant-b")
    assert audit.rc == 0, audit.output
    report = json.loads((baseline.reports / "drift.json").read_text())
    assert report["entries"] == [] and list(report["tenants"]) == ["tenant-b"]
    assert emulator.control.writes() == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"partners": []}, "partners"),
        (
            {"device_management_partners": [{"display_name": "Jamf Pro", "colour": "red"}]},
            "Unsupported parameters for (msgraph.intune.device_management_partner) module: colour",
        ),
        ({"mobile_threat_defense_connectors": [{"id": MTD_ID, "android_enabled": "sometimes"}]}, "android_enabled"),
        ({"device_management_partners": "Jamf Pro"}, "device_management_partners"),
        ({}, "baseline_desired must be a dictionary of kinds"),
        (None, "it is null (a key left empty?)"),
        ("Jamf Pro", "it is a str"),
    ],
    ids=["unknown-kind", "unknown-option", "wrong-type", "not-a-list", "empty", "null", "a-string"],
)
def test_bad_baseline_fails_before_any_request(emulator, baseline, bad, message):
    seed(emulator, in_line(0), in_line(1), in_line(2))
    emulator.control.clear_log()
    run = baseline("audit", baseline=bad)
    assert run.rc != 0
    assert message in run.output, run.output
    assert [entry for entry in emulator.control.log() if entry["kind"] in ("graph", "token", "discovery")] == []
