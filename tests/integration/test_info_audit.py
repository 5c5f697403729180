"""device_management_partner_info, the export round trip (examples/export.yml) and the drift audit
(examples/audit/audit.yml), run with real ansible-playbook against the Graph emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tests.integration.conftest import REPO_ROOT, VENV_BIN, ansible_env, ansible_playbook
from tests.integration.secret_scan import assert_no_secrets, playbook_sources

EXAMPLES = os.path.join(REPO_ROOT, "examples")
AUDIT_PLAYBOOK = os.path.join(EXAMPLES, "audit", "audit.yml")
EXPORT_PLAYBOOK = os.path.join(EXAMPLES, "export.yml")
SAMPLE_INVENTORY = os.path.join(EXAMPLES, "audit", "inventory")
TENANT_HOSTS = ("tenant-a", "tenant-b", "tenant-c")  # inventory names of the emulator's tenants 0, 1, 2
APP_ID = "9c6a2b1e-52f4-4e1b-8a5f-1f0c3d2e4b6a"
PARTNER_KEYS = {
    "id",
    "display_name",
    "partner_state",
    "partner_app_type",
    "single_tenant_app_id",
    "is_configured",
    "last_heartbeat_date_time",
    "when_partner_devices_will_be_removed_date_time",
    "when_partner_devices_will_be_marked_as_non_compliant_date_time",
    "groups_requiring_partner_enrollment",
}


# --------------------------------------------------------------------------------------------------------------------
# Helpers: run the example playbooks as a user would (their own inventory, several hosts, forks)
# --------------------------------------------------------------------------------------------------------------------


def write_inventory(directory, info, desired, hosts=TENANT_HOSTS, secrets=None, host_desired=None):
    """The audit's inventory layout for emulator tenants: hosts.yml, group_vars (connection, desired state) and
    host_vars (credentials). ``secrets`` overrides the client secret of some hosts, ``host_desired`` their
    desired state."""
    (directory / "group_vars").mkdir(parents=True)
    (directory / "host_vars").mkdir()
    (directory / "hosts.yml").write_text(yaml.safe_dump({"intune_tenants": {"hosts": dict.fromkeys(hosts)}}))
    group_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "intune_desired_partners": desired,
    }
    (directory / "group_vars" / "intune_tenants.yml").write_text(yaml.safe_dump(group_vars, sort_keys=False))
    for index, host in enumerate(hosts):
        tenant = info["tenants"][index]
        host_vars = {
            "intune_tenant_id": tenant["tenant_id"],
            "intune_client_id": tenant["client_id"],
            "intune_client_secret": (secrets or {}).get(host, tenant["client_secret"]),
            "intune_graph_endpoint": info["graph_endpoint"],
            "intune_authority_host": info["authority_host"],
            "intune_ca_path": info["ca_path"],
        }
        if host in (host_desired or {}):
            host_vars["intune_desired_partners"] = host_desired[host]
        (directory / "host_vars" / f"{host}.yml").write_text(yaml.safe_dump(host_vars))
    return directory


def run_example(workdir, playbook, inventory, execution_path="in_process", extra_vars=None, forks=3, extra_args=()):
    """ansible-playbook on an example playbook; returns a PlaybookRun (results from the result_log callback)."""
    workdir.mkdir()
    args = ["--forks", str(forks)]
    if extra_vars:
        args += ["-e", json.dumps(extra_vars)]
    env = {"MSGRAPH_INTUNE_FORCE_MODULE": "1"} if execution_path == "module" else {}
    return ansible_playbook(workdir, playbook, inventory, [*args, *extra_args], env=env)


def item_results(run, task_name):
    return [entry for entry in run.results_of(task_name) if entry["status"].startswith("item_")]


def failed_hosts(run, task_name=None):
    """Hosts with a failed result (of that task, or of any task: rescued failures count too)."""
    return sorted(
        {entry["host"] for entry in run.results if entry["status"] == "failed" and task_name in (None, entry["task"])}
    )


def graph_gets(log):
    return [entry for entry in log if entry["kind"] == "graph" and entry["method"] == "GET"]


# --------------------------------------------------------------------------------------------------------------------
# 1. The info module
# --------------------------------------------------------------------------------------------------------------------

INFO_SEED = [
    {"id": "contoso-1", "displayName": "Contoso MTD", "partnerState": "enabled", "isConfigured": True},
    {"id": "contoso-lower", "displayName": "contoso mtd"},
    {"id": "fabrikam", "displayName": "Fabrikam", "partnerAppType": "singleTenantApp", "singleTenantAppId": APP_ID},
    {"id": "contoso-2", "displayName": "Contoso MTD", "partnerState": "terminated"},
]


def test_info_lists_pages_and_filters(emulator_factory, run_playbook, execution_path):
    emulator = emulator_factory("--page-size", "1")
    tenants = emulator.info["tenants"]
    # The same name in another tenant must not leak into tenant 0's answers.
    emulator.control.seed(
        {tenants[0]["tenant_id"]: INFO_SEED, tenants[1]["tenant_id"]: [{"displayName": "Contoso MTD"}]}
    )
    emulator.control.clear_log()
    # The first listing (a $filter on displayName) gets a 400, as an endpoint that cannot filter would answer: the
    # module then lists everything and must match the name itself, exactly.
    emulator.control.add_fault(method="GET", path=r"/deviceManagementPartners$", kind="status", status=400, times=1)

    def info(name, **options):
        return {"name": name, "msgraph.intune.device_management_partner_info": options, "register": name}

    tasks = [
        info("by_name_unfiltered", display_name="Contoso MTD"),
        info("all"),
        info("by_id", id="fabrikam"),
        info("by_name", display_name="Contoso MTD"),
        info("by_alias", displayName="contoso mtd"),
        info("other_case", display_name="CONTOSO MTD"),
        info("unknown_id", id="no-such-partner"),
        dict(info("in_check_mode"), check_mode=True),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output

    def ids(task_name):
        return [partner["id"] for partner in run.result(task_name)["partners"]]

    assert ids("all") == ["contoso-1", "contoso-lower", "fabrikam", "contoso-2"]
    assert ids("by_id") == ["fabrikam"]
    assert ids("by_name") == ["contoso-1", "contoso-2"]
    assert ids("by_name_unfiltered") == ["contoso-1", "contoso-2"]
    assert [fault["fired"] for fault in emulator.control.faults()] == [1]
    assert ids("by_alias") == ["contoso-lower"]
    assert ids("other_case") == []
    assert ids("in_check_mode") == ids("all")
    unknown = run.result("unknown_id")
    assert unknown["partners"] == [] and unknown["desired_state"] == [] and unknown["changed"] is False

    fabrikam = run.result("by_id")["partners"][0]
    assert set(fabrikam) == PARTNER_KEYS
    assert fabrikam["partner_app_type"] == "singleTenantApp" and fabrikam["single_tenant_app_id"] == APP_ID
    assert fabrikam["last_heartbeat_date_time"] == "0001-01-01T00:00:00Z"
    assert run.result("by_id")["desired_state"] == [
        {
            "id": "fabrikam",
            "display_name": "Fabrikam",
            "partner_state": "unknown",
            "partner_app_type": "singleTenantApp",
            "single_tenant_app_id": APP_ID,
            "is_configured": False,
            "groups_requiring_partner_enrollment": [],
        }
    ]

    log = emulator.control.log()
    assert emulator.control.writes() == []
    # Positive control: the three full listings (two tasks and the fallback) each walked 4 one-item pages.
    listings = [
        e for e in graph_gets(log) if e["path"].endswith("/deviceManagementPartners") and "$filter" not in e["query"]
    ]
    assert len(listings) == 12, listings
    assert sum("$skiptoken" in entry["query"] for entry in listings) == 9
    assert {entry["tenant"] for entry in graph_gets(log)} == {tenants[0]["tenant_id"]}


# --------------------------------------------------------------------------------------------------------------------
# 2. Export (examples/export.yml), then apply the export: nothing changes
# --------------------------------------------------------------------------------------------------------------------

ROUND_TRIP_SEED = [
    {
        "id": "rt-mtd",
        "displayName": "Contoso MTD",
        "partnerState": "enabled",
        "partnerAppType": "multiTenantApp",
        "isConfigured": True,
        "lastHeartbeatDateTime": "2026-04-01T08:30:00.1234567Z",
        "whenPartnerDevicesWillBeRemovedDateTime": "2027-03-04T05:06:07.1234567Z",
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": "2027-06-30T23:59:59.9999999+02:00",
        "groupsRequiringPartnerEnrollment": [
            {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
            {
                "target": {
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "groupId": "0a1b2c3d-0000-4000-8000-000000000001",
                }
            },
        ],
    },
    {
        "id": "rt-single",
        "displayName": "Fabrikam Compliance",
        "partnerState": "unresponsive",
        "partnerAppType": "singleTenantApp",
        "singleTenantAppId": APP_ID,
        "whenPartnerDevicesWillBeRemovedDateTime": None,
    },
    {"id": "rt-terminated", "displayName": "Old: 'quoted' # not a comment", "partnerState": "terminated"},
    {"id": "rt-unnamed", "displayName": None, "partnerState": "rejected", "isConfigured": True},
    {"id": "rt-unavailable", "displayName": "Northwind", "partnerState": "unavailable", "partnerAppType": "unknown"},
]
ROUND_TRIP_EXPORT = [
    {
        "id": "rt-mtd",
        "display_name": "Contoso MTD",
        "partner_state": "enabled",
        "partner_app_type": "multiTenantApp",
        "is_configured": True,
        "when_partner_devices_will_be_removed_date_time": "2027-03-04T05:06:07.1234567Z",
        "when_partner_devices_will_be_marked_as_non_compliant_date_time": "2027-06-30T21:59:59.9999999Z",
        # Exported since the module manages them: sorted by type and id, in the module's short form.
        "groups_requiring_partner_enrollment": [
            {"type": "all_devices"},
            {"type": "group", "group_id": "0a1b2c3d-0000-4000-8000-000000000001"},
        ],
    },
    {
        "id": "rt-single",
        "display_name": "Fabrikam Compliance",
        "partner_state": "unresponsive",
        "partner_app_type": "singleTenantApp",
        "single_tenant_app_id": APP_ID,
        "is_configured": False,
        "groups_requiring_partner_enrollment": [],
    },
    {
        "id": "rt-terminated",
        "display_name": "Old: 'quoted' # not a comment",
        "partner_state": "terminated",
        "partner_app_type": "unknown",
        "is_configured": False,
        "groups_requiring_partner_enrollment": [],
    },
    {
        "id": "rt-unnamed",
        "partner_state": "rejected",
        "partner_app_type": "unknown",
        "is_configured": True,
        "groups_requiring_partner_enrollment": [],
    },
    {
        "id": "rt-unavailable",
        "display_name": "Northwind",
        "partner_state": "unavailable",
        "partner_app_type": "unknown",
        "is_configured": False,
        "groups_requiring_partner_enrollment": [],
    },
]


def test_export_then_apply_changes_nothing(emulator, run_playbook, tmp_path):
    # One execution path: the info module's two paths are covered above, and the apply loop as module processes
    # would add a process per partner without testing anything new.
    tenant_id = emulator.info["tenants"][0]["tenant_id"]
    emulator.control.seed({tenant_id: ROUND_TRIP_SEED})
    inventory = write_inventory(tmp_path / "inventory", emulator.info, desired=[], hosts=("tenant-a",))
    export_dir = tmp_path / "baseline"

    export = run_example(
        tmp_path / "export", EXPORT_PLAYBOOK, inventory, extra_vars={"intune_export_dir": str(export_dir)}
    )
    assert export.rc == 0, export.output
    exported_text = (export_dir / "tenant-a.yml").read_text()
    assert yaml.safe_load(exported_text) == {"intune_desired_partners": ROUND_TRIP_EXPORT}, exported_text
    assert f"tenant {tenant_id}" in exported_text  # the header says where it came from
    again = run_example(
        tmp_path / "export-again", EXPORT_PLAYBOOK, inventory, extra_vars={"intune_export_dir": str(export_dir)}
    )
    assert again.rc == 0, again.output
    # No timestamp in the file: an unchanged tenant gives an unchanged file.
    assert again.result("Write the partners as options of device_management_partner")["changed"] is False
    assert export.result("Write the partners as options of device_management_partner")["changed"] is True

    emulator.control.clear_log()
    apply_tasks = [
        {"name": "load", "ansible.builtin.include_vars": {"file": str(export_dir / "tenant-a.yml")}},
        {
            "name": "apply",
            "msgraph.intune.device_management_partner": "{{ item }}",
            "loop": "{{ intune_desired_partners }}",
            "loop_control": {"label": "{{ item.display_name | default(item.id) }}"},
        },
    ]
    applied = run_playbook(apply_tasks, info=emulator.info)
    assert applied.rc == 0, applied.output
    items = item_results(applied, "apply")
    assert [entry["result"]["partner"]["id"] for entry in items] == [p["id"] for p in ROUND_TRIP_EXPORT]
    assert [entry["result"]["changed"] for entry in items] == [False] * len(ROUND_TRIP_EXPORT)
    assert all(entry["result"]["changed_properties"] == [] for entry in items)
    assert emulator.control.writes() == []
    assert {entry["path"].rsplit("/", 1)[-1] for entry in graph_gets(emulator.control.log())} >= {
        p["id"] for p in ROUND_TRIP_EXPORT
    }  # positive control: each partner was read by its id


# --------------------------------------------------------------------------------------------------------------------
# 3. The audit (examples/audit/audit.yml)
# --------------------------------------------------------------------------------------------------------------------

AUDIT_DESIRED = [
    {
        "display_name": "Contoso MTD",
        "partner_state": "enabled",
        "partner_app_type": "multiTenantApp",
        "is_configured": True,
        "when_partner_devices_will_be_removed_date_time": "2027-01-01T00:00:00Z",
    },
    {
        "display_name": "Fabrikam Compliance",
        "partner_state": "enabled",
        "partner_app_type": "singleTenantApp",
        "single_tenant_app_id": APP_ID,
    },
    {"display_name": "Legacy MDM", "state": "absent"},
]


def contoso(**changes):
    partner = {
        "displayName": "Contoso MTD",
        "partnerState": "enabled",
        "partnerAppType": "multiTenantApp",
        "isConfigured": True,
        # The same instant as the desired 2027-01-01T00:00:00Z, written with another offset: not drift.
        "whenPartnerDevicesWillBeRemovedDateTime": "2027-01-01T01:00:00.0000000+01:00",
        "lastHeartbeatDateTime": "2026-05-01T10:00:00.1234567Z",
    }
    partner.update(changes)
    return partner


FABRIKAM = {
    "displayName": "Fabrikam Compliance",
    "partnerState": "enabled",
    "partnerAppType": "singleTenantApp",
    "singleTenantAppId": APP_ID,
}
UNLISTED = {"displayName": "Not in the desired state", "partnerState": "rejected"}  # never compared
COMPLIANT = [contoso(), FABRIKAM, UNLISTED]
DRIFTING = {
    "tenant-a": COMPLIANT,
    "tenant-b": [contoso(partnerState="unresponsive", isConfigured=False), FABRIKAM],
    "tenant-c": [
        contoso(whenPartnerDevicesWillBeRemovedDateTime="2027-02-01T00:00:00Z"),
        {"displayName": "Legacy MDM", "partnerState": "enabled"},
    ],
}
EXPECTED_DRIFT = [
    ("tenant-b", "Contoso MTD", "partner_state", "unresponsive", "enabled"),
    ("tenant-b", "Contoso MTD", "is_configured", False, True),
    (
        "tenant-c",
        "Contoso MTD",
        "when_partner_devices_will_be_removed_date_time",
        "2027-02-01T00:00:00.0000000Z",
        "2027-01-01T00:00:00.0000000Z",
    ),
    ("tenant-c", "Fabrikam Compliance", "state", "absent", "present"),
    ("tenant-c", "Fabrikam Compliance", "display_name", None, "Fabrikam Compliance"),
    ("tenant-c", "Fabrikam Compliance", "partner_state", None, "enabled"),
    ("tenant-c", "Fabrikam Compliance", "partner_app_type", None, "singleTenantApp"),
    ("tenant-c", "Fabrikam Compliance", "single_tenant_app_id", None, APP_ID),
    ("tenant-c", "Legacy MDM", "state", "present", "absent"),
]
COLUMNS = ("tenant", "partner", "property", "current", "desired")
WRONG_SECRET = "Wr0ng~8Q~secret-of-tenant-b"


def seed_tenants(emulator, partners_by_host):
    tenants = emulator.info["tenants"]
    emulator.control.seed(
        {tenants[TENANT_HOSTS.index(host)]["tenant_id"]: partners for host, partners in partners_by_host.items()}
    )
    emulator.control.clear_log()


def run_audit(
    tmp_path, emulator, execution_path="in_process", secrets=None, host_desired=None, extra_args=(), **extra_vars
):
    inventory = write_inventory(
        tmp_path / "inventory", emulator.info, AUDIT_DESIRED, secrets=secrets, host_desired=host_desired
    )
    extra_vars.setdefault("audit_report_dir", str(tmp_path / "reports"))
    run = run_example(tmp_path / "audit", AUDIT_PLAYBOOK, inventory, execution_path, extra_vars, extra_args=extra_args)
    report_path = tmp_path / "reports" / "intune-partner-drift"
    json_path, markdown_path = report_path.with_suffix(".json"), report_path.with_suffix(".md")
    report = json.loads(json_path.read_text()) if json_path.exists() else None
    markdown = markdown_path.read_text() if markdown_path.exists() else None
    return run, report, markdown


def assert_no_tenant_secrets(run, emulator, tmp_path, extra=None):
    """No client secret in the output, the task results, Ansible's files or the reports (only the inventory has them)."""
    secrets = {f"tenant {n} secret": tenant["client_secret"] for n, tenant in enumerate(emulator.info["tenants"])}
    secrets.update(extra or {})
    sources = playbook_sources(run, extra_paths=[tmp_path / "reports"])
    assert_no_secrets(secrets, **sources)


def markdown_rows(markdown, header):
    """The body rows of the Markdown table that starts with `header`, as lists of cell strings."""
    lines = markdown.splitlines()
    start = lines.index(header)
    assert lines[start + 1].startswith("| --- |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("| "):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def as_cell(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_audit_reports_drift_of_each_tenant(emulator, tmp_path, execution_path):
    seed_tenants(emulator, DRIFTING)
    run, report, markdown = run_audit(tmp_path, emulator, execution_path)
    assert run.rc == 0, run.output
    assert failed_hosts(run) == []
    assert report["tenants"] == list(TENANT_HOSTS)
    assert report["errors"] == []
    assert [tuple(row[column] for column in COLUMNS) for row in report["drift"]] == EXPECTED_DRIFT
    assert markdown_rows(markdown, "| tenant | partner | property | current | desired |") == [
        [as_cell(value) for value in row] for row in EXPECTED_DRIFT
    ]
    assert "## Not audited" not in markdown
    published = run.result("Publish the report as job artifacts (AWX passes them to the next workflow node)")
    assert published["ansible_stats"]["data"]["intune_partner_drift"] == report
    assert_no_tenant_secrets(run, emulator, tmp_path)

    log = emulator.control.log()
    assert emulator.control.writes() == []
    # Positive control: every tenant was read, each with its own token.
    tenant_ids = [tenant["tenant_id"] for tenant in emulator.info["tenants"]]
    assert {entry["tenant"] for entry in graph_gets(log)} == set(tenant_ids)
    assert all(entry["status"] == 200 for entry in graph_gets(log))


def test_audit_fail_on_drift(emulator, tmp_path):
    seed_tenants(emulator, DRIFTING)
    run, report, _markdown = run_audit(tmp_path / "drift", emulator, audit_fail_on_drift=True)
    assert run.rc == 2, run.output
    assert failed_hosts(run) == failed_hosts(run, "Fail for a tenant with drift when audit_fail_on_drift is true")
    assert failed_hosts(run) == ["tenant-b", "tenant-c"]
    assert "Drift found on tenant-b: 2 differing properties of Contoso MTD. See " in run.output
    assert (
        "Drift found on tenant-c: 7 differing properties of Contoso MTD, Fabrikam Compliance, Legacy MDM." in run.output
    )
    assert len(report["drift"]) == len(EXPECTED_DRIFT)  # the report is written before the play fails
    assert emulator.control.writes() == []

    seed_tenants(emulator, dict.fromkeys(TENANT_HOSTS, COMPLIANT))
    # With --check on the command line too: the report is still written, Graph still gets no write.
    run, report, markdown = run_audit(tmp_path / "clean", emulator, extra_args=["--check"], audit_fail_on_drift="true")
    assert run.rc == 0, run.output
    assert report["drift"] == [] and report["errors"] == []
    assert "No drift found." in markdown and "| tenant | partner |" not in markdown
    assert {entry["tenant"] for entry in graph_gets(emulator.control.log())} == {
        tenant["tenant_id"] for tenant in emulator.info["tenants"]
    }
    assert emulator.control.writes() == []


def test_audit_reports_tenants_it_cannot_audit(emulator, tmp_path):
    seed_tenants(emulator, dict.fromkeys(TENANT_HOSTS, COMPLIANT))
    typo = [dict(AUDIT_DESIRED[0], partner_sate="enabled")]  # caught before any request
    run, report, markdown = run_audit(
        tmp_path, emulator, secrets={"tenant-b": WRONG_SECRET}, host_desired={"tenant-c": typo}
    )
    assert run.rc == 2, run.output
    assert failed_hosts(run, "Fail for a tenant that could not be audited") == ["tenant-b", "tenant-c"]
    assert "The audit is incomplete: tenant-b could not be audited (token request failed" in run.output
    assert "The audit is incomplete: tenant-c could not be audited (intune_desired_partners must be" in run.output
    assert report["drift"] == []
    errors = [(error["tenant"], error["partner"]) for error in report["errors"]]
    assert errors == [
        ("tenant-b", "Contoso MTD"),
        ("tenant-b", "Fabrikam Compliance"),
        ("tenant-b", "Legacy MDM"),
        ("tenant-c", None),
    ]
    assert all("AADSTS7000215" in error["msg"] for error in report["errors"][:3]), report["errors"]
    assert "Unknown options: partner_sate" in report["errors"][3]["msg"]
    assert_no_tenant_secrets(run, emulator, tmp_path, {"wrong secret": WRONG_SECRET})
    assert [row[:2] for row in markdown_rows(markdown, "| tenant | partner | error |")] == [
        [tenant, as_cell(partner)] for tenant, partner in errors
    ]
    assert "No drift found on the tenants that could be audited." in markdown
    # tenant-a was still audited; tenant-c sent nothing.
    tenants = emulator.info["tenants"]
    assert {entry["tenant"] for entry in graph_gets(emulator.control.log())} == {tenants[0]["tenant_id"]}
    assert not [entry for entry in emulator.control.log() if entry["tenant"] == tenants[2]["tenant_id"]]


def test_sample_inventory_is_the_documented_layout(tmp_path):
    completed = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-inventory"), "-i", SAMPLE_INVENTORY, "--list"],
        cwd=tmp_path,
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    inventory = json.loads(completed.stdout)
    assert sorted(inventory["intune_tenants"]["hosts"]) == ["contoso", "fabrikam"]
    for host in ("contoso", "fabrikam"):
        host_vars = inventory["_meta"]["hostvars"][host]
        assert host_vars["ansible_connection"] == "local"
        assert {"intune_tenant_id", "intune_client_id"} <= set(host_vars)
        assert [entry.get("display_name") for entry in host_vars["intune_desired_partners"]] == [
            "Contoso MTD",
            "Fabrikam Device Compliance",
            "Legacy MDM connector",
        ]
