# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connector and token health: what is read of a tenant for each kind, and how each object is judged.

Every kind of KINDS names its declaration (a read-only or ordinary Resource), the options that are read of it (and
so the `$select` that keeps secrets off the wire), the permissions that Graph's documentation gives for reading it,
and its rules. The rules turn each object into findings, one per (object, check): `check` is expiry, sync,
heartbeat, state or version, `status` says what was found and `severity` how bad it is. One kind's failure never
hides another's: a kind that cannot be read gives one finding of its own (forbidden or error).

All times are judged against one instant per task, as 100 ns ticks (see _graph_values), so that Graph's 7
fractional digits and any UTC offset compare exactly.
"""

from __future__ import annotations

import datetime

from ansible_collections.msgraph.intune.plugins.module_utils._apple_push_notification_certificate import (
    RESOURCE as APPLE_PUSH_NOTIFICATION_CERTIFICATE,
)
from ansible_collections.msgraph.intune.plugins.module_utils._compliance_management_partner import (
    RESOURCE as COMPLIANCE_MANAGEMENT_PARTNER,
)
from ansible_collections.msgraph.intune.plugins.module_utils._dep_onboarding_setting import (
    RESOURCE as DEP_ONBOARDING_SETTING,
)
from ansible_collections.msgraph.intune.plugins.module_utils._device_management_partner import (
    RESOURCE as DEVICE_MANAGEMENT_PARTNER,
)
from ansible_collections.msgraph.intune.plugins.module_utils._exchange_connector import RESOURCE as EXCHANGE_CONNECTOR
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_task import GraphTask
from ansible_collections.msgraph.intune.plugins.module_utils._graph_values import TICKS_PER_SECOND, datetime_ticks
from ansible_collections.msgraph.intune.plugins.module_utils._managed_google_play import RESOURCE as MANAGED_GOOGLE_PLAY
from ansible_collections.msgraph.intune.plugins.module_utils._mobile_threat_defense_connector import (
    RESOURCE as MOBILE_THREAT_DEFENSE_CONNECTOR,
)
from ansible_collections.msgraph.intune.plugins.module_utils._ndes_connector import RESOURCE as NDES_CONNECTOR
from ansible_collections.msgraph.intune.plugins.module_utils._remote_assistance_partner import (
    RESOURCE as REMOTE_ASSISTANCE_PARTNER,
)
from ansible_collections.msgraph.intune.plugins.module_utils._vpp_token import RESOURCE as VPP_TOKEN
from ansible_collections.msgraph.intune.plugins.module_utils._windows_autopilot_settings import (
    RESOURCE as WINDOWS_AUTOPILOT_SETTINGS,
)

SEVERITIES = ("ok", "warning", "critical")  # from the best to the worst
CHECKS = ("expiry", "sync", "heartbeat", "state", "version")
STATUSES = ("healthy", "expiring", "expired", "stale", "unhealthy", "not_configured", "forbidden", "error")
# The oldest Certificate Connector for Microsoft Intune that Intune still supports, from "Certificate Connector for
# Microsoft Intune", section Lifecycle: https://learn.microsoft.com/intune/intune-service/protect/certificate-connector-overview#lifecycle
NDES_MINIMUM_VERSION = "6.2406.0.1001"
TICKS_PER_HOUR = 3600 * TICKS_PER_SECOND
TICKS_PER_DAY = 24 * TICKS_PER_HOUR
SERVICE_CONFIG_READ = ("DeviceManagementServiceConfig.Read.All",)
CONFIGURATION_READ = ("DeviceManagementConfiguration.Read.All",)


class HealthKind:
    """One kind of the health check: its declaration, the options read of it, its read permissions, its rules."""

    def __init__(self, resource, options, permissions, rules):
        self.resource = resource
        self.options = tuple(options)
        self.permissions = tuple(permissions)
        self.rules = rules

    @property
    def api_version(self):
        return self.resource.api_version

    def read(self):
        return self.resource.read(self.options)


# -- thresholds -------------------------------------------------------------------------------------------------------


def version_tuple(text):
    """A dotted version as integers, or None when it is not one."""
    parts = str(text or "").strip().split(".")
    if not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


class Thresholds:
    """The task's windows, validated (raises GraphOptionError before any request)."""

    def __init__(self, params):
        self.warning_days = _number(params, "expiry_warning_days", 30)
        self.critical_days = _number(params, "expiry_critical_days", 7)
        if self.critical_days > self.warning_days:
            raise GraphOptionError(
                f"expiry_critical_days ({self.critical_days:g}) must not be above expiry_warning_days "
                f"({self.warning_days:g})"
            )
        stale = params.get("stale_after_hours")
        self.stale_default = 24.0
        self.stale_by_kind = {}
        if isinstance(stale, dict):
            unknown = sorted(set(stale) - set(KINDS))
            if unknown:
                raise GraphOptionError(
                    f"stale_after_hours names unknown kinds: {', '.join(unknown)}; the kinds are {', '.join(KINDS)}"
                )
            self.stale_by_kind = {kind: _hours(f"stale_after_hours.{kind}", hours) for kind, hours in stale.items()}
        elif stale is not None:
            self.stale_default = _hours("stale_after_hours", stale)
        self.ndes_minimum_version = str(params.get("ndes_minimum_version") or NDES_MINIMUM_VERSION)
        self.ndes_minimum = version_tuple(self.ndes_minimum_version)
        if self.ndes_minimum is None:
            raise GraphOptionError(
                f"ndes_minimum_version must be a dotted version such as {NDES_MINIMUM_VERSION}, "
                f"got {self.ndes_minimum_version!r}"
            )

    def stale_hours(self, kind):
        return self.stale_by_kind.get(kind, self.stale_default)

    def as_result(self):
        return {
            "expiry_warning_days": self.warning_days,
            "expiry_critical_days": self.critical_days,
            "stale_after_hours": dict({kind: self.stale_default for kind in KINDS}, **self.stale_by_kind),
            "ndes_minimum_version": self.ndes_minimum_version,
        }


def _number(params, option, default):
    value = params.get(option)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise GraphOptionError(f"{option} must be a number of days, 0 or more, got {value!r}")
    return value


def _hours(option, value):
    try:
        hours = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        hours = -1.0
    if hours <= 0:
        raise GraphOptionError(f"{option} must be a number of hours above 0, got {value!r}")
    return hours


def validate_kinds(kinds):
    """The kinds to judge, in KINDS order; None means all. An unknown one fails before any request."""
    if kinds is None:
        return list(KINDS)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise GraphOptionError(f"unknown kinds: {', '.join(unknown)}; the kinds are {', '.join(KINDS)}")
    return [kind for kind in KINDS if kind in kinds]


# -- judging ----------------------------------------------------------------------------------------------------------


def instant(value):
    """Ticks of a DateTimeOffset from Graph; None when unset (null, or Graph's 0001-01-01 for "never")."""
    if value in (None, ""):
        return None
    try:
        ticks = datetime_ticks(value, "value")
    except GraphOptionError:
        return None
    return ticks if ticks >= TICKS_PER_DAY else None


def _date(ticks):
    seconds = ticks // TICKS_PER_SECOND
    moment = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return f"{moment.year:04d}-{moment:%m-%d %H:%M} UTC"


def _span(ticks):
    """A duration as a person says it: hours below two days, else days."""
    hours = ticks / TICKS_PER_HOUR
    if hours < 48:
        count = int(hours)
        return f"{count} hour{'' if count == 1 else 's'}"
    count = int(hours // 24)
    return f"{count} days"


def _days(count):
    return f"{count:g} day{'' if count == 1 else 's'}"


class Judge:
    """Findings of one kind, against the task's thresholds at one instant (`now`, in ticks)."""

    def __init__(self, kind, health_kind, thresholds, now, api_version):
        self.kind = kind
        self.health_kind = health_kind
        self.thresholds = thresholds
        self.now = now
        self.api_version = api_version

    def name(self, view):
        return self.health_kind.resource.label(view) if view else None

    def finding(self, view, check, status, severity, message, value=None, days_left=None):
        return {
            "kind": self.kind,
            "id": view.get("id") if view else None,
            "name": self.name(view),
            "check": check,
            "status": status,
            "severity": severity,
            "message": message,
            "value": value,
            "days_left": days_left,
            "api_version": self.api_version,
        }

    def expiry(self, view, option, subject, remedy, check="expiry", ends="expires", ended="expired"):
        """A date that ends something: expired once past; expiring (critical, then warning) inside the windows."""
        value = view.get(option)
        ends_at = instant(value)
        if ends_at is None:
            return self.finding(view, check, "unhealthy", "warning", f"Graph gives no date on which {subject} {ends}.")
        left = ends_at - self.now
        days_left = left // TICKS_PER_DAY
        when = _date(ends_at)
        if left <= 0:
            ago = _span(-left)
            return self.finding(
                view,
                check,
                "expired",
                "critical",
                f"{subject} {ended} on {when} ({ago} ago): {remedy}.",
                value,
                days_left,
            )
        for severity, days in (("critical", self.thresholds.critical_days), ("warning", self.thresholds.warning_days)):
            if left <= days * TICKS_PER_DAY:
                message = f"{subject} {ends} on {when} (in {_span(left)}): {remedy}."
                return self.finding(view, check, "expiring", severity, message, value, days_left)
        return self.finding(
            view, check, "healthy", "ok", f"{subject} {ends} on {when}, in {_span(left)}.", value, days_left
        )

    def stale(self, view, option, check, subject, did, remedy, severity="warning", hours=None):
        """A time something last happened: stale (warning) once older than the kind's window, or never."""
        hours = self.thresholds.stale_hours(self.kind) if hours is None else hours
        value = view.get(option)
        last = instant(value)
        if last is None:
            return self.finding(view, check, "stale", severity, f"{subject} has never {did}: {remedy}.", value)
        age = self.now - last
        if age > hours * TICKS_PER_HOUR:
            return self.finding(
                view,
                check,
                "stale",
                severity,
                f"{subject} last {did} on {_date(last)}, {_span(age)} ago, longer than the {_span(hours * TICKS_PER_HOUR)} "
                f"allowed: {remedy}.",
                value,
            )
        return self.finding(view, check, "healthy", "ok", f"{subject} last {did} {_span(max(age, 0))} ago.", value)

    def state(self, view, option, status, severity, message):
        return self.finding(view, "state", status, severity, message, view.get(option))

    def verdict(self, view, option, healthy, critical, said_healthy, said_critical, said_other=None):
        """The state check of an object: a value in `healthy` is ok, one in `critical` is critical, any other value a
        warning (`said_other`), or critical too when there is no `said_other`."""
        value = view.get(option)
        if value in healthy:
            return self.state(view, option, "healthy", "ok", said_healthy)
        if value in critical or said_other is None:
            return self.state(view, option, "unhealthy", "critical", said_critical)
        return self.state(view, option, "unhealthy", "warning", said_other)


def _future(ticks, now):
    return ticks is not None and ticks > now


# -- the rules of each kind (each returns the object's findings) ------------------------------------------------------

PARTNER_FAILED = ("unresponsive", "rejected")
CHECK_PARTNER = "check the partner's console and its connection to Intune"
CHECK_PARTNER_SERVICE = "check that the partner's service is running and connected to Intune"


def _heartbeat(judge, view, name):
    return judge.stale(view, "last_heartbeat_date_time", "heartbeat", name, "sent a heartbeat", CHECK_PARTNER_SERVICE)


def _device_management_partner(judge, view):
    name = judge.name(view)
    if not view.get("is_configured"):
        return [judge.state(view, "is_configured", "not_configured", "ok", f"{name} is not configured in Intune.")]
    state = view.get("partner_state")
    found = [
        judge.verdict(
            view,
            "partner_state",
            ("enabled",),
            PARTNER_FAILED,
            f"{name} is enabled.",
            f"Intune reports {name} as {state}: {CHECK_PARTNER}.",
            f"{name} is configured but its state is {state}.",
        ),
        _heartbeat(judge, view, name),
    ]
    deadlines = (
        ("when_partner_devices_will_be_marked_as_non_compliant_date_time", "marked as non-compliant"),
        ("when_partner_devices_will_be_removed_date_time", "removed from Intune"),
    )
    for option, what in deadlines:
        if _future(instant(view.get(option)), judge.now):
            found.append(
                judge.expiry(
                    view,
                    option,
                    f"The devices of {name}",
                    "reconnect the partner before then",
                    ends=f"will be {what}",
                    ended=f"were {what}",
                )
            )
    return found


def _compliance_management_partner(judge, view):
    name = judge.name(view)
    state = view.get("partner_state")
    onboarded = any(view.get(option) for option in ("android_onboarded", "ios_onboarded", "mac_os_onboarded"))
    if state in ("unknown", "unavailable", "terminated", None) and not onboarded:
        return [
            judge.state(view, "partner_state", "not_configured", "ok", f"{name} is not onboarded for any platform.")
        ]
    verdict = judge.verdict(
        view,
        "partner_state",
        ("enabled",),
        PARTNER_FAILED,
        f"{name} is enabled.",
        f"Intune reports {name} as {state}: devices that it reports compliance for lose their compliance state; "
        f"{CHECK_PARTNER}.",
        f"{name} is onboarded but its state is {state}.",
    )
    return [verdict, _heartbeat(judge, view, name)]


def _remote_assistance_partner(judge, view):
    name = judge.name(view)
    status = view.get("onboarding_status")
    if status == "onboarded":
        return [
            judge.state(view, "onboarding_status", "healthy", "ok", f"{name} is onboarded."),
            judge.stale(
                view,
                "last_connection_date_time",
                "heartbeat",
                name,
                "connected",
                "check the partner's connector in its console",
            ),
        ]
    if status == "onboarding":
        # Graph keeps no start time of the onboarding: the partner's last connection is the latest sign of progress.
        return [
            judge.stale(
                view,
                "last_connection_date_time",
                "state",
                f"{name}, still onboarding,",
                "connected",
                "finish the onboarding in the partner's console, or disconnect it",
            )
        ]
    return [judge.state(view, "onboarding_status", "not_configured", "ok", f"{name} is not onboarded.")]


MTD_NOT_SET_UP = ("unavailable", "available", "notSetUp", "neverConfigured")


def _mobile_threat_defense_connector(judge, view):
    name = f"Mobile threat defense connector {judge.name(view)}"
    state = view.get("partner_state")
    if state in MTD_NOT_SET_UP:
        return [judge.state(view, "partner_state", "not_configured", "ok", f"{name} is not set up ({state}).")]
    verdict = judge.verdict(
        view,
        "partner_state",
        ("enabled",),
        ("unresponsive", "error"),
        f"{name} is enabled.",
        f"Intune reports {name} as {state}: {CHECK_PARTNER}.",
        f"{name} has the state {state}.",
    )
    threshold_days = view.get("partner_unresponsiveness_threshold_in_days")
    heartbeat = None
    if isinstance(threshold_days, int) and threshold_days > 0:
        heartbeat = judge.stale(
            view,
            "last_heartbeat_date_time",
            "heartbeat",
            name,
            "sent a heartbeat",
            f"past the connector's own threshold of {_days(threshold_days)}, Intune treats the partner as "
            f"unresponsive; {CHECK_PARTNER_SERVICE}",
            severity="critical",
            hours=threshold_days * 24,
        )
    if heartbeat is None or heartbeat["status"] == "healthy":
        heartbeat = _heartbeat(judge, view, name)
    return [verdict, heartbeat]


def _apple_push_notification_certificate(judge, view):
    subject = "The Apple MDM push certificate"
    if view.get("apple_identifier"):
        subject += f" of {view['apple_identifier']}"
    remedy = (
        "renew it in the Intune admin center with the same Apple ID; once it lapses, every Apple device must enroll "
        "again"
    )
    return [judge.expiry(view, "expiration_date_time", subject, remedy)]


def _vpp_token(judge, view):
    token = f"VPP token of {judge.name(view)}"
    name = f"The {token}"
    state = view.get("state")
    new_token = "download a new token from Apple Business Manager (Apps and Books) and upload it to Intune"
    verdict = judge.verdict(view, "state", ("valid",), (), f"{name} is valid.", f"{name} is {state}: {new_token}.")
    found = [verdict, judge.expiry(view, "expiration_date_time", name, new_token)]
    if view.get("last_sync_status") == "failed":
        found.append(
            judge.finding(
                view,
                "sync",
                "unhealthy",
                "warning",
                f"The last sync of the {token} failed: sync it again in the Intune admin center, and renew it if it "
                "keeps failing.",
                view.get("last_sync_status"),
            )
        )
    else:
        found.append(
            judge.stale(view, "last_sync_date_time", "sync", name, "synced", "sync it in the Intune admin center")
        )
    return found


ADE_ERROR_HINTS = {3: "new Apple Business Manager terms and conditions must be accepted in Apple Business Manager"}


def _dep_onboarding_setting(judge, view):
    name = f"The Automated Device Enrollment token {judge.name(view)}"
    remedy = "renew it in Apple Business Manager and upload the new token to Intune"
    found = [judge.expiry(view, "token_expiration_date_time", name, remedy)]
    code = view.get("last_sync_error_code")
    if code not in (None, 0):
        hint = ADE_ERROR_HINTS.get(code, "see the token's sync error in the Intune admin center")
        found.append(
            judge.finding(view, "sync", "unhealthy", "warning", f"{name} fails to sync (error {code}): {hint}.", code)
        )
    else:
        found.append(
            judge.stale(
                view,
                "last_successful_sync_date_time",
                "sync",
                name,
                "synced successfully",
                "sync it in the Intune admin center and check the token in Apple Business Manager",
            )
        )
    return found


def _ndes_connector(judge, view):
    name = f"Certificate connector {judge.name(view)}"
    state = view.get("state")
    verdict = judge.verdict(
        view,
        "state",
        ("active",),
        ("inactive",),
        f"{name} is active.",
        f"{name} is inactive: devices get no new SCEP or PKCS certificates; check the connector's service on "
        f"{view.get('machine_name') or 'its server'}.",
        f"{name} has the state {state}.",
    )
    connection = judge.stale(
        view,
        "last_connection_date_time",
        "heartbeat",
        name,
        "connected to Intune",
        "check the connector's service and its network access to Intune",
    )
    found_version = view.get("connector_version")
    parsed = version_tuple(found_version)
    minimum = judge.thresholds.ndes_minimum_version
    if parsed is None:
        version = judge.finding(
            view,
            "version",
            "unhealthy",
            "warning",
            f"{name} reports no readable version ({found_version!r}).",
            found_version,
        )
    elif parsed < judge.thresholds.ndes_minimum:
        version = judge.finding(
            view,
            "version",
            "unhealthy",
            "warning",
            f"{name} runs version {found_version}, older than {minimum}, the oldest that Intune supports: update it.",
            found_version,
        )
    else:
        version = judge.finding(
            view, "version", "healthy", "ok", f"{name} runs version {found_version}.", found_version
        )
    return [verdict, connection, version]


def _exchange_connector(judge, view):
    name = f"The Exchange connector on {judge.name(view)}"
    status = view.get("status")
    verdict = judge.verdict(
        view,
        "status",
        ("connected",),
        ("disconnected",),
        f"{name} is connected.",
        f"{name} is disconnected: Exchange access rules are not updated; check the connector's service.",
        f"{name} has the status {status}.",
    )
    sync = judge.stale(view, "last_sync_date_time", "sync", name, "synced", "check the connector's service")
    return [verdict, sync]


def _managed_google_play(judge, view):
    status = view.get("bind_status")
    name = "Managed Google Play"
    if view.get("owner_organization_name"):
        name += f" of {view['owner_organization_name']}"
    if status == "notBound":
        return [judge.state(view, "bind_status", "not_configured", "ok", f"{name} is not bound to Intune.")]
    verdict = judge.verdict(
        view,
        "bind_status",
        ("boundAndValidated",),
        (),
        f"{name} is bound and validated.",
        f"{name} is {status}, not validated: Android Enterprise enrollment and app deployment may fail; "
        "check the binding in the Intune admin center.",
    )
    sync_status = view.get("last_app_sync_status")
    if sync_status == "success":
        sync = judge.finding(view, "sync", "healthy", "ok", f"The last app sync of {name} succeeded.", sync_status)
    else:
        sync = judge.finding(
            view,
            "sync",
            "unhealthy",
            "warning",
            f"The last app sync of {name} ended with {sync_status}: sync the apps again in the Intune admin center.",
            sync_status,
        )
    return [verdict, sync]


def _windows_autopilot_settings(judge, view):
    name = "The Windows Autopilot sync"
    if view.get("sync_status") == "failed":
        return [
            judge.finding(
                view,
                "sync",
                "unhealthy",
                "warning",
                f"{name} failed: sync the Autopilot devices again in the Intune admin center.",
                "failed",
            )
        ]
    return [
        judge.stale(
            view, "last_sync_date_time", "sync", name, "ran", "sync the Autopilot devices in the Intune admin center"
        )
    ]


KINDS = {
    "device_management_partners": HealthKind(
        DEVICE_MANAGEMENT_PARTNER,
        (
            "display_name",
            "partner_state",
            "is_configured",
            "last_heartbeat_date_time",
            "when_partner_devices_will_be_marked_as_non_compliant_date_time",
            "when_partner_devices_will_be_removed_date_time",
        ),
        SERVICE_CONFIG_READ,
        _device_management_partner,
    ),
    "compliance_management_partners": HealthKind(
        COMPLIANCE_MANAGEMENT_PARTNER,
        (
            "display_name",
            "partner_state",
            "last_heartbeat_date_time",
            "android_onboarded",
            "ios_onboarded",
            "mac_os_onboarded",
        ),
        SERVICE_CONFIG_READ,
        _compliance_management_partner,
    ),
    "remote_assistance_partners": HealthKind(
        REMOTE_ASSISTANCE_PARTNER,
        ("display_name", "onboarding_status", "last_connection_date_time"),
        SERVICE_CONFIG_READ,
        _remote_assistance_partner,
    ),
    "mobile_threat_defense_connectors": HealthKind(
        MOBILE_THREAT_DEFENSE_CONNECTOR,
        ("partner_state", "last_heartbeat_date_time", "partner_unresponsiveness_threshold_in_days"),
        SERVICE_CONFIG_READ,
        _mobile_threat_defense_connector,
    ),
    "apple_push_notification_certificate": HealthKind(
        APPLE_PUSH_NOTIFICATION_CERTIFICATE,
        (
            "apple_identifier",
            "topic_identifier",
            "expiration_date_time",
            "last_modified_date_time",
            "certificate_upload_status",
        ),
        SERVICE_CONFIG_READ,
        _apple_push_notification_certificate,
    ),
    "vpp_tokens": HealthKind(
        VPP_TOKEN,
        (
            "organization_name",
            "apple_id",
            "vpp_token_account_type",
            "state",
            "expiration_date_time",
            "last_sync_date_time",
            "last_sync_status",
        ),
        SERVICE_CONFIG_READ + ("DeviceManagementApps.Read.All",),
        _vpp_token,
    ),
    "dep_onboarding_settings": HealthKind(
        DEP_ONBOARDING_SETTING,
        (
            "token_name",
            "apple_identifier",
            "token_expiration_date_time",
            "last_successful_sync_date_time",
            "last_sync_error_code",
        ),
        SERVICE_CONFIG_READ,
        _dep_onboarding_setting,
    ),
    "ndes_connectors": HealthKind(
        NDES_CONNECTOR,
        ("display_name", "machine_name", "state", "last_connection_date_time", "connector_version"),
        CONFIGURATION_READ,
        _ndes_connector,
    ),
    "exchange_connectors": HealthKind(
        EXCHANGE_CONNECTOR,
        ("server_name", "status", "last_sync_date_time", "version"),
        SERVICE_CONFIG_READ,
        _exchange_connector,
    ),
    "managed_google_play": HealthKind(
        MANAGED_GOOGLE_PLAY,
        ("bind_status", "last_app_sync_date_time", "last_app_sync_status", "owner_organization_name"),
        CONFIGURATION_READ,
        _managed_google_play,
    ),
    "windows_autopilot_settings": HealthKind(
        WINDOWS_AUTOPILOT_SETTINGS,
        ("sync_status", "last_sync_date_time"),
        SERVICE_CONFIG_READ,
        _windows_autopilot_settings,
    ),
}


# -- a tenant's health ------------------------------------------------------------------------------------------------


def now_ticks(clock=None):
    moment = clock() if clock else datetime.datetime.now(datetime.timezone.utc)
    return datetime_ticks(moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "now")


def judge_kind(kind, read_result, thresholds, now, api_version):
    """(findings, objects) of one kind, from its ReadResult; `api_version` is the version it was read from."""
    health_kind = KINDS[kind]
    resource = health_kind.resource
    judge = Judge(kind, health_kind, thresholds, now, api_version)
    error = read_result.error
    if error is not None:
        return [_read_failure(judge, error)], []
    value = read_result.value
    objects = ([value] if value else []) if resource.singleton else list(value or [])
    views = [resource.view(obj) for obj in objects]
    if not views:
        article = "An" if resource.noun[0].lower() in "aeiou" else "A"
        message = (
            f"{article} {resource.noun} is not set up in this tenant."
            if resource.singleton
            else f"No {resource.noun} is set up in this tenant."
        )
        return [judge.finding(None, "state", "not_configured", "ok", message)], []
    findings = []
    for view in views:
        findings.extend(health_kind.rules(judge, view))
    return findings, views


def _read_failure(judge, error):
    resource = judge.health_kind.resource
    where = error.ids
    if error.status == 403:
        permissions = " or ".join(judge.health_kind.permissions)
        message = (
            f"Graph refused to read the {resource.noun} (HTTP 403{' ' + error.code if error.code else ''}): grant "
            f"the app registration the application permission {permissions} and admin consent ({where})."
        )
        return judge.finding(None, "state", "forbidden", "warning", message, error.status)
    detail = str(error)
    if where not in detail:  # graph_error's text ends with the ids; a throttled or lost answer's does not
        detail = f"{detail} ({where})"
    return judge.finding(
        None, "state", "error", "warning", f"The {resource.noun} could not be read: {detail}", error.status
    )


def summarize(findings, kinds):
    counts = dict.fromkeys(SEVERITIES, 0)
    worst_of_kind = dict.fromkeys(kinds, "ok")
    for finding in findings:
        counts[finding["severity"]] += 1
        kind = finding["kind"]
        if SEVERITIES.index(finding["severity"]) > SEVERITIES.index(worst_of_kind[kind]):
            worst_of_kind[kind] = finding["severity"]
    worst = max(worst_of_kind.values(), key=SEVERITIES.index) if worst_of_kind else "ok"
    return {"counts": counts, "worst": worst, "kinds": worst_of_kind}


class HealthCheck:
    """The health of the chosen kinds of one tenant: their reads (for one read_many with anything else a task reads)
    and their judgement. Options are validated on creation, before any request."""

    def __init__(self, params, clock=None):
        self.kinds = validate_kinds(params.get("kinds"))
        self.thresholds = Thresholds(params)
        self.clock = clock

    def reads(self):
        return {kind: KINDS[kind].read() for kind in self.kinds}

    def judge(self, results, task_version):
        """The result keys of a health check, from {kind: ReadResult}; `task_version` is the task's api_version,
        which every kind not pinned to a version was read from."""
        now = now_ticks(self.clock)
        versions = {kind: KINDS[kind].api_version or task_version for kind in self.kinds}
        findings = []
        objects = {}
        for kind in self.kinds:
            kind_findings, objects[kind] = judge_kind(kind, results[kind], self.thresholds, now, versions[kind])
            findings.extend(kind_findings)
        return {
            "findings": findings,
            "summary": summarize(findings, self.kinds),
            "objects": objects,
            "api_versions": versions,
            "thresholds": self.thresholds.as_result(),
        }

    def run(self, client):
        reads = self.reads()
        outcomes = client.read_many(list(reads.values()))
        return self.judge(dict(zip(reads, outcomes)), client.settings.api_version)


HEALTH_ARGUMENT_SPEC = {
    "kinds": {"type": "list", "elements": "str", "choices": list(KINDS)},
    "expiry_warning_days": {"type": "int", "default": 30},
    "expiry_critical_days": {"type": "int", "default": 7},
    "stale_after_hours": {"type": "raw", "default": 24},
    "ndes_minimum_version": {"type": "str", "default": NDES_MINIMUM_VERSION},
}


def _operation(client, params, check_mode):
    check = HealthCheck(params)  # validates every option before the first request
    return dict(check.run(client), changed=False)


TASK = GraphTask(HEALTH_ARGUMENT_SPEC, _operation)
