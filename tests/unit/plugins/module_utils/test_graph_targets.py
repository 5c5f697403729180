# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assignment targets: validation, the set comparison, the wire shape, and group names."""

from __future__ import annotations

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._graph_batch import Read
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphError,
    GraphOptionError,
    ResourceError,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_targets import GroupDirectory, TargetSet

from tests.unit.plugins.module_utils.fake_graph import FakeGraph
from tests.unit.plugins.module_utils.fake_graph_server import GraphServer, build_client, graph_error

TARGETS = TargetSet("groups_requiring_partner_enrollment", "groupsRequiringPartnerEnrollment")
GROUP_A = "aaaaaaaa-0000-4000-8000-000000000001"
GROUP_B = "bbbbbbbb-0000-4000-8000-000000000002"


def given(*targets):
    """Targets as AnsibleModule hands them over: every sub-option present, None when not set."""
    keys = ("type", "group_id", "group_display_name", "collection_id")
    return [{key: target.get(key) for key in keys} for target in targets]


def graph_item(odata_type, **fields):
    """An item as Graph returns it, with the fields Graph adds."""
    target = {
        "@odata.type": odata_type,
        "deviceAndAppManagementAssignmentFilterId": None,
        "deviceAndAppManagementAssignmentFilterType": "none",
    }
    target.update(fields)
    return {"target": target}


class TestValidate:
    def test_each_type_in_its_short_form(self):
        value = TARGETS.validate(
            given(
                {"type": "group", "group_id": GROUP_A},
                {"type": "exclusion_group", "group_display_name": "Lab Macs"},
                {"type": "all_licensed_users"},
                {"type": "all_devices"},
                {"type": "configuration_manager_collection", "collection_id": "SMS00001"},
            )
        )
        assert value == [
            {"type": "group", "group_id": GROUP_A},
            {"type": "exclusion_group", "group_display_name": "Lab Macs"},
            {"type": "all_licensed_users"},
            {"type": "all_devices"},
            {"type": "configuration_manager_collection", "collection_id": "SMS00001"},
        ]

    @pytest.mark.parametrize(
        "target, message",
        [
            ({"type": "all_devices", "group_id": GROUP_A}, "[0]: type all_devices does not use group_id"),
            ({"type": "group", "collection_id": "SMS1"}, "[0]: type group does not use collection_id"),
            ({"type": "configuration_manager_collection", "group_id": GROUP_A}, "does not use group_id"),
            ({"type": "group"}, "[0]: type group needs exactly one of group_id or group_display_name"),
            (
                {"type": "exclusion_group", "group_id": GROUP_A, "group_display_name": "A"},
                "[0]: type exclusion_group needs exactly one of group_id or group_display_name",
            ),
            ({"type": "configuration_manager_collection"}, "needs exactly one of collection_id"),
            ({"type": "group", "group_id": "a/../b"}, "[0].group_id 'a/../b' is not a valid Graph object id"),
            ({"type": "everyone"}, "[0] needs a type, one of group, exclusion_group"),
        ],
    )
    def test_wrong_keys_fail(self, target, message):
        with pytest.raises(GraphOptionError) as info:
            TARGETS.validate(given(target))
        assert message in str(info.value)
        assert str(info.value).startswith("groups_requiring_partner_enrollment")

    @pytest.mark.parametrize(
        "first, second",
        [
            ({"type": "group", "group_id": GROUP_A}, {"type": "group", "group_id": GROUP_A.upper()}),
            ({"type": "all_devices"}, {"type": "all_devices"}),
            ({"type": "group", "group_display_name": "Sales"}, {"type": "group", "group_display_name": "Sales"}),
        ],
    )
    def test_a_target_listed_twice_fails(self, first, second):
        with pytest.raises(GraphOptionError, match="lists the same target twice"):
            TARGETS.validate(given(first, {"type": "all_licensed_users"}, second))

    def test_same_group_as_target_and_exclusion_is_two_targets(self):
        value = given({"type": "group", "group_id": GROUP_A}, {"type": "exclusion_group", "group_id": GROUP_A})
        assert len(TARGETS.validate(value)) == 2


class TestCompare:
    def test_graph_items_in_the_short_form_sorted(self):
        raw = [
            graph_item("#microsoft.graph.groupAssignmentTarget", groupId=GROUP_B),
            graph_item("microsoft.graph.allDevicesAssignmentTarget"),  # docs samples omit the '#'
            graph_item("#microsoft.graph.groupAssignmentTarget", groupId=GROUP_A),
            {
                "@odata.type": "#microsoft.graph.deviceManagementPartnerAssignment",
                "target": {
                    "@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
                    "collectionId": "SMS1",
                },
            },
        ]
        assert TARGETS.from_graph(raw) == [
            {"type": "all_devices"},
            {"type": "configuration_manager_collection", "collection_id": "SMS1"},
            {"type": "group", "group_id": GROUP_A},
            {"type": "group", "group_id": GROUP_B},
        ]
        assert TARGETS.from_graph([]) == []
        assert TARGETS.from_graph(None) is None

    def test_an_unknown_type_is_shown_and_never_equal(self):
        current = TARGETS.from_graph([graph_item("#microsoft.graph.someFutureTarget")])
        assert current == [{"type": "microsoft.graph.someFutureTarget"}]
        assert not TARGETS.same([], current)

    def test_order_case_and_added_fields_do_not_matter(self):
        desired = TARGETS.validate(given({"type": "group", "group_id": GROUP_A.upper()}, {"type": "all_devices"}))
        current = TARGETS.from_graph(
            [
                graph_item("#microsoft.graph.allDevicesAssignmentTarget"),
                graph_item("#microsoft.graph.groupAssignmentTarget", groupId=GROUP_A),
            ]
        )
        assert TARGETS.same(desired, current)

    @pytest.mark.parametrize(
        "desired",
        [
            [],
            [{"type": "all_devices"}],
            [{"type": "exclusion_group", "group_id": GROUP_A}, {"type": "all_devices"}],
            [{"type": "group", "group_id": GROUP_A}, {"type": "all_devices"}, {"type": "all_licensed_users"}],
        ],
    )
    def test_any_other_set_differs(self, desired):
        current = [{"type": "all_devices"}, {"type": "group", "group_id": GROUP_A}]
        assert not TARGETS.same(desired, current)

    def test_empty_equals_none_from_graph(self):
        assert TARGETS.same([], None)

    def test_wire_shape(self):
        value = [
            {"type": "group", "group_id": GROUP_A},
            {"type": "all_licensed_users"},
            {"type": "configuration_manager_collection", "collection_id": "SMS1"},
        ]
        assert TARGETS.to_graph(value) == [
            {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": GROUP_A}},
            {"target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}},
            {
                "target": {
                    "@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
                    "collectionId": "SMS1",
                }
            },
        ]
        assert TARGETS.predict(value) == TARGETS.from_graph(TARGETS.to_graph(value))

    def test_argument_spec(self):
        spec = TARGETS.argument_spec()
        assert spec["type"] == "list" and spec["elements"] == "dict"
        assert spec["aliases"] == ["groupsRequiringPartnerEnrollment"]
        assert spec["options"]["type"]["required"] is True
        assert set(spec["options"]) == {"type", "group_id", "group_display_name", "collection_id"}


def groups(*pairs):
    return FakeGraph({"groups": [{"id": group_id, "displayName": name} for group_id, name in pairs]})


class TestGroupNames:
    def test_names_resolve_once_each_and_exactly(self):
        graph = groups((GROUP_A, "Sales"), (GROUP_B, "sales"))
        directory = GroupDirectory(graph)
        value = TARGETS.validate(
            given(
                {"type": "group", "group_display_name": "Sales"},
                {"type": "exclusion_group", "group_display_name": "Sales"},
                {"type": "all_devices"},
            )
        )
        assert TARGETS.resolve(directory, value) == [
            {"type": "group", "group_id": GROUP_A},
            {"type": "exclusion_group", "group_id": GROUP_A},
            {"type": "all_devices"},
        ]
        assert graph.calls == [
            ("list", "groups", {"$filter": "displayName eq 'Sales'", "$select": "id,displayName"}),
        ]

    def test_quotes_are_odata_escaped(self):
        graph = groups((GROUP_A, "O'Brien's Macs"))
        TARGETS.resolve(GroupDirectory(graph), [{"type": "group", "group_display_name": "O'Brien's Macs"}])
        assert graph.calls[0][2]["$filter"] == "displayName eq 'O''Brien''s Macs'"

    def test_no_such_group(self):
        graph = groups((GROUP_A, "Lab"))
        with pytest.raises(ResourceError) as info:
            TARGETS.resolve(GroupDirectory(graph), [{"type": "group", "group_display_name": "Sales"}])
        assert str(info.value) == (
            "groups_requiring_partner_enrollment: no group is named 'Sales' in this tenant; "
            "check the name or use group_id"
        )

    def test_groups_that_differ_only_in_case_are_named(self):
        graph = groups((GROUP_A, "Mac fleet"), (GROUP_B, "Mac Fleet"), ("cccccccc-0000-4000-8000-000000000003", "Lab"))
        with pytest.raises(ResourceError) as info:
            TARGETS.resolve(GroupDirectory(graph), [{"type": "group", "group_display_name": "mac FLEET"}])
        assert str(info.value) == (
            "groups_requiring_partner_enrollment: no group is named 'mac FLEET' in this tenant (groups that differ "
            "only in case: 'Mac Fleet', 'Mac fleet'); check the name or use group_id"
        )

    def test_several_groups_with_the_name(self):
        graph = groups((GROUP_A, "Sales"), (GROUP_B, "Sales"))
        with pytest.raises(ResourceError) as info:
            TARGETS.resolve(GroupDirectory(graph), [{"type": "group", "group_display_name": "Sales"}])
        assert f"2 groups are named 'Sales' (ids: {GROUP_A}, {GROUP_B}); use group_id" in str(info.value)
        assert info.value.details == {"matching_ids": [GROUP_A, GROUP_B]}

    def test_a_name_and_the_id_of_one_group_clash(self):
        graph = groups((GROUP_A, "Sales"))
        value = [{"type": "group", "group_display_name": "Sales"}, {"type": "group", "group_id": GROUP_A}]
        with pytest.raises(ResourceError, match="lists the same target twice: type=group, group_display_name=Sales"):
            TARGETS.resolve(GroupDirectory(graph), value)

    def test_export_with_group_names(self):
        graph = groups((GROUP_A, "Sales"), (GROUP_B, "Lab"))
        directory = GroupDirectory(graph)
        warnings = []
        value = [
            {"type": "group", "group_id": GROUP_A},
            {"type": "exclusion_group", "group_id": GROUP_B},
            {"type": "group", "group_id": "cccccccc-0000-4000-8000-000000000003"},
            {"type": "exclusion_group", "group_id": GROUP_A},
            {"type": "all_devices"},
        ]
        assert TARGETS.with_group_names(value, directory, warnings) == [
            {"type": "all_devices"},
            {"type": "exclusion_group", "group_display_name": "Lab"},
            {"type": "exclusion_group", "group_display_name": "Sales"},
            {"type": "group", "group_display_name": "Sales"},
            {"type": "group", "group_id": "cccccccc-0000-4000-8000-000000000003"},
        ]
        # One read per distinct group id.
        assert [call[1] for call in graph.calls] == [
            f"groups/{GROUP_A}",
            f"groups/{GROUP_B}",
            "groups/cccccccc-0000-4000-8000-000000000003",
        ]
        assert graph.calls[0][2] == {"$select": "displayName"}
        assert warnings == [
            (
                "groups_requiring_partner_enrollment: group cccccccc-0000-4000-8000-000000000003 no longer exists, "
                "so the export keeps its id"
            )
        ]


def name_query(name):
    return {"$filter": "displayName eq '{}'".format(name.replace("'", "''")), "$select": "id,displayName"}


def group_id(number):
    """A group id with letters in it, so that its upper case differs."""
    return f"{number:08x}-abcd-4000-8000-{number:012x}"


class TestGroupDirectoryInBatches:
    """Against a real client: the lookups of many names or ids travel in batches of 20."""

    @pytest.fixture
    def server(self):
        return GraphServer()

    @pytest.fixture
    def directory(self, server, fake_time, fake_session):
        return GroupDirectory(build_client(fake_time, server.session(fake_session)))

    def name_groups(self, server, name, *found):
        """What Graph's (case-insensitive) displayName eq finds for `name`: (id, displayName) pairs."""
        value = [{"id": found_id, "displayName": found_name} for found_id, found_name in found]
        server.route("groups", {"value": value}, query=name_query(name))

    def test_25_names_take_two_batches_and_no_more_requests(self, server, directory):
        names = [f"Group {number}" for number in range(25)]
        for number, name in enumerate(names):
            self.name_groups(server, name, (group_id(number), name))
        directory.prefetch_names(names + names[:5])
        assert [len(batch.requests) for batch in server.batches] == [20, 5]
        assert [directory.id_for(name, "option") for name in names] == [group_id(n) for n in range(25)]
        directory.prefetch_names(names)  # all known: nothing is sent
        assert len(server.batches) == 2 and server.singles == []

    def test_exact_match_only(self, server, directory):
        self.name_groups(server, "Sales", (group_id(1), "sales"), (group_id(2), "Sales"))
        self.name_groups(server, "Lab", (group_id(3), "Lab"))
        directory.prefetch_names(["Sales", "Lab"])
        assert directory.id_for("Sales", "option") == group_id(2)

    def test_case_hint(self, server, directory):
        self.name_groups(server, "mac FLEET", (group_id(1), "Mac fleet"), (group_id(2), "Mac Fleet"))
        self.name_groups(server, "Lab", (group_id(3), "Lab"))
        directory.prefetch_names(["mac FLEET", "Lab"])
        with pytest.raises(ResourceError) as info:
            directory.id_for("mac FLEET", "groups_requiring_partner_enrollment")
        assert str(info.value) == (
            "groups_requiring_partner_enrollment: no group is named 'mac FLEET' in this tenant (groups that differ "
            "only in case: 'Mac Fleet', 'Mac fleet'); check the name or use group_id"
        )
        assert directory.id_for("Lab", "option") == group_id(3)

    def test_a_failed_lookup_is_id_fors_error(self, server, directory):
        forbidden = graph_error("Authorization_RequestDenied", "Insufficient privileges", request_id="req-403")
        server.route("groups", forbidden, query=name_query("Sales"), status=403)
        self.name_groups(server, "Lab", (group_id(3), "Lab"))
        directory.prefetch_names(["Sales", "Lab"])  # the failure is kept for the name it belongs to
        assert directory.id_for("Lab", "option") == group_id(3)
        with pytest.raises(GraphError) as info:
            directory.id_for("Sales", "option")
        assert (info.value.status, info.value.code, info.value.request_id) == (
            403,
            "Authorization_RequestDenied",
            "req-403",
        )
        assert str(info.value).startswith("GET /v1.0/groups failed: HTTP 403 Authorization_RequestDenied")
        assert len(server.batches) == 1 and server.singles == []

    def test_ids_are_named_in_one_batch(self, server, directory):
        server.route(f"groups/{group_id(1).upper()}", {"displayName": "Sales"}, query={"$select": "displayName"})
        server.route(f"groups/{group_id(2)}", {"displayName": "Lab"}, query={"$select": "displayName"})
        directory.prefetch_ids([group_id(1).upper(), group_id(2), group_id(1), group_id(9)])
        assert [len(batch.requests) for batch in server.batches] == [3]
        assert [directory.name_for(value) for value in (group_id(1), group_id(2), group_id(9))] == [
            "Sales",
            "Lab",
            None,  # no such group any more: Graph answered 404
        ]
        assert len(server.batches) == 1 and server.singles == []

    def test_the_reads_fit_in_a_callers_batch(self, server, directory):
        self.name_groups(server, "Sales", (group_id(1), "Sales"))
        server.route(f"groups/{group_id(2)}", {"displayName": "Lab"}, query={"$select": "displayName"})
        server.collection("deviceManagement/deviceManagementPartners", [{"id": "p1"}])
        name_reads = directory.name_reads(["Sales", "Sales"])
        id_reads = directory.id_reads([group_id(2)])
        reads = [Read("deviceManagement/deviceManagementPartners"), *name_reads.values(), *id_reads.values()]
        results = directory.client.read_many(reads)
        directory.learn_names(dict(zip(name_reads, results[1:2])))
        directory.learn_ids(dict(zip(id_reads, results[2:])))
        assert results[0].get() == [{"id": "p1"}]
        assert (directory.id_for("Sales", "option"), directory.name_for(group_id(2))) == (group_id(1), "Lab")
        assert len(server.batches) == 1 and server.singles == []
        # What is known is not asked for again.
        assert directory.name_reads(["Sales"]) == {} and directory.id_reads([group_id(2).upper()]) == {}

    def test_an_unknown_name_is_looked_up_on_its_own(self, server, directory):
        self.name_groups(server, "O'Brien", (group_id(1), "O'Brien"))
        assert directory.id_for("O'Brien", "option") == group_id(1)
        assert server.batches == []
        assert [call.kwargs["params"] for call in server.singles] == [name_query("O'Brien")]
