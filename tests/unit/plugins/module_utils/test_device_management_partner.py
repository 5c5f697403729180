# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine with the device management partner's declaration, against a fake GraphClient.

(These tests predate the engine: they were written against _partner.py and kept their assertions when it moved.)
"""

from __future__ import annotations

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._device_management_partner import RESOURCE
from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import Engine
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphError,
    GraphOptionError,
    ResourceError,
    failure_result,
)

from tests.unit.plugins.module_utils.fake_graph import FakeGraph

COLLECTION = RESOURCE.collection
PROPERTIES = RESOURCE.properties
to_partner = RESOURCE.view
to_desired_state = RESOURCE.export
partner_argument_spec = RESOURCE.argument_spec
info_argument_spec = RESOURCE.info_argument_spec


def ensure_partner(client, params, check_mode=False):
    return Engine(RESOURCE, client).ensure(params, check_mode)


def list_partners(client, params):
    return Engine(RESOURCE, client).listing(params)


def graph_partner(partner_id="p1", **overrides):
    """A partner as Graph returns it (camelCase)."""
    partner = {
        "id": partner_id,
        "displayName": "Contoso MTD",
        "partnerState": "enabled",
        "partnerAppType": "multiTenantApp",
        "singleTenantAppId": None,
        "isConfigured": True,
        "lastHeartbeatDateTime": "2026-05-01T10:00:00.1234567Z",
        "whenPartnerDevicesWillBeRemovedDateTime": "2027-01-01T00:00:00Z",
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": None,
        "groupsRequiringPartnerEnrollment": [
            {
                "target": {
                    "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                    "deviceAndAppManagementAssignmentFilterId": None,
                    "deviceAndAppManagementAssignmentFilterType": "none",
                    "groupId": "g1",
                }
            }
        ],
    }
    partner.update(overrides)
    return partner


class FakeClient(FakeGraph):
    """The partner collection of a FakeGraph, with Graph's terminate action."""

    def __init__(self, *partners, **options):
        terminate = {"terminate": lambda partner: partner.update(partnerState="terminated")}
        super().__init__({COLLECTION: partners}, actions=terminate, **options)


def params(**given):
    """Module parameters as AnsibleModule gives them: every option present, None when not set."""
    result = {option: None for option in partner_argument_spec()}
    result["state"] = "present"
    result.update(given)
    return result


class TestUpdate:
    def test_patch_holds_only_changed_fields_in_camel_case(self):
        client = FakeClient(graph_partner())
        result = ensure_partner(
            client,
            params(
                id="p1",
                display_name="Contoso MTD",  # unchanged
                partner_state="enabled",  # unchanged
                is_configured=False,
                when_partner_devices_will_be_removed_date_time="2027-01-01T01:00:00+01:00",  # same instant
                when_partner_devices_will_be_marked_as_non_compliant_date_time="2027-02-01T12:00:00+02:00",
            ),
        )
        assert client.writes == [
            (
                "update",
                f"{COLLECTION}/p1",
                {
                    "isConfigured": False,
                    "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": "2027-02-01T10:00:00.0000000Z",
                },
            )
        ]
        assert result["changed"] is True
        assert result["changed_properties"] == [
            "is_configured",
            "when_partner_devices_will_be_marked_as_non_compliant_date_time",
        ]

    def test_nothing_differs_no_write(self):
        client = FakeClient(graph_partner())
        result = ensure_partner(
            client,
            params(
                id="p1",
                display_name="Contoso MTD",
                partner_app_type="multiTenantApp",
                is_configured=True,
                when_partner_devices_will_be_removed_date_time="2026-12-31T19:00:00.0000000-05:00",
            ),
        )
        assert client.calls == [("get", f"{COLLECTION}/p1", None)]
        assert result["changed"] is False
        assert result["changed_properties"] == []
        assert result["partner"] == to_partner(graph_partner())
        assert result["diff"]["before"] == result["diff"]["after"]

    @pytest.mark.parametrize(
        "graph_value, option_value",
        [
            ("2027-01-01T00:00:00Z", "2027-01-01T01:00:00+01:00"),
            ("2027-01-01T00:00:00.0000000Z", "2027-01-01 00:00:00"),
            ("2027-01-01T00:00:00.5Z", "2027-01-01T00:00:00.5000000+00:00"),
            ("2026-12-31T23:30:00Z", "2027-01-01T05:00:00+05:30"),
        ],
    )
    def test_dates_with_another_offset_are_not_drift(self, graph_value, option_value):
        client = FakeClient(graph_partner(whenPartnerDevicesWillBeRemovedDateTime=graph_value))
        result = ensure_partner(client, params(id="p1", when_partner_devices_will_be_removed_date_time=option_value))
        assert result["changed"] is False
        assert client.writes == []

    def test_a_date_one_tick_later_is_drift(self):
        client = FakeClient(graph_partner(whenPartnerDevicesWillBeRemovedDateTime="2027-01-01T00:00:00Z"))
        result = ensure_partner(
            client, params(id="p1", when_partner_devices_will_be_removed_date_time="2027-01-01T00:00:00.0000001Z")
        )
        assert client.writes == [
            (
                "update",
                f"{COLLECTION}/p1",
                {"whenPartnerDevicesWillBeRemovedDateTime": "2027-01-01T00:00:00.0000001Z"},
            )
        ]
        assert result["changed_properties"] == ["when_partner_devices_will_be_removed_date_time"]

    def test_unreadable_date_in_graph_is_drift(self):
        client = FakeClient(graph_partner(whenPartnerDevicesWillBeRemovedDateTime="not a date"))
        result = ensure_partner(
            client, params(id="p1", when_partner_devices_will_be_removed_date_time="2027-01-01T00:00:00Z")
        )
        assert result["changed"] is True
        assert client.writes[0][2] == {"whenPartnerDevicesWillBeRemovedDateTime": "2027-01-01T00:00:00.0000000Z"}

    def test_check_mode_predicts_without_writing(self):
        client = FakeClient(graph_partner())
        result = ensure_partner(
            client,
            params(
                id="p1",
                display_name="Renamed",
                when_partner_devices_will_be_removed_date_time="2028-06-01T02:00:00+02:00",
            ),
            check_mode=True,
        )
        assert client.writes == []
        assert result["changed"] is True
        assert result["changed_properties"] == ["display_name", "when_partner_devices_will_be_removed_date_time"]
        expected = dict(
            to_partner(graph_partner()),
            display_name="Renamed",
            when_partner_devices_will_be_removed_date_time="2028-06-01T00:00:00.0000000Z",
        )
        assert result["partner"] == expected
        assert result["diff"]["after"]["display_name"] == "Renamed"
        assert result["diff"]["before"]["display_name"] == "Contoso MTD"

    def test_result_after_204_is_before_plus_changes(self):
        client = FakeClient(graph_partner(), update_status=204)
        result = ensure_partner(
            client,
            params(
                id="p1", is_configured=False, when_partner_devices_will_be_removed_date_time="2028-01-01T00:00:00+01:00"
            ),
        )
        assert result["partner"] == dict(
            to_partner(graph_partner()),
            is_configured=False,
            when_partner_devices_will_be_removed_date_time="2027-12-31T23:00:00.0000000Z",
        )

    def test_result_after_200_is_what_graph_returned(self):
        heartbeat = {"lastHeartbeatDateTime": "2026-06-01T00:00:00Z"}
        client = FakeClient(graph_partner(), update_status=200, server_changes=heartbeat)
        result = ensure_partner(client, params(id="p1", is_configured=False))
        assert result["partner"]["is_configured"] is False
        # Only Graph's answer knows the new heartbeat: the result must come from it, not from a prediction.
        assert result["partner"]["last_heartbeat_date_time"] == "2026-06-01T00:00:00Z"
        assert result["diff"]["before"]["last_heartbeat_date_time"] == "2026-05-01T10:00:00.1234567Z"

    def test_result_after_204_ignores_what_graph_did_not_return(self):
        heartbeat = {"lastHeartbeatDateTime": "2026-06-01T00:00:00Z"}
        client = FakeClient(graph_partner(), update_status=204, server_changes=heartbeat)
        result = ensure_partner(client, params(id="p1", is_configured=False))
        assert result["partner"]["last_heartbeat_date_time"] == "2026-05-01T10:00:00.1234567Z"

    def test_update_found_by_name(self):
        client = FakeClient(graph_partner("p1"), graph_partner("p2", displayName="Other"))
        result = ensure_partner(client, params(display_name="Other", is_configured=False))
        assert client.writes == [("update", f"{COLLECTION}/p2", {"isConfigured": False})]
        assert result["partner"]["id"] == "p2"
        assert client.calls[0] == ("list", COLLECTION, {"$filter": "displayName eq 'Other'"})

    def test_patch_never_holds_unmanaged_fields(self):
        client = FakeClient(graph_partner(isConfigured=False))
        ensure_partner(client, params(id="p1", is_configured=True))
        assert client.writes == [("update", f"{COLLECTION}/p1", {"isConfigured": True})]


class TestCreate:
    def test_create_by_name(self):
        client = FakeClient(graph_partner("p1", displayName="Someone else"))
        result = ensure_partner(
            client,
            params(
                display_name="Fabrikam",
                partner_app_type="singleTenantApp",
                single_tenant_app_id="33333333-3333-4333-8333-333333333333",
                when_partner_devices_will_be_removed_date_time="2027-01-01T00:00:00+01:00",
            ),
        )
        assert client.writes == [
            (
                "create",
                COLLECTION,
                {
                    "displayName": "Fabrikam",
                    "partnerAppType": "singleTenantApp",
                    "singleTenantAppId": "33333333-3333-4333-8333-333333333333",
                    "whenPartnerDevicesWillBeRemovedDateTime": "2026-12-31T23:00:00.0000000Z",
                },
            )
        ]
        assert result["changed"] is True
        assert result["partner"]["id"] == "new-2"
        assert result["partner"]["display_name"] == "Fabrikam"
        assert result["changed_properties"] == [
            "display_name",
            "partner_app_type",
            "single_tenant_app_id",
            "when_partner_devices_will_be_removed_date_time",
        ]
        assert result["diff"]["before"] == {}

    def test_create_recover_looks_the_partner_up_by_name(self):
        client = FakeClient()
        ensure_partner(client, params(display_name="O'Brien MTD"))
        assert client.recover is not None
        # As if the POST's answer had been lost: recover() must find the object the POST created.
        found = client.recover()
        assert found["displayName"] == "O'Brien MTD"
        assert client.calls[-1] == ("list", COLLECTION, {"$filter": "displayName eq 'O''Brien MTD'"})

    def test_create_check_mode(self):
        client = FakeClient()
        result = ensure_partner(
            client,
            params(display_name="Fabrikam", when_partner_devices_will_be_removed_date_time="2027-01-01 00:00:00"),
            check_mode=True,
        )
        assert client.writes == []
        assert result["changed"] is True
        expected = {prop.option: None for prop in PROPERTIES}
        expected.update(
            id=None,
            display_name="Fabrikam",
            when_partner_devices_will_be_removed_date_time="2027-01-01T00:00:00.0000000Z",
            groups_requiring_partner_enrollment=None,
        )
        assert result["partner"] == expected

    def test_name_match_is_exact(self):
        # Graph's filter ignores case; "contoso mtd" must not count as "Contoso MTD".
        client = FakeClient(graph_partner("p1", displayName="contoso mtd"))
        result = ensure_partner(client, params(display_name="Contoso MTD"), check_mode=True)
        assert result["partner"]["id"] is None
        assert result["changed"] is True

    def test_filter_unsupported_falls_back_to_full_list(self):
        client = FakeClient(graph_partner("p1"), graph_partner("p2", displayName="Other"), filter_status=400)
        result = ensure_partner(client, params(display_name="Other"))
        assert [call[:3] for call in client.calls] == [
            ("list", COLLECTION, {"$filter": "displayName eq 'Other'"}),
            ("list", COLLECTION, None),
        ]
        assert result["partner"]["id"] == "p2"
        assert result["changed"] is False

    def test_unknown_id_fails(self):
        client = FakeClient(graph_partner("p1"))
        with pytest.raises(GraphError) as info:
            ensure_partner(client, params(id="missing", display_name="Contoso MTD"))
        assert client.writes == []
        assert str(info.value) == (
            "no device management partner has id missing "
            "(HTTP 404 ResourceNotFound, request-id: req-404, client-request-id: cli-404)"
        )
        assert (info.value.status, info.value.request_id) == (404, "req-404")

    def test_other_errors_are_not_turned_into_not_found(self):
        client = FakeClient()

        def forbidden(path, params=None, version=None):
            raise GraphError("forbidden", status=403, code="Forbidden")

        client.get = forbidden
        with pytest.raises(GraphError, match="^forbidden$"):
            ensure_partner(client, params(id="p1", state="absent"))

    def test_ambiguous_name_lists_the_ids(self):
        client = FakeClient(graph_partner("p1"), graph_partner("p2"), graph_partner("p3", displayName="Other"))
        with pytest.raises(ResourceError) as info:
            ensure_partner(client, params(display_name="Contoso MTD", is_configured=False))
        assert client.writes == []
        assert str(info.value) == (
            "2 device management partners are named 'Contoso MTD' (ids: p1, p2); give id to choose one"
        )
        assert info.value.details == {"matching_ids": ["p1", "p2"]}
        assert failure_result(info.value) == {"matching_ids": ["p1", "p2"], "msg": str(info.value)}


class TestAbsent:
    def test_deletes_existing(self):
        client = FakeClient(graph_partner())
        result = ensure_partner(client, params(id="p1", state="absent"))
        assert client.writes == [("delete", f"{COLLECTION}/p1", None)]
        assert result["changed"] is True
        assert result["partner"] is None
        assert result["diff"]["before"]["display_name"] == "Contoso MTD"
        assert result["diff"]["after"] == {}

    def test_deletes_by_name(self):
        client = FakeClient(graph_partner("p1", displayName="Other"), graph_partner("p2"))
        ensure_partner(client, params(display_name="Contoso MTD", state="absent"))
        assert client.writes == [("delete", f"{COLLECTION}/p2", None)]

    @pytest.mark.parametrize("identity", [{"id": "gone"}, {"display_name": "Nobody"}])
    def test_already_absent(self, identity):
        client = FakeClient(graph_partner())
        result = ensure_partner(client, params(state="absent", **identity))
        assert client.writes == []
        assert result == {
            "changed": False,
            "partner": None,
            "changed_properties": [],
            "diff": {"before": {}, "after": {}},
        }

    def test_check_mode(self):
        client = FakeClient(graph_partner())
        result = ensure_partner(client, params(id="p1", state="absent"), check_mode=True)
        assert client.writes == []
        assert result["changed"] is True
        assert result["partner"] is None


class TestTerminated:
    def test_terminates_with_the_action(self):
        client = FakeClient(graph_partner())
        result = ensure_partner(client, params(id="p1", state="terminated"))
        assert client.writes == [("action", f"{COLLECTION}/p1/terminate", None)]
        assert result["changed"] is True
        assert result["changed_properties"] == ["partner_state"]
        assert result["partner"]["partner_state"] == "terminated"
        assert result["diff"]["before"]["partner_state"] == "enabled"

    def test_partner_state_terminated_is_not_patched(self):
        client = FakeClient(graph_partner())
        ensure_partner(client, params(id="p1", state="terminated", partner_state="terminated", is_configured=False))
        assert client.writes == [
            ("update", f"{COLLECTION}/p1", {"isConfigured": False}),
            ("action", f"{COLLECTION}/p1/terminate", None),
        ]

    def test_already_terminated(self):
        client = FakeClient(graph_partner(partnerState="terminated"))
        result = ensure_partner(client, params(display_name="Contoso MTD", state="terminated"))
        assert client.writes == []
        assert result["changed"] is False

    def test_check_mode(self):
        client = FakeClient(graph_partner())
        result = ensure_partner(client, params(id="p1", state="terminated"), check_mode=True)
        assert client.writes == []
        assert result["changed"] is True
        assert result["partner"]["partner_state"] == "terminated"

    def test_unknown_name_fails(self):
        client = FakeClient(graph_partner())
        with pytest.raises(ResourceError) as info:
            ensure_partner(client, params(display_name="Nobody", state="terminated"))
        assert str(info.value) == "no device management partner is named 'Nobody', so none can be terminated"
        assert client.writes == []

    def test_unknown_id_fails(self):
        client = FakeClient()
        with pytest.raises(GraphError, match="^no device management partner has id p9 "):
            ensure_partner(client, params(id="p9", state="terminated"))
        assert client.writes == []


class TestValidation:
    @pytest.mark.parametrize(
        "given, message",
        [
            ({}, "one of id or display_name is required to identify the partner"),
            ({"id": "a/b"}, "id 'a/b' is not a valid Graph object id"),
            (
                {"id": "p1", "state": "terminated", "partner_state": "enabled"},
                "state=terminated conflicts with partner_state=enabled",
            ),
            (
                {"display_name": "x", "last_heartbeat_date_time": "yesterday"},
                "last_heartbeat_date_time: 'yesterday' is not an ISO 8601 date and time",
            ),
            (
                {
                    "display_name": "x",
                    "when_partner_devices_will_be_removed_date_time": "2027-01-01T00:00:00.123456789Z",
                },
                "when_partner_devices_will_be_removed_date_time: '2027-01-01T00:00:00.123456789Z' has more than 7",
            ),
        ],
    )
    def test_bad_input_fails_before_any_request(self, given, message):
        client = FakeClient(graph_partner())
        with pytest.raises(GraphOptionError) as info:
            ensure_partner(client, params(**given))
        assert str(info.value).startswith(message)
        assert client.calls == []


class TestExport:
    def test_to_partner_uses_option_names(self):
        partner = to_partner(graph_partner())
        assert partner == {
            "id": "p1",
            "display_name": "Contoso MTD",
            "partner_state": "enabled",
            "partner_app_type": "multiTenantApp",
            "single_tenant_app_id": None,
            "is_configured": True,
            "last_heartbeat_date_time": "2026-05-01T10:00:00.1234567Z",
            "when_partner_devices_will_be_removed_date_time": "2027-01-01T00:00:00Z",
            "when_partner_devices_will_be_marked_as_non_compliant_date_time": None,
            "groups_requiring_partner_enrollment": [{"type": "group", "group_id": "g1"}],
        }
        assert to_partner(None) is None

    def test_desired_state_leaves_out_server_fields_and_nones(self):
        assert to_desired_state(to_partner(graph_partner())) == {
            "id": "p1",
            "display_name": "Contoso MTD",
            "partner_state": "enabled",
            "partner_app_type": "multiTenantApp",
            "is_configured": True,
            "when_partner_devices_will_be_removed_date_time": "2027-01-01T00:00:00Z",
            "groups_requiring_partner_enrollment": [{"type": "group", "group_id": "g1"}],
        }

    def test_desired_state_applies_back_without_change(self):
        client = FakeClient(graph_partner())
        desired = to_desired_state(to_partner(graph_partner()))
        result = ensure_partner(client, params(**desired))
        assert result["changed"] is False
        assert client.writes == []

    def test_desired_state_options_are_module_options(self):
        spec = partner_argument_spec()
        assert set(to_desired_state(to_partner(graph_partner()))) <= set(spec)

    def test_argument_spec_aliases_are_graph_names(self):
        spec = partner_argument_spec()
        assert spec["display_name"]["aliases"] == ["displayName"]
        assert spec["is_configured"]["type"] == "bool"
        assert spec["partner_state"]["choices"] == [
            "unknown",
            "unavailable",
            "enabled",
            "terminated",
            "rejected",
            "unresponsive",
        ]
        assert spec["state"] == {"type": "str", "default": "present", "choices": ["present", "absent", "terminated"]}
        assert info_argument_spec() == {
            "id": {"type": "str"},
            "display_name": {"type": "str", "aliases": ["displayName"]},
            "portable": {"type": "bool", "default": False, "aliases": ["group_names"]},
        }


class TestListPartners:
    def test_all(self):
        client = FakeClient(graph_partner("p1"), graph_partner("p2", displayName="Other"))
        result = list_partners(client, {"id": None, "display_name": None})
        assert [call[:2] for call in client.calls] == [("list", COLLECTION)]
        # Only the declared properties are asked for.
        assert client.calls[0][2]["$select"].split(",")[:3] == ["id", "displayName", "partnerState"]
        assert [partner["id"] for partner in result["partners"]] == ["p1", "p2"]
        assert [entry["id"] for entry in result["desired_state"]] == ["p1", "p2"]
        assert "last_heartbeat_date_time" not in result["desired_state"][0]
        assert result["changed"] is False

    def test_by_id(self):
        client = FakeClient(graph_partner("p1"), graph_partner("p2"))
        result = list_partners(client, {"id": "p2", "display_name": None})
        assert [partner["id"] for partner in result["partners"]] == ["p2"]

    def test_unknown_id_gives_none(self):
        client = FakeClient(graph_partner("p1"))
        assert list_partners(client, {"id": "p9", "display_name": None})["partners"] == []

    def test_by_name_lists_every_exact_match(self):
        client = FakeClient(graph_partner("p1"), graph_partner("p2"), graph_partner("p3", displayName="CONTOSO MTD"))
        result = list_partners(client, {"id": None, "display_name": "Contoso MTD"})
        assert [partner["id"] for partner in result["partners"]] == ["p1", "p2"]

    def test_bad_id_rejected(self):
        client = FakeClient()
        with pytest.raises(GraphOptionError):
            list_partners(client, {"id": "../deviceManagement", "display_name": None})
        assert client.calls == []


def test_absent_when_someone_else_deleted_it_between_read_and_delete():
    class GoneOnDelete(FakeClient):
        def delete(self, path):
            self.calls.append(("delete", path, None))
            raise GraphError("gone", status=404, code="ResourceNotFound")

    client = GoneOnDelete({"id": "p1", "displayName": "Contoso"})
    result = ensure_partner(client, {"id": "p1", "state": "absent"})
    assert result["changed"] is True
    assert result["partner"] is None
    assert [call[0] for call in client.calls if call[0] == "delete"] == ["delete"]


def test_absent_reports_other_delete_failures():
    class ForbiddenDelete(FakeClient):
        def delete(self, path):
            raise GraphError("forbidden", status=403, code="Forbidden")

    with pytest.raises(GraphError, match="forbidden"):
        ensure_partner(ForbiddenDelete({"id": "p1", "displayName": "Contoso"}), {"id": "p1", "state": "absent"})
