# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tenant's baseline of connector objects: applied, audited or exported with one read of the whole tenant.

Every object of the baseline is validated before the first request. Then one read_many (a Graph JSON batch per API
version) lists every managed kind, looks up every group name the baseline uses and, in an audit with health, reads
the connector health kinds too. The baseline's objects are matched to the listed ones (by id, or by exact display
name) and each match is compared and written by the same engine the single-object modules use. What the baseline
does not list is reported as unmanaged, and deleted only when pruning.

What cannot be resolved in this tenant (a group name it lacks, an ambiguous name, a kind Graph refuses to list) is a
problem of that object only: an audit reports it as an `error` entry and audits everything else; apply writes
nothing to the tenant and fails once, listing every problem.
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
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphError,
    GraphOptionError,
    ResourceError,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_health import HEALTH_ARGUMENT_SPEC, HealthCheck
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
MODES = ("apply", "audit", "export", "validate", "health")
STATUSES = ("drift", "missing", "unmanaged", "error")

ARGUMENT_SPEC = {
    "baseline": {
        "type": "dict",
        "options": {kind: {"type": "list", "elements": "dict"} for kind in KINDS},
    },
    "mode": {"type": "str", "default": "apply", "choices": list(MODES)},
    "prune": {"type": "bool", "default": False},
    # The options of connector_health, validated by its own spec (validate_health), so they are documented once.
    "health": {"type": "dict"},
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
        self.resolved = None  # desired, with group names turned into this tenant's ids
        self.problems = []

    @property
    def where(self):
        return f"baseline.{self.kind}[{self.index}]"

    @property
    def label(self):
        return self.params.get("display_name") or self.params.get("id")


class Problem:
    """Something of the baseline that this tenant cannot resolve: an `error` entry of an audit."""

    def __init__(self, kind, message, entry=None, option=None, value=None, object_id=None):
        self.kind = kind
        self.entry = entry
        self.option = option
        self.value = value
        self.object_id = object_id
        self.message = message

    def describe(self):
        where = f"{self.entry.where} ({self.entry.label})" if self.entry else self.kind
        return f"{where}: {self.message}"

    def row(self):
        return {
            "kind": self.kind,
            "object": self.entry.label if self.entry else None,
            "id": self.object_id,
            "status": "error",
            "property": self.option,
            "current": None,
            "desired": self.value,
            "message": self.describe(),
        }


def validate_baseline(baseline):
    """{kind: [Entry]} for the kinds the baseline names; any bad object fails here, before any request."""
    validated = {}
    for kind, objects in baseline.items():
        resource = KINDS[kind]
        validator = ArgumentSpecValidator(resource.argument_spec(), **resource.constraints())
        entries = []
        for index, options in enumerate(objects):
            where = f"baseline.{kind}[{index}]"
            if not isinstance(options, dict):
                raise GraphOptionError(f"{where} must be a dictionary of options, got {type(options).__name__}")
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


def validate_health(options):
    """The health options as connector_health validates its own; a bad one fails here, before any request."""
    result = ArgumentSpecValidator(HEALTH_ARGUMENT_SPEC).validate(options)
    if result.error_messages:
        raise GraphOptionError(f"health: {validation_message(result, 'msgraph.intune.connector_health')}")
    return result.validated_parameters


class TenantBaseline:
    def __init__(self, client):
        self.client = client
        self.directory = GroupDirectory(client) if client is not None else None

    def run(self, params, check_mode=False):
        mode = params.get("mode") or "apply"
        if mode == "export":
            return self.export()
        if mode == "health":
            return self.health(HealthCheck(validate_health(params.get("health") or {})))
        # The argument spec fills every kind that the task leaves out with None.
        kinds = {kind: objects for kind, objects in (params.get("baseline") or {}).items() if objects is not None}
        if not kinds:
            raise GraphOptionError(f"baseline is required with mode={mode}: it names the kinds to manage")
        validated = validate_baseline(kinds)
        health = None
        if params.get("health") is not None:
            if mode != "audit":
                raise GraphOptionError("health is judged by mode=audit or mode=health only")
            health = HealthCheck(validate_health(params["health"]))
        if mode == "validate":
            objects = sum(len(entries) for entries in validated.values())
            return {"changed": False, "kinds": list(validated), "objects": objects}

        listed, health_results = self._read(validated, health)
        problems = self._prepare(validated, listed)
        if problems and mode == "apply":
            raise ResourceError(
                f"nothing was written to this tenant: {len(problems)} part(s) of the baseline cannot be resolved "
                "here: " + "; ".join(problem.describe() for problem in problems),
                problems=[problem.row() for problem in problems],
            )
        dry_run = check_mode or mode == "audit"
        outcome = Outcome()
        for problem in problems:
            outcome.report.append(problem.row())
        for kind, entries in validated.items():
            if listed[kind].error is None:
                self._converge(kind, entries, listed[kind].value, params.get("prune"), dry_run, outcome)
        counts = {status: sum(1 for row in outcome.report if row["status"] == status) for status in STATUSES}
        result = {
            "changed": outcome.changed,
            "drift": outcome.report,
            "counts": counts,
            "kinds": list(validated),
            "diff": outcome.diff,
        }
        if health is not None:
            result["health"] = health.judge(health_results, self.client.settings.api_version)
        return result

    # -- one read of the whole tenant --------------------------------------------------------------------------------

    def _read(self, validated, health):
        """({kind: ReadResult} of the managed kinds, {health kind: ReadResult}) from one read_many, which also
        looks up every group name that the baseline uses."""
        reads = {("kind", kind): KINDS[kind].read() for kind in validated}
        health_reads = health.reads() if health is not None else {}
        for kind, read in health_reads.items():
            if kind not in validated:  # a managed kind's full list serves its health too
                reads[("health", kind)] = read
        names = sorted(
            {
                name
                for kind, entries in validated.items()
                for entry in entries
                for name in KINDS[kind].group_names_in(entry.desired)
            }
        )
        for name, read in self.directory.name_reads(names).items():
            reads[("group", name)] = read
        results = dict(zip(reads, self.client.read_many(list(reads.values()))))
        self.directory.learn_names({key[1]: result for key, result in results.items() if key[0] == "group"})
        listed = {kind: results[("kind", kind)] for kind in validated}
        health_results = {kind: results.get(("health", kind)) or results[("kind", kind)] for kind in health_reads}
        return listed, health_results

    # -- match and resolve, before anything is compared or written ---------------------------------------------------

    def _prepare(self, validated, listed):
        """Match every entry to its object and resolve its group names; returns every problem found."""
        problems = []
        for kind, entries in validated.items():
            result = listed[kind]
            if result.error is not None:
                problems.append(Problem(kind, f"{KINDS[kind].noun}s cannot be listed: {result.error}"))
                continue
            self._match(kind, entries, result.value, problems)
            for entry in entries:
                if not entry.problems:
                    self._resolve(entry, problems)
        return problems

    def _match(self, kind, entries, current, problems):
        """Find each entry's object among the listed ones: by id, else by exact display name."""
        resource = KINDS[kind]
        engine = Engine(resource, self.client)
        by_id = {str(obj.get("id")).casefold(): obj for obj in current}
        claimed = {}
        for entry in entries:
            if entry.params.get("id") is not None:
                entry.current = by_id.get(entry.params["id"].casefold())
                if entry.current is None and not resource.client_assigned_id and entry.params.get("state") != "absent":
                    self._problem(problems, entry, f"no {resource.noun} has id {entry.params['id']} in this tenant")
            else:
                try:
                    entry.current = engine.find_one_by_name(entry.params["display_name"], current)
                except ResourceError as exc:
                    self._problem(problems, entry, str(exc))
            if entry.current is not None:
                other = claimed.setdefault(id(entry.current), entry)
                if other is not entry:
                    self._problem(
                        problems,
                        entry,
                        f"{other.where} and {entry.where} name the same object ({entry.current.get('id')})",
                    )

    def _resolve(self, entry, problems):
        """Every group name of the entry, each checked on its own so that a failure lists all of them."""
        resource = KINDS[entry.kind]
        for option, value in entry.desired.items():
            prop = resource.by_option[option]
            for name in prop.group_names_in(value):
                try:
                    self.directory.id_for(name, option)
                except (ResourceError, GraphError) as exc:
                    self._problem(problems, entry, str(exc), option, name)
        if not entry.problems:
            entry.resolved = Engine(resource, self.client).resolve(entry.desired, self.directory)

    @staticmethod
    def _problem(problems, entry, message, option=None, value=None):
        problem = Problem(entry.kind, message, entry, option, value, (entry.current or {}).get("id"))
        entry.problems.append(problem)
        problems.append(problem)

    # -- compare and write ---------------------------------------------------------------------------------------------

    def _converge(self, kind, entries, current, prune, dry_run, outcome):
        resource = KINDS[kind]
        engine = Engine(resource, self.client)
        for entry in entries:
            if entry.problems:
                continue
            if entry.params.get("state") == "absent":
                if entry.current is not None:
                    result = engine.remove(entry.current, dry_run)
                    outcome.change(kind, resource.view(entry.current), result, "drift", "present", "absent")
                continue
            if entry.current is None:
                result = engine.create(entry.params, entry.resolved, entry.actions, dry_run)
                outcome.change(kind, result[resource.result_key], result, "missing", "absent", "present")
                continue
            result = engine.update(entry.current, entry.resolved, entry.actions, dry_run)
            view = resource.view(entry.current)
            before, after = result["diff"]["before"], result["diff"]["after"]
            for prop in result["changed_properties"]:
                outcome.row(kind, view, "drift", prop, before.get(prop), after.get(prop))
            if result["changed"]:
                outcome.changed_object(kind, view, result)

        matched = {id(entry.current) for entry in entries if entry.current is not None}
        for obj in current:
            if id(obj) in matched:
                continue
            if prune:
                outcome.change(kind, resource.view(obj), engine.remove(obj, dry_run), "unmanaged", "present", "absent")
            else:
                outcome.row(kind, resource.view(obj), "unmanaged", "state", "present", None)

    # -- health alone ----------------------------------------------------------------------------------------------

    def health(self, check):
        """The tenant's connector health, as connector_health judges it (the role's one task in every mode)."""
        return {"changed": False, "health": check.run(self.client)}

    # -- export ------------------------------------------------------------------------------------------------------

    def export(self):
        """The tenant as a baseline for other tenants: group names, no tenant-specific ids."""
        results = self.client.read_many([resource.read() for resource in KINDS.values()])
        objects = {kind: result.get() for kind, result in zip(KINDS, results)}
        # Every kind's group ids named in one read_many (a batch per 20 distinct ids), before any kind is described.
        self.directory.prefetch_ids(
            [
                group_id
                for kind, resource in KINDS.items()
                for obj in objects[kind]
                for group_id in resource.group_ids_in(resource.export(resource.view(obj)))
            ]
        )
        baseline = {}
        warnings = []
        for kind, resource in KINDS.items():
            described = Engine(resource, self.client).describe(objects[kind], portable=True, directory=self.directory)
            baseline[kind] = described["desired_state"]
            warnings.extend(described.get("warnings", []))
        result = {"changed": False, "baseline": baseline}
        if warnings:
            result["warnings"] = warnings
        return result


class Outcome:
    """What a run found and did: the report rows, the diff keyed by kind and object, and whether it changes."""

    def __init__(self):
        self.report = []
        self.diff = {"before": {}, "after": {}}
        self.changed = False

    def row(self, kind, view, status, prop, current, desired):
        self.report.append(
            {
                "kind": kind,
                "object": KINDS[kind].label(view),
                "id": view.get("id"),
                "status": status,
                "property": prop,
                "current": current,
                "desired": desired,
            }
        )

    def change(self, kind, view, result, status, current, desired):
        """An object created or deleted: one row about its existence, and a change."""
        self.row(kind, view, status, "state", current, desired)
        self.changed_object(kind, view, result)

    def changed_object(self, kind, view, result):
        self.changed = True
        label = KINDS[kind].label(view)
        for side in ("before", "after"):
            if result["diff"][side]:
                self.diff[side].setdefault(kind, {})[label] = result["diff"][side]


def _operation(client, params, check_mode):
    return TenantBaseline(client).run(params, check_mode)


TASK = GraphTask(
    ARGUMENT_SPEC,
    _operation,
    offline=lambda params: params.get("mode") == "validate",
    required_if=[
        ("mode", "apply", ("baseline",)),
        ("mode", "audit", ("baseline",)),
        ("mode", "validate", ("baseline",)),
    ],
)
