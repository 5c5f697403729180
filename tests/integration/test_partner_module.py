"""device_management_partner through real ansible-playbook runs against the Graph emulator.

Every expectation about what reached Graph is read from the emulator (its request log and its state), never from
the module's own result alone. Tests that request ``execution_path`` run once in the controller's worker process
(action plugin) and once as a module process.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import (
    COLLECTION_PATH,
    OPTION_TO_GRAPH,
    TARGET_LIST_TO_GRAPH,
    connection_options,
    failed_result,
    graph_requests,
    module_targets,
)

MODULE = "msgraph.intune.device_management_partner"


# --------------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------------


def partner_task(name, ignore_errors=False, **options):
    task = {"name": name, MODULE: options}
    if ignore_errors:
        task["ignore_errors"] = True
    return task


def seed(emulator, *partners, tenant=0):
    """Replace the partners of the index-th tenant (Graph camelCase objects)."""
    emulator.control.seed({emulator.info["tenants"][tenant]["tenant_id"]: list(partners)})


def graph_state(emulator, tenant=0):
    """{id: partner as Graph returns it} for the index-th tenant."""
    tenants = emulator.control.state()
    tenant_id = emulator.info["tenants"][tenant]["tenant_id"]
    return {partner["id"]: partner for partner in tenants.get(tenant_id, [])}


def as_module_partner(graph_partner):
    """What the module's `partner` must be for this Graph object."""
    partner = {"id": graph_partner["id"]}
    partner.update({option: graph_partner[graph] for option, graph in OPTION_TO_GRAPH.items()})
    partner["groups_requiring_partner_enrollment"] = module_targets(graph_partner["groupsRequiringPartnerEnrollment"])
    return partner


def item_path(partner_id):
    return f"/v1.0{COLLECTION_PATH}/{partner_id}"


def collection_reads(emulator):
    return [
        entry
        for entry in graph_requests(emulator)
        if entry["method"] == "GET" and entry["path"] == f"/v1.0{COLLECTION_PATH}"
    ]


# --------------------------------------------------------------------------------------------------------------------
# Converge and idempotence
# --------------------------------------------------------------------------------------------------------------------


def test_converge_patches_only_changed_fields_then_writes_nothing(emulator, run_playbook, execution_path):
    seed(
        emulator,
        {
            "id": "partner-converge",
            "displayName": "Contoso MTD",
            "partnerState": "unresponsive",
            "partnerAppType": "multiTenantApp",
            "isConfigured": False,
            "whenPartnerDevicesWillBeRemovedDateTime": "2027-01-01T00:00:00.5Z",
            "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": "2027-06-30T21:59:59.9999999Z",
        },
        {"id": "partner-bystander", "displayName": "Bystander", "partnerState": "unresponsive"},
    )
    bystander = graph_state(emulator)["partner-bystander"]
    task = partner_task(
        "converge",
        display_name="Contoso MTD",
        partner_state="enabled",
        partner_app_type="multiTenantApp",
        is_configured=True,
        # The instants Graph holds, written with another offset and another fractional precision.
        when_partner_devices_will_be_removed_date_time="2027-01-01T01:00:00.50+01:00",
        when_partner_devices_will_be_marked_as_non_compliant_date_time="2027-06-30T23:59:59.9999999+02:00",
    )

    first = run_playbook([task], info=emulator.info)
    assert first.rc == 0, first.output
    assert "[WARNING]" not in first.output, first.output
    result = first.result("converge")
    assert result["changed"] is True
    assert result["changed_properties"] == ["partner_state", "is_configured"]
    patches = emulator.control.writes()
    assert [(entry["method"], entry["path"]) for entry in patches] == [("PATCH", item_path("partner-converge"))]
    assert patches[0]["body"] == {"partnerState": "enabled", "isConfigured": True}
    state = graph_state(emulator)
    assert result["partner"] == as_module_partner(state["partner-converge"])
    assert state["partner-converge"]["partnerState"] == "enabled"
    assert state["partner-bystander"] == bystander

    emulator.control.clear_log()
    second = run_playbook([task], info=emulator.info)
    assert second.rc == 0, second.output
    result = second.result("converge")
    assert result["changed"] is False
    assert result["changed_properties"] == []
    assert emulator.control.writes() == []
    # Positive control: the second run did talk to Graph, it just had nothing to write.
    assert collection_reads(emulator), emulator.control.log()
    assert result["partner"] == as_module_partner(graph_state(emulator)["partner-converge"])


# --------------------------------------------------------------------------------------------------------------------
# Check mode and diff
# --------------------------------------------------------------------------------------------------------------------


def test_check_mode_writes_nothing_and_diff_shows_drift(emulator, run_playbook, execution_path):
    seed(
        emulator,
        {"id": "partner-drifted", "displayName": "Contoso MTD", "partnerState": "unresponsive", "isConfigured": False},
        {"id": "partner-fabrikam", "displayName": "Fabrikam", "partnerState": "enabled"},
        {"id": "partner-old", "displayName": "Old partner", "partnerState": "enabled"},
    )
    before_run = emulator.control.state()
    tasks = [
        partner_task("update", display_name="Contoso MTD", partner_state="enabled", is_configured=True),
        partner_task(
            "create",
            display_name="Northwind",
            partner_state="enabled",
            partner_app_type="singleTenantApp",
            when_partner_devices_will_be_removed_date_time="2027-01-01T01:00:00+01:00",
        ),
        partner_task("terminate", display_name="Fabrikam", state="terminated"),
        partner_task("delete", id="partner-old", state="absent"),
    ]

    run = run_playbook(tasks, info=emulator.info, check=True, diff=True)
    assert run.rc == 0, run.output
    assert emulator.control.writes() == []
    assert emulator.control.state() == before_run
    assert collection_reads(emulator), "positive control: check mode must still read Graph"

    update = run.result("update")
    assert update["changed"] is True
    assert update["changed_properties"] == ["partner_state", "is_configured"]
    # The diff shows every managed property, the assignment targets included.
    assert set(update["diff"]["before"]) == set(OPTION_TO_GRAPH) | set(TARGET_LIST_TO_GRAPH)
    assert set(update["diff"]["after"]) == set(OPTION_TO_GRAPH) | set(TARGET_LIST_TO_GRAPH)
    assert update["diff"]["before"]["partner_state"] == "unresponsive"
    assert update["diff"]["after"]["partner_state"] == "enabled"
    assert update["diff"]["before"]["is_configured"] is False
    assert update["diff"]["after"]["is_configured"] is True
    unchanged = (set(OPTION_TO_GRAPH) | set(TARGET_LIST_TO_GRAPH)) - {"partner_state", "is_configured"}
    assert {k: update["diff"]["before"][k] for k in unchanged} == {k: update["diff"]["after"][k] for k in unchanged}
    assert update["partner"]["partner_state"] == "enabled"  # the prediction

    # A predicted create: id null, the given properties as Graph would store them, the others null.
    create = run.result("create")
    assert create["changed"] is True
    assert create["partner"]["id"] is None
    assert create["partner"]["display_name"] == "Northwind"
    assert create["partner"]["when_partner_devices_will_be_removed_date_time"] == "2027-01-01T00:00:00.0000000Z"
    assert create["partner"]["is_configured"] is None
    assert create["changed_properties"] == [
        "display_name",
        "partner_state",
        "partner_app_type",
        "when_partner_devices_will_be_removed_date_time",
    ]
    assert create["diff"]["before"] == {}
    assert create["diff"]["after"]["display_name"] == "Northwind"

    terminate = run.result("terminate")
    assert terminate["changed"] is True
    assert terminate["changed_properties"] == ["partner_state"]
    assert terminate["partner"]["partner_state"] == "terminated"

    delete = run.result("delete")
    assert delete["changed"] is True
    assert delete["partner"] is None
    assert delete["diff"]["before"]["display_name"] == "Old partner"
    assert delete["diff"]["after"] == {}

    # The diff as Ansible renders it: unified diff of the JSON dumps of before and after.
    assert re.search(r'^-\s+"partner_state": "unresponsive"', run.stdout, re.MULTILINE), run.stdout
    assert re.search(r'^\+\s+"partner_state": "enabled"', run.stdout, re.MULTILINE), run.stdout
    assert re.search(r'^\+\s+"display_name": "Northwind"', run.stdout, re.MULTILINE), run.stdout


# --------------------------------------------------------------------------------------------------------------------
# Create, terminate, delete
# --------------------------------------------------------------------------------------------------------------------


def test_create_terminate_delete_then_nothing_to_do(emulator, run_playbook, execution_path):
    seed(
        emulator,
        {"id": "partner-fabrikam", "displayName": "Fabrikam", "partnerState": "enabled", "isConfigured": False},
        {"id": "partner-old", "displayName": "Old partner", "partnerState": "enabled"},
    )
    tasks = [
        partner_task(
            "create",
            display_name="Northwind MDM",
            partner_state="enabled",
            partner_app_type="singleTenantApp",
            single_tenant_app_id="0b1c5d5e-3b8e-4b0a-9f57-6f1f2b0f1a10",
            is_configured=True,
        ),
        # Given properties are applied before the terminate action.
        partner_task("terminate", display_name="Fabrikam", is_configured=True, state="terminated"),
        partner_task("delete", id="partner-old", state="absent"),
        partner_task("delete absent by name", display_name="Ghost", state="absent"),
        partner_task("delete absent by id", id="ghost-id", state="absent"),
    ]

    first = run_playbook(tasks, info=emulator.info)
    assert first.rc == 0, first.output
    state = graph_state(emulator)
    logged = emulator.control.writes()
    created = first.result("create")
    assert created["changed"] is True
    new_id = created["partner"]["id"]
    assert new_id in state
    assert created["partner"] == as_module_partner(state[new_id])
    assert [(entry["method"], entry["path"]) for entry in logged] == [
        ("POST", f"/v1.0{COLLECTION_PATH}"),
        ("PATCH", item_path("partner-fabrikam")),
        ("POST", item_path("partner-fabrikam") + "/terminate"),
        ("DELETE", item_path("partner-old")),
    ]
    assert logged[0]["body"] == {
        "displayName": "Northwind MDM",
        "partnerState": "enabled",
        "partnerAppType": "singleTenantApp",
        "singleTenantAppId": "0b1c5d5e-3b8e-4b0a-9f57-6f1f2b0f1a10",
        "isConfigured": True,
    }
    assert logged[1]["body"] == {"isConfigured": True}

    terminated = first.result("terminate")
    assert terminated["changed"] is True
    assert terminated["changed_properties"] == ["is_configured", "partner_state"]
    assert terminated["partner"]["partner_state"] == "terminated"
    assert terminated["partner"] == as_module_partner(state["partner-fabrikam"])
    assert state["partner-fabrikam"]["partnerState"] == "terminated"

    deleted = first.result("delete")
    assert deleted["changed"] is True
    assert deleted["partner"] is None
    assert "partner-old" not in state
    for name in ("delete absent by name", "delete absent by id"):
        assert first.result(name)["changed"] is False
        assert first.result(name)["partner"] is None

    # The same playbook again: everything is in place, so nothing is written.
    emulator.control.clear_log()
    second = run_playbook(tasks, info=emulator.info)
    assert second.rc == 0, second.output
    assert emulator.control.writes() == []
    assert graph_state(emulator) == state
    for entry in second.results:
        assert entry["result"]["changed"] is False, entry
    assert second.result("terminate")["partner"]["partner_state"] == "terminated"
    assert second.result("create")["partner"]["id"] == new_id
    assert collection_reads(emulator), "positive control: the second run read Graph"


# --------------------------------------------------------------------------------------------------------------------
# Lookup by name
# --------------------------------------------------------------------------------------------------------------------


def test_lookup_by_name_over_pages_exact_and_case_sensitive(emulator_factory, run_playbook):
    """The lookup is shared logic, so one execution path (the default, in-process) is enough here."""
    emulator = emulator_factory("--page-size", "1")
    seed(
        emulator,
        {"id": "p-alpha", "displayName": "Alpha"},
        {"id": "p-twin-1", "displayName": "Twin"},
        {"id": "p-obrien-lower", "displayName": "o'brien"},
        {"id": "p-bravo", "displayName": "Bravo"},
        {"id": "p-obrien", "displayName": "O'Brien"},
        {"id": "p-twin-2", "displayName": "Twin"},
        {"id": "p-charlie", "displayName": "Charlie"},
    )
    # Refusing $filter once (as a Graph endpoint without $filter support would) makes the module list every
    # partner; after that, the emulator's filter ignores case as Graph's does. Either way the module's own exact,
    # case-sensitive match decides between O'Brien and o'brien.
    emulator.control.add_fault(method="GET", path=r"/deviceManagementPartners$", kind="status", status=400, times=1)
    tasks = [
        partner_task("O'Brien from the full listing", display_name="O'Brien", partner_state="enabled"),
        partner_task("o'brien through the filter", display_name="o'brien", partner_state="rejected"),
        partner_task("ambiguous", ignore_errors=True, display_name="Twin", partner_state="enabled"),
    ]

    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert run.result("O'Brien from the full listing")["partner"]["id"] == "p-obrien"
    assert run.result("o'brien through the filter")["partner"]["id"] == "p-obrien-lower"
    logged = emulator.control.writes()
    assert [(entry["path"], entry["body"]) for entry in logged] == [
        (item_path("p-obrien"), {"partnerState": "enabled"}),
        (item_path("p-obrien-lower"), {"partnerState": "rejected"}),
    ]
    assert {entry["method"] for entry in logged} == {"PATCH"}

    reads = collection_reads(emulator)
    filters = [entry["query"].get("$filter") for entry in reads]
    # Task 1: the refused filter, then all 7 partners one page each.
    assert reads[0]["status"] == 400 and filters[0] == "displayName eq 'O''Brien'"
    assert filters[1:8] == [None] * 7
    assert sum("$skiptoken" in entry["query"] for entry in reads[1:8]) == 6
    # Task 2: the quote is doubled in the OData literal; the case-insensitive filter returns both spellings
    # (one page each) and the module keeps the exact one.
    assert filters[8:10] == ["displayName eq 'o''brien'"] * 2
    # Task 3: both matches, on two pages.
    assert filters[10:] == ["displayName eq 'Twin'"] * 2

    ambiguous = failed_result(run, "ambiguous")
    assert "p-twin-1" in ambiguous["msg"] and "p-twin-2" in ambiguous["msg"], ambiguous["msg"]
    assert graph_state(emulator)["p-twin-1"]["partnerState"] == "unknown"
    assert graph_state(emulator)["p-twin-2"]["partnerState"] == "unknown"


# --------------------------------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------------------------------


def test_bad_input_fails_before_any_request(emulator, run_playbook, execution_path):
    tasks = [
        partner_task("bad enum", ignore_errors=True, display_name="Contoso MTD", partner_state="on"),
        partner_task(
            "bad date",
            ignore_errors=True,
            display_name="Contoso MTD",
            when_partner_devices_will_be_removed_date_time="2027-02-30T00:00:00Z",
        ),
        partner_task("bad id", ignore_errors=True, id="abc/../def", partner_state="enabled"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    # Not a single request: no token, no discovery, no Graph call.
    assert emulator.control.log() == []

    bad_enum = failed_result(run, "bad enum")
    assert "partner_state" in bad_enum["msg"] and "on" in bad_enum["msg"], bad_enum["msg"]
    assert "enabled" in bad_enum["msg"], "the message should list the choices: " + bad_enum["msg"]
    bad_date = failed_result(run, "bad date")
    assert "when_partner_devices_will_be_removed_date_time" in bad_date["msg"], bad_date["msg"]
    assert "2027-02-30T00:00:00Z" in bad_date["msg"], bad_date["msg"]
    bad_id = failed_result(run, "bad id")
    assert bad_id["msg"].startswith("id "), bad_id["msg"]
    assert "abc/../def" in bad_id["msg"], bad_id["msg"]


def test_unknown_id_fails_with_graph_request_id(emulator, run_playbook, execution_path):
    seed(emulator, {"id": "partner-known", "displayName": "Known"})
    tasks = [
        partner_task("update unknown", ignore_errors=True, id="partner-unknown", partner_state="enabled"),
        partner_task("terminate unknown", ignore_errors=True, id="partner-unknown", state="terminated"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert emulator.control.writes() == []
    lookups = [entry for entry in graph_requests(emulator) if entry["path"] == item_path("partner-unknown")]
    assert [entry["status"] for entry in lookups] == [404, 404]

    for name, lookup in zip(("update unknown", "terminate unknown"), lookups):
        result = failed_result(run, name)
        assert "partner-unknown" in result["msg"], result["msg"]
        assert result["status"] == 404
        assert result["error_code"] == "ResourceNotFound"
        assert result["method"] == "GET"
        assert result["path"] == item_path("partner-unknown")
        # Graph's own request-id (the emulator makes one per request), and the id the module sent.
        assert re.fullmatch(r"[0-9a-f-]{36}", result["request_id"] or ""), result
        assert result["request_id"] != result["client_request_id"]
        assert result["request_id"] in result["msg"]
        assert result["client_request_id"] == lookup["client_request_id"]


# --------------------------------------------------------------------------------------------------------------------
# PATCH answered with 204 or 200
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("patch_status", [204, 200])
def test_partner_after_patch_matches_graph(emulator, run_playbook, patch_status):
    emulator.control.config(patch_status=patch_status)
    seed(
        emulator,
        {
            "id": "partner-patched",
            "displayName": "Contoso MTD",
            "partnerState": "unresponsive",
            "partnerAppType": "multiTenantApp",
            "lastHeartbeatDateTime": "2026-05-01T08:30:00.1234567Z",
            "groupsRequiringPartnerEnrollment": [
                {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "group-1"}}
            ],
        },
    )
    if patch_status == 200:
        # The service records a heartbeat right after the module's read: only the 200 body can tell the module, so
        # its `partner` must come from that body, not from what it read plus what it wrote.
        emulator.control.add_mutation(
            method="GET",
            path=r"/deviceManagementPartners/partner-patched$",
            tenant=emulator.info["tenants"][0]["tenant_id"],
            id="partner-patched",
            set={"lastHeartbeatDateTime": "2026-06-01T00:00:00Z"},
        )
    task = partner_task(
        "update",
        id="partner-patched",
        display_name="Contoso MTD (production)",
        partner_state="enabled",
        when_partner_devices_will_be_removed_date_time="2027-03-01T12:00:00.25+02:00",
    )
    run = run_playbook([task], info=emulator.info)
    assert run.rc == 0, run.output
    patches = [entry for entry in emulator.control.writes() if entry["method"] == "PATCH"]
    assert [entry["status"] for entry in patches] == [patch_status]
    assert patches[0]["body"] == {
        "displayName": "Contoso MTD (production)",
        "partnerState": "enabled",
        "whenPartnerDevicesWillBeRemovedDateTime": "2027-03-01T10:00:00.2500000Z",
    }
    partner = run.result("update")["partner"]
    assert partner == as_module_partner(graph_state(emulator)["partner-patched"])
    assert partner["when_partner_devices_will_be_removed_date_time"] == "2027-03-01T10:00:00.2500000Z"
    assert partner["groups_requiring_partner_enrollment"] == [{"type": "group", "group_id": "group-1"}]
    expected_heartbeat = "2026-06-01T00:00:00.0000000Z" if patch_status == 200 else "2026-05-01T08:30:00.1234567Z"
    assert partner["last_heartbeat_date_time"] == expected_heartbeat


# --------------------------------------------------------------------------------------------------------------------
# Option names and module_defaults
# --------------------------------------------------------------------------------------------------------------------


def test_camelcase_aliases_and_task_options_beat_module_defaults(emulator, run_playbook, execution_path):
    other_tenant = connection_options(emulator.info, tenant=1)
    tasks = [
        partner_task(
            "camelCase",
            displayName="Alias partner",
            partnerState="enabled",
            partnerAppType="singleTenantApp",
            singleTenantAppId="app-1",
            isConfigured=True,
            whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime="2027-06-30T23:59:59.9999999+02:00",
        ),
        # module_defaults (the play's) point at tenant 0; these task options must win.
        partner_task(
            "task options win",
            display_name="Tenant one partner",
            tenant_id=other_tenant["tenant_id"],
            client_id=other_tenant["client_id"],
            client_secret=other_tenant["client_secret"],
        ),
    ]
    run = run_playbook(tasks, info=emulator.info, tenant=0)
    assert run.rc == 0, run.output
    logged = emulator.control.writes()
    tenant_ids = [tenant["tenant_id"] for tenant in emulator.info["tenants"]]
    assert [(entry["method"], entry["tenant"]) for entry in logged] == [
        ("POST", tenant_ids[0]),
        ("POST", tenant_ids[1]),
    ]
    assert logged[0]["body"] == {
        "displayName": "Alias partner",
        "partnerState": "enabled",
        "partnerAppType": "singleTenantApp",
        "singleTenantAppId": "app-1",
        "isConfigured": True,
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": "2027-06-30T21:59:59.9999999Z",
    }
    aliased = run.result("camelCase")
    assert aliased["changed_properties"] == [
        "display_name",
        "partner_state",
        "partner_app_type",
        "single_tenant_app_id",
        "is_configured",
        "when_partner_devices_will_be_marked_as_non_compliant_date_time",
    ]
    assert aliased["partner"] == as_module_partner(graph_state(emulator, tenant=0)[aliased["partner"]["id"]])

    assert [p["displayName"] for p in graph_state(emulator, tenant=0).values()] == ["Alias partner"]
    assert [p["displayName"] for p in graph_state(emulator, tenant=1).values()] == ["Tenant one partner"]
