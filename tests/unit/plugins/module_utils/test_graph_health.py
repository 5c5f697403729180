# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connector health rules against a fixed clock: every rule of every kind at its edges, the thresholds' validation,
the summary, and the findings of a kind that is not set up or cannot be read.

Objects are written as Graph returns them (camelCase); the expected status, severity and days_left are written out
here, days_left computed from the dates with the test's own arithmetic, never taken from the code under test.
"""

from __future__ import annotations

import datetime
import math

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._graph_batch import ReadResult
from ansible_collections.msgraph.intune.plugins.module_utils._graph_client import graph_error
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphError,
    GraphOptionError,
    GraphThrottledError,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_health import HealthCheck

from tests.unit.conftest import build_response

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)
NEVER = "0001-01-01T00:00:00Z"  # what Graph returns for a date that was never set
SERVICE_CONFIG = "DeviceManagementServiceConfig.Read.All"
CONFIGURATION = "DeviceManagementConfiguration.Read.All"

# Written out from the table: kind -> (singleton, Graph version it lives in when pinned, read permissions).
KINDS = {
    "device_management_partners": (False, None, (SERVICE_CONFIG,)),
    "compliance_management_partners": (False, None, (SERVICE_CONFIG,)),
    "remote_assistance_partners": (False, None, (SERVICE_CONFIG,)),
    "mobile_threat_defense_connectors": (False, None, (SERVICE_CONFIG,)),
    "apple_push_notification_certificate": (True, None, (SERVICE_CONFIG,)),
    "vpp_tokens": (False, None, (SERVICE_CONFIG, "DeviceManagementApps.Read.All")),
    "dep_onboarding_settings": (False, "beta", (SERVICE_CONFIG,)),
    "ndes_connectors": (False, "beta", (CONFIGURATION,)),
    "exchange_connectors": (False, None, (SERVICE_CONFIG,)),
    "managed_google_play": (True, "beta", (CONFIGURATION,)),
    "windows_autopilot_settings": (True, "beta", (SERVICE_CONFIG,)),
}


def iso(moment):
    """A DateTimeOffset as Graph writes it: UTC, 7 fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def ago(delta):
    return iso(NOW - delta)


def ahead(delta):
    return iso(NOW + delta)


def whole_days(delta):
    """days_left as the contract gives it: whole days until the date, rounded down (so negative once past)."""
    return math.floor(delta.total_seconds() / 86400)


def check(params=None, kinds=None):
    params = dict(params or {})
    if kinds is not None:
        params["kinds"] = kinds
    return HealthCheck(params, clock=lambda: NOW)


def judge(kind, value, task_version="v1.0", **params):
    """The result of judging one kind whose read gave `value` (a list, an object, or a ReadResult)."""
    result = value if isinstance(value, ReadResult) else ReadResult(value)
    return check(params, [kind]).judge({kind: result}, task_version)


def verdicts(kind, obj, **params):
    """(check, status, severity) of the findings of one object, in the order given."""
    value = obj if KINDS[kind][0] else [obj]
    return [(f["check"], f["status"], f["severity"]) for f in judge(kind, value, **params)["findings"]]


def only(result, wanted_check):
    found = [f for f in result["findings"] if f["check"] == wanted_check]
    assert len(found) == 1, result["findings"]
    return found[0]


# -- objects that are healthy in every other respect ------------------------------------------------------------------


def partner(**changes):
    obj = {
        "id": "dmp-1",
        "displayName": "Jamf Pro",
        "partnerState": "enabled",
        "isConfigured": True,
        "lastHeartbeatDateTime": ago(HOUR),
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": None,
        "whenPartnerDevicesWillBeRemovedDateTime": None,
    }
    obj.update(changes)
    return obj


def compliance(**changes):
    obj = {
        "id": "cmp-1",
        "displayName": "Jamf compliance",
        "partnerState": "enabled",
        "lastHeartbeatDateTime": ago(HOUR),
        "androidOnboarded": False,
        "iosOnboarded": False,
        "macOsOnboarded": True,
    }
    obj.update(changes)
    return obj


def assistance(**changes):
    obj = {
        "id": "rap-1",
        "displayName": "TeamViewer",
        "onboardingStatus": "onboarded",
        "lastConnectionDateTime": ago(HOUR),
    }
    obj.update(changes)
    return obj


def mtd(**changes):
    obj = {
        "id": "fc780465-2017-40d4-a0c5-307022471b92",
        "partnerState": "enabled",
        "lastHeartbeatDateTime": ago(HOUR),
        "partnerUnresponsivenessThresholdInDays": 7,
    }
    obj.update(changes)
    return obj


def apns(**changes):
    obj = {
        "id": "apns-1",
        "appleIdentifier": "mdm@contoso.com",
        "topicIdentifier": "com.apple.mgmt.External.1",
        "expirationDateTime": ahead(200 * DAY),
        "lastModifiedDateTime": ago(165 * DAY),
        "certificateUploadStatus": "success",
    }
    obj.update(changes)
    return obj


def vpp(**changes):
    obj = {
        "id": "vpp-1",
        "organizationName": "Contoso",
        "appleId": "vpp@contoso.com",
        "vppTokenAccountType": "business",
        "state": "valid",
        "expirationDateTime": ahead(200 * DAY),
        "lastSyncDateTime": ago(HOUR),
        "lastSyncStatus": "completed",
    }
    obj.update(changes)
    return obj


def ade(**changes):
    obj = {
        "id": "dep-1",
        "tokenName": "Contoso ADE",
        "appleIdentifier": "ade@contoso.com",
        "tokenExpirationDateTime": ahead(200 * DAY),
        "lastSuccessfulSyncDateTime": ago(HOUR),
        "lastSyncErrorCode": 0,
    }
    obj.update(changes)
    return obj


def ndes(**changes):
    obj = {
        "id": "ndes-1",
        "displayName": "NDES 1",
        "machineName": "pki01.contoso.com",
        "state": "active",
        "lastConnectionDateTime": ago(HOUR),
        "connectorVersion": "6.2406.0.1001",
    }
    obj.update(changes)
    return obj


def exchange(**changes):
    obj = {
        "id": "exch-1",
        "serverName": "exch01.contoso.com",
        "status": "connected",
        "lastSyncDateTime": ago(HOUR),
        "version": "15.2.1118.7",
    }
    obj.update(changes)
    return obj


def google_play(**changes):
    obj = {
        "id": "gp-1",
        "bindStatus": "boundAndValidated",
        "lastAppSyncDateTime": ago(HOUR),
        "lastAppSyncStatus": "success",
        "ownerOrganizationName": "Contoso",
    }
    obj.update(changes)
    return obj


def autopilot(**changes):
    obj = {"id": "ap-1", "syncStatus": "completed", "lastSyncDateTime": ago(HOUR)}
    obj.update(changes)
    return obj


# -- dates that end something -----------------------------------------------------------------------------------------

# (kind, Graph property, a healthy object with that property replaced)
EXPIRY_DATES = [
    ("apple_push_notification_certificate", "expirationDateTime", apns),
    ("vpp_tokens", "expirationDateTime", vpp),
    ("dep_onboarding_settings", "tokenExpirationDateTime", ade),
]
# (offset from now, status, severity), with the default windows of 30 and 7 days.
EXPIRY_EDGES = [
    (-2000 * DAY, "expired", "critical"),
    (-(DAY + 12 * HOUR), "expired", "critical"),
    (-SECOND, "expired", "critical"),
    (datetime.timedelta(0), "expired", "critical"),
    (SECOND, "expiring", "critical"),
    (5 * DAY, "expiring", "critical"),
    (7 * DAY, "expiring", "critical"),
    (7 * DAY + SECOND, "expiring", "warning"),
    (20 * DAY, "expiring", "warning"),
    (30 * DAY, "expiring", "warning"),
    (30 * DAY + SECOND, "healthy", "ok"),
    (400 * DAY, "healthy", "ok"),
]
EDGE_IDS = [
    "2000-days-ago",
    "36-hours-ago",
    "one-second-ago",
    "now",
    "in-one-second",
    "in-5-days",
    "at-critical-edge",
    "past-critical-edge",
    "in-20-days",
    "at-warning-edge",
    "past-warning-edge",
    "in-400-days",
]


@pytest.mark.parametrize(("kind", "graph_name", "make"), EXPIRY_DATES, ids=[e[0] for e in EXPIRY_DATES])
@pytest.mark.parametrize(("offset", "status", "severity"), EXPIRY_EDGES, ids=EDGE_IDS)
def test_an_end_date_is_judged_at_every_edge(kind, graph_name, make, offset, status, severity):
    value = iso(NOW + offset)
    obj = make(**{graph_name: value})
    result = judge(kind, obj if KINDS[kind][0] else [obj])
    finding = only(result, "expiry")
    assert (finding["status"], finding["severity"]) == (status, severity)
    assert finding["days_left"] == whole_days(offset)
    assert finding["value"] == value
    assert finding["id"] == obj["id"]
    if status == "expired":
        assert " expired on " in finding["message"] and "ago" in finding["message"]
    else:
        assert " expires on " in finding["message"]


@pytest.mark.parametrize(("kind", "graph_name", "make"), EXPIRY_DATES, ids=[e[0] for e in EXPIRY_DATES])
def test_end_dates_keep_graphs_seven_digits_and_any_offset(kind, graph_name, make):
    def expiry_of(value):
        obj = make(**{graph_name: value})
        return only(judge(kind, obj if KINDS[kind][0] else [obj]), "expiry")

    # 100 ns either side of now: the last tick still counts, Graph's seventh digit is not rounded away.
    just_past = expiry_of("2026-06-15T11:59:59.9999999Z")
    assert (just_past["status"], just_past["days_left"]) == ("expired", -1)
    just_ahead = expiry_of("2026-06-15T12:00:00.0000001Z")
    assert (just_ahead["status"], just_ahead["severity"], just_ahead["days_left"]) == ("expiring", "critical", 0)
    # The critical edge written in another offset is the same instant.
    at_edge = expiry_of("2026-06-22T14:00:00+02:00")
    assert (at_edge["status"], at_edge["severity"], at_edge["days_left"]) == ("expiring", "critical", 7)
    past_edge = expiry_of("2026-06-22T14:00:01+02:00")
    assert (past_edge["status"], past_edge["severity"]) == ("expiring", "warning")


@pytest.mark.parametrize(("kind", "graph_name", "make"), EXPIRY_DATES, ids=[e[0] for e in EXPIRY_DATES])
@pytest.mark.parametrize("unset", [None, NEVER, "0001-01-01T00:00:00.0000000Z"], ids=["null", "never", "never-7"])
def test_an_end_date_that_graph_does_not_give_is_a_warning(kind, graph_name, make, unset):
    obj = make(**{graph_name: unset})
    finding = only(judge(kind, obj if KINDS[kind][0] else [obj]), "expiry")
    assert (finding["status"], finding["severity"], finding["days_left"]) == ("unhealthy", "warning", None)
    assert "no date" in finding["message"]


@pytest.mark.parametrize(
    ("warning_days", "critical_days", "offset", "status", "severity"),
    [
        (60, 14, 10 * DAY, "expiring", "critical"),
        (60, 14, 14 * DAY, "expiring", "critical"),
        (60, 14, 14 * DAY + SECOND, "expiring", "warning"),
        (60, 14, 45 * DAY, "expiring", "warning"),
        (60, 14, 60 * DAY + SECOND, "healthy", "ok"),
        (7, 7, 7 * DAY, "expiring", "critical"),
        (7, 7, 7 * DAY + SECOND, "healthy", "ok"),
        (0, 0, SECOND, "healthy", "ok"),
        (0, 0, -SECOND, "expired", "critical"),
    ],
)
def test_the_expiry_windows_are_the_tasks(warning_days, critical_days, offset, status, severity):
    params = {"expiry_warning_days": warning_days, "expiry_critical_days": critical_days}
    finding = only(
        judge("apple_push_notification_certificate", apns(expirationDateTime=iso(NOW + offset)), **params), "expiry"
    )
    assert (finding["status"], finding["severity"], finding["days_left"]) == (status, severity, whole_days(offset))


def test_the_push_certificate_names_its_apple_id_and_what_a_lapse_costs():
    finding = only(judge("apple_push_notification_certificate", apns(expirationDateTime=ahead(5 * DAY))), "expiry")
    assert finding["name"] == "mdm@contoso.com"
    assert "mdm@contoso.com" in finding["message"] and "every Apple device must enroll again" in finding["message"]
    assert "2026-06-20 12:00 UTC" in finding["message"]


# -- times something last happened ------------------------------------------------------------------------------------

# (kind, Graph property, check, an object that is healthy but for that time)
LAST_TIMES = [
    ("device_management_partners", "lastHeartbeatDateTime", "heartbeat", partner),
    ("compliance_management_partners", "lastHeartbeatDateTime", "heartbeat", compliance),
    ("remote_assistance_partners", "lastConnectionDateTime", "heartbeat", assistance),
    (
        "remote_assistance_partners",
        "lastConnectionDateTime",
        "state",
        lambda **changes: assistance(onboardingStatus="onboarding", **changes),
    ),
    (
        "mobile_threat_defense_connectors",
        "lastHeartbeatDateTime",
        "heartbeat",
        lambda **changes: mtd(partnerUnresponsivenessThresholdInDays=None, **changes),
    ),
    ("vpp_tokens", "lastSyncDateTime", "sync", vpp),
    ("dep_onboarding_settings", "lastSuccessfulSyncDateTime", "sync", ade),
    ("ndes_connectors", "lastConnectionDateTime", "heartbeat", ndes),
    ("exchange_connectors", "lastSyncDateTime", "sync", exchange),
    ("windows_autopilot_settings", "lastSyncDateTime", "sync", autopilot),
]
LAST_TIME_IDS = [
    "partner-heartbeat",
    "compliance-heartbeat",
    "assistance-connection",
    "assistance-onboarding",
    "mtd-heartbeat",
    "vpp-sync",
    "ade-sync",
    "ndes-connection",
    "exchange-sync",
    "autopilot-sync",
]
# (value, status) with the default window of 24 hours.
STALE_EDGES = [
    (ago(HOUR), "healthy"),
    (ago(24 * HOUR), "healthy"),
    (ago(24 * HOUR + SECOND), "stale"),
    (ago(2000 * DAY), "stale"),
    (ahead(HOUR), "healthy"),  # a clock a little ahead of ours is not stale
    (None, "stale"),
    (NEVER, "stale"),
]
STALE_IDS = ["an-hour-ago", "at-the-edge", "past-the-edge", "2000-days-ago", "ahead", "null", "never"]


def last_time(kind, wanted_check, make, value, **params):
    obj = make(**{LAST_TIMES_PROPERTY[(kind, wanted_check)]: value})
    return only(judge(kind, obj if KINDS[kind][0] else [obj], **params), wanted_check)


LAST_TIMES_PROPERTY = {(kind, wanted_check): graph_name for kind, graph_name, wanted_check, _make in LAST_TIMES}


@pytest.mark.parametrize(("kind", "graph_name", "wanted_check", "make"), LAST_TIMES, ids=LAST_TIME_IDS)
@pytest.mark.parametrize(("value", "status"), STALE_EDGES, ids=STALE_IDS)
def test_a_last_time_is_stale_past_the_window_or_never(kind, graph_name, wanted_check, make, value, status):
    finding = last_time(kind, wanted_check, make, value)
    expected_severity = "ok" if status == "healthy" else "warning"
    assert (finding["status"], finding["severity"], finding["days_left"]) == (status, expected_severity, None)
    assert finding["value"] == value
    if status == "stale":
        assert ("has never" in finding["message"]) == (value in (None, NEVER)), finding["message"]
        if value not in (None, NEVER):
            assert "longer than the 24 hours allowed" in finding["message"]


@pytest.mark.parametrize(("kind", "graph_name", "wanted_check", "make"), LAST_TIMES, ids=LAST_TIME_IDS)
def test_the_stale_window_is_the_tasks_in_hours_or_by_kind(kind, graph_name, wanted_check, make):
    assert last_time(kind, wanted_check, make, ago(13 * HOUR), stale_after_hours=12)["status"] == "stale"
    assert last_time(kind, wanted_check, make, ago(11 * HOUR), stale_after_hours=12)["status"] == "healthy"
    assert last_time(kind, wanted_check, make, ago(30 * HOUR), stale_after_hours={kind: 48})["status"] == "healthy"
    assert last_time(kind, wanted_check, make, ago(49 * HOUR), stale_after_hours={kind: 48})["status"] == "stale"
    # A dictionary that names another kind leaves this one at 24 hours.
    other = "exchange_connectors" if kind != "exchange_connectors" else "vpp_tokens"
    assert last_time(kind, wanted_check, make, ago(30 * HOUR), stale_after_hours={other: 48})["status"] == "stale"
    # A number as text (what a templated value gives) is a number of hours.
    assert last_time(kind, wanted_check, make, ago(30 * HOUR), stale_after_hours="36")["status"] == "healthy"


# -- the rules of each kind -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (partner(isConfigured=False), [("state", "not_configured", "ok")]),
        (partner(isConfigured=None, partnerState="unresponsive"), [("state", "not_configured", "ok")]),
        (partner(partnerState="unresponsive"), [("state", "unhealthy", "critical"), ("heartbeat", "healthy", "ok")]),
        (partner(partnerState="rejected"), [("state", "unhealthy", "critical"), ("heartbeat", "healthy", "ok")]),
        (partner(), [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok")]),
        (partner(partnerState="terminated"), [("state", "unhealthy", "warning"), ("heartbeat", "healthy", "ok")]),
        (partner(partnerState="unknown"), [("state", "unhealthy", "warning"), ("heartbeat", "healthy", "ok")]),
        (
            partner(lastHeartbeatDateTime=ago(30 * HOUR)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning")],
        ),
    ],
    ids=[
        "not-configured",
        "not-configured-null",
        "unresponsive",
        "rejected",
        "enabled",
        "terminated",
        "unknown",
        "stale",
    ],
)
def test_device_management_partner_rules(obj, expected):
    assert verdicts("device_management_partners", obj) == expected


def test_device_management_partner_deadlines_in_the_future_are_judged_like_end_dates():
    obj = partner(
        whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime=ahead(5 * DAY + 6 * HOUR),
        whenPartnerDevicesWillBeRemovedDateTime=ahead(20 * DAY + 6 * HOUR),
    )
    deadlines = [f for f in judge("device_management_partners", [obj])["findings"] if f["check"] == "expiry"]
    assert [(f["status"], f["severity"], f["days_left"]) for f in deadlines] == [
        ("expiring", "critical", 5),
        ("expiring", "warning", 20),
    ]
    assert "will be marked as non-compliant on 2026-06-20 18:00 UTC" in deadlines[0]["message"]
    assert "will be removed from Intune on 2026-07-05 18:00 UTC" in deadlines[1]["message"]
    assert all("Jamf Pro" in f["message"] for f in deadlines)

    far = partner(whenPartnerDevicesWillBeRemovedDateTime=ahead(90 * DAY))
    removal = only(judge("device_management_partners", [far]), "expiry")
    assert (removal["status"], removal["severity"], removal["days_left"]) == ("healthy", "ok", 90)


@pytest.mark.parametrize(
    "past", [ago(SECOND), ago(300 * DAY), NEVER, None], ids=["second", "long-ago", "never", "null"]
)
def test_device_management_partner_deadlines_that_are_not_ahead_give_no_finding(past):
    obj = partner(
        whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime=past, whenPartnerDevicesWillBeRemovedDateTime=past
    )
    assert [f["check"] for f in judge("device_management_partners", [obj])["findings"]] == ["state", "heartbeat"]


def test_a_partner_that_is_not_configured_is_not_judged_on_its_heartbeat_or_deadlines():
    obj = partner(
        isConfigured=False,
        lastHeartbeatDateTime=None,
        whenPartnerDevicesWillBeRemovedDateTime=ahead(2 * DAY),
    )
    (finding,) = judge("device_management_partners", [obj])["findings"]
    assert (finding["status"], finding["value"], finding["name"]) == ("not_configured", False, "Jamf Pro")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (compliance(partnerState="unknown", macOsOnboarded=False), [("state", "not_configured", "ok")]),
        (compliance(partnerState="unavailable", macOsOnboarded=False), [("state", "not_configured", "ok")]),
        (compliance(partnerState="terminated", macOsOnboarded=False), [("state", "not_configured", "ok")]),
        (
            compliance(partnerState="unresponsive", macOsOnboarded=False, iosOnboarded=True),
            [("state", "unhealthy", "critical"), ("heartbeat", "healthy", "ok")],
        ),
        (
            compliance(partnerState="unresponsive", macOsOnboarded=False),
            [("state", "unhealthy", "critical"), ("heartbeat", "healthy", "ok")],
        ),
        (compliance(), [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok")]),
        (
            compliance(partnerState="unknown", macOsOnboarded=False, androidOnboarded=True),
            [("state", "unhealthy", "warning"), ("heartbeat", "healthy", "ok")],
        ),
        (
            compliance(lastHeartbeatDateTime=ago(2 * DAY)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning")],
        ),
    ],
    ids=[
        "unknown",
        "unavailable",
        "terminated",
        "unresponsive",
        "unresponsive-not-onboarded",
        "enabled",
        "odd",
        "stale",
    ],
)
def test_compliance_partner_rules(obj, expected):
    assert verdicts("compliance_management_partners", obj) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (assistance(onboardingStatus="notOnboarded", lastConnectionDateTime=None), [("state", "not_configured", "ok")]),
        (assistance(), [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok")]),
        (
            assistance(lastConnectionDateTime=ago(2 * DAY)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning")],
        ),
        (assistance(onboardingStatus="onboarding"), [("state", "healthy", "ok")]),
        (
            assistance(onboardingStatus="onboarding", lastConnectionDateTime=ago(2 * DAY)),
            [("state", "stale", "warning")],
        ),
        (assistance(onboardingStatus="onboarding", lastConnectionDateTime=NEVER), [("state", "stale", "warning")]),
    ],
    ids=["not-onboarded", "onboarded", "onboarded-stale", "onboarding", "onboarding-too-long", "onboarding-never"],
)
def test_remote_assistance_partner_rules(obj, expected):
    assert verdicts("remote_assistance_partners", obj) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (mtd(partnerState="unavailable", lastHeartbeatDateTime=None), [("state", "not_configured", "ok")]),
        (mtd(partnerState="notSetUp", lastHeartbeatDateTime=None), [("state", "not_configured", "ok")]),
        (mtd(partnerState="available", lastHeartbeatDateTime=None), [("state", "not_configured", "ok")]),
        (mtd(partnerState="unresponsive"), [("state", "unhealthy", "critical"), ("heartbeat", "healthy", "ok")]),
        (mtd(partnerState="error"), [("state", "unhealthy", "critical"), ("heartbeat", "healthy", "ok")]),
        (mtd(), [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok")]),
        (
            mtd(partnerState="unknownFutureValue"),
            [("state", "unhealthy", "warning"), ("heartbeat", "healthy", "ok")],
        ),
        # Past the connector's own threshold: Intune treats the partner as unresponsive.
        (
            mtd(partnerUnresponsivenessThresholdInDays=2, lastHeartbeatDateTime=ago(2 * DAY + SECOND)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "critical")],
        ),
        (
            mtd(partnerUnresponsivenessThresholdInDays=2, lastHeartbeatDateTime=ago(2 * DAY)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning")],
        ),
        (
            mtd(partnerUnresponsivenessThresholdInDays=7, lastHeartbeatDateTime=ago(30 * HOUR)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning")],
        ),
        (
            mtd(partnerUnresponsivenessThresholdInDays=7, lastHeartbeatDateTime=None),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "critical")],
        ),
        # No threshold of its own (0 or unset): only the stale window applies.
        (
            mtd(partnerUnresponsivenessThresholdInDays=0, lastHeartbeatDateTime=ago(10 * DAY)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning")],
        ),
        (
            mtd(partnerUnresponsivenessThresholdInDays=None, lastHeartbeatDateTime=ago(10 * DAY)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning")],
        ),
    ],
    ids=[
        "unavailable",
        "not-set-up",
        "available",
        "unresponsive",
        "error",
        "enabled",
        "unknown-value",
        "past-own-threshold",
        "at-own-threshold",
        "stale-within-threshold",
        "never-with-threshold",
        "threshold-0",
        "threshold-unset",
    ],
)
def test_mobile_threat_defense_connector_rules(obj, expected):
    assert verdicts("mobile_threat_defense_connectors", obj) == expected


def test_the_mtd_connectors_own_threshold_wins_over_a_longer_stale_window():
    obj = mtd(partnerUnresponsivenessThresholdInDays=1, lastHeartbeatDateTime=ago(30 * HOUR))
    result = judge("mobile_threat_defense_connectors", [obj], stale_after_hours=72)
    heartbeat = only(result, "heartbeat")
    assert (heartbeat["status"], heartbeat["severity"]) == ("stale", "critical")
    assert "threshold of 1 day" in heartbeat["message"]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (vpp(), [("state", "healthy", "ok"), ("expiry", "healthy", "ok"), ("sync", "healthy", "ok")]),
        (
            vpp(state="expired", expirationDateTime=ago(3 * DAY)),
            [("state", "unhealthy", "critical"), ("expiry", "expired", "critical"), ("sync", "healthy", "ok")],
        ),
        (
            vpp(state="invalid"),
            [("state", "unhealthy", "critical"), ("expiry", "healthy", "ok"), ("sync", "healthy", "ok")],
        ),
        (
            vpp(state="assignedToExternalMDM"),
            [("state", "unhealthy", "critical"), ("expiry", "healthy", "ok"), ("sync", "healthy", "ok")],
        ),
        (
            vpp(state="unknown"),
            [("state", "unhealthy", "critical"), ("expiry", "healthy", "ok"), ("sync", "healthy", "ok")],
        ),
        (
            vpp(lastSyncStatus="failed"),
            [("state", "healthy", "ok"), ("expiry", "healthy", "ok"), ("sync", "unhealthy", "warning")],
        ),
        (
            vpp(lastSyncDateTime=ago(2 * DAY)),
            [("state", "healthy", "ok"), ("expiry", "healthy", "ok"), ("sync", "stale", "warning")],
        ),
    ],
    ids=["valid", "expired", "invalid", "external-mdm", "unknown", "sync-failed", "sync-stale"],
)
def test_vpp_token_rules(obj, expected):
    assert verdicts("vpp_tokens", obj) == expected


def test_a_vpp_token_that_is_not_valid_says_a_new_token_is_needed():
    result = judge("vpp_tokens", [vpp(state="expired")])
    state = only(result, "state")
    assert state["value"] == "expired" and state["name"] == "Contoso"
    assert "new token" in state["message"] and "Apple Business Manager" in state["message"]
    failed = only(judge("vpp_tokens", [vpp(lastSyncStatus="failed")]), "sync")
    assert failed["value"] == "failed"
    assert failed["message"].startswith("The last sync of the VPP token of Contoso failed: sync it again")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (ade(), [("expiry", "healthy", "ok"), ("sync", "healthy", "ok")]),
        (ade(lastSyncErrorCode=3), [("expiry", "healthy", "ok"), ("sync", "unhealthy", "warning")]),
        (ade(lastSyncErrorCode=7), [("expiry", "healthy", "ok"), ("sync", "unhealthy", "warning")]),
        (ade(lastSyncErrorCode=None), [("expiry", "healthy", "ok"), ("sync", "healthy", "ok")]),
        (ade(lastSuccessfulSyncDateTime=ago(3 * DAY)), [("expiry", "healthy", "ok"), ("sync", "stale", "warning")]),
    ],
    ids=["ok", "terms", "other-error", "no-code", "stale"],
)
def test_ade_token_rules(obj, expected):
    assert verdicts("dep_onboarding_settings", obj) == expected


def test_ade_error_3_says_the_new_terms_must_be_accepted():
    terms = only(judge("dep_onboarding_settings", [ade(lastSyncErrorCode=3)]), "sync")
    assert terms["value"] == 3 and terms["name"] == "Contoso ADE"
    assert "terms and conditions must be accepted" in terms["message"]
    other = only(judge("dep_onboarding_settings", [ade(lastSyncErrorCode=7)]), "sync")
    assert "error 7" in other["message"] and "terms" not in other["message"]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (ndes(), [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok"), ("version", "healthy", "ok")]),
        (
            ndes(state="inactive"),
            [("state", "unhealthy", "critical"), ("heartbeat", "healthy", "ok"), ("version", "healthy", "ok")],
        ),
        (
            ndes(state="none"),
            [("state", "unhealthy", "warning"), ("heartbeat", "healthy", "ok"), ("version", "healthy", "ok")],
        ),
        (
            ndes(connectorVersion="6.2301.1.0"),
            [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok"), ("version", "unhealthy", "warning")],
        ),
        (
            ndes(connectorVersion="6.2406.0.1000"),
            [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok"), ("version", "unhealthy", "warning")],
        ),
        (
            ndes(connectorVersion="6.10000.0.0"),
            [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok"), ("version", "healthy", "ok")],
        ),
        (
            ndes(connectorVersion="not a version"),
            [("state", "healthy", "ok"), ("heartbeat", "healthy", "ok"), ("version", "unhealthy", "warning")],
        ),
        (
            ndes(lastConnectionDateTime=ago(2 * DAY)),
            [("state", "healthy", "ok"), ("heartbeat", "stale", "warning"), ("version", "healthy", "ok")],
        ),
    ],
    ids=["active", "inactive", "none", "old", "one-below", "numeric-not-text", "unreadable", "stale"],
)
def test_certificate_connector_rules(obj, expected):
    assert verdicts("ndes_connectors", obj) == expected


def test_the_certificate_connector_minimum_is_the_tasks():
    version = only(
        judge("ndes_connectors", [ndes(connectorVersion="6.2501.0.0")], ndes_minimum_version="7.0"), "version"
    )
    assert (version["status"], version["value"]) == ("unhealthy", "6.2501.0.0")
    assert "older than 7.0" in version["message"]
    inactive = only(judge("ndes_connectors", [ndes(state="inactive")]), "state")
    assert "pki01.contoso.com" in inactive["message"] and inactive["name"] == "NDES 1"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (exchange(), [("state", "healthy", "ok"), ("sync", "healthy", "ok")]),
        (exchange(status="disconnected"), [("state", "unhealthy", "critical"), ("sync", "healthy", "ok")]),
        (exchange(status="connectionPending"), [("state", "unhealthy", "warning"), ("sync", "healthy", "ok")]),
        (exchange(lastSyncDateTime=ago(2 * DAY)), [("state", "healthy", "ok"), ("sync", "stale", "warning")]),
    ],
    ids=["connected", "disconnected", "pending", "stale"],
)
def test_exchange_connector_rules(obj, expected):
    assert verdicts("exchange_connectors", obj) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (google_play(bindStatus="notBound", lastAppSyncStatus="none"), [("state", "not_configured", "ok")]),
        (google_play(), [("state", "healthy", "ok"), ("sync", "healthy", "ok")]),
        (google_play(bindStatus="bound"), [("state", "unhealthy", "critical"), ("sync", "healthy", "ok")]),
        (google_play(bindStatus="unbinding"), [("state", "unhealthy", "critical"), ("sync", "healthy", "ok")]),
        (
            google_play(lastAppSyncStatus="credentialsNotValid"),
            [("state", "healthy", "ok"), ("sync", "unhealthy", "warning")],
        ),
        (google_play(lastAppSyncStatus="unknownError"), [("state", "healthy", "ok"), ("sync", "unhealthy", "warning")]),
    ],
    ids=["not-bound", "bound-validated", "bound", "unbinding", "credentials", "unknown-error"],
)
def test_managed_google_play_rules(obj, expected):
    assert verdicts("managed_google_play", obj) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (autopilot(), [("sync", "healthy", "ok")]),
        (autopilot(syncStatus="failed"), [("sync", "unhealthy", "warning")]),
        (autopilot(syncStatus="failed", lastSyncDateTime=ago(DAY * 9)), [("sync", "unhealthy", "warning")]),
        (autopilot(lastSyncDateTime=ago(2 * DAY)), [("sync", "stale", "warning")]),
        (autopilot(syncStatus="inProgress", lastSyncDateTime=NEVER), [("sync", "stale", "warning")]),
    ],
    ids=["completed", "failed", "failed-and-old", "stale", "never"],
)
def test_windows_autopilot_rules(obj, expected):
    assert verdicts("windows_autopilot_settings", obj) == expected


@pytest.mark.parametrize(
    ("kind", "obj", "name"),
    [
        ("device_management_partners", partner(), "Jamf Pro"),
        ("compliance_management_partners", compliance(), "Jamf compliance"),
        ("remote_assistance_partners", assistance(), "TeamViewer"),
        ("mobile_threat_defense_connectors", mtd(), "fc780465-2017-40d4-a0c5-307022471b92"),
        ("apple_push_notification_certificate", apns(), "mdm@contoso.com"),
        ("vpp_tokens", vpp(), "Contoso"),
        ("vpp_tokens", vpp(organizationName=None), "vpp@contoso.com"),
        ("dep_onboarding_settings", ade(), "Contoso ADE"),
        ("dep_onboarding_settings", ade(tokenName=""), "ade@contoso.com"),
        ("ndes_connectors", ndes(), "NDES 1"),
        ("ndes_connectors", ndes(displayName=None), "pki01.contoso.com"),
        ("exchange_connectors", exchange(), "exch01.contoso.com"),
        ("managed_google_play", google_play(), "Contoso"),
        ("managed_google_play", google_play(ownerOrganizationName=None), "gp-1"),
        ("windows_autopilot_settings", autopilot(), "ap-1"),
    ],
)
def test_every_finding_names_its_object_to_a_person(kind, obj, name):
    result = judge(kind, obj if KINDS[kind][0] else [obj])
    assert {(f["id"], f["name"]) for f in result["findings"]} == {(obj["id"], name)}
    assert result["objects"][kind][0]["id"] == obj["id"]


# -- kinds that are not set up or cannot be read ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_kind_with_no_object_is_not_configured(kind):
    singleton = KINDS[kind][0]
    result = judge(kind, None if singleton else [])
    (finding,) = result["findings"]
    assert (finding["kind"], finding["check"], finding["status"], finding["severity"]) == (
        kind,
        "state",
        "not_configured",
        "ok",
    )
    assert (finding["id"], finding["name"], finding["days_left"]) == (None, None, None)
    assert "set up in this tenant" in finding["message"]
    assert result["objects"] == {kind: []}
    assert result["summary"] == {"counts": {"ok": 1, "warning": 0, "critical": 0}, "worst": "ok", "kinds": {kind: "ok"}}


def graph_failure(status, code, request_id="5e2b7a9c-0000-4000-8000-00000000d00d"):
    """A GraphError as the client makes it from Graph's error answer."""
    url = "https://graph.microsoft.com/v1.0/deviceManagement/things?$select=id"
    body = {
        "error": {
            "code": code,
            "message": "Graph said no.",
            "innerError": {"request-id": request_id, "client-request-id": "c1d2e3f4-0000-4000-8000-000000000001"},
        }
    }
    return graph_error(build_response("GET", url, {}, status, body), "GET", url)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_forbidden_kind_names_its_permissions_and_the_request_id(kind):
    result = judge(kind, ReadResult(error=graph_failure(403, "Forbidden")))
    (finding,) = result["findings"]
    assert (finding["check"], finding["status"], finding["severity"], finding["value"]) == (
        "state",
        "forbidden",
        "warning",
        403,
    )
    for permission in KINDS[kind][2]:
        assert permission in finding["message"]
    other = {SERVICE_CONFIG, CONFIGURATION, "DeviceManagementApps.Read.All"} - set(KINDS[kind][2])
    assert not [permission for permission in other if permission in finding["message"]]
    assert "5e2b7a9c-0000-4000-8000-00000000d00d" in finding["message"]
    assert result["summary"]["kinds"] == {kind: "warning"}


@pytest.mark.parametrize(
    "error",
    [
        graph_failure(500, "InternalServerError"),
        graph_failure(400, "BadRequest"),
        # What the client raises once a throttled read has used up its retries.
        GraphThrottledError(
            "GET /v1.0/deviceAppManagement/vppTokens was throttled (HTTP 503, Retry-After 2) after 5 attempts",
            status=503,
            code="throttled",
            request_id="5e2b7a9c-0000-4000-8000-00000000d00d",
            client_request_id="c1d2e3f4-0000-4000-8000-000000000001",
            method="GET",
            path="/v1.0/deviceAppManagement/vppTokens",
        ),
    ],
    ids=["500", "400", "throttled"],
)
def test_another_error_of_a_kind_gives_its_status_code_and_request_id(error):
    result = judge("vpp_tokens", ReadResult(error=error))
    (finding,) = result["findings"]
    assert (finding["status"], finding["severity"], finding["value"]) == ("error", "warning", error.status)
    assert f"HTTP {error.status}" in finding["message"]
    assert error.code in finding["message"]
    assert "5e2b7a9c-0000-4000-8000-00000000d00d" in finding["message"]


def test_an_error_without_an_answer_is_still_one_finding():
    error = GraphError("GET /v1.0/deviceAppManagement/vppTokens got no answer in Graph's $batch response")
    (finding,) = judge("vpp_tokens", ReadResult(error=error))["findings"]
    assert (finding["status"], finding["severity"], finding["value"]) == ("error", "warning", None)
    assert "got no answer" in finding["message"]


def test_one_kinds_failure_hides_no_other_kind():
    kinds = ["apple_push_notification_certificate", "vpp_tokens", "exchange_connectors", "windows_autopilot_settings"]
    results = {
        "apple_push_notification_certificate": ReadResult(apns(expirationDateTime=ahead(3 * DAY))),
        "vpp_tokens": ReadResult(error=graph_failure(403, "Forbidden")),
        "exchange_connectors": ReadResult(error=graph_failure(500, "InternalServerError")),
        "windows_autopilot_settings": ReadResult(None),
    }
    result = check(kinds=kinds).judge(results, "v1.0")
    assert [(f["kind"], f["status"], f["severity"]) for f in result["findings"]] == [
        ("apple_push_notification_certificate", "expiring", "critical"),
        ("vpp_tokens", "forbidden", "warning"),
        ("exchange_connectors", "error", "warning"),
        ("windows_autopilot_settings", "not_configured", "ok"),
    ]


# -- the summary and the versions -------------------------------------------------------------------------------------


def test_the_summary_counts_every_finding_and_names_the_worst_of_each_kind():
    kinds = ["device_management_partners", "vpp_tokens", "ndes_connectors", "exchange_connectors"]
    results = {
        "device_management_partners": ReadResult([partner(), partner(id="dmp-2", isConfigured=False)]),
        "vpp_tokens": ReadResult([vpp(state="expired", expirationDateTime=ago(DAY)), vpp(id="vpp-2")]),
        "exchange_connectors": ReadResult([exchange(lastSyncDateTime=ago(3 * DAY))]),
        "ndes_connectors": ReadResult([]),
    }
    result = check(kinds=kinds).judge(results, "v1.0")
    severities = [f["severity"] for f in result["findings"]]
    # dmp-1: state ok, heartbeat ok; dmp-2: not configured (ok); vpp-1: state critical, expiry critical, sync ok;
    # vpp-2: three ok; exchange: state ok, sync warning; ndes: not configured (ok).
    assert len(severities) == 2 + 1 + 3 + 3 + 2 + 1
    assert result["summary"] == {
        "counts": {"ok": 9, "warning": 1, "critical": 2},
        "worst": "critical",
        "kinds": {
            "device_management_partners": "ok",
            "vpp_tokens": "critical",
            "ndes_connectors": "ok",
            "exchange_connectors": "warning",
        },
    }
    assert list(result["objects"]) == kinds
    assert [obj["id"] for obj in result["objects"]["vpp_tokens"]] == ["vpp-1", "vpp-2"]


def test_the_worst_is_a_warning_when_nothing_is_critical():
    result = judge("exchange_connectors", [exchange(status="connectionPending")])
    assert result["summary"]["worst"] == "warning"
    assert result["summary"]["counts"] == {"ok": 1, "warning": 1, "critical": 0}


def test_the_objects_hold_only_what_is_judged_with_option_names():
    result = judge("vpp_tokens", [dict(vpp(), token="secret-vpp-token-value", countryOrRegion="us")])
    assert result["objects"]["vpp_tokens"] == [
        {
            "id": "vpp-1",
            "organization_name": "Contoso",
            "apple_id": "vpp@contoso.com",
            "vpp_token_account_type": "business",
            "state": "valid",
            "expiration_date_time": ahead(200 * DAY),
            "last_sync_date_time": ago(HOUR),
            "last_sync_status": "completed",
        }
    ]


def test_beta_kinds_say_beta_whatever_the_tasks_version():
    results = {
        kind: ReadResult(None if singleton else []) for kind, (singleton, _version, _permissions) in KINDS.items()
    }
    on_v1 = check().judge(results, "v1.0")
    expected = {kind: version or "v1.0" for kind, (_singleton, version, _permissions) in KINDS.items()}
    assert on_v1["api_versions"] == expected
    assert {f["kind"]: f["api_version"] for f in on_v1["findings"]} == expected
    on_beta = check().judge(results, "beta")
    assert set(on_beta["api_versions"].values()) == {"beta"}


def test_every_kind_is_judged_by_default_in_the_tables_order():
    assert check().kinds == list(KINDS)
    assert check(kinds=["windows_autopilot_settings", "vpp_tokens"]).kinds == [
        "vpp_tokens",
        "windows_autopilot_settings",
    ]


def test_reads_ask_for_the_judged_properties_only_from_the_kinds_version():
    reads = check().reads()
    selects = {kind: set(read.params["$select"].split(",")) for kind, read in reads.items()}
    assert selects["vpp_tokens"] == {
        "id",
        "organizationName",
        "appleId",
        "vppTokenAccountType",
        "state",
        "expirationDateTime",
        "lastSyncDateTime",
        "lastSyncStatus",
    }
    assert selects["apple_push_notification_certificate"] == {
        "id",
        "appleIdentifier",
        "topicIdentifier",
        "expirationDateTime",
        "lastModifiedDateTime",
        "certificateUploadStatus",
    }
    assert reads["vpp_tokens"].path == "deviceAppManagement/vppTokens"
    assert {kind: read.version for kind, read in reads.items()} == {
        kind: version for kind, (_singleton, version, _permissions) in KINDS.items()
    }
    assert {kind for kind, read in reads.items() if read.missing_ok} == {k for k, v in KINDS.items() if v[0]}


# -- thresholds -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"expiry_warning_days": -1}, "expiry_warning_days must be a number of days, 0 or more, got -1"),
        ({"expiry_critical_days": -1}, "expiry_critical_days must be a number of days, 0 or more, got -1"),
        ({"expiry_warning_days": True}, "expiry_warning_days must be a number of days"),
        ({"expiry_warning_days": "30"}, "expiry_warning_days must be a number of days"),
        ({"expiry_critical_days": 31}, "expiry_critical_days (31) must not be above expiry_warning_days (30)"),
        (
            {"expiry_warning_days": 10, "expiry_critical_days": 11},
            "expiry_critical_days (11) must not be above expiry_warning_days (10)",
        ),
        ({"stale_after_hours": 0}, "stale_after_hours must be a number of hours above 0, got 0"),
        ({"stale_after_hours": -5}, "stale_after_hours must be a number of hours above 0, got -5"),
        ({"stale_after_hours": "soon"}, "stale_after_hours must be a number of hours above 0, got 'soon'"),
        ({"stale_after_hours": True}, "stale_after_hours must be a number of hours above 0"),
        ({"stale_after_hours": [24]}, "stale_after_hours must be a number of hours above 0"),
        (
            {"stale_after_hours": {"exchange_connector": 48, "vpp_tokens": 24}},
            "stale_after_hours names unknown kinds: exchange_connector; the kinds are device_management_partners",
        ),
        ({"stale_after_hours": {"vpp_tokens": 0}}, "stale_after_hours.vpp_tokens must be a number of hours above 0"),
        ({"ndes_minimum_version": "6.x"}, "ndes_minimum_version must be a dotted version such as 6.2406.0.1001"),
        ({"ndes_minimum_version": "v6.2406"}, "ndes_minimum_version must be a dotted version"),
        ({"kinds": ["vpp_token"]}, "unknown kinds: vpp_token; the kinds are device_management_partners"),
    ],
    ids=[
        "negative-warning",
        "negative-critical",
        "bool",
        "text",
        "critical-above-default-warning",
        "critical-above-warning",
        "stale-0",
        "stale-negative",
        "stale-text",
        "stale-bool",
        "stale-list",
        "stale-unknown-kind",
        "stale-kind-0",
        "version-x",
        "version-v",
        "unknown-kind",
    ],
)
def test_bad_thresholds_fail_on_creation(params, message):
    with pytest.raises(GraphOptionError) as failure:
        HealthCheck(params, clock=lambda: NOW)
    assert message in str(failure.value)


def test_thresholds_are_returned_spelled_out_by_kind():
    params = {
        "expiry_warning_days": 45,
        "expiry_critical_days": 45,
        "stale_after_hours": {"exchange_connectors": 48},
        "ndes_minimum_version": "6.2501.0.0",
    }
    result = check(params).judge({kind: ReadResult(None if v[0] else []) for kind, v in KINDS.items()}, "v1.0")
    assert result["thresholds"] == {
        "expiry_warning_days": 45,
        "expiry_critical_days": 45,
        "stale_after_hours": {kind: 48.0 if kind == "exchange_connectors" else 24.0 for kind in KINDS},
        "ndes_minimum_version": "6.2501.0.0",
    }
    defaults = check().judge({kind: ReadResult(None if v[0] else []) for kind, v in KINDS.items()}, "v1.0")
    assert defaults["thresholds"] == {
        "expiry_warning_days": 30,
        "expiry_critical_days": 7,
        "stale_after_hours": dict.fromkeys(KINDS, 24.0),
        "ndes_minimum_version": "6.2406.0.1001",
    }


def test_the_clock_is_read_once_per_judgement():
    reads = []

    def clock():
        reads.append(NOW)
        return NOW

    kinds = ["apple_push_notification_certificate", "vpp_tokens"]
    health = HealthCheck({"kinds": kinds}, clock=clock)
    health.judge({"apple_push_notification_certificate": ReadResult(apns()), "vpp_tokens": ReadResult([vpp()])}, "v1.0")
    assert len(reads) == 1
