"""Resource schemas of the Graph emulator: what each served type holds, how incoming JSON is validated, how stored
objects are rendered the way Graph returns them.

One generic, table-driven validator and renderer serves every type; ``emulator_collections.py`` serves them over
HTTP.  Standard library only, like the rest of the emulator; imported relative to its package (``tests.emulator``,
or the package ``graph_emulator.py`` makes of this directory when it runs as a script).

Stored form: a dict per object with ``id`` and every property of its type (beta's included); DateTimeOffset values
as integer 100 ns ticks, assignment collections exactly as written (validated).  Rendering normalises dates (UTC, 7
digits, ``Z``) and assignment targets (see ``render_assignments``) and leaves out what the requested Graph version
does not serve.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re

# --------------------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------------------


class GraphError(Exception):
    """A Graph error response: status, code and message."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class BadRequest(GraphError):
    def __init__(self, message):
        super().__init__(400, "BadRequest", message)


def _literal(value):
    """A rejected value as Graph quotes it: strings as they are, anything else as its JSON literal."""
    return value if isinstance(value, str) else json.dumps(value)


def _unresolved_type(name):
    return BadRequest(
        f"A type named '{name}' could not be resolved by the model. When a model is available, each type name must "
        "resolve to a valid type."
    )


def _unknown_property(name, type_name):
    return BadRequest(
        f"Property '{name}' does not exist on type '{type_name}'. Make sure to only use property names that are "
        "defined by the type."
    )


def _null_not_allowed(name):
    return BadRequest(
        f"A null value was found for the property named '{name}', which has the expected type that does not allow "
        "null values."
    )


# --------------------------------------------------------------------------------------------------------------------
# Edm.DateTimeOffset
# --------------------------------------------------------------------------------------------------------------------

TICKS_PER_SECOND = 10_000_000  # .NET ticks (100 ns): Graph's DateTimeOffset resolution
MAX_TICKS = dt.date(9999, 12, 31).toordinal() * 86_400 * TICKS_PER_SECOND - 1
UNSET_DATETIME = "0001-01-01T00:00:00Z"
DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_datetime(value):
    """Parse an ISO 8601 DateTimeOffset string into integer 100 ns ticks since 0001-01-01T00:00:00Z.

    Any offset and any number of fractional digits are accepted (digits beyond the 7th are truncated, as .NET
    does); a missing offset means UTC.  Raises ValueError for anything else.
    """
    match = DATETIME_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(value)
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    fraction = (match.group(7) or "")[:7].ljust(7, "0")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(value)
    ordinal = dt.date(year, month, day).toordinal()  # validates the calendar date
    offset = match.group(8) or "Z"
    offset_seconds = 0
    if offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        off_hours, off_minutes = int(digits[:2]), int(digits[2:] or 0)
        if off_minutes > 59 or off_hours * 60 + off_minutes > 14 * 60:
            raise ValueError(value)
        offset_seconds = (off_hours * 3600 + off_minutes * 60) * (-1 if offset[0] == "-" else 1)
    seconds = (ordinal - 1) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds
    ticks = seconds * TICKS_PER_SECOND + int(fraction)
    if not 0 <= ticks <= MAX_TICKS:
        raise ValueError(value)
    return ticks


def format_ticks(ticks):
    """Render ticks as Graph does: UTC, exactly 7 fractional digits and Z; the unset value as 0001-01-01T00:00:00Z."""
    if ticks == 0:
        return UNSET_DATETIME
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    day = dt.date.fromordinal(days + 1)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:07d}Z"


# --------------------------------------------------------------------------------------------------------------------
# Assignment targets (deviceAndAppManagementAssignmentTarget and its derived types)
# --------------------------------------------------------------------------------------------------------------------

TARGET_BASE_TYPE = "microsoft.graph.deviceAndAppManagementAssignmentTarget"
FILTER_ID = "deviceAndAppManagementAssignmentFilterId"
FILTER_TYPE = "deviceAndAppManagementAssignmentFilterType"
FILTER_TYPES = ("none", "include", "exclude")
FILTER_TYPE_ENUM = "microsoft.graph.deviceAndAppManagementAssignmentFilterType"
# Derived target type -> its own (required, string) properties, on top of the two filter properties of the base.
TARGET_TYPES = {
    "microsoft.graph.groupAssignmentTarget": ("groupId",),
    "microsoft.graph.exclusionGroupAssignmentTarget": ("groupId",),
    "microsoft.graph.allLicensedUsersAssignmentTarget": (),
    "microsoft.graph.allDevicesAssignmentTarget": (),
    "microsoft.graph.configurationManagerCollectionAssignmentTarget": ("collectionId",),
}


def _type_name(value, where):
    """The type named by an ``@odata.type`` value, without its optional leading '#'."""
    if not isinstance(value, str):
        raise BadRequest(f"The '@odata.type' annotation of {where} must be a string, not '{_literal(value)}'.")
    return value.removeprefix("#")


def _convert_target(target):
    if target is None:
        raise _null_not_allowed("target")
    if not isinstance(target, dict):
        raise BadRequest(f"Cannot convert the literal '{_literal(target)}' to the expected type '{TARGET_BASE_TYPE}'.")
    if "@odata.type" not in target:
        raise BadRequest(
            f"The value of property 'target' must name its type with '@odata.type': '{TARGET_BASE_TYPE}' is abstract."
        )
    name = _type_name(target["@odata.type"], "'target'")
    own = TARGET_TYPES.get(name)
    if own is None:
        raise _unresolved_type(name)
    for key, value in target.items():
        if key == "@odata.type":
            continue
        if key == FILTER_ID:
            if value is not None and not isinstance(value, str):
                raise BadRequest(f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.String'.")
        elif key == FILTER_TYPE:
            if value is None:
                raise _null_not_allowed(FILTER_TYPE)
            if value not in FILTER_TYPES:
                raise BadRequest(
                    f"The value '{_literal(value)}' is not valid for property '{FILTER_TYPE}' of enum type "
                    f"'{FILTER_TYPE_ENUM}'. Valid values: {', '.join(FILTER_TYPES)}."
                )
        elif key in own:
            if value is None:
                raise _null_not_allowed(key)
            if not isinstance(value, str):
                raise BadRequest(f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.String'.")
        else:
            raise _unknown_property(key, name)
    for key in own:
        if key not in target:
            raise BadRequest(f"The property '{key}' is required on type '{name}'.")


def convert_assignments(name, item_type, value):
    """Validate a Collection(<item_type>) of ``{"target": {...}}`` items; returns a copy, stored as written."""
    if not isinstance(value, list):
        raise BadRequest(
            f"Cannot convert the value of property '{name}' to the expected type 'Collection({item_type})'."
        )
    for item in value:
        if not isinstance(item, dict):
            raise BadRequest(f"Cannot convert the literal '{_literal(item)}' to the expected type '{item_type}'.")
        for key, item_value in item.items():
            if key == "@odata.type":
                given = _type_name(item_value, f"an item of '{name}'")
                if given not in KNOWN_TYPES:
                    raise _unresolved_type(given)
                if given != item_type:
                    raise BadRequest(f"The type '{given}' is not compatible with the expected type '{item_type}'.")
            elif key != "target":
                raise _unknown_property(key, item_type)
        if "target" not in item:
            raise BadRequest(f"The property 'target' is required on type '{item_type}'.")
        _convert_target(item["target"])
    return copy.deepcopy(value)


def render_assignments(items):
    """Assignments the way Graph returns them.

    Items carry no ``@odata.type`` (the declared item type: OData minimal metadata omits it); every target carries
    ``@odata.type`` with '#' and both filter properties (``null`` / ``"none"`` unless written).  The order is
    deterministic but deliberately not the written one (descending by the target's canonical JSON): clients must
    compare assignments as sets.
    """
    rendered = []
    for item in items:
        target = item["target"]
        name = _type_name(target["@odata.type"], "'target'")
        out = {
            "@odata.type": "#" + name,
            FILTER_ID: target.get(FILTER_ID),
            FILTER_TYPE: target.get(FILTER_TYPE, "none"),
        }
        for key in TARGET_TYPES[name]:
            out[key] = target[key]
        rendered.append({"target": out})
    return sorted(rendered, key=lambda entry: json.dumps(entry["target"], sort_keys=True), reverse=True)


# --------------------------------------------------------------------------------------------------------------------
# Properties and resource types
# --------------------------------------------------------------------------------------------------------------------

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class Prop:
    """One property: kind (string|bool|int32|enum|datetime|assignments|strings), nullability, default, and for
    enums the values and enum type, for assignments the item type.  ``default`` may be a function of the object
    being created (for defaults derived from other properties)."""

    def __init__(self, kind, default=None, nullable=False, values=None, type_name=None):
        self.kind = kind
        self.default = default
        self.nullable = nullable
        self.values = values
        self.type_name = type_name

    def convert(self, name, value):
        """Validate one incoming value and return its stored form (datetimes as ticks)."""
        if value is None:
            if self.nullable:
                return None
            raise _null_not_allowed(name)
        kind = self.kind
        if kind == "string":
            if isinstance(value, str):
                return value
            raise BadRequest(f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.String'.")
        if kind == "bool":
            if value is True or value is False:
                return value
            raise BadRequest(f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.Boolean'.")
        if kind == "int32":
            if isinstance(value, int) and not isinstance(value, bool) and INT32_MIN <= value <= INT32_MAX:
                return value
            raise BadRequest(f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.Int32'.")
        if kind == "enum":
            if isinstance(value, str) and value in self.values:
                return value
            raise BadRequest(
                f"The value '{_literal(value)}' is not valid for property '{name}' of enum type '{self.type_name}'. "
                f"Valid values: {', '.join(self.values)}."
            )
        if kind == "datetime":
            try:
                return parse_datetime(value)
            except ValueError:
                raise BadRequest(
                    f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.DateTimeOffset'."
                ) from None
        if kind == "strings":
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                return list(value)
            raise BadRequest(
                f"Cannot convert the value of property '{name}' to the expected type 'Collection(Edm.String)'."
            )
        return convert_assignments(name, self.type_name, value)

    def render(self, value):
        if self.kind == "datetime" and value is not None:
            return format_ticks(value)
        if self.kind == "assignments":
            return render_assignments(value)
        return copy.deepcopy(value)

    def default_for(self, obj):
        return self.default(obj) if callable(self.default) else copy.deepcopy(self.default)


def _string(nullable=True, default=None):
    return Prop("string", default, nullable)


def _bool(default=False):
    return Prop("bool", default)


def _enum(type_name, values, default):
    return Prop("enum", default, values=values, type_name="microsoft.graph." + type_name)


def _datetime(nullable=False):
    return Prop("datetime", None if nullable else 0, nullable)


def _assignments(item_type):
    return Prop("assignments", [], type_name="microsoft.graph." + item_type)


class ResourceType:
    """A served entity type and the collection (or singleton) that holds it.

    ``segment``: its URL segment (and its name in the control API); ``context``: its path in ``@odata.context``,
    which is also where it is served (``deviceManagement/...``, ``deviceAppManagement/...`` or top level);
    ``annotated``: rendered with ``@odata.type``; ``always_id``: ``id`` is rendered even when ``$select`` leaves it
    out (Intune does so, Entra does not); ``keeps_client_id``: POST uses the body's ``id`` (else a client id is
    ignored and one is generated); ``required``: properties a new object must have; ``actions``: bound action name ->
    function changing the stored object; ``singleton``: one object at a fixed path, no id in the URL (absent until
    seeded); ``read_only``: served for GET only; ``versions``: the Graph versions that serve it; ``beta_only``: the
    properties that only beta serves (v1.0 neither returns nor selects them).
    """

    def __init__(
        self,
        segment,
        entity_type,
        properties,
        context,
        annotated=True,
        always_id=True,
        keeps_client_id=False,
        required=(),
        actions=None,
        singleton=False,
        read_only=False,
        versions=("v1.0", "beta"),
        beta_only=(),
    ):
        self.segment = segment
        self.entity_type = entity_type
        self.short_name = entity_type.rsplit(".", 1)[1]
        self.properties = properties
        self.context = context
        self.parent = context.rpartition("/")[0] or None
        self.annotated = annotated
        self.always_id = always_id
        self.keeps_client_id = keeps_client_id
        self.required = required
        self.actions = actions or {}
        self.singleton = singleton
        self.read_only = read_only
        self.versions = versions
        self.beta_only = frozenset(beta_only)

    def serves(self, name, version):
        """Whether property ``name`` exists under Graph ``version`` (None: any version, as stored)."""
        return name in self.properties and not (version == "v1.0" and name in self.beta_only)

    def convert(self, body, allow_id):
        """Validate a JSON object of this type's properties; returns (converted properties, body id or None)."""
        if not isinstance(body, dict):
            raise BadRequest(f"The request body must be a JSON object representing a '{self.entity_type}'.")
        converted = {}
        body_id = None
        for key, value in body.items():
            if key == "id":
                if allow_id:
                    if not isinstance(value, str):
                        raise BadRequest(
                            f"Cannot convert the literal '{_literal(value)}' to the expected type 'Edm.String'."
                        )
                    body_id = value
                continue
            if key == "@odata.type":
                if not isinstance(value, str) or value.lstrip("#") != self.entity_type:
                    raise BadRequest(
                        f"A type named '{_literal(value)}' could not be resolved by the model, or is not compatible "
                        f"with '{self.entity_type}'."
                    )
                continue
            if "@" in key:  # other OData instance/property annotations carry no data
                continue
            prop = self.properties.get(key)
            if prop is None:
                raise _unknown_property(key, self.entity_type)
            converted[key] = prop.convert(key, value)
        return converted, body_id

    def new(self, object_id, properties):
        """A stored object: the given (converted) properties, defaults for the rest."""
        for name in self.required:
            if properties.get(name) is None:
                raise BadRequest(f"The property '{name}' is required on type '{self.entity_type}'.")
        obj = {"id": object_id}
        obj.update(properties)
        for name, prop in self.properties.items():
            if name not in obj:
                obj[name] = prop.default_for(obj)
        return obj

    def render(self, obj, select=None, version=None):
        """A stored object as Graph ``version`` returns it (None: every property, as stored); ``select``: the
        property names to keep (None: all)."""
        out = {"@odata.type": "#" + self.entity_type} if self.annotated else {}
        if self.always_id or select is None or "id" in select:
            out["id"] = obj["id"]
        for name, prop in self.properties.items():
            if (select is None or name in select) and self.serves(name, version):
                out[name] = prop.render(obj[name])
        return out

    def parse_select(self, value, version=None):
        """The canonical property names of a ``$select`` value under Graph ``version``, or None for all."""
        if value is None:
            return None
        selectable = {
            name.lower(): name for name in ("id", *self.properties) if name == "id" or self.serves(name, version)
        }
        names = []
        for raw in value.split(","):
            name = raw.strip()
            if name == "*":
                return None
            canonical = selectable.get(name.lower())
            if canonical is None:
                raise BadRequest(f"Could not find a property named '{name}' on type '{self.entity_type}'.")
            if canonical not in names:
                names.append(canonical)
        return names

    def parse_filter(self, value, version=None):
        """The display name wanted by ``$filter=displayName eq '...'`` (OData quoting: '' is a quote)."""
        match = re.fullmatch(r"\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*", value)
        if not match:
            raise BadRequest(
                "Invalid filter clause: only \"displayName eq '<value>'\" is supported on "
                f"{self.segment} (got {value!r})."
            )
        if not self.serves("displayName", version):
            raise BadRequest(f"Could not find a property named 'displayName' on type '{self.entity_type}'.")
        return match.group(1).replace("''", "'")

    def action(self, segment):
        """The bound action named by a URL segment (with or without the 'microsoft.graph.' prefix), or None."""
        name = segment.removeprefix("microsoft.graph.")
        return self.actions.get(name)


# -- the served types ------------------------------------------------------------------------------------------------

PARTNER_STATES = ("unknown", "unavailable", "enabled", "terminated", "rejected", "unresponsive")
PARTNER_APP_TYPES = ("unknown", "singleTenantApp", "multiTenantApp")
ONBOARDING_STATUSES = ("notOnboarded", "onboarding", "onboarded")
MTD_PARTNER_STATES = ("unavailable", "available", "enabled", "unresponsive", "notSetUp", "error", "unknownFutureValue")


def _terminate(obj):
    obj["partnerState"] = "terminated"


def _begin_onboarding(obj):
    if obj["onboardingStatus"] == "notOnboarded":
        obj["onboardingStatus"] = "onboarding"


def _disconnect(obj):
    obj["onboardingStatus"] = "notOnboarded"


def _mail_nickname(group):
    """Entra's mailNickname allows ASCII letters, digits and a few marks, at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9._-]", "", group.get("displayName") or "")[:64] or "group"


# Properties in the order Graph documents them (which is also the order they are rendered in).
DEVICE_MANAGEMENT_PARTNER = ResourceType(
    "deviceManagementPartners",
    "microsoft.graph.deviceManagementPartner",
    {
        "lastHeartbeatDateTime": _datetime(),
        "partnerState": _enum("deviceManagementPartnerTenantState", PARTNER_STATES, "unknown"),
        "partnerAppType": _enum("deviceManagementPartnerAppType", PARTNER_APP_TYPES, "unknown"),
        "singleTenantAppId": _string(),
        "displayName": _string(),
        "isConfigured": _bool(),
        "whenPartnerDevicesWillBeRemovedDateTime": _datetime(nullable=True),
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": _datetime(nullable=True),
        "groupsRequiringPartnerEnrollment": _assignments("deviceManagementPartnerAssignment"),
    },
    "deviceManagement/deviceManagementPartners",
    actions={"terminate": _terminate},
)
COMPLIANCE_MANAGEMENT_PARTNER = ResourceType(
    "complianceManagementPartners",
    "microsoft.graph.complianceManagementPartner",
    {
        "lastHeartbeatDateTime": _datetime(),
        "partnerState": _enum("deviceManagementPartnerTenantState", PARTNER_STATES, "unknown"),
        "displayName": _string(),
        "macOsOnboarded": _bool(),
        "androidOnboarded": _bool(),
        "iosOnboarded": _bool(),
        "macOsEnrollmentAssignments": _assignments("complianceManagementPartnerAssignment"),
        "androidEnrollmentAssignments": _assignments("complianceManagementPartnerAssignment"),
        "iosEnrollmentAssignments": _assignments("complianceManagementPartnerAssignment"),
    },
    "deviceManagement/complianceManagementPartners",
)
REMOTE_ASSISTANCE_PARTNER = ResourceType(
    "remoteAssistancePartners",
    "microsoft.graph.remoteAssistancePartner",
    {
        "displayName": _string(),
        "onboardingUrl": _string(),
        "onboardingStatus": _enum("remoteAssistanceOnboardingStatus", ONBOARDING_STATUSES, "notOnboarded"),
        "lastConnectionDateTime": _datetime(),
    },
    "deviceManagement/remoteAssistancePartners",
    actions={"beginOnboarding": _begin_onboarding, "disconnect": _disconnect},
)
MOBILE_THREAT_DEFENSE_CONNECTOR = ResourceType(
    "mobileThreatDefenseConnectors",
    "microsoft.graph.mobileThreatDefenseConnector",
    {
        "lastHeartbeatDateTime": _datetime(),
        "partnerState": _enum("mobileThreatPartnerTenantState", MTD_PARTNER_STATES, "unavailable"),
        "allowPartnerToCollectIOSApplicationMetadata": _bool(),
        "allowPartnerToCollectIOSPersonalApplicationMetadata": _bool(),
        "androidDeviceBlockedOnMissingPartnerData": _bool(),
        "androidEnabled": _bool(),
        "androidMobileApplicationManagementEnabled": _bool(),
        "iosDeviceBlockedOnMissingPartnerData": _bool(),
        "iosEnabled": _bool(),
        "iosMobileApplicationManagementEnabled": _bool(),
        "microsoftDefenderForEndpointAttachEnabled": _bool(),
        "partnerUnresponsivenessThresholdInDays": Prop("int32", 0),
        "partnerUnsupportedOsVersionBlocked": _bool(),
        "windowsDeviceBlockedOnMissingPartnerData": _bool(),
        "windowsEnabled": _bool(),
    },
    "deviceManagement/mobileThreatDefenseConnectors",
    keeps_client_id=True,
)
GROUP = ResourceType(
    "groups",
    "microsoft.graph.group",
    {
        "displayName": _string(nullable=False),
        "description": _string(),
        "mailNickname": _string(nullable=False, default=_mail_nickname),
        "securityEnabled": _bool(default=True),
        "mailEnabled": _bool(),
        "groupTypes": Prop("strings", []),
    },
    "groups",
    annotated=False,
    always_id=False,
    required=("displayName",),
)

# The Intune collections under /deviceManagement, and every collection by its control API name.
# -- connector and token health kinds (read-only) ---------------------------------------------------------------------
# Every primitive, enum and DateTimeOffset property of the msgraph-sdk (v1.0) and msgraph-beta-sdk models, in the
# order Graph documents them; complex and navigation properties (VPP tokenActionResults, NDES healthChecks, Managed
# Google Play companyCodes, the ADE enrollment profiles) are not served.  The enums hold beta's values (a superset).

VPP_TOKEN_STATES = ("unknown", "valid", "expired", "invalid", "assignedToExternalMDM", "duplicateLocationId")
VPP_TOKEN_SYNC_STATUSES = ("none", "inProgress", "completed", "failed")
VPP_TOKEN_ACCOUNT_TYPES = ("business", "education")
APPLE_DELIVERY_PROTOCOLS = ("default", "mobileDeviceManagement", "declarativeDeviceManagement", "unknownFutureValue")
DEP_TOKEN_TYPES = ("none", "dep", "appleSchoolManager")
NDES_CONNECTOR_STATES = ("none", "active", "inactive")
NDES_HEALTH_STATUSES = (
    "unknown",
    "noActionRequired",
    "attentionRequired",
    "actionRequired",
    "disconnected",
    "unknownFutureValue",
)
EXCHANGE_CONNECTOR_STATUSES = ("none", "connectionPending", "connected", "disconnected", "unknownFutureValue")
EXCHANGE_CONNECTOR_TYPES = ("onPremises", "hosted", "serviceToService", "dedicated", "unknownFutureValue")
BIND_STATUSES = ("notBound", "bound", "boundAndValidated", "unbinding")
APP_SYNC_STATUSES = (
    "success",
    "credentialsNotValid",
    "androidForWorkApiError",
    "managementServiceError",
    "unknownError",
    "none",
)
ENROLLMENT_TARGETS = ("none", "all", "targeted", "targetedAsEnrollmentRestrictions")
GOOGLE_PLAY_ENTERPRISE_TYPES = (
    "enterpriseTypeUnspecified",
    "managedGoogleDomain",
    "managedGooglePlayAccountsEnterprise",
    "unknownFutureValue",
)
AUTOPILOT_SYNC_STATUSES = ("unknown", "inProgress", "completed", "failed")


def _int32(default=0):
    return Prop("int32", default)


def _strings():
    return Prop("strings", [])


APPLE_PUSH_NOTIFICATION_CERTIFICATE = ResourceType(
    "applePushNotificationCertificate",
    "microsoft.graph.applePushNotificationCertificate",
    {
        "appleIdentifier": _string(),
        "topicIdentifier": _string(),
        "lastModifiedDateTime": _datetime(),
        "expirationDateTime": _datetime(),
        "certificateUploadStatus": _string(),
        "certificateUploadFailureReason": _string(),
        "certificateSerialNumber": _string(),
        "certificate": _string(),  # a secret: served to whoever does not $select around it, as Graph does
    },
    "deviceManagement/applePushNotificationCertificate",
    singleton=True,
    read_only=True,
)
VPP_TOKEN = ResourceType(
    "vppTokens",
    "microsoft.graph.vppToken",
    {
        "organizationName": _string(),
        "vppTokenAccountType": _enum("vppTokenAccountType", VPP_TOKEN_ACCOUNT_TYPES, "business"),
        "appleId": _string(),
        "expirationDateTime": _datetime(),
        "lastSyncDateTime": _datetime(),
        "token": _string(),  # a secret, like the APNs certificate
        "lastModifiedDateTime": _datetime(),
        "state": _enum("vppTokenState", VPP_TOKEN_STATES, "unknown"),
        "lastSyncStatus": _enum("vppTokenSyncStatus", VPP_TOKEN_SYNC_STATUSES, "none"),
        "automaticallyUpdateApps": _bool(),
        "countryOrRegion": _string(),
        "dataSharingConsentGranted": _bool(),
        "displayName": _string(),
        "locationName": _string(),
        "claimTokenManagementFromExternalMdm": _bool(),
        "roleScopeTagIds": _strings(),
        "appleDeviceAppDeliveryProtocolType": _enum("appleDeviceDeliveryProtocol", APPLE_DELIVERY_PROTOCOLS, "default"),
    },
    "deviceAppManagement/vppTokens",
    read_only=True,
    beta_only=(
        "dataSharingConsentGranted",
        "displayName",
        "locationName",
        "claimTokenManagementFromExternalMdm",
        "roleScopeTagIds",
        "appleDeviceAppDeliveryProtocolType",
    ),
)
DEP_ONBOARDING_SETTING = ResourceType(
    "depOnboardingSettings",
    "microsoft.graph.depOnboardingSetting",
    {
        "appleIdentifier": _string(),
        "lastModifiedDateTime": _datetime(),
        "lastSuccessfulSyncDateTime": _datetime(),
        "lastSyncTriggeredDateTime": _datetime(),
        "shareTokenWithSchoolDataSyncService": _bool(),
        "lastSyncErrorCode": _int32(),
        "tokenType": _enum("depTokenType", DEP_TOKEN_TYPES, "none"),
        "tokenExpirationDateTime": _datetime(),
        "syncedDeviceCount": _int32(),
        "tokenName": _string(),
        "dataSharingConsentGranted": _bool(),
        "roleScopeTagIds": _strings(),
    },
    "deviceManagement/depOnboardingSettings",
    read_only=True,
    versions=("beta",),
)
NDES_CONNECTOR = ResourceType(
    "ndesConnectors",
    "microsoft.graph.ndesConnector",
    {
        "lastConnectionDateTime": _datetime(),
        "state": _enum("ndesConnectorState", NDES_CONNECTOR_STATES, "none"),
        "displayName": _string(),
        "machineName": _string(),
        "enrolledDateTime": _datetime(),
        "roleScopeTagIds": _strings(),
        "connectorVersion": _string(),
        "healthStatus": _enum("ndesConnectorHealthStatus", NDES_HEALTH_STATUSES, "unknown"),
    },
    "deviceManagement/ndesConnectors",
    read_only=True,
    versions=("beta",),
)
EXCHANGE_CONNECTOR = ResourceType(
    "exchangeConnectors",
    "microsoft.graph.deviceManagementExchangeConnector",
    {
        "lastSyncDateTime": _datetime(),
        "status": _enum("deviceManagementExchangeConnectorStatus", EXCHANGE_CONNECTOR_STATUSES, "none"),
        "primarySmtpAddress": _string(),
        "serverName": _string(),
        "connectorServerName": _string(),
        "exchangeConnectorType": _enum("deviceManagementExchangeConnectorType", EXCHANGE_CONNECTOR_TYPES, "onPremises"),
        "version": _string(),
        "exchangeAlias": _string(),
        "exchangeOrganization": _string(),
    },
    "deviceManagement/exchangeConnectors",
    read_only=True,
)
MANAGED_GOOGLE_PLAY = ResourceType(
    "androidManagedStoreAccountEnterpriseSettings",
    "microsoft.graph.androidManagedStoreAccountEnterpriseSettings",
    {
        "bindStatus": _enum("androidManagedStoreAccountBindStatus", BIND_STATUSES, "notBound"),
        "lastAppSyncDateTime": _datetime(),
        "lastAppSyncStatus": _enum("androidManagedStoreAccountAppSyncStatus", APP_SYNC_STATUSES, "none"),
        "ownerUserPrincipalName": _string(),
        "ownerOrganizationName": _string(),
        "lastModifiedDateTime": _datetime(),
        "enrollmentTarget": _enum("androidManagedStoreAccountEnrollmentTarget", ENROLLMENT_TARGETS, "none"),
        "targetGroupIds": _strings(),
        "deviceOwnerManagementEnabled": _bool(),
        "androidDeviceOwnerFullyManagedEnrollmentEnabled": _bool(),
        "managedGooglePlayEnterpriseType": _enum(
            "managedGooglePlayEnterpriseType", GOOGLE_PLAY_ENTERPRISE_TYPES, "enterpriseTypeUnspecified"
        ),
        "managedGooglePlayInitialScopeTagIds": _strings(),
    },
    "deviceManagement/androidManagedStoreAccountEnterpriseSettings",
    singleton=True,
    read_only=True,
    versions=("beta",),
)
WINDOWS_AUTOPILOT_SETTINGS = ResourceType(
    "windowsAutopilotSettings",
    "microsoft.graph.windowsAutopilotSettings",
    {
        "lastSyncDateTime": _datetime(),
        "lastManualSyncTriggerDateTime": _datetime(),
        "syncStatus": _enum("windowsAutopilotSyncStatus", AUTOPILOT_SYNC_STATUSES, "unknown"),
    },
    "deviceManagement/windowsAutopilotSettings",
    singleton=True,
    read_only=True,
    versions=("beta",),
)
HEALTH_TYPES = (
    APPLE_PUSH_NOTIFICATION_CERTIFICATE,
    VPP_TOKEN,
    DEP_ONBOARDING_SETTING,
    NDES_CONNECTOR,
    EXCHANGE_CONNECTOR,
    MANAGED_GOOGLE_PLAY,
    WINDOWS_AUTOPILOT_SETTINGS,
)

# Every served type by its control API name (= its URL segment), and by where it is served: (parent, segment),
# lower-cased, as Graph matches URL segments without regard to case.
COLLECTIONS = {
    rtype.segment: rtype
    for rtype in (
        DEVICE_MANAGEMENT_PARTNER,
        COMPLIANCE_MANAGEMENT_PARTNER,
        REMOTE_ASSISTANCE_PARTNER,
        MOBILE_THREAT_DEFENSE_CONNECTOR,
        GROUP,
        *HEALTH_TYPES,
    )
}
ROUTES = {((rtype.parent or "").lower(), rtype.segment.lower()): rtype for rtype in COLLECTIONS.values()}
DEFAULT_COLLECTION = DEVICE_MANAGEMENT_PARTNER.segment
KNOWN_TYPES = frozenset(
    (
        *TARGET_TYPES,
        TARGET_BASE_TYPE,
        "microsoft.graph.deviceManagementPartnerAssignment",
        "microsoft.graph.complianceManagementPartnerAssignment",
        *(rtype.entity_type for rtype in COLLECTIONS.values()),
    )
)
