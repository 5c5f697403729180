# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine on declarations made up for the test: what no single real resource shows on its own.

A "widget" has a display name, a read-only status moved by two bound actions, an integer, an instant and a target
set; a "gadget" is found by id only and created with the id the task gives.
"""

from __future__ import annotations

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import Engine, info_task, module_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError, ResourceError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import (
    Boolean,
    Instant,
    Integer,
    String,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Action, Resource
from ansible_collections.msgraph.intune.plugins.module_utils._graph_targets import TargetSet

from tests.unit.plugins.module_utils.fake_graph import FakeGraph

WIDGETS = "things/widgets"
GADGETS = "things/gadgets"
GROUP_A = "aaaaaaaa-0000-4000-8000-000000000001"
GROUP_B = "bbbbbbbb-0000-4000-8000-000000000002"

WIDGET = Resource(
    name="widget",
    collection=WIDGETS,
    noun="widget",
    short_noun="widget",
    result_key="widget",
    properties=(
        String("display_name", "displayName"),
        Integer("size", "size", minimum=0),
        Instant("due_date_time", "dueDateTime"),
        TargetSet("assignments", "assignments"),
        String("status", "status", settable=False, initial="off"),
        Instant("last_seen_date_time", "lastSeenDateTime", settable=False),
    ),
    actions=(
        Action("power", "on", "start", sets={"status": "starting"}, unless={"status": ("starting", "on")}),
        Action("power", "off", "stop", sets={"status": "off"}),
    ),
)
GADGET = Resource(
    name="gadget",
    collection=GADGETS,
    noun="gadget",
    short_noun="gadget",
    result_key="gadget",
    properties=(Boolean("enabled", "enabled"), String("state", "partnerState", settable=False)),
    find_by=("id",),
    client_assigned_id=True,
)
ACTIONS = {
    "start": lambda obj: obj.update(status="starting"),
    "stop": lambda obj: obj.update(status="off"),
}


def widget(widget_id="w1", **overrides):
    obj = {
        "@odata.type": "#microsoft.graph.widget",
        "id": widget_id,
        "displayName": "Widget",
        "size": 3,
        "dueDateTime": "2027-01-01T00:00:00Z",
        "assignments": [
            {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget", "x": None}},
            {
                "target": {
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "deviceAndAppManagementAssignmentFilterId": None,
                    "groupId": GROUP_A,
                }
            },
        ],
        "status": "off",
        "lastSeenDateTime": "0001-01-01T00:00:00Z",
    }
    obj.update(overrides)
    return obj


def graph(*widgets, **extra):
    collections = {
        WIDGETS: list(widgets),
        "groups": [{"id": GROUP_A, "displayName": "Sales"}, {"id": GROUP_B, "displayName": "Lab"}],
    }
    collections.update(extra)
    return FakeGraph(collections, actions=ACTIONS)


def params(resource, **given):
    result = {option: None for option in resource.argument_spec()}
    result["state"] = "present"
    result.update(given)
    return result


def ensure(client, resource=WIDGET, check_mode=False, **given):
    return Engine(resource, client).ensure(params(resource, **given), check_mode)


class TestDeclaration:
    def test_argument_spec_from_the_declaration(self):
        spec = WIDGET.argument_spec()
        assert set(spec) == {"id", "state", "display_name", "size", "due_date_time", "assignments", "power"}
        assert spec["power"] == {"type": "str", "choices": ["on", "off"]}
        assert spec["state"]["choices"] == ["present", "absent"]
        assert spec["size"] == {"type": "int"}
        assert spec["display_name"] == {"type": "str", "aliases": ["displayName"]}
        assert WIDGET.constraints() == {"required_one_of": [("id", "display_name")]}
        assert WIDGET.info_argument_spec() == {
            "id": {"type": "str"},
            "display_name": {"type": "str", "aliases": ["displayName"]},
            "portable": {"type": "bool", "default": False, "aliases": ["group_names"]},
        }

    def test_found_by_id_only(self):
        spec = GADGET.argument_spec()
        assert spec["id"] == {"type": "str", "required": True}
        assert "display_name" not in spec and "state" in spec and "partnerState" not in str(spec)
        assert GADGET.constraints() == {}
        assert GADGET.info_argument_spec() == {"id": {"type": "str"}, "portable": {"type": "bool", "default": False}}

    def test_tasks_carry_the_connection_options(self):
        assert "client_secret" in module_task(WIDGET).argument_spec
        assert "portable" in info_task(WIDGET).argument_spec


class TestValidation:
    @pytest.mark.parametrize(
        "given, message",
        [
            ({"display_name": "W", "size": -1}, "size must be between 0 and 2147483647, got -1"),
            ({"display_name": "W", "size": 2**31}, "size must be between 0 and 2147483647, got 2147483648"),
            ({"display_name": "W", "due_date_time": "soon"}, "due_date_time: 'soon' is not an ISO 8601"),
            ({"display_name": "W", "assignments": [{"type": "all_devices", "group_id": GROUP_A}]}, "does not use"),
            ({"size": 1}, "one of id or display_name is required to identify the widget"),
        ],
    )
    def test_bad_values_fail_before_any_request(self, given, message):
        client = graph(widget())
        with pytest.raises(GraphOptionError, match=message):
            ensure(client, **given)
        assert client.calls == []

    def test_gadget_needs_an_id(self):
        client = graph()
        with pytest.raises(GraphOptionError, match="^id is required to identify the gadget$"):
            ensure(client, GADGET, enabled=True)
        assert client.calls == []


class TestTargets:
    def test_same_set_in_another_order_writes_nothing(self):
        client = graph(widget())
        result = ensure(
            client, id="w1", assignments=[{"type": "group", "group_id": GROUP_A.upper()}, {"type": "all_devices"}]
        )
        assert client.writes == []
        assert result["changed"] is False

    def test_a_changed_set_sends_the_whole_list(self):
        client = graph(widget())
        result = ensure(
            client,
            id="w1",
            assignments=[
                {"type": "all_devices"},
                {"type": "group", "group_id": GROUP_A},
                {"type": "group", "group_display_name": "Lab"},
            ],
        )
        assert client.writes == [
            (
                "update",
                f"{WIDGETS}/w1",
                {
                    "assignments": [
                        {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}},
                        {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": GROUP_A}},
                        {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": GROUP_B}},
                    ]
                },
            )
        ]
        assert result["changed_properties"] == ["assignments"]
        assert result["widget"]["assignments"] == [
            {"type": "all_devices"},
            {"type": "group", "group_id": GROUP_A},
            {"type": "group", "group_id": GROUP_B},
        ]
        assert result["diff"]["before"]["assignments"] == [
            {"type": "all_devices"},
            {"type": "group", "group_id": GROUP_A},
        ]

    def test_empty_list_clears(self):
        client = graph(widget())
        ensure(client, id="w1", assignments=[])
        assert client.writes == [("update", f"{WIDGETS}/w1", {"assignments": []})]

    def test_omitted_targets_are_never_sent(self):
        client = graph(widget())
        ensure(client, id="w1", size=4)
        assert client.writes == [("update", f"{WIDGETS}/w1", {"size": 4})]

    def test_an_unknown_group_name_fails_before_any_write_in_check_mode_too(self):
        for check_mode in (False, True):
            client = graph(widget())
            with pytest.raises(ResourceError, match="assignments: no group is named 'Nobody'"):
                ensure(
                    client,
                    check_mode=check_mode,
                    id="w1",
                    size=9,
                    assignments=[{"type": "group", "group_display_name": "Nobody"}],
                )
            assert client.writes == []

    def test_check_mode_predicts_the_list(self):
        client = graph(widget())
        result = ensure(
            client, check_mode=True, id="w1", assignments=[{"type": "exclusion_group", "group_display_name": "Sales"}]
        )
        assert client.writes == []
        assert result["changed"] is True
        assert result["widget"]["assignments"] == [{"type": "exclusion_group", "group_id": GROUP_A}]
        assert result["diff"]["after"]["assignments"] == [{"type": "exclusion_group", "group_id": GROUP_A}]

    def test_absent_resolves_no_names(self):
        client = graph(widget())
        ensure(client, id="w1", state="absent", assignments=[{"type": "group", "group_display_name": "Nobody"}])
        assert [call[0] for call in client.calls] == ["get", "delete"]


class TestActions:
    def test_action_runs_when_needed_and_sets_the_status(self):
        client = graph(widget())
        result = ensure(client, id="w1", power="on")
        assert client.writes == [("action", f"{WIDGETS}/w1/start", None)]
        assert result["changed"] is True
        assert result["changed_properties"] == ["status"]
        assert result["widget"]["status"] == "starting"
        assert result["diff"] == {
            "before": dict(result["diff"]["after"], status="off"),
            "after": result["diff"]["after"],
        }
        assert "status" in result["diff"]["after"] and "last_seen_date_time" not in result["diff"]["after"]

    @pytest.mark.parametrize("status", ["starting", "on"])
    def test_action_skipped_when_unless_matches(self, status):
        client = graph(widget(status=status))
        result = ensure(client, id="w1", power="on")
        assert client.writes == []
        assert result["changed"] is False

    def test_the_other_action(self):
        client = graph(widget(status="on"))
        result = ensure(client, id="w1", power="off", size=5)
        assert client.writes == [("update", f"{WIDGETS}/w1", {"size": 5}), ("action", f"{WIDGETS}/w1/stop", None)]
        assert result["changed_properties"] == ["size", "status"]

    def test_check_mode_predicts_the_action(self):
        client = graph(widget())
        result = ensure(client, id="w1", power="on", check_mode=True)
        assert client.writes == []
        assert (result["changed"], result["widget"]["status"]) == (True, "starting")

    def test_create_then_action(self):
        client = graph()
        result = ensure(client, display_name="New", power="on")
        assert [call[0] for call in client.writes] == ["create", "action"]
        assert client.writes[1][1] == f"{WIDGETS}/new-1/start"
        assert result["changed_properties"] == ["display_name", "status"]

    def test_check_mode_create_uses_the_known_initial_state(self):
        client = graph()
        result = ensure(client, display_name="New", power="on", check_mode=True)
        assert client.writes == []
        assert result["widget"] == {
            "id": None,
            "display_name": "New",
            "size": None,
            "due_date_time": None,
            "assignments": None,
            "status": "starting",  # initial "off", then the predicted action
            "last_seen_date_time": None,
        }


class TestClientAssignedId:
    def test_missing_id_is_created_with_that_id(self):
        client = graph(**{GADGETS: []})
        result = ensure(client, GADGET, id="partner-guid", enabled=True)
        assert client.writes == [("create", GADGETS, {"enabled": True, "id": "partner-guid"})]
        assert result["gadget"] == {"id": "partner-guid", "enabled": True, "state": None}

    def test_check_mode_create_knows_the_id(self):
        client = graph(**{GADGETS: []})
        result = ensure(client, GADGET, check_mode=True, id="partner-guid", enabled=False)
        assert client.writes == []
        assert result["gadget"] == {"id": "partner-guid", "enabled": False, "state": None}

    def test_recovery_looks_the_id_up(self):
        client = graph(**{GADGETS: []})
        recovered = []
        create = client.create

        def create_and_lose_the_answer(path, body, recover=None):
            create(path, body)
            recovered.append(recover())
            return recovered[-1]

        client.create = create_and_lose_the_answer
        ensure(client, GADGET, id="partner-guid", enabled=True)
        assert recovered[0]["id"] == "partner-guid"
        assert client.calls[-1] == ("get", f"{GADGETS}/partner-guid", None)

    def test_read_only_properties_are_returned_never_sent_never_exported(self):
        client = graph(**{GADGETS: [{"id": "g1", "enabled": False, "partnerState": "notSetUp"}]})
        result = ensure(client, GADGET, id="g1", enabled=True)
        assert client.writes == [("update", f"{GADGETS}/g1", {"enabled": True})]
        assert result["gadget"]["state"] == "notSetUp"
        listing = Engine(GADGET, client).listing({"id": None})
        assert listing["gadgets"] == [{"id": "g1", "enabled": True, "state": "notSetUp"}]
        assert listing["desired_state"] == [{"id": "g1", "enabled": True}]


class TestListing:
    def test_export_reapplies_without_change(self):
        client = graph(widget(), widget("w2", displayName="Other", assignments=[]))
        listing = Engine(WIDGET, client).listing({})
        assert listing["desired_state"][0] == {
            "id": "w1",
            "display_name": "Widget",
            "size": 3,
            "due_date_time": "2027-01-01T00:00:00Z",
            "assignments": [{"type": "all_devices"}, {"type": "group", "group_id": GROUP_A}],
        }
        for entry in listing["desired_state"]:
            assert ensure(client, **entry)["changed"] is False
        assert client.writes == []

    def test_portable_export_names_groups_and_drops_ids(self):
        client = graph(widget(), widget("w2", displayName=None, assignments=[]))
        listing = Engine(WIDGET, client).listing({"portable": True})
        assert listing["desired_state"] == [
            {
                "display_name": "Widget",
                "size": 3,
                "due_date_time": "2027-01-01T00:00:00Z",
                "assignments": [{"type": "all_devices"}, {"type": "group", "group_display_name": "Sales"}],
            },
            {"id": "w2", "size": 3, "due_date_time": "2027-01-01T00:00:00Z", "assignments": []},
        ]
        assert listing["warnings"] == [
            "widget w2 has no display name, so the export keeps its id and applies only to this tenant"
        ]
        # The objects themselves keep their ids and group ids.
        assert listing["widgets"][0]["assignments"][1] == {"type": "group", "group_id": GROUP_A}

    def test_ids_stay_for_a_resource_found_by_id(self):
        client = graph(**{GADGETS: [{"id": "g1", "enabled": True}]})
        listing = Engine(GADGET, client).listing({"portable": True})
        assert listing["desired_state"] == [{"id": "g1", "enabled": True}]
