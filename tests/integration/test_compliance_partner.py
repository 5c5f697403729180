"""compliance_management_partner and its _info module, through ansible-playbook against the Graph emulator.

What reached Graph is read from the emulator (its request log and state), never from the module's result alone.
Every behaviour test runs on both execution paths (action plugin in the worker process, module process).
"""

from __future__ import annotations

import re

from tests.integration.conftest import (
    COMPLIANCE_PARTNER,
    connection_options,
    failed_result,
    graph_requests,
    graph_target,
    item_results,
)

TYPE = COMPLIANCE_PARTNER
GROUP = "#microsoft.graph.groupAssignmentTarget"
EXCLUSION = "#microsoft.graph.exclusionGroupAssignmentTarget"
ALL_USERS = "#microsoft.graph.allLicensedUsersAssignmentTarget"
ALL_DEVICES = "#microsoft.graph.allDevicesAssignmentTarget"
SCCM = "#microsoft.graph.configurationManagerCollectionAssignmentTarget"
IOS_USERS = "10500000-0000-4000-8000-000000000001"
ANDROID_USERS = "a0d00000-0000-4000-8000-000000000002"
MAC_USERS = "3ac00000-0000-4000-8000-000000000003"
PILOT = "b1107000-0000-4000-8000-000000000004"
GROUPS = [
    {"id": IOS_USERS, "displayName": "iOS users"},
    {"id": ANDROID_USERS, "displayName": "Android users"},
    {"id": MAC_USERS, "displayName": "Mac users"},
    {"id": PILOT, "displayName": "Pilot"},
    {"id": "c0c0c0c0-0000-4000-8000-00000000000c", "displayName": "ios users"},  # another case: never chosen
]
PLATFORMS = ("android_enrollment_assignments", "ios_enrollment_assignments", "mac_os_enrollment_assignments")


def contoso(**changes):
    partner = {
        "id": "cmp-contoso",
        "displayName": "Contoso Compliance",
        "partnerState": "unresponsive",
        "androidOnboarded": True,
        "iosOnboarded": False,
        "macOsOnboarded": False,
        "lastHeartbeatDateTime": "2026-05-01T08:30:00.1234567Z",
        "iosEnrollmentAssignments": [graph_target(GROUP, groupId=IOS_USERS)],
    }
    partner.update(changes)
    return partner


BYSTANDER = {"id": "cmp-bystander", "displayName": "Bystander", "partnerState": "enabled", "iosOnboarded": True}


def writes(emulator):
    return emulator.control.writes()


# --------------------------------------------------------------------------------------------------------------------
# Create, converge, idempotence
# --------------------------------------------------------------------------------------------------------------------


def test_create_and_converge_then_nothing_to_write(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [contoso(), BYSTANDER], groups=GROUPS)
    bystander = TYPE.state(emulator)["cmp-bystander"]
    tasks = [
        TYPE.task(
            "create",
            display_name="Fabrikam Compliance",
            partner_state="enabled",
            ios_onboarded=True,
            ios_enrollment_assignments=[{"type": "group", "group_display_name": "iOS users"}],
            mac_os_enrollment_assignments=[],
        ),
        # Drift: partner_state and ios_onboarded. android_onboarded and the iOS targets already match.
        TYPE.task(
            "converge",
            display_name="Contoso Compliance",
            partner_state="enabled",
            android_onboarded=True,
            ios_onboarded=True,
            ios_enrollment_assignments=[{"type": "group", "group_id": IOS_USERS}],
        ),
    ]
    first = run_playbook(tasks, info=emulator.info)
    assert first.rc == 0, first.output
    assert "[WARNING]" not in first.output, first.output
    logged = writes(emulator)
    assert [(entry["method"], entry["path"]) for entry in logged] == [
        ("POST", TYPE.path),
        ("PATCH", TYPE.item_path("cmp-contoso")),
    ]
    assert logged[0]["body"] == {
        "displayName": "Fabrikam Compliance",
        "partnerState": "enabled",
        "iosOnboarded": True,
        "iosEnrollmentAssignments": [graph_target(GROUP, groupId=IOS_USERS)],
        "macOsEnrollmentAssignments": [],
    }
    assert logged[1]["body"] == {"partnerState": "enabled", "iosOnboarded": True}

    state = TYPE.state(emulator)
    created = first.result("create")
    assert created["changed"] is True
    assert created["changed_properties"] == [
        "display_name",
        "partner_state",
        "ios_onboarded",
        "ios_enrollment_assignments",
        "mac_os_enrollment_assignments",
    ]
    new_id = created["partner"]["id"]
    assert created["partner"] == TYPE.as_module(state[new_id])
    converged = first.result("converge")
    assert converged["changed_properties"] == ["partner_state", "ios_onboarded"]
    assert converged["partner"] == TYPE.as_module(state["cmp-contoso"])
    # The heartbeat is the service's: returned as Graph holds it, never sent.
    assert converged["partner"]["last_heartbeat_date_time"] == "2026-05-01T08:30:00.1234567Z"
    assert state["cmp-bystander"] == bystander

    emulator.control.clear_log()
    second = run_playbook(tasks, info=emulator.info)
    assert second.rc == 0, second.output
    assert writes(emulator) == []
    assert TYPE.state(emulator) == state
    for name in ("create", "converge"):
        assert second.result(name)["changed"] is False
        assert second.result(name)["changed_properties"] == []
    assert second.result("create")["partner"]["id"] == new_id
    assert TYPE.collection_reads(emulator), "positive control: the second run read Graph"


# --------------------------------------------------------------------------------------------------------------------
# Check mode and diff
# --------------------------------------------------------------------------------------------------------------------


def test_check_mode_predicts_and_diff_shows_option_names(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [contoso(), BYSTANDER], groups=GROUPS)
    before = emulator.control.state(TYPE.collection)
    tasks = [
        TYPE.task(
            "update",
            display_name="Contoso Compliance",
            partner_state="enabled",
            mac_os_enrollment_assignments=[{"type": "group", "group_display_name": "Mac users"}],
        ),
        TYPE.task(
            "create",
            display_name="Northwind Compliance",
            android_onboarded=True,
            android_enrollment_assignments=[{"type": "all_licensed_users"}],
        ),
        TYPE.task("delete", id="cmp-bystander", state="absent"),
    ]
    run = run_playbook(tasks, info=emulator.info, check=True, diff=True)
    assert run.rc == 0, run.output
    assert writes(emulator) == []
    assert emulator.control.state(TYPE.collection) == before
    assert TYPE.collection_reads(emulator), "positive control: check mode still reads Graph"

    managed = set(TYPE.options) | set(TYPE.target_lists)
    update = run.result("update")
    assert update["changed"] is True
    assert update["changed_properties"] == ["partner_state", "mac_os_enrollment_assignments"]
    assert set(update["diff"]["before"]) == set(update["diff"]["after"]) == managed
    assert update["diff"]["before"]["partner_state"] == "unresponsive"
    assert update["diff"]["after"]["partner_state"] == "enabled"
    assert update["diff"]["before"]["mac_os_enrollment_assignments"] == []
    predicted_targets = [{"type": "group", "group_id": MAC_USERS}]
    assert update["diff"]["after"]["mac_os_enrollment_assignments"] == predicted_targets
    assert update["partner"] == dict(
        TYPE.as_module(before[emulator.info["tenant_id"]][0]),
        partner_state="enabled",
        mac_os_enrollment_assignments=predicted_targets,
    )

    create = run.result("create")
    assert create["changed"] is True
    # Honest: no id yet, and what the task leaves to the service is not known.
    assert create["partner"] == {
        "id": None,
        "display_name": "Northwind Compliance",
        "partner_state": None,
        "android_onboarded": True,
        "ios_onboarded": None,
        "mac_os_onboarded": None,
        "android_enrollment_assignments": [{"type": "all_licensed_users"}],
        "ios_enrollment_assignments": None,
        "mac_os_enrollment_assignments": None,
        "last_heartbeat_date_time": None,
    }
    assert create["diff"]["before"] == {}
    assert create["diff"]["after"]["display_name"] == "Northwind Compliance"

    delete = run.result("delete")
    assert delete["changed"] is True and delete["partner"] is None
    assert delete["diff"]["before"]["display_name"] == "Bystander" and delete["diff"]["after"] == {}
    # As Ansible renders the diff.
    assert re.search(r'^-\s+"partner_state": "unresponsive"', run.stdout, re.MULTILINE), run.stdout
    assert re.search(r'^\+\s+"partner_state": "enabled"', run.stdout, re.MULTILINE), run.stdout


# --------------------------------------------------------------------------------------------------------------------
# Delete, unknown id, bad values
# --------------------------------------------------------------------------------------------------------------------


def test_delete_by_id_and_by_name(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [contoso(), BYSTANDER, dict(BYSTANDER, id="cmp-old", displayName="Old partner")])
    tasks = [
        TYPE.task("by id", id="cmp-contoso", state="absent"),
        TYPE.task("by name", display_name="Old partner", state="absent"),
        TYPE.task("absent id", id="cmp-ghost", state="absent"),
        TYPE.task("absent name", display_name="Ghost", state="absent"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert [(entry["method"], entry["path"]) for entry in writes(emulator)] == [
        ("DELETE", TYPE.item_path("cmp-contoso")),
        ("DELETE", TYPE.item_path("cmp-old")),
    ]
    assert set(TYPE.state(emulator)) == {"cmp-bystander"}
    assert [run.result(name)["changed"] for name in ("by id", "by name", "absent id", "absent name")] == [
        True,
        True,
        False,
        False,
    ]
    assert run.result("by id")["partner"] is None


def test_unknown_id_fails_with_graph_request_id(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [contoso()])
    run = run_playbook(
        [TYPE.task("unknown", ignore_errors=True, id="cmp-unknown", partner_state="enabled")], info=emulator.info
    )
    assert run.rc == 0, run.output
    assert writes(emulator) == []
    lookups = [entry for entry in graph_requests(emulator) if entry["path"] == TYPE.item_path("cmp-unknown")]
    assert [entry["status"] for entry in lookups] == [404]
    result = failed_result(run, "unknown")
    assert "no compliance management partner has id cmp-unknown" in result["msg"], result["msg"]
    assert result["status"] == 404 and result["error_code"] == "ResourceNotFound"
    assert re.fullmatch(r"[0-9a-f-]{36}", result["request_id"] or ""), result
    assert result["request_id"] in result["msg"]
    assert result["client_request_id"] == lookups[0]["client_request_id"]


def test_bad_values_fail_before_any_request(emulator, run_playbook, execution_path):
    tasks = [
        TYPE.task("bad state", ignore_errors=True, display_name="Contoso Compliance", partner_state="on"),
        TYPE.task("bad bool", ignore_errors=True, display_name="Contoso Compliance", ios_onboarded="maybe"),
        TYPE.task(
            "bad target type",
            ignore_errors=True,
            display_name="Contoso Compliance",
            android_enrollment_assignments=[{"type": "all_users"}],
        ),
        TYPE.task(
            "target twice",
            ignore_errors=True,
            display_name="Contoso Compliance",
            mac_os_enrollment_assignments=[{"type": "all_devices"}, {"type": "all_devices"}],
        ),
        TYPE.task(
            "unused key",
            ignore_errors=True,
            display_name="Contoso Compliance",
            ios_enrollment_assignments=[{"type": "all_licensed_users", "group_id": IOS_USERS}],
        ),
        TYPE.task("bad id", ignore_errors=True, id="a/../b", partner_state="enabled"),
        TYPE.task("neither id nor name", ignore_errors=True, partner_state="enabled"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert emulator.control.log() == []  # no token, no discovery, no Graph request
    expected = {
        "bad state": ("partner_state", "enabled"),
        "bad bool": ("ios_onboarded",),
        "bad target type": ("android_enrollment_assignments", "all_licensed_users"),
        "target twice": ("mac_os_enrollment_assignments lists the same target twice",),
        "unused key": ("ios_enrollment_assignments[0]: type all_licensed_users does not use group_id",),
        "bad id": ("id ", "a/../b"),
        "neither id nor name": ("id", "display_name"),
    }
    for name, texts in expected.items():
        message = failed_result(run, name)["msg"]
        assert all(text in message for text in texts), (name, message)


# --------------------------------------------------------------------------------------------------------------------
# The three enrollment assignment lists
# --------------------------------------------------------------------------------------------------------------------


def test_each_platform_sets_compares_as_a_set_and_clears(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [contoso(iosEnrollmentAssignments=[])], groups=GROUPS)
    desired = {
        "android_enrollment_assignments": [
            {"type": "group", "group_display_name": "Android users"},
            {"type": "exclusion_group", "group_id": PILOT},
        ],
        "ios_enrollment_assignments": [
            {"type": "group", "group_id": IOS_USERS},
            {"type": "all_devices"},
        ],
        "mac_os_enrollment_assignments": [
            {"type": "group", "group_display_name": "Mac users"},
            {"type": "configuration_manager_collection", "collection_id": "SMS00001"},
        ],
    }
    wire = {
        "androidEnrollmentAssignments": [
            graph_target(GROUP, groupId=ANDROID_USERS),
            graph_target(EXCLUSION, groupId=PILOT),
        ],
        "iosEnrollmentAssignments": [graph_target(GROUP, groupId=IOS_USERS), graph_target(ALL_DEVICES)],
        "macOsEnrollmentAssignments": [
            graph_target(GROUP, groupId=MAC_USERS),
            graph_target(SCCM, collectionId="SMS00001"),
        ],
    }
    # The same sets, reordered, ids in upper case, a name where the first run had an id and the other way round.
    reordered = {
        "android_enrollment_assignments": [
            {"type": "exclusion_group", "group_display_name": "Pilot"},
            {"type": "group", "group_id": ANDROID_USERS.upper()},
        ],
        "ios_enrollment_assignments": [{"type": "all_devices"}, {"type": "group", "group_display_name": "iOS users"}],
        "mac_os_enrollment_assignments": [
            {"type": "configuration_manager_collection", "collection_id": "SMS00001"},
            {"type": "group", "group_id": MAC_USERS},
        ],
    }
    tasks = [TYPE.task(f"set {option}", id="cmp-contoso", **{option: desired[option]}) for option in PLATFORMS]
    tasks += [
        TYPE.task("reordered", id="cmp-contoso", **reordered),
        TYPE.task("clear", id="cmp-contoso", **{option: [] for option in PLATFORMS}),
        TYPE.task("clear again", id="cmp-contoso", **{option: [] for option in PLATFORMS}),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    # One PATCH per platform with only its own list, whole and in the task's order; nothing for the reordered
    # sets; one PATCH that clears all three; nothing for the second clear.
    assert [entry["body"] for entry in writes(emulator)] == [
        {"androidEnrollmentAssignments": wire["androidEnrollmentAssignments"]},
        {"iosEnrollmentAssignments": wire["iosEnrollmentAssignments"]},
        {"macOsEnrollmentAssignments": wire["macOsEnrollmentAssignments"]},
        {graph_name: [] for graph_name in wire},
    ]
    assert {entry["method"] for entry in writes(emulator)} == {"PATCH"}
    changed = {name: run.result(name)["changed"] for name in [task["name"] for task in tasks]}
    assert changed == {
        "set android_enrollment_assignments": True,
        "set ios_enrollment_assignments": True,
        "set mac_os_enrollment_assignments": True,
        "reordered": False,
        "clear": True,
        "clear again": False,
    }
    # The reordered task read the sets the first three wrote (returned sorted, in the short form).
    reordered_result = run.result("reordered")["partner"]
    assert reordered_result["ios_enrollment_assignments"] == [
        {"type": "all_devices"},
        {"type": "group", "group_id": IOS_USERS},
    ]
    assert run.result("clear")["changed_properties"] == list(PLATFORMS)
    final = TYPE.state(emulator)["cmp-contoso"]
    assert [final[graph] for graph in wire] == [[], [], []]


def test_graph_returns_targets_with_added_fields_in_another_order(emulator, run_playbook, execution_path):
    """The same sets as Graph holds them, in another order than Graph returns them: no write at all."""
    stored = {
        "androidEnrollmentAssignments": [graph_target(ALL_USERS), graph_target(GROUP, groupId=ANDROID_USERS)],
        "iosEnrollmentAssignments": [graph_target(EXCLUSION, groupId=PILOT), graph_target(GROUP, groupId=IOS_USERS)],
        "macOsEnrollmentAssignments": [graph_target(ALL_DEVICES), graph_target(GROUP, groupId=MAC_USERS)],
    }
    TYPE.seed(emulator, [contoso(**stored)], groups=GROUPS)
    returned = TYPE.state(emulator)["cmp-contoso"]
    for graph_name, items in stored.items():
        # Positive control: Graph's answer carries fields the task never writes, and another order.
        assert all("deviceAndAppManagementAssignmentFilterType" in item["target"] for item in returned[graph_name])
        assert [item["target"]["@odata.type"] for item in returned[graph_name]] != [
            item["target"]["@odata.type"] for item in items
        ]
    task = TYPE.task(
        "same sets",
        id="cmp-contoso",
        android_enrollment_assignments=[
            {"type": "group", "group_id": ANDROID_USERS},
            {"type": "all_licensed_users"},
        ],
        ios_enrollment_assignments=[
            {"type": "group", "group_display_name": "iOS users"},
            {"type": "exclusion_group", "group_id": PILOT.upper()},
        ],
        mac_os_enrollment_assignments=[{"type": "all_devices"}, {"type": "group", "group_id": MAC_USERS}],
    )
    run = run_playbook([task], info=emulator.info)
    assert run.rc == 0, run.output
    assert writes(emulator) == []
    result = run.result("same sets")
    assert result["changed"] is False and result["changed_properties"] == []
    assert result["partner"] == TYPE.as_module(returned)


# --------------------------------------------------------------------------------------------------------------------
# The info module and the export round trip
# --------------------------------------------------------------------------------------------------------------------

INFO_SEED = [
    contoso(),
    {"id": "cmp-lower", "displayName": "contoso compliance"},
    {"id": "cmp-fabrikam", "displayName": "Fabrikam", "macOsOnboarded": True},
    contoso(id="cmp-contoso-2", partnerState="terminated", iosEnrollmentAssignments=[]),
]


def test_info_lists_every_page_by_id_and_by_exact_name(emulator_factory, run_playbook, execution_path):
    emulator = emulator_factory("--page-size", "1")
    TYPE.seed(emulator, INFO_SEED, groups=GROUPS)
    emulator.control.clear_log()
    tasks = [
        TYPE.info_task("all"),
        TYPE.info_task("by id", id="cmp-fabrikam"),
        TYPE.info_task("by name", display_name="Contoso Compliance"),
        TYPE.info_task("other case", display_name="CONTOSO COMPLIANCE"),
        TYPE.info_task("unknown id", id="cmp-nothing"),
    ]
    for task in tasks:
        task["register"] = task["name"].replace(" ", "_")
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output

    def ids(name):
        return [partner["id"] for partner in run.result(name)["partners"]]

    assert ids("all") == ["cmp-contoso", "cmp-lower", "cmp-fabrikam", "cmp-contoso-2"]
    assert ids("by id") == ["cmp-fabrikam"]
    assert ids("by name") == ["cmp-contoso", "cmp-contoso-2"]
    assert ids("other case") == []
    unknown = run.result("unknown id")
    assert unknown["partners"] == [] and unknown["desired_state"] == [] and unknown["changed"] is False

    state = TYPE.state(emulator)
    assert run.result("all")["partners"] == [TYPE.as_module(state[partner_id]) for partner_id in ids("all")]
    assert run.result("by id")["desired_state"] == [
        {
            "id": "cmp-fabrikam",
            "display_name": "Fabrikam",
            "partner_state": "unknown",
            "android_onboarded": False,
            "ios_onboarded": False,
            "mac_os_onboarded": True,
            "android_enrollment_assignments": [],
            "ios_enrollment_assignments": [],
            "mac_os_enrollment_assignments": [],
        }
    ]
    assert emulator.control.writes() == []
    # Positive control: the full listing walked four one-item pages.
    listing = [entry for entry in TYPE.collection_reads(emulator) if "$filter" not in entry["query"]]
    assert len(listing) == 4 and sum("$skiptoken" in entry["query"] for entry in listing) == 3


def test_export_then_apply_changes_nothing(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, INFO_SEED, groups=GROUPS)
    tasks = [
        dict(TYPE.info_task("export"), register="export"),
        {
            "name": "apply",
            TYPE.module: "{{ item }}",
            "loop": "{{ export.desired_state }}",
            "loop_control": {"label": "{{ item.id }}"},
        },
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    exported = run.result("export")["desired_state"]
    assert [entry["id"] for entry in exported] == [partner["id"] for partner in INFO_SEED]
    assert all("last_heartbeat_date_time" not in entry for entry in exported)
    assert exported[0]["ios_enrollment_assignments"] == [{"type": "group", "group_id": IOS_USERS}]
    items = item_results(run, "apply")
    assert [item["changed"] for item in items] == [False] * len(INFO_SEED)
    assert [item["partner"]["id"] for item in items] == [partner["id"] for partner in INFO_SEED]
    assert emulator.control.writes() == []
    assert {entry["path"] for entry in graph_requests(emulator)} >= {
        TYPE.item_path(partner["id"]) for partner in INFO_SEED
    }  # positive control: each partner was read by its id


def test_export_with_group_names_applies_to_another_tenant(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [contoso(partnerState="enabled", iosOnboarded=True)], groups=GROUPS)
    other_ios = "10500000-0000-4000-8000-00000000b001"
    TYPE.seed(
        emulator,
        [contoso(id="cmp-other", iosEnrollmentAssignments=[])],
        tenant=1,
        groups=[{"id": other_ios, "displayName": "iOS users"}],
    )
    export = run_playbook(
        # group_names: the alias of portable, its name in earlier releases, still works.
        [dict(TYPE.info_task("export", group_names=True), register="export")],
        info=emulator.info,
        tenant=0,
    )
    assert export.rc == 0, export.output
    desired = export.result("export")["desired_state"]
    assert desired[0]["ios_enrollment_assignments"] == [{"type": "group", "group_display_name": "iOS users"}]
    assert "id" not in desired[0]

    play = {
        "name": "apply",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/msgraph.intune.graph": connection_options(emulator.info, 1)},
        "vars": {"desired": desired},
        "tasks": [{"name": "apply", TYPE.module: "{{ item }}", "loop": "{{ desired }}"}],
    }
    emulator.control.clear_log()
    first = run_playbook([play], play=False)
    assert first.rc == 0, first.output
    assert [(entry["method"], entry["path"], entry["body"]) for entry in writes(emulator)] == [
        (
            "PATCH",
            TYPE.item_path("cmp-other"),
            {
                "partnerState": "enabled",
                "iosOnboarded": True,
                "iosEnrollmentAssignments": [graph_target(GROUP, groupId=other_ios)],
            },
        )
    ]
    emulator.control.clear_log()
    second = run_playbook([play], play=False)
    assert second.rc == 0, second.output
    assert writes(emulator) == []
    assert [item["changed"] for item in item_results(second, "apply")] == [False]
