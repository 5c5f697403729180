# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connector family's declarations: option names and Graph names as v1.0 documents them, and their few rules."""

from __future__ import annotations

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._compliance_management_partner import (
    RESOURCE as COMPLIANCE,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import Engine
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._mobile_threat_defense_connector import RESOURCE as MTD
from ansible_collections.msgraph.intune.plugins.module_utils._remote_assistance_partner import (
    RESOURCE as REMOTE_ASSISTANCE,
)

from tests.unit.plugins.module_utils.fake_graph import FakeGraph


def aliases(resource):
    spec = resource.argument_spec()
    return {option: spec[option].get("aliases", [option])[0] for option in spec if option not in ("id", "state")}


def test_compliance_partner_options():
    assert aliases(COMPLIANCE) == {
        "display_name": "displayName",
        "partner_state": "partnerState",
        "android_onboarded": "androidOnboarded",
        "ios_onboarded": "iosOnboarded",
        "mac_os_onboarded": "macOsOnboarded",
        "android_enrollment_assignments": "androidEnrollmentAssignments",
        "ios_enrollment_assignments": "iosEnrollmentAssignments",
        "mac_os_enrollment_assignments": "macOsEnrollmentAssignments",
    }
    assert COMPLIANCE.result_key == "partner" and COMPLIANCE.list_key == "partners"
    assert COMPLIANCE.by_option["last_heartbeat_date_time"].settable is False
    assert COMPLIANCE.info_argument_spec()["portable"]["aliases"] == ["group_names"]


def test_remote_assistance_partner_options():
    spec = REMOTE_ASSISTANCE.argument_spec()
    assert aliases(REMOTE_ASSISTANCE) == {
        "display_name": "displayName",
        "onboarding_url": "onboardingUrl",
        "onboarding": "onboarding",
    }
    assert spec["onboarding"] == {"type": "str", "choices": ["started", "disconnected"]}
    assert spec["state"]["choices"] == ["present", "absent"]
    # No group targets, so no group_names alias; portable drops its tenant-specific ids all the same.
    assert REMOTE_ASSISTANCE.info_argument_spec()["portable"] == {"type": "bool", "default": False}


def test_mobile_threat_defense_connector_options():
    spec = MTD.argument_spec()
    assert spec["id"] == {"type": "str", "required": True}
    assert spec["allow_partner_to_collect_ios_application_metadata"]["aliases"] == [
        "allowPartnerToCollectIOSApplicationMetadata"
    ]
    assert spec["allow_partner_to_collect_ios_personal_application_metadata"]["aliases"] == [
        "allowPartnerToCollectIOSPersonalApplicationMetadata"
    ]
    assert spec["partner_unresponsiveness_threshold_in_days"] == {
        "type": "int",
        "aliases": ["partnerUnresponsivenessThresholdInDays"],
    }
    assert "partner_state" not in spec and "last_heartbeat_date_time" not in spec
    assert "display_name" not in MTD.info_argument_spec()
    assert (MTD.result_key, MTD.list_key) == ("connector", "connectors")


def test_negative_threshold_is_rejected_before_any_request():
    client = FakeGraph()
    params = {option: None for option in MTD.argument_spec()}
    params.update(
        id="fc780465-2017-40d4-a0c5-307022471b92", state="present", partner_unresponsiveness_threshold_in_days=-1
    )
    with pytest.raises(GraphOptionError, match="partner_unresponsiveness_threshold_in_days must be between 0 and"):
        Engine(MTD, client).ensure(params)
    assert client.calls == []


@pytest.mark.parametrize(
    "status, exported",
    [("notOnboarded", "disconnected"), ("onboarding", "started"), ("onboarded", "started"), (None, None)],
)
def test_remote_assistance_export_carries_the_onboarding_it_shows(status, exported):
    view = REMOTE_ASSISTANCE.view({"id": "r1", "displayName": "TeamViewer", "onboardingStatus": status})
    entry = REMOTE_ASSISTANCE.export(view)
    assert entry.get("onboarding") == exported
    assert "onboarding_status" not in entry and "last_connection_date_time" not in entry


@pytest.mark.parametrize(
    "status, action, expected_status",
    [
        ("notOnboarded", "beginOnboarding", "onboarding"),
        ("onboarding", None, "onboarding"),
        ("onboarded", None, "onboarded"),
    ],
)
def test_onboarding_started(status, action, expected_status):
    client = FakeGraph(
        {REMOTE_ASSISTANCE.collection: [{"id": "r1", "displayName": "TeamViewer", "onboardingStatus": status}]},
        actions={"beginOnboarding": lambda obj: obj.update(onboardingStatus="onboarding")},
    )
    params = {option: None for option in REMOTE_ASSISTANCE.argument_spec()}
    params.update(display_name="TeamViewer", state="present", onboarding="started")
    result = Engine(REMOTE_ASSISTANCE, client).ensure(params)
    assert [call[1].rsplit("/", 1)[1] for call in client.writes] == ([action] if action else [])
    assert result["partner"]["onboarding_status"] == expected_status
    assert result["changed"] is bool(action)
