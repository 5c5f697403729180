"""mobile_threat_defense_connector and its _info module, through ansible-playbook against the Graph emulator.

A connector has no display name: it is found by its id (the MTD partner's connector id, the same in every
tenant), so an unknown id with state=present is a create whose POST body carries that id. The ids below are made
up for the tests. Every behaviour test runs on both execution paths.
"""

from __future__ import annotations

import re

from tests.integration.conftest import (
    MTD_CONNECTOR,
    connection_options,
    failed_result,
    graph_requests,
    item_results,
)

TYPE = MTD_CONNECTOR
PARTNER_A = "0a0a0a0a-1111-4222-8333-444444444444"
PARTNER_B = "0b0b0b0b-1111-4222-8333-444444444444"
PARTNER_C = "0c0c0c0c-1111-4222-8333-444444444444"


def connector(connector_id, **properties):
    return {"id": connector_id, **properties}


def writes(emulator):
    return [(entry["method"], entry["path"], entry["body"]) for entry in emulator.control.writes()]


SEEDED_A = connector(
    PARTNER_A,
    partnerState="enabled",
    lastHeartbeatDateTime="2026-05-01T08:30:00.1234567Z",
    iosEnabled=True,
    androidEnabled=False,
    partnerUnresponsivenessThresholdInDays=7,
)


# --------------------------------------------------------------------------------------------------------------------
# Create (an unknown id), converge, idempotence
# --------------------------------------------------------------------------------------------------------------------


def test_unknown_id_creates_then_converge_then_nothing_to_write(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [SEEDED_A, connector(PARTNER_C, windowsEnabled=True)])
    bystander = TYPE.state(emulator)[PARTNER_C]
    tasks = [
        TYPE.task(
            "create",
            id=PARTNER_B,
            ios_enabled=True,
            ios_device_blocked_on_missing_partner_data=True,
            partner_unresponsiveness_threshold_in_days=3,
        ),
        # Drift: android_enabled and the threshold; ios_enabled already holds.
        TYPE.task(
            "converge",
            id=PARTNER_A,
            ios_enabled=True,
            android_enabled=True,
            partner_unresponsiveness_threshold_in_days=14,
        ),
        # Graph's camelCase names as aliases, with the odd "IOS" spelling.
        TYPE.task(
            "aliases",
            id=PARTNER_A,
            allowPartnerToCollectIOSApplicationMetadata=True,
            allowPartnerToCollectIOSPersonalApplicationMetadata=False,
        ),
    ]
    first = run_playbook(tasks, info=emulator.info)
    assert first.rc == 0, first.output
    assert "[WARNING]" not in first.output, first.output
    assert writes(emulator) == [
        (
            "POST",
            TYPE.path,
            {
                "id": PARTNER_B,
                "iosEnabled": True,
                "iosDeviceBlockedOnMissingPartnerData": True,
                "partnerUnresponsivenessThresholdInDays": 3,
            },
        ),
        (
            "PATCH",
            TYPE.item_path(PARTNER_A),
            {"androidEnabled": True, "partnerUnresponsivenessThresholdInDays": 14},
        ),
        ("PATCH", TYPE.item_path(PARTNER_A), {"allowPartnerToCollectIOSApplicationMetadata": True}),
    ]
    # The create first looked the id up (404), then POSTed it.
    lookups = [entry for entry in graph_requests(emulator) if entry["path"] == TYPE.item_path(PARTNER_B)]
    assert [entry["status"] for entry in lookups[:1]] == [404]

    state = TYPE.state(emulator)
    created = first.result("create")
    assert created["changed"] is True
    assert created["changed_properties"] == [
        "ios_device_blocked_on_missing_partner_data",
        "ios_enabled",
        "partner_unresponsiveness_threshold_in_days",
    ]
    assert created["connector"]["id"] == PARTNER_B
    assert created["connector"] == TYPE.as_module(state[PARTNER_B])
    converged = first.result("converge")
    assert converged["changed_properties"] == ["android_enabled", "partner_unresponsiveness_threshold_in_days"]
    assert first.result("aliases")["changed_properties"] == ["allow_partner_to_collect_ios_application_metadata"]
    assert first.result("aliases")["connector"] == TYPE.as_module(state[PARTNER_A])
    # Set by the service: returned as Graph holds them, never sent.
    assert converged["connector"]["partner_state"] == "enabled"
    assert converged["connector"]["last_heartbeat_date_time"] == "2026-05-01T08:30:00.1234567Z"
    assert state[PARTNER_C] == bystander

    emulator.control.clear_log()
    second = run_playbook(tasks, info=emulator.info)
    assert second.rc == 0, second.output
    assert writes(emulator) == []
    assert [second.result(task["name"])["changed"] for task in tasks] == [False, False, False]
    reads = [entry["path"] for entry in graph_requests(emulator)]
    assert TYPE.item_path(PARTNER_A) in reads and TYPE.item_path(PARTNER_B) in reads  # positive control


def test_partner_state_is_returned_as_graph_gives_it(emulator, run_playbook, execution_path):
    """mobileThreatPartnerTenantState grows over time: any value Graph returns is passed on, never validated."""
    states = ("notSetUp", "error", "unknownFutureValue", "available")
    TYPE.seed(emulator, [connector(f"mtd-{state}", partnerState=state) for state in states])
    tasks = [TYPE.task(state, id=f"mtd-{state}", windows_enabled=False) for state in states]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert writes(emulator) == []
    assert [run.result(state)["connector"]["partner_state"] for state in states] == list(states)


# --------------------------------------------------------------------------------------------------------------------
# Check mode and diff
# --------------------------------------------------------------------------------------------------------------------


def test_check_mode_predicts_and_diff_shows_option_names(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [SEEDED_A, connector(PARTNER_C)])
    before = emulator.control.state(TYPE.collection)
    tasks = [
        TYPE.task("update", id=PARTNER_A, android_enabled=True, partner_unresponsiveness_threshold_in_days=30),
        TYPE.task("create", id=PARTNER_B, windows_enabled=True),
        TYPE.task("delete", id=PARTNER_C, state="absent"),
    ]
    run = run_playbook(tasks, info=emulator.info, check=True, diff=True)
    assert run.rc == 0, run.output
    assert writes(emulator) == []
    assert emulator.control.state(TYPE.collection) == before

    update = run.result("update")
    assert update["changed_properties"] == ["android_enabled", "partner_unresponsiveness_threshold_in_days"]
    assert set(update["diff"]["before"]) == set(update["diff"]["after"]) == set(TYPE.options)
    assert update["diff"]["before"]["partner_unresponsiveness_threshold_in_days"] == 7
    assert update["diff"]["after"]["partner_unresponsiveness_threshold_in_days"] == 30
    assert update["diff"]["before"]["android_enabled"] is False and update["diff"]["after"]["android_enabled"] is True
    expected = dict(TYPE.as_module(TYPE.state(emulator)[PARTNER_A]), android_enabled=True)
    assert update["connector"] == dict(expected, partner_unresponsiveness_threshold_in_days=30)

    create = run.result("create")
    assert create["changed"] is True and create["changed_properties"] == ["windows_enabled"]
    # The id is known (the task gives it); what the task leaves to the service is not.
    assert create["connector"] == dict(
        dict.fromkeys([*TYPE.options, *TYPE.returned]), id=PARTNER_B, windows_enabled=True
    )
    assert create["diff"]["before"] == {}

    delete = run.result("delete")
    assert delete["changed"] is True and delete["connector"] is None and delete["diff"]["after"] == {}
    assert re.search(r'^\+\s+"partner_unresponsiveness_threshold_in_days": 30', run.stdout, re.MULTILINE), run.stdout


# --------------------------------------------------------------------------------------------------------------------
# Delete, bad values
# --------------------------------------------------------------------------------------------------------------------


def test_delete_and_an_unknown_id_with_state_absent(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [SEEDED_A, connector(PARTNER_C)])
    tasks = [
        TYPE.task("delete", id=PARTNER_A, state="absent"),
        TYPE.task("delete again", id=PARTNER_A, state="absent"),
        TYPE.task("never there", id=PARTNER_B, state="absent"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert writes(emulator) == [("DELETE", TYPE.item_path(PARTNER_A), None)]
    assert set(TYPE.state(emulator)) == {PARTNER_C}
    assert [run.result(task["name"])["changed"] for task in tasks] == [True, False, False]
    assert all(run.result(task["name"])["connector"] is None for task in tasks)
    lookups = [entry for entry in graph_requests(emulator) if entry["path"] == TYPE.item_path(PARTNER_B)]
    assert [entry["status"] for entry in lookups] == [404]  # positive control: it was looked up


def test_bad_values_fail_before_any_request(emulator, run_playbook, execution_path):
    tasks = [
        TYPE.task("negative", ignore_errors=True, id=PARTNER_A, partner_unresponsiveness_threshold_in_days=-1),
        TYPE.task("beyond Int32", ignore_errors=True, id=PARTNER_A, partner_unresponsiveness_threshold_in_days=2**31),
        TYPE.task("not a number", ignore_errors=True, id=PARTNER_A, partner_unresponsiveness_threshold_in_days="a"),
        TYPE.task("bad bool", ignore_errors=True, id=PARTNER_A, ios_enabled="sometimes"),
        TYPE.task("no id", ignore_errors=True, ios_enabled=True),
        TYPE.task("no display name", ignore_errors=True, id=PARTNER_A, display_name="Contoso MTD"),
        TYPE.task("state is read-only", ignore_errors=True, id=PARTNER_A, partner_state="enabled"),
        TYPE.task("bad id", ignore_errors=True, id="../deviceManagementPartners", ios_enabled=True),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert emulator.control.log() == []  # no token, no discovery, no Graph request
    expected = {
        "negative": ("partner_unresponsiveness_threshold_in_days must be between 0 and 2147483647, got -1",),
        "beyond Int32": ("partner_unresponsiveness_threshold_in_days", "2147483648"),
        "not a number": ("partner_unresponsiveness_threshold_in_days",),
        "bad bool": ("ios_enabled",),
        "no id": ("missing required arguments: id",),
        "no display name": ("Unsupported parameters", "display_name"),
        "state is read-only": ("Unsupported parameters", "partner_state"),
        "bad id": ("id ", "../deviceManagementPartners"),
    }
    for name, texts in expected.items():
        message = failed_result(run, name)["msg"]
        assert all(text in message for text in texts), (name, message)


# --------------------------------------------------------------------------------------------------------------------
# The info module and the export round trip
# --------------------------------------------------------------------------------------------------------------------

INFO_SEED = [
    SEEDED_A,
    connector(
        PARTNER_B, partnerState="unresponsive", windowsEnabled=True, microsoftDefenderForEndpointAttachEnabled=True
    ),
    connector(PARTNER_C, partnerState="notSetUp", allowPartnerToCollectIOSPersonalApplicationMetadata=True),
]


def test_info_lists_every_page_and_by_id(emulator_factory, run_playbook, execution_path):
    emulator = emulator_factory("--page-size", "1")
    TYPE.seed(emulator, INFO_SEED)
    emulator.control.clear_log()
    tasks = [TYPE.info_task("all"), TYPE.info_task("by id", id=PARTNER_B), TYPE.info_task("unknown id", id="nope")]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    state = TYPE.state(emulator)
    assert run.result("all")["connectors"] == [TYPE.as_module(state[found["id"]]) for found in INFO_SEED]
    assert run.result("by id")["connectors"] == [TYPE.as_module(state[PARTNER_B])]
    assert run.result("by id")["desired_state"] == [
        {
            "id": PARTNER_B,
            "allow_partner_to_collect_ios_application_metadata": False,
            "allow_partner_to_collect_ios_personal_application_metadata": False,
            "android_device_blocked_on_missing_partner_data": False,
            "android_enabled": False,
            "android_mobile_application_management_enabled": False,
            "ios_device_blocked_on_missing_partner_data": False,
            "ios_enabled": False,
            "ios_mobile_application_management_enabled": False,
            "microsoft_defender_for_endpoint_attach_enabled": True,
            "partner_unsupported_os_version_blocked": False,
            "windows_device_blocked_on_missing_partner_data": False,
            "windows_enabled": True,
            "partner_unresponsiveness_threshold_in_days": 0,
        }
    ]
    unknown = run.result("unknown id")
    assert unknown["connectors"] == [] and unknown["desired_state"] == [] and unknown["changed"] is False
    assert emulator.control.writes() == []
    listing = TYPE.collection_reads(emulator)
    # No name filter on a type without displayName: one plain listing, three one-item pages.
    assert [entry["query"].get("$filter") for entry in listing] == [None] * 3
    assert sum("$skiptoken" in entry["query"] for entry in listing) == 2


def test_export_then_apply_changes_nothing_and_applies_to_another_tenant(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, INFO_SEED)
    TYPE.seed(emulator, [connector(PARTNER_A, iosEnabled=False)], tenant=1)
    tasks = [
        dict(TYPE.info_task("export"), register="export"),
        {"name": "apply", TYPE.module: "{{ item }}", "loop": "{{ export.desired_state }}"},
        {
            "name": "apply to tenant 1",
            TYPE.module: "{{ item | combine(tenant_1) }}",
            "loop": "{{ export.desired_state }}",
            "vars": {"tenant_1": connection_options(emulator.info, 1)},
        },
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    tenant_ids = [tenant["tenant_id"] for tenant in emulator.info["tenants"]]
    # Tenant 0 got nothing; tenant 1 got the same ids, its drifted connector patched, the others created.
    assert [(entry["method"], entry["path"], entry["tenant"]) for entry in emulator.control.writes()] == [
        ("PATCH", TYPE.item_path(PARTNER_A), tenant_ids[1]),
        ("POST", TYPE.path, tenant_ids[1]),
        ("POST", TYPE.path, tenant_ids[1]),
    ]
    assert [item["changed"] for item in item_results(run, "apply")] == [False] * len(INFO_SEED)
    assert [item["changed"] for item in item_results(run, "apply to tenant 1")] == [True] * len(INFO_SEED)
    exported = run.result("export")["desired_state"]
    copied = TYPE.state(emulator, tenant=1)
    assert sorted(copied) == sorted(found["id"] for found in INFO_SEED)
    for entry in exported:
        assert {option: copied[entry["id"]][graph] for option, graph in TYPE.options.items()} == {
            option: value for option, value in entry.items() if option != "id"
        }
