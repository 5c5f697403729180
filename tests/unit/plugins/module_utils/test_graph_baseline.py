# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's baseline: validation first, one list per kind, matching, drift rows, apply, prune and export."""

from __future__ import annotations

import re

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._graph_baseline import KINDS, TenantBaseline
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphError,
    GraphOptionError,
    ResourceError,
)

from tests.unit.plugins.module_utils.fake_graph import FakeGraph

PARTNERS = KINDS["device_management_partners"].collection
COMPLIANCE = KINDS["compliance_management_partners"].collection
REMOTE = KINDS["remote_assistance_partners"].collection
MTD = KINDS["mobile_threat_defense_connectors"].collection
SALES = "5a1e5000-0000-4000-8000-000000000001"
MARKETING = "3a2c0000-0000-4000-8000-000000000002"
MTD_ID = "fc780465-2017-40d4-a0c5-307022471b92"


def tenant(**collections):
    data = {PARTNERS: [], COMPLIANCE: [], REMOTE: [], MTD: [], "groups": [{"id": SALES, "displayName": "Sales"}]}
    data.update(collections)
    return FakeGraph(data, actions={"beginOnboarding": lambda obj: obj.update(onboardingStatus="onboarding")})


def jamf(**overrides):
    obj = {
        "id": "p-jamf",
        "displayName": "Jamf Pro",
        "partnerState": "enabled",
        "isConfigured": True,
        "groupsRequiringPartnerEnrollment": [],
    }
    obj.update(overrides)
    return obj


BASELINE = {
    "device_management_partners": [
        {
            "display_name": "Jamf Pro",
            "partner_state": "enabled",
            "groups_requiring_partner_enrollment": [{"type": "group", "group_display_name": "Sales"}],
        }
    ],
    "mobile_threat_defense_connectors": [{"id": MTD_ID, "android_enabled": True}],
}


def run(client, baseline=None, mode="apply", prune=False, check_mode=False):
    return TenantBaseline(client).run({"baseline": baseline, "mode": mode, "prune": prune}, check_mode)


class TestValidation:
    @pytest.mark.parametrize(
        "baseline, message",
        [
            (
                {"device_management_partners": [{"display_name": "A", "colour": "red"}]},
                "baseline.device_management_partners[0]: Unsupported parameters",
            ),
            (
                {"device_management_partners": [{"display_name": "A", "is_configured": "maybe"}]},
                "baseline.device_management_partners[0]: ",
            ),
            (
                {"device_management_partners": [{"display_name": "A", "partner_state": "on"}]},
                "value of partner_state must be one of",
            ),
            (
                {"compliance_management_partners": [{"partner_state": "enabled"}]},
                "one of the following is required: id, display_name",
            ),
            ({"mobile_threat_defense_connectors": [{"android_enabled": True}]}, "missing required arguments: id"),
            (
                {
                    "mobile_threat_defense_connectors": [
                        {"id": MTD_ID, "partner_unresponsiveness_threshold_in_days": -2}
                    ]
                },
                "must be between 0 and",
            ),
            (
                {"device_management_partners": [{"display_name": "A", "client_secret": "s3cr3t"}]},
                "Unsupported parameters",
            ),
            (
                {
                    "device_management_partners": [
                        {
                            "display_name": "A",
                            "groups_requiring_partner_enrollment": [{"type": "all_devices"}, {"type": "all_devices"}],
                        }
                    ]
                },
                "lists the same target twice",
            ),
        ],
    )
    def test_bad_objects_fail_before_any_request(self, baseline, message):
        client = tenant()
        # A valid kind first: validation of everything still happens before its list request.
        baseline = dict({"remote_assistance_partners": [{"display_name": "TeamViewer"}]}, **baseline)
        with pytest.raises(GraphOptionError, match=message.replace("[", r"\[").replace("]", r"\]")):
            run(client, baseline)
        assert client.calls == []


class TestAudit:
    def test_one_list_per_managed_kind_and_no_write(self):
        client = tenant(
            **{PARTNERS: [jamf(partnerState="unresponsive"), {"id": "p-old", "displayName": "Old partner"}]}
        )
        result = run(client, BASELINE, mode="audit")
        assert client.writes == []
        assert [call[1] for call in client.calls if call[0] == "list" and call[1] != "groups"] == [PARTNERS, MTD]
        # Each list asks for the declared properties only.
        assert all(call[2]["$select"].startswith("id,") for call in client.calls if call[0] == "list")
        # The lists and the group name lookup are one read_many (one round of batches).
        assert [[read.path for read in reads] for reads in client.read_many_calls] == [[PARTNERS, MTD, "groups"]]
        assert result["drift"] == [
            {
                "kind": "device_management_partners",
                "object": "Jamf Pro",
                "id": "p-jamf",
                "status": "drift",
                "property": "partner_state",
                "current": "unresponsive",
                "desired": "enabled",
            },
            {
                "kind": "device_management_partners",
                "object": "Jamf Pro",
                "id": "p-jamf",
                "status": "drift",
                "property": "groups_requiring_partner_enrollment",
                "current": [],
                "desired": [{"type": "group", "group_id": SALES}],
            },
            {
                "kind": "device_management_partners",
                "object": "Old partner",
                "id": "p-old",
                "status": "unmanaged",
                "property": "state",
                "current": "present",
                "desired": None,
            },
            {
                "kind": "mobile_threat_defense_connectors",
                "object": MTD_ID,
                "id": MTD_ID,
                "status": "missing",
                "property": "state",
                "current": "absent",
                "desired": "present",
            },
        ]
        assert result["counts"] == {"drift": 2, "missing": 1, "unmanaged": 1, "error": 0}
        assert result["kinds"] == ["device_management_partners", "mobile_threat_defense_connectors"]
        assert result["changed"] is True

    def test_audit_with_prune_still_writes_nothing(self):
        client = tenant(**{PARTNERS: [jamf(), {"id": "p-old", "displayName": "Old"}]})
        result = run(client, BASELINE, mode="audit", prune=True)
        assert client.writes == []
        assert result["drift"][-2]["desired"] == "absent"


class TestApply:
    def test_converges_then_changes_nothing(self):
        client = tenant(**{PARTNERS: [jamf(partnerState="unresponsive"), {"id": "p-old", "displayName": "Old"}]})
        first = run(client, BASELINE)
        assert [(call[0], call[1]) for call in client.writes] == [("update", f"{PARTNERS}/p-jamf"), ("create", MTD)]
        assert client.writes[1][2] == {"androidEnabled": True, "id": MTD_ID}
        assert first["changed"] is True
        client.calls.clear()
        second = run(client, BASELINE)
        assert client.writes == []
        assert second["changed"] is False
        assert [row["status"] for row in second["drift"]] == ["unmanaged"]  # never deleted without prune

    def test_prune_deletes_what_the_baseline_does_not_list(self):
        client = tenant(
            **{
                PARTNERS: [jamf(), {"id": "p-old", "displayName": "Old"}],
                MTD: [{"id": MTD_ID, "androidEnabled": True}, {"id": "other-mtd"}],
            }
        )
        result = run(
            client,
            {
                "device_management_partners": [{"display_name": "Jamf Pro"}],
                "mobile_threat_defense_connectors": [{"id": MTD_ID}],
            },
            prune=True,
        )
        assert sorted(call[1] for call in client.writes) == [f"{PARTNERS}/p-old", f"{MTD}/other-mtd"]
        assert result["counts"]["unmanaged"] == 2

    def test_check_mode_predicts_without_writing(self):
        client = tenant(**{PARTNERS: [{"id": "p-old", "displayName": "Old"}]})
        result = run(client, BASELINE, prune=True, check_mode=True)
        assert client.writes == []
        assert result["changed"] is True
        assert result["counts"] == {"drift": 0, "missing": 2, "unmanaged": 1, "error": 0}

    def test_state_absent_object(self):
        client = tenant(**{REMOTE: [{"id": "r1", "displayName": "TeamViewer", "onboardingStatus": "onboarded"}]})
        result = run(client, {"remote_assistance_partners": [{"display_name": "TeamViewer", "state": "absent"}]})
        assert client.writes == [("delete", f"{REMOTE}/r1", None)]
        assert result["drift"] == [
            {
                "kind": "remote_assistance_partners",
                "object": "TeamViewer",
                "id": "r1",
                "status": "drift",
                "property": "state",
                "current": "present",
                "desired": "absent",
            }
        ]

    def test_actions_run_on_match_and_after_create(self):
        client = tenant()
        run(client, {"remote_assistance_partners": [{"display_name": "TeamViewer", "onboarding": "started"}]})
        assert [call[0] for call in client.writes] == ["create", "action"]
        assert client.writes[1][1].endswith("/beginOnboarding")


class TestMatching:
    def test_ambiguous_name(self):
        client = tenant(**{PARTNERS: [jamf(), jamf(id="p-jamf-2")]})
        with pytest.raises(
            ResourceError,
            match=r"baseline.device_management_partners\[0\] \(Jamf Pro\): 2 device management partners are named",
        ):
            run(client, BASELINE)
        assert client.writes == []

    def test_two_entries_for_one_object(self):
        client = tenant(**{PARTNERS: [jamf()]})
        baseline = {"device_management_partners": [{"display_name": "Jamf Pro"}, {"id": "P-JAMF"}]}
        with pytest.raises(ResourceError, match="name the same object"):
            run(client, baseline)

    def test_unknown_id_of_a_named_kind(self):
        client = tenant()
        with pytest.raises(ResourceError, match="no device management partner has id p-gone"):
            run(client, {"device_management_partners": [{"id": "p-gone", "display_name": "X"}]})
        assert client.writes == []

    def test_group_names_resolve_once_per_tenant(self):
        client = tenant()
        target = [{"type": "group", "group_display_name": "Sales"}]
        baseline = {
            "device_management_partners": [{"display_name": "Jamf Pro", "groups_requiring_partner_enrollment": target}],
            "compliance_management_partners": [
                {"display_name": "C", "ios_enrollment_assignments": target, "android_enrollment_assignments": target}
            ],
        }
        run(client, baseline, mode="audit")
        assert [call[1] for call in client.calls if call[1] == "groups"] == ["groups"]


def test_export_is_portable():
    client = tenant(
        **{
            PARTNERS: [
                jamf(
                    groupsRequiringPartnerEnrollment=[
                        {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": SALES}}
                    ]
                )
            ],
            REMOTE: [
                {
                    "id": "r1",
                    "displayName": "TeamViewer",
                    "onboardingUrl": "https://example.test",
                    "onboardingStatus": "onboarded",
                }
            ],
            MTD: [{"id": MTD_ID, "androidEnabled": True, "partnerState": "enabled"}],
        }
    )
    result = run(client, mode="export")
    assert client.writes == []
    assert result["baseline"] == {
        "device_management_partners": [
            {
                "display_name": "Jamf Pro",
                "partner_state": "enabled",
                "is_configured": True,
                "groups_requiring_partner_enrollment": [{"type": "group", "group_display_name": "Sales"}],
            }
        ],
        "compliance_management_partners": [],
        "remote_assistance_partners": [
            {"display_name": "TeamViewer", "onboarding_url": "https://example.test", "onboarding": "started"}
        ],
        "mobile_threat_defense_connectors": [{"id": MTD_ID, "android_enabled": True}],
    }
    # The export applies back: audit of the same tenant finds nothing but a clean state.
    assert run(client, result["baseline"], mode="audit")["drift"] == []


def test_export_names_the_groups_of_every_kind_in_one_read():
    group = {"@odata.type": "#microsoft.graph.groupAssignmentTarget"}
    client = tenant(
        **{
            PARTNERS: [jamf(groupsRequiringPartnerEnrollment=[{"target": dict(group, groupId=SALES)}])],
            COMPLIANCE: [
                {
                    "id": "c1",
                    "displayName": "C",
                    "iosEnrollmentAssignments": [{"target": dict(group, groupId=MARKETING)}],
                }
            ],
            "groups": [{"id": SALES, "displayName": "Sales"}, {"id": MARKETING, "displayName": "Marketing"}],
        }
    )
    result = run(client, mode="export")
    # One read_many for the four lists, one for both kinds' groups; describing the kinds reads nothing more.
    assert [[read.path for read in reads] for reads in client.read_many_calls] == [
        [PARTNERS, COMPLIANCE, REMOTE, MTD],
        [f"groups/{SALES}", f"groups/{MARKETING}"],
    ]
    assert result["baseline"]["compliance_management_partners"][0]["ios_enrollment_assignments"] == [
        {"type": "group", "group_display_name": "Marketing"}
    ]


ONLY_IN_A = [{"type": "group", "group_display_name": "Only in A"}]


class TestProblemsOfOneObject:
    """A part of the baseline that this tenant cannot resolve never hides the rest of the tenant."""

    def baseline(self):
        return {
            "device_management_partners": [
                {"display_name": "Jamf Pro", "groups_requiring_partner_enrollment": ONLY_IN_A},
                {
                    "display_name": "Intune partner",
                    "groups_requiring_partner_enrollment": ONLY_IN_A
                    + [{"type": "group", "group_display_name": "Nowhere"}],
                },
            ],
            "mobile_threat_defense_connectors": [{"id": MTD_ID, "android_enabled": True}],
        }

    def test_audit_reports_an_error_entry_and_audits_everything_else(self):
        client = tenant(**{PARTNERS: [jamf()], MTD: [{"id": MTD_ID, "androidEnabled": False}]})
        result = run(client, self.baseline(), mode="audit")
        assert client.writes == []
        errors = [row for row in result["drift"] if row["status"] == "error"]
        assert [(row["kind"], row["object"], row["property"], row["desired"]) for row in errors] == [
            ("device_management_partners", "Jamf Pro", "groups_requiring_partner_enrollment", "Only in A"),
            ("device_management_partners", "Intune partner", "groups_requiring_partner_enrollment", "Only in A"),
            ("device_management_partners", "Intune partner", "groups_requiring_partner_enrollment", "Nowhere"),
        ]
        assert errors[0]["id"] == "p-jamf"
        assert errors[0]["message"].startswith("baseline.device_management_partners[0] (Jamf Pro): ")
        assert "no group is named 'Only in A' in this tenant" in errors[0]["message"]
        # The MTD connector's drift is still reported.
        drift = [row for row in result["drift"] if row["status"] == "drift"]
        assert [(row["kind"], row["property"], row["current"], row["desired"]) for row in drift] == [
            ("mobile_threat_defense_connectors", "android_enabled", False, True)
        ]
        assert result["counts"] == {"drift": 1, "missing": 0, "unmanaged": 0, "error": 3}

    def test_apply_writes_nothing_and_lists_every_unresolvable_value(self):
        client = tenant(**{PARTNERS: [jamf()], MTD: [{"id": MTD_ID, "androidEnabled": False}]})
        with pytest.raises(ResourceError) as failure:
            run(client, self.baseline())
        assert client.writes == []
        message = str(failure.value)
        assert message.startswith("nothing was written to this tenant: 3 part(s) of the baseline")
        for part in ("[0] (Jamf Pro)", "[1] (Intune partner)", "'Only in A'", "'Nowhere'"):
            assert part in message
        assert [problem["desired"] for problem in failure.value.details["problems"]] == [
            "Only in A",
            "Only in A",
            "Nowhere",
        ]

    def test_a_kind_graph_refuses_to_list_is_one_error_entry(self):
        client = tenant(**{MTD: [{"id": MTD_ID, "androidEnabled": False}]})
        forbidden = GraphError("GET /v1.0/deviceManagement/deviceManagementPartners failed: HTTP 403", status=403)
        original = client.list

        def list_or_refuse(path, params=None, version=None):
            if path == PARTNERS:
                raise forbidden
            return original(path, params, version)

        client.list = list_or_refuse
        result = run(client, {"device_management_partners": [{"display_name": "Jamf Pro"}], **MTD_BASELINE}, "audit")
        assert [(row["kind"], row["object"], row["status"]) for row in result["drift"]] == [
            ("device_management_partners", None, "error"),
            ("mobile_threat_defense_connectors", MTD_ID, "drift"),
        ]
        assert "HTTP 403" in result["drift"][0]["message"]


MTD_BASELINE = {"mobile_threat_defense_connectors": [{"id": MTD_ID, "android_enabled": True}]}


class TestDiff:
    def test_before_and_after_of_every_changed_object_keyed_by_kind_and_object(self):
        client = tenant(
            **{
                PARTNERS: [jamf(partnerState="unresponsive"), {"id": "p-old", "displayName": "Old"}],
                MTD: [{"id": MTD_ID, "androidEnabled": True}],
            }
        )
        baseline = {
            "device_management_partners": [{"display_name": "Jamf Pro", "partner_state": "enabled"}],
            "remote_assistance_partners": [{"display_name": "TeamViewer"}],
            **MTD_BASELINE,
        }
        result = run(client, baseline, prune=True, check_mode=True)
        before, after = result["diff"]["before"], result["diff"]["after"]
        assert before["device_management_partners"]["Jamf Pro"]["partner_state"] == "unresponsive"
        assert after["device_management_partners"]["Jamf Pro"]["partner_state"] == "enabled"
        assert "Old" in before["device_management_partners"] and "Old" not in after["device_management_partners"]
        assert "TeamViewer" in after["remote_assistance_partners"] and "remote_assistance_partners" not in before
        # An object in line with the baseline is in neither.
        assert "mobile_threat_defense_connectors" not in before and "mobile_threat_defense_connectors" not in after


class TestModes:
    def test_validate_needs_no_tenant(self):
        result = TenantBaseline(None).run({"baseline": BASELINE, "mode": "validate"})
        assert result == {"changed": False, "kinds": list(BASELINE), "objects": 2}

    def test_validate_finds_a_typo_with_its_path(self):
        baseline = {"device_management_partners": [{"display_name": "A"}, {"display_name": "B", "partner_sate": "x"}]}
        with pytest.raises(GraphOptionError, match=r"^baseline.device_management_partners\[1\]: Unsupported"):
            TenantBaseline(None).run({"baseline": baseline, "mode": "validate"})

    def test_health_only_in_an_audit(self):
        with pytest.raises(GraphOptionError, match="health is judged by mode=audit or mode=health only"):
            run_with_health(tenant(), mode="apply")

    def test_audit_with_health_reads_everything_in_one_read_many(self):
        client = tenant(**{PARTNERS: [jamf(lastHeartbeatDateTime="2000-01-01T00:00:00Z")]})
        result = run_with_health(client, mode="audit")
        assert len(client.read_many_calls) == 1
        paths = [read.path for read in client.read_many_calls[0]]
        # The partners' list serves drift and health alike; the other health kinds are read beside it.
        assert paths.count(PARTNERS) == 1
        assert "deviceAppManagement/vppTokens" in paths and "groups" in paths
        heartbeat = [f for f in result["health"]["findings"] if f["kind"] == "device_management_partners"]
        assert ("heartbeat", "stale") in [(f["check"], f["status"]) for f in heartbeat]


def test_health_mode_reads_only_the_health_kinds_and_needs_no_baseline():
    client = tenant(**{PARTNERS: [jamf(lastHeartbeatDateTime="2000-01-01T00:00:00Z")]})
    client.settings = type("Settings", (), {"api_version": "v1.0"})()
    result = TenantBaseline(client).run({"baseline": None, "mode": "health", "prune": False, "health": None})
    assert set(result) == {"changed", "health"} and result["changed"] is False
    assert len(client.read_many_calls) == 1 and "groups" not in [read.path for read in client.read_many_calls[0]]
    assert len(client.read_many_calls[0]) == 11  # every kind, with the default options
    assert client.writes == []
    assert ("heartbeat", "stale") in [(f["check"], f["status"]) for f in result["health"]["findings"]]


def run_with_health(client, mode):
    params = {"baseline": BASELINE, "mode": mode, "prune": False, "health": {"stale_after_hours": 24}}
    client.settings = type("Settings", (), {"api_version": "v1.0"})()
    return TenantBaseline(client).run(params, check_mode=mode == "audit")


@pytest.mark.parametrize(
    "health, message",
    [
        ({"expiry_warning_days": "soon"}, "expiry_warning_days"),
        ({"kinds": ["vpp_token"]}, "vpp_token"),
        ({"colour": "red"}, "Unsupported parameters for (msgraph.intune.connector_health) module: colour"),
        ({"expiry_warning_days": 5, "expiry_critical_days": 9}, "must not be above expiry_warning_days"),
    ],
)
def test_bad_health_options_fail_before_any_request(health, message):
    client = tenant()
    params = {"baseline": BASELINE, "mode": "audit", "prune": False, "health": health}
    with pytest.raises(GraphOptionError, match=re.escape(message)):
        TenantBaseline(client).run(params, check_mode=True)
    assert client.calls == []
