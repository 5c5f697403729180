# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource logic for Intune device management partners: lookup, compare, write, predict.

Plain code: it takes validated parameters and a GraphClient and returns a result dict, so the module,
the info module and the in-process action plugin all share it.
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphError,
    GraphOptionError,
    ResourceError,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_task import GraphTask
from ansible_collections.msgraph.intune.plugins.module_utils._graph_values import (
    datetime_ticks,
    format_ticks,
    odata_string,
    validate_id,
)

COLLECTION = "deviceManagement/deviceManagementPartners"
PARTNER_STATES = ("unknown", "unavailable", "enabled", "terminated", "rejected", "unresponsive")
PARTNER_APP_TYPES = ("unknown", "singleTenantApp", "multiTenantApp")


class Property:
    """One documented partner property: its option name, Graph name and value kind."""

    def __init__(self, option, graph, kind, choices=None):
        self.option = option
        self.graph = graph
        self.kind = kind
        self.choices = choices

    def argument_spec(self):
        spec = {"type": "bool" if self.kind == "bool" else "str", "aliases": [self.graph]}
        if self.choices:
            spec["choices"] = list(self.choices)
        return spec

    def to_graph(self, value):
        """The value as Graph stores and returns it (instants in UTC with 7 fractional digits)."""
        if self.kind == "datetime" and value is not None:
            return format_ticks(datetime_ticks(value, self.option))
        return value

    def same(self, desired, current):
        if self.kind != "datetime" or desired is None or current is None:
            return desired == current
        try:
            return datetime_ticks(desired, self.option) == datetime_ticks(current, self.option)
        except GraphOptionError:
            return False  # Graph holds something we cannot read: treat it as drift


PROPERTIES = (
    Property("display_name", "displayName", "str"),
    Property("partner_state", "partnerState", "str", PARTNER_STATES),
    Property("partner_app_type", "partnerAppType", "str", PARTNER_APP_TYPES),
    Property("single_tenant_app_id", "singleTenantAppId", "str"),
    Property("is_configured", "isConfigured", "bool"),
    Property("last_heartbeat_date_time", "lastHeartbeatDateTime", "datetime"),
    Property("when_partner_devices_will_be_removed_date_time", "whenPartnerDevicesWillBeRemovedDateTime", "datetime"),
    Property(
        "when_partner_devices_will_be_marked_as_non_compliant_date_time",
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime",
        "datetime",
    ),
)
PROPERTY_BY_OPTION = {prop.option: prop for prop in PROPERTIES}
# Returned as Graph gives it, never compared or written: the update API does not document it.
UNMANAGED_RETURNED = (("groups_requiring_partner_enrollment", "groupsRequiringPartnerEnrollment"),)
# Set by the service; an export leaves them out so that it can be applied back unchanged.
SERVER_MANAGED_OPTIONS = ("last_heartbeat_date_time",)


def partner_argument_spec():
    """Options of device_management_partner (the connection options are added by the module wrapper)."""
    spec = {
        "id": {"type": "str"},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent", "terminated"]},
    }
    for prop in PROPERTIES:
        spec[prop.option] = prop.argument_spec()
    return spec


def info_argument_spec():
    return {"id": {"type": "str"}, "display_name": PROPERTY_BY_OPTION["display_name"].argument_spec()}


def to_partner(graph_object):
    """A Graph object with option names as keys (None stays None)."""
    if graph_object is None:
        return None
    partner = {"id": graph_object.get("id")}
    for prop in PROPERTIES:
        partner[prop.option] = graph_object.get(prop.graph)
    for option, graph in UNMANAGED_RETURNED:
        partner[option] = graph_object.get(graph)
    return partner


def to_desired_state(partner):
    """Options for device_management_partner that reproduce `partner` exactly (the export)."""
    entry = {"id": partner["id"]}
    for prop in PROPERTIES:
        if prop.option not in SERVER_MANAGED_OPTIONS and partner.get(prop.option) is not None:
            entry[prop.option] = partner[prop.option]
    return entry


def _managed_view(partner):
    return {prop.option: partner.get(prop.option) for prop in PROPERTIES} if partner else {}


def _item_path(partner_id):
    return f"{COLLECTION}/{partner_id}"


def validate_params(params):
    """Everything that can be checked without Graph, so bad input fails before any request."""
    if params.get("id") is not None:
        validate_id(params["id"])
    for prop in PROPERTIES:
        if prop.kind == "datetime" and params.get(prop.option) is not None:
            datetime_ticks(params[prop.option], prop.option)
    state = params.get("state", "present")
    if state == "terminated" and params.get("partner_state") not in (None, "terminated"):
        raise GraphOptionError("state=terminated conflicts with partner_state={}".format(params["partner_state"]))
    if params.get("id") is None and params.get("display_name") is None:
        raise GraphOptionError("one of id or display_name is required to identify the partner")


def get_by_id(client, partner_id, missing_ok):
    if missing_ok:
        return client.get_or_none(_item_path(partner_id))
    try:
        return client.get(_item_path(partner_id))
    except GraphError as exc:
        if exc.status != 404:
            raise
        raise exc.with_message(
            f"no device management partner has id {partner_id} (HTTP 404 {exc.code}, request-id: {exc.request_id}, client-request-id: {exc.client_request_id})"
        ) from None


def find_by_name(client, name):
    """Exact, case-sensitive match over every page. The server-side $filter only narrows the list."""
    try:
        candidates = client.list(COLLECTION, params={"$filter": f"displayName eq {odata_string(name)}"})
    except GraphError as exc:
        if exc.status != 400:
            raise
        candidates = client.list(COLLECTION)  # this endpoint does not filter on displayName
    return [candidate for candidate in candidates if candidate.get("displayName") == name]


def find_one_by_name(client, name):
    matches = find_by_name(client, name)
    if len(matches) > 1:
        ids = [match.get("id") for match in matches]
        raise ResourceError(
            f"{len(ids)} device management partners are named {name!r} (ids: {', '.join(ids)}); give id to choose one",
            matching_ids=ids,
        )
    return matches[0] if matches else None


def list_partners(client, params):
    """The info module: every partner, one by id (an unknown id gives none), or those with a name."""
    if params.get("id") is not None:
        found = get_by_id(client, validate_id(params["id"]), missing_ok=True)
        objects = [found] if found else []
    elif params.get("display_name") is not None:
        objects = find_by_name(client, params["display_name"])
    else:
        objects = client.list(COLLECTION)
    partners = [to_partner(obj) for obj in objects]
    return {"changed": False, "partners": partners, "desired_state": [to_desired_state(p) for p in partners]}


def ensure_partner(client, params, check_mode=False):
    """Converge one partner to `params` (validated module parameters). Returns the module result."""
    validate_params(params)
    state = params.get("state") or "present"
    desired = {prop.option: params[prop.option] for prop in PROPERTIES if params.get(prop.option) is not None}
    if params.get("id") is not None:
        current = get_by_id(client, params["id"], missing_ok=(state == "absent"))
    else:
        current = find_one_by_name(client, params["display_name"])

    if state == "absent":
        return _ensure_absent(client, current, check_mode)
    if current is None:
        if state == "terminated":
            raise ResourceError(
                "no device management partner is named {!r}, so none can be terminated".format(params["display_name"])
            )
        return _create(client, desired, check_mode)

    if state == "terminated":
        desired.pop("partner_state", None)
    before = to_partner(current)
    changes = {
        option: value
        for option, value in desired.items()
        if not PROPERTY_BY_OPTION[option].same(value, before.get(option))
    }
    after = dict(before)
    if changes:
        returned = None if check_mode else client.update(_item_path(before["id"]), _graph_body(changes))
        # A 200 carries the object; after a 204 it is what Graph held plus what we wrote.
        after = to_partner(returned) if returned else dict(before, **_graph_values(changes))
    changed_properties = [prop.option for prop in PROPERTIES if prop.option in changes]
    if state == "terminated" and after.get("partner_state") != "terminated":
        if not check_mode:
            client.action(_item_path(before["id"]) + "/terminate")
        after["partner_state"] = "terminated"
        changed_properties.append("partner_state")
    return _result(before, after, changed_properties)


def _graph_values(options):
    """Option values as Graph renders them, keyed by option name."""
    return {option: PROPERTY_BY_OPTION[option].to_graph(value) for option, value in options.items()}


def _graph_body(options):
    """A request body: Graph names and Graph renderings."""
    return {PROPERTY_BY_OPTION[option].graph: value for option, value in _graph_values(options).items()}


def _create(client, desired, check_mode):
    if check_mode:
        # Honest about what cannot be known: the id and the properties the task leaves to the server stay None.
        after = dict(to_partner({}), **_graph_values(desired))
    else:
        name = desired["display_name"]
        created = client.create(COLLECTION, _graph_body(desired), recover=lambda: find_one_by_name(client, name))
        after = to_partner(created) if created else to_partner(find_one_by_name(client, name))
    changed_properties = [prop.option for prop in PROPERTIES if prop.option in desired]
    return _result(None, after, changed_properties)


def _ensure_absent(client, current, check_mode):
    if current is None:
        return _result(None, None, [])
    if not check_mode:
        try:
            client.delete(_item_path(current["id"]))
        except GraphError as exc:
            if exc.status != 404:
                raise
            # Deleted by someone else since our read: the partner is absent, as asked.
    return _result(to_partner(current), None, [], changed=True)


def _result(before, after, changed_properties, changed=None):
    return {
        "changed": bool(changed_properties) if changed is None else changed,
        "partner": after,
        "changed_properties": changed_properties,
        "diff": {"before": _managed_view(before), "after": _managed_view(after)},
    }


PARTNER_TASK = GraphTask(partner_argument_spec(), ensure_partner, required_one_of=[("id", "display_name")])
PARTNER_INFO_TASK = GraphTask(info_argument_spec(), lambda client, params, check_mode: list_partners(client, params))
