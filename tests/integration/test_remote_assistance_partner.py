"""remote_assistance_partner and its _info module, through ansible-playbook against the Graph emulator.

The onboarding status moves only through Graph's bound actions (beginOnboarding, disconnect); what the module
sent is read from the emulator's log and state. Every behaviour test runs on both execution paths.
"""

from __future__ import annotations

import re

from tests.integration.conftest import (
    REMOTE_ASSISTANCE_PARTNER,
    failed_result,
    graph_requests,
    item_results,
)

TYPE = REMOTE_ASSISTANCE_PARTNER
URL = "https://start.teamviewer.example/intune?tenant=contoso&x='1'"


def partner(partner_id, name, status="notOnboarded", **extra):
    return {"id": partner_id, "displayName": name, "onboardingStatus": status, **extra}


def writes(emulator):
    return [(entry["method"], entry["path"], entry["body"]) for entry in emulator.control.writes()]


def statuses(emulator):
    return {partner_id: obj["onboardingStatus"] for partner_id, obj in TYPE.state(emulator).items()}


# --------------------------------------------------------------------------------------------------------------------
# Create, converge, idempotence
# --------------------------------------------------------------------------------------------------------------------


def test_create_and_converge_then_nothing_to_write(emulator, run_playbook, execution_path):
    TYPE.seed(
        emulator,
        [
            partner(
                "ra-teamviewer",
                "TeamViewer",
                "onboarded",
                onboardingUrl="https://old.example/",
                lastConnectionDateTime="2026-05-01T08:30:00.1234567Z",
            ),
            partner("ra-bystander", "Bystander"),
        ],
    )
    bystander = TYPE.state(emulator)["ra-bystander"]
    tasks = [
        TYPE.task("create", display_name="Northwind Assist", onboarding_url=URL),
        TYPE.task("converge", display_name="TeamViewer", onboarding_url=URL),
        TYPE.task("rename by id", id="ra-teamviewer", display_name="TeamViewer (production)", onboarding_url=URL),
    ]
    first = run_playbook(tasks, info=emulator.info)
    assert first.rc == 0, first.output
    assert "[WARNING]" not in first.output, first.output
    assert writes(emulator) == [
        ("POST", TYPE.path, {"displayName": "Northwind Assist", "onboardingUrl": URL}),
        ("PATCH", TYPE.item_path("ra-teamviewer"), {"onboardingUrl": URL}),
        ("PATCH", TYPE.item_path("ra-teamviewer"), {"displayName": "TeamViewer (production)"}),
    ]
    state = TYPE.state(emulator)
    created = first.result("create")
    assert created["changed_properties"] == ["display_name", "onboarding_url"]
    assert created["partner"] == TYPE.as_module(state[created["partner"]["id"]])
    assert created["partner"]["onboarding_status"] == "notOnboarded"
    assert first.result("converge")["changed_properties"] == ["onboarding_url"]
    renamed = first.result("rename by id")
    assert renamed["changed_properties"] == ["display_name"]
    assert renamed["partner"] == TYPE.as_module(state["ra-teamviewer"])
    assert renamed["partner"]["last_connection_date_time"] == "2026-05-01T08:30:00.1234567Z"
    assert renamed["partner"]["onboarding_status"] == "onboarded"
    assert state["ra-bystander"] == bystander

    emulator.control.clear_log()
    tasks[1] = TYPE.task("converge", display_name="TeamViewer (production)", onboarding_url=URL)
    second = run_playbook(tasks, info=emulator.info)
    assert second.rc == 0, second.output
    assert writes(emulator) == []
    assert [second.result(task["name"])["changed"] for task in tasks] == [False, False, False]
    assert TYPE.collection_reads(emulator), "positive control: the second run read Graph"


# --------------------------------------------------------------------------------------------------------------------
# Onboarding: the two bound actions
# --------------------------------------------------------------------------------------------------------------------

ONBOARDING_SEED = [
    partner("ra-new", "Not onboarded"),
    partner("ra-onboarding", "Onboarding", "onboarding"),
    partner("ra-onboarded", "Onboarded", "onboarded"),
    partner("ra-connected", "Connected", "onboarded"),
    partner("ra-idle", "Idle"),
]
ONBOARDING_TASKS = [
    TYPE.task("begin", id="ra-new", onboarding="started"),
    TYPE.task("already onboarding", id="ra-onboarding", onboarding="started"),
    TYPE.task("already onboarded", display_name="Onboarded", onboarding="started"),
    TYPE.task("disconnect", display_name="Connected", onboarding="disconnected", onboarding_url=URL),
    TYPE.task("already disconnected", id="ra-idle", onboarding="disconnected"),
    TYPE.task("create and begin", display_name="Fresh partner", onboarding_url=URL, onboarding="started"),
]
# (changed, changed_properties, onboarding_status afterwards) of each task.
ONBOARDING_OUTCOMES = {
    "begin": (True, ["onboarding_status"], "onboarding"),
    "already onboarding": (False, [], "onboarding"),
    "already onboarded": (False, [], "onboarded"),
    "disconnect": (True, ["onboarding_url", "onboarding_status"], "notOnboarded"),
    "already disconnected": (False, [], "notOnboarded"),
    "create and begin": (True, ["display_name", "onboarding_url", "onboarding_status"], "onboarding"),
}


def test_onboarding_calls_the_actions_only_when_the_status_needs_them(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, ONBOARDING_SEED)
    run = run_playbook(ONBOARDING_TASKS, info=emulator.info)
    assert run.rc == 0, run.output
    state = TYPE.state(emulator)
    created_id = run.result("create and begin")["partner"]["id"]
    assert writes(emulator) == [
        ("POST", TYPE.item_path("ra-new") + "/beginOnboarding", None),
        ("PATCH", TYPE.item_path("ra-connected"), {"onboardingUrl": URL}),
        ("POST", TYPE.item_path("ra-connected") + "/disconnect", None),
        ("POST", TYPE.path, {"displayName": "Fresh partner", "onboardingUrl": URL}),
        ("POST", TYPE.item_path(created_id) + "/beginOnboarding", None),
    ]
    assert [entry["status"] for entry in emulator.control.writes()] == [204, 204, 204, 201, 204]
    assert statuses(emulator) == {
        "ra-new": "onboarding",
        "ra-onboarding": "onboarding",
        "ra-onboarded": "onboarded",
        "ra-connected": "notOnboarded",
        "ra-idle": "notOnboarded",
        created_id: "onboarding",
    }
    for name, (changed, changed_properties, status) in ONBOARDING_OUTCOMES.items():
        result = run.result(name)
        assert (result["changed"], result["changed_properties"]) == (changed, changed_properties), name
        assert result["partner"]["onboarding_status"] == status, name
        # The module's answer after an action is what Graph then holds.
        assert result["partner"] == TYPE.as_module(state[result["partner"]["id"]]), name

    emulator.control.clear_log()
    again = run_playbook(ONBOARDING_TASKS, info=emulator.info)
    assert again.rc == 0, again.output
    assert writes(emulator) == []
    assert [entry["result"]["changed"] for entry in again.results] == [False] * len(ONBOARDING_TASKS)


def test_check_mode_predicts_the_status_without_calling_the_actions(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, ONBOARDING_SEED)
    before = emulator.control.state(TYPE.collection)
    run = run_playbook(ONBOARDING_TASKS, info=emulator.info, check=True, diff=True)
    assert run.rc == 0, run.output
    assert writes(emulator) == []
    assert emulator.control.state(TYPE.collection) == before
    assert TYPE.collection_reads(emulator), "positive control: check mode still reads Graph"
    for name, (changed, changed_properties, status) in ONBOARDING_OUTCOMES.items():
        result = run.result(name)
        assert (result["changed"], result["changed_properties"]) == (changed, changed_properties), name
        assert result["partner"]["onboarding_status"] == status, name

    begin = run.result("begin")
    assert begin["diff"] == {
        "before": {"display_name": "Not onboarded", "onboarding_url": None, "onboarding_status": "notOnboarded"},
        "after": {"display_name": "Not onboarded", "onboarding_url": None, "onboarding_status": "onboarding"},
    }
    disconnect = run.result("disconnect")
    assert disconnect["diff"]["before"]["onboarding_status"] == "onboarded"
    assert disconnect["diff"]["after"] == {
        "display_name": "Connected",
        "onboarding_url": URL,
        "onboarding_status": "notOnboarded",
    }
    # A create followed by onboarding: a new partner starts notOnboarded, so the action would run.
    created = run.result("create and begin")
    assert created["partner"] == {
        "id": None,
        "display_name": "Fresh partner",
        "onboarding_url": URL,
        "onboarding_status": "onboarding",
        "last_connection_date_time": None,
    }
    assert created["diff"]["before"] == {}
    assert re.search(r'^\+\s+"onboarding_status": "onboarding"', run.stdout, re.MULTILINE), run.stdout


# --------------------------------------------------------------------------------------------------------------------
# Delete, unknown id, bad values
# --------------------------------------------------------------------------------------------------------------------


def test_delete_and_unknown_id(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, [partner("ra-old", "Old", "onboarded"), partner("ra-keep", "Keep")])
    tasks = [
        TYPE.task("delete", display_name="Old", state="absent", onboarding="disconnected"),
        TYPE.task("delete again", id="ra-old", state="absent"),
        TYPE.task("unknown", ignore_errors=True, id="ra-unknown", onboarding="started"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    # state=absent ignores onboarding: no disconnect before the delete.
    assert writes(emulator) == [("DELETE", TYPE.item_path("ra-old"), None)]
    assert set(TYPE.state(emulator)) == {"ra-keep"}
    assert run.result("delete")["changed"] is True and run.result("delete")["partner"] is None
    assert run.result("delete again")["changed"] is False

    unknown = failed_result(run, "unknown")
    lookups = [entry for entry in graph_requests(emulator) if entry["path"] == TYPE.item_path("ra-unknown")]
    assert [entry["status"] for entry in lookups] == [404]
    assert "no remote assistance partner has id ra-unknown" in unknown["msg"], unknown["msg"]
    assert unknown["status"] == 404 and unknown["error_code"] == "ResourceNotFound"
    assert re.fullmatch(r"[0-9a-f-]{36}", unknown["request_id"] or ""), unknown
    assert unknown["request_id"] in unknown["msg"]
    assert unknown["client_request_id"] == lookups[0]["client_request_id"]


def test_bad_values_fail_before_any_request(emulator, run_playbook, execution_path):
    tasks = [
        TYPE.task("bad onboarding", ignore_errors=True, display_name="TeamViewer", onboarding="onboarded"),
        TYPE.task("status is not an option", ignore_errors=True, display_name="TeamViewer", onboarding_status="x"),
        TYPE.task("bad id", ignore_errors=True, id="ra?x=1", onboarding="started"),
        TYPE.task("bad state", ignore_errors=True, display_name="TeamViewer", state="terminated"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert emulator.control.log() == []
    expected = {
        "bad onboarding": ("onboarding", "started, disconnected"),
        "status is not an option": ("Unsupported parameters", "onboarding_status"),
        "bad id": ("id ", "ra?x=1"),
        "bad state": ("state", "present, absent"),
    }
    for name, texts in expected.items():
        message = failed_result(run, name)["msg"]
        assert all(text in message for text in texts), (name, message)


# --------------------------------------------------------------------------------------------------------------------
# The info module and the export round trip
# --------------------------------------------------------------------------------------------------------------------

INFO_SEED = [
    partner("ra-1", "TeamViewer", "onboarded", onboardingUrl=URL, lastConnectionDateTime="2026-05-01T08:00:00Z"),
    partner("ra-2", "teamviewer", "onboarding"),
    partner("ra-3", "TeamViewer", "notOnboarded", onboardingUrl="https://other.example/"),
    {"id": "ra-4", "displayName": None},
]


def test_info_lists_every_page_by_id_and_by_exact_name(emulator_factory, run_playbook, execution_path):
    emulator = emulator_factory("--page-size", "1")
    TYPE.seed(emulator, INFO_SEED)
    emulator.control.clear_log()
    tasks = [
        TYPE.info_task("all"),
        TYPE.info_task("by id", id="ra-2"),
        TYPE.info_task("by name", display_name="TeamViewer"),
        TYPE.info_task("by alias", displayName="teamviewer"),
        TYPE.info_task("unknown id", id="ra-nothing"),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output

    def ids(name):
        return [found["id"] for found in run.result(name)["partners"]]

    assert ids("all") == ["ra-1", "ra-2", "ra-3", "ra-4"]
    assert ids("by id") == ["ra-2"]
    assert ids("by name") == ["ra-1", "ra-3"]
    assert ids("by alias") == ["ra-2"]
    unknown = run.result("unknown id")
    assert unknown["partners"] == [] and unknown["desired_state"] == [] and unknown["changed"] is False
    state = TYPE.state(emulator)
    assert run.result("all")["partners"] == [TYPE.as_module(state[found_id]) for found_id in ids("all")]
    assert run.result("all")["desired_state"] == [
        {"id": "ra-1", "display_name": "TeamViewer", "onboarding_url": URL, "onboarding": "started"},
        {"id": "ra-2", "display_name": "teamviewer", "onboarding": "started"},
        {
            "id": "ra-3",
            "display_name": "TeamViewer",
            "onboarding_url": "https://other.example/",
            "onboarding": "disconnected",
        },
        {"id": "ra-4", "onboarding": "disconnected"},
    ]
    assert emulator.control.writes() == []
    listing = [entry for entry in TYPE.collection_reads(emulator) if "$filter" not in entry["query"]]
    assert len(listing) == 4 and sum("$skiptoken" in entry["query"] for entry in listing) == 3


def test_export_then_apply_changes_nothing(emulator, run_playbook, execution_path):
    TYPE.seed(emulator, INFO_SEED)
    tasks = [
        dict(TYPE.info_task("export"), register="export"),
        {"name": "apply", TYPE.module: "{{ item }}", "loop": "{{ export.desired_state }}"},
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    items = item_results(run, "apply")
    assert [item["partner"]["id"] for item in items] == [found["id"] for found in INFO_SEED]
    assert [item["changed"] for item in items] == [False] * len(INFO_SEED)
    assert emulator.control.writes() == []
    assert {entry["path"] for entry in graph_requests(emulator)} >= {
        TYPE.item_path(found["id"]) for found in INFO_SEED
    }  # positive control: each partner was read by its id
