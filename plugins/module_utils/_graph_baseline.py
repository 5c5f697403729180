# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's baseline of connector objects: applied, audited or exported with one list request per kind.

Every object of the baseline is validated before the first request; then each managed kind is listed once (all
pages), the baseline's objects are matched to the listed ones (by id, or by exact display name), and each match is
compared and written by the same engine the single-object modules use. What the baseline does not list is reported
as unmanaged, and deleted only when pruning.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.msgraph.intune.plugins.module_utils._compliance_management_partner import (
    RESOURCE as COMPLIANCE_MANAGEMENT_PARTNER,
)
from ansible_collections.msgraph.intune.plugins.module_utils._device_management_partner import (
    RESOURCE as DEVICE_MANAGEMENT_PARTNER,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import Engine
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError, ResourceError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_targets import GroupDirectory
from ansible_collections.msgraph.intune.plugins.module_utils._graph_task import GraphTask, validation_message
from ansible_collections.msgraph.intune.plugins.module_utils._mobile_threat_defense_connector import (
    RESOURCE as MOBILE_THREAT_DEFENSE_CONNECTOR,
)
from ansible_collections.msgraph.intune.plugins.module_utils._remote_assistance_partner import (
    RESOURCE as REMOTE_ASSISTANCE_PARTNER,
)

# Baseline key -> resource, in the order they are listed, applied and reported.
KINDS = {
    "device_management_partners": DEVICE_MANAGEMENT_PARTNER,
    "compliance_management_partners": COMPLIANCE_MANAGEMENT_PARTNER,
    "remote_assistance_partners": REMOTE_ASSISTANCE_PARTNER,
    "mobile_threat_defense_connectors": MOBILE_THREAT_DEFENSE_CONNECTOR,
}
MODES = ("apply", "audit", "export")
STATUSES = ("drift", "missing", "unmanaged")

ARGUMENT_SPEC = {
    "baseline": {
        "type": "dict",
        "options": {kind: {"type": "list", "elements": "dict"} for kind in KINDS},
    },
    "mode": {"type": "str", "default": "apply", "choices": list(MODES)},
    "prune": {"type": "bool", "default": False},
}


class Entry:
    """One object of the baseline: its validated options, what they ask for, and the object it names."""

    def __init__(self, kind, index, params, desired, actions):
        self.kind = kind
        self.index = index
        self.params = params
        self.desired = desired
        self.actions = actions
        self.current = None

    @property
    def where(self):
        return f"baseline.{self.kind}[{self.index}]"


def _label(view):
    return view.get("display_name") or view.get("id")


def validate_baseline(baseline):
    """{kind: [Entry]} for the kinds the baseline names; any bad object fails here, before any request."""
    validated = {}
    for kind, objects in baseline.items():
        resource = KINDS[kind]
        validator = ArgumentSpecValidator(resource.argument_spec(), **resource.constraints())
        entries = []
        for index, options in enumerate(objects):
            where = f"baseline.{kind}[{index}]"
            result = validator.validate(options)
            if result.error_messages:
                raise GraphOptionError(f"{where}: {validation_message(result, 'msgraph.intune.' + resource.name)}")
            params = result.validated_parameters
            try:
                desired = resource.desired(params)
            except GraphOptionError as exc:
                raise GraphOptionError(f"{where}: {exc}") from None
            entries.append(Entry(kind, index, params, desired, resource.requested_actions(params)))
        validated[kind] = entries
    return validated


class TenantBaseline:
    def __init__(self, client):
        self.client = client
        self.directory = GroupDirectory(client)

    def run(self, params, check_mode=False):
        if params.get("mode") == "export":
            return self.export()
        # The argument spec fills every kind that the task leaves out with None.
        kinds = {kind: objects for kind, objects in (params.get("baseline") or {}).items() if objects is not None}
        if not kinds:
            raise GraphOptionError(f"baseline is required with mode={params.get('mode')}: it names the kinds to manage")
        validated = validate_baseline(kinds)
        dry_run = check_mode or params.get("mode") == "audit"
        report = []
        changed = False
        for kind, entries in validated.items():
            kind_changed, kind_report = self._converge(kind, entries, params.get("prune"), dry_run)
            changed = changed or kind_changed
            report.extend(kind_report)
        counts = {status: sum(1 for row in report if row["status"] == status) for status in STATUSES}
        return {"changed": changed, "drift": report, "counts": counts, "kinds": list(validated)}

    def _converge(self, kind, entries, prune, dry_run):
        resource = KINDS[kind]
        engine = Engine(resource, self.client)
        current = self.client.list(resource.collection)
        self._match(engine, entries, current)
        changed = False
        report = []

        def row(status, view, prop=None, before=None, after=None):
            report.append(
                {
                    "kind": kind,
                    "object": _label(view),
                    "id": view.get("id"),
                    "status": status,
                    "property": prop,
                    "current": before,
                    "desired": after,
                }
            )

        for entry in entries:
            if entry.params.get("state") == "absent":
                if entry.current is not None:
                    engine.remove(entry.current, dry_run)
                    changed = True
                    row("drift", resource.view(entry.current), "state", "present", "absent")
                continue
            desired = engine.resolve(entry.desired, self.directory)
            if entry.current is None:
                if entry.params.get("id") is not None and not resource.client_assigned_id:
                    raise ResourceError(f"{entry.where}: no {resource.noun} has id {entry.params['id']}")
                result = engine.create(entry.params, desired, entry.actions, dry_run)
                changed = True
                row("missing", result[resource.result_key], "state", "absent", "present")
                continue
            result = engine.update(entry.current, desired, entry.actions, dry_run)
            changed = changed or result["changed"]
            before, after = result["diff"]["before"], result["diff"]["after"]
            for prop in result["changed_properties"]:
                row("drift", resource.view(entry.current), prop, before.get(prop), after.get(prop))

        matched = {id(entry.current) for entry in entries if entry.current is not None}
        for obj in current:
            if id(obj) in matched:
                continue
            view = resource.view(obj)
            if prune:
                engine.remove(obj, dry_run)
                changed = True
            row("unmanaged", view, "state", "present", "absent" if prune else None)
        return changed, report

    @staticmethod
    def _match(engine, entries, current):
        """Find each entry's object among the listed ones: by id, else by exact display name."""
        by_id = {str(obj.get("id")).casefold(): obj for obj in current}
        claimed = {}
        for entry in entries:
            if entry.params.get("id") is not None:
                entry.current = by_id.get(entry.params["id"].casefold())
            else:
                try:
                    entry.current = engine.find_one_by_name(entry.params["display_name"], current)
                except ResourceError as exc:
                    raise ResourceError(f"{entry.where}: {exc}", **exc.details) from None
            if entry.current is not None:
                other = claimed.setdefault(id(entry.current), entry)
                if other is not entry:
                    raise ResourceError(
                        f"{other.where} and {entry.where} name the same object ({entry.current.get('id')})"
                    )

    def export(self):
        """The tenant as a baseline for other tenants: group names, no tenant-specific ids."""
        baseline = {}
        warnings = []
        for kind, resource in KINDS.items():
            listing = Engine(resource, self.client).listing({"group_names": True}, self.directory)
            baseline[kind] = listing["desired_state"]
            warnings.extend(listing.get("warnings", []))
        result = {"changed": False, "baseline": baseline}
        if warnings:
            result["warnings"] = warnings
        return result


def _operation(client, params, check_mode):
    return TenantBaseline(client).run(params, check_mode)


TASK = GraphTask(
    ARGUMENT_SPEC, _operation, required_if=[("mode", "apply", ("baseline",)), ("mode", "audit", ("baseline",))]
)
