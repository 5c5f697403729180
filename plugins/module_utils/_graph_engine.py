# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The resource engine: lookup, compare, write, predict and export, for any declared resource (_graph_resource.py).

Plain code: it takes validated parameters and a GraphClient and returns a result dict, so modules, info modules
and the in-process action plugin all share it, and it knows nothing of AnsibleModule. One comparison decides
`changed`, `changed_properties`, the diff, the PATCH body and the check-mode prediction.
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphError, ResourceError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_targets import GroupDirectory
from ansible_collections.msgraph.intune.plugins.module_utils._graph_task import GraphTask
from ansible_collections.msgraph.intune.plugins.module_utils._graph_values import odata_string, validate_id


class Engine:
    def __init__(self, resource, client):
        self.resource = resource
        self.client = client

    # -- lookup ------------------------------------------------------------------------------------------------------

    def get(self, object_id, missing_ok):
        path = self.resource.item_path(object_id)
        version = self.resource.api_version
        if missing_ok:
            return self.client.get_or_none(path, version=version)
        try:
            return self.client.get(path, version=version)
        except GraphError as exc:
            if exc.status != 404:
                raise
            raise exc.with_message(
                f"no {self.resource.noun} has id {object_id} (HTTP 404 {exc.code}, request-id: {exc.request_id}, "
                f"client-request-id: {exc.client_request_id})"
            ) from None

    def find_by_name(self, name, candidates=None):
        """Exact, case-sensitive match among `candidates`, or over every page of the collection. The server-side
        $filter only narrows the list."""
        if candidates is None:
            collection = self.resource.collection
            version = self.resource.api_version
            try:
                candidates = self.client.list(
                    collection, params={"$filter": f"displayName eq {odata_string(name)}"}, version=version
                )
            except GraphError as exc:
                if exc.status != 400:
                    raise
                candidates = self.client.list(collection, version=version)  # this endpoint cannot filter on it
        return [candidate for candidate in candidates if candidate.get("displayName") == name]

    def find_one_by_name(self, name, candidates=None):
        """The one object with this name (see find_by_name), or None; several are an error that lists their ids."""
        matches = self.find_by_name(name, candidates)
        if len(matches) > 1:
            ids = [match.get("id") for match in matches]
            raise ResourceError(
                f"{len(ids)} {self.resource.noun}s are named {name!r} (ids: {', '.join(ids)}); give id to choose one",
                matching_ids=ids,
            )
        return matches[0] if matches else None

    def find(self, params, state="present"):
        """The object the task means, or None. An unknown id is an error unless it may be absent or created."""
        if params.get("id") is not None:
            missing_ok = state == "absent" or self.resource.client_assigned_id
            return self.get(params["id"], missing_ok)
        return self.find_one_by_name(params["display_name"])

    # -- converge one object -----------------------------------------------------------------------------------------

    def ensure(self, params, check_mode=False):
        """Converge one object to `params` (validated module parameters). Returns the module result."""
        state = params.get("state") or "present"
        desired = self.resource.desired(params)
        actions = self.resource.requested_actions(params)
        if state == "absent":
            return self.remove(self.find(params, state), check_mode)
        desired = self.resolve(desired)
        current = self.find(params, state)
        if current is None:
            return self.create(params, desired, actions, check_mode)
        return self.update(current, desired, actions, check_mode)

    def resolve(self, desired, directory=None):
        """Values that need the tenant (group names) looked up, before anything is compared or written."""
        directory = directory or GroupDirectory(self.client)
        return {option: self.resource.by_option[option].resolve(directory, value) for option, value in desired.items()}

    def update(self, current, desired, actions=(), check_mode=False):
        before = self.resource.view(current)
        changes = {
            option: value
            for option, value in desired.items()
            if not self.resource.by_option[option].same(value, before.get(option))
        }
        after = dict(before)
        if changes:
            returned = None
            if not check_mode:
                returned = self.client.update(self.resource.item_path(before["id"]), self._body(changes))
            # A 200 carries the object; after a 204 it is what Graph held plus what we wrote.
            after = self.resource.view(returned) if returned else dict(before, **self._predicted(changes))
        changed_properties = [prop.option for prop in self.resource.settable if prop.option in changes]
        changed_properties += self._run_actions(before["id"], after, actions, check_mode)
        return self._result(before, after, changed_properties)

    def create(self, params, desired, actions=(), check_mode=False):
        for action in actions:
            if action.requires_existing:
                raise ResourceError(
                    f"no {self.resource.noun} is named {params.get('display_name')!r}, so none can be {action.value}"
                )
        body = self._body(desired)
        if self.resource.client_assigned_id:
            body = dict(body, id=params["id"])
        if check_mode:
            # Honest about what cannot be known: the id and the properties the task leaves to the server stay None,
            # unless the declaration knows how a new object starts.
            after = {prop.option: prop.initial for prop in self.resource.properties}
            after = dict(after, id=body.get("id"), **self._predicted(desired))
        else:
            created = self.client.create(self.resource.collection, body, recover=lambda: self.find(params))
            after = self.resource.view(created or self.find(params))
        changed_properties = [prop.option for prop in self.resource.settable if prop.option in desired]
        changed_properties += self._run_actions(after["id"], after, actions, check_mode)
        return self._result(None, after, changed_properties)

    def _run_actions(self, object_id, after, actions, check_mode):
        """Run the bound actions that the object still needs; `after` is updated with what they set."""
        changed = []
        for action in actions:
            if not action.needed(after):
                continue
            if not check_mode:
                self.client.action(f"{self.resource.item_path(object_id)}/{action.path}")
            after.update(action.sets)
            changed += [name for name in action.sets if name not in changed]
        return changed

    def remove(self, current, check_mode=False):
        if current is None:
            return self._result(None, None, [])
        if not check_mode:
            try:
                self.client.delete(self.resource.item_path(current["id"]))
            except GraphError as exc:
                if exc.status != 404:
                    raise
                # Deleted by someone else since our read: the object is absent, as asked.
        return self._result(self.resource.view(current), None, [], changed=True)

    def _predicted(self, options):
        """Option values as Graph will hold them, keyed by option name."""
        return {option: self.resource.by_option[option].predict(value) for option, value in options.items()}

    def _body(self, options):
        """A request body: Graph names and Graph renderings."""
        by_option = self.resource.by_option
        return {by_option[option].graph: by_option[option].to_graph(value) for option, value in options.items()}

    def _result(self, before, after, changed_properties, changed=None):
        return {
            "changed": bool(changed_properties) if changed is None else changed,
            self.resource.result_key: after,
            "changed_properties": changed_properties,
            "diff": {"before": self.resource.diff_view(before), "after": self.resource.diff_view(after)},
        }

    # -- list and export ---------------------------------------------------------------------------------------------

    def listing(self, params, directory=None):
        """The info module: every object, one by id (an unknown id gives none), or those with a name.

        `desired_state` reproduces each object; with `portable` it applies to another tenant: group targets
        carry group names, and objects found by display name carry no id.
        """
        resource = self.resource
        if params.get("id") is not None:
            found = self.get(validate_id(params["id"]), missing_ok=True)
            objects = [found] if found else []
        elif params.get("display_name") is not None:
            objects = self.find_by_name(params["display_name"])
        else:
            objects = self.client.read_many([resource.read()])[0].get()
            if resource.singleton:
                objects = [objects] if objects else []
        return self.describe(objects, params.get("portable"), directory)

    def describe(self, objects, portable=False, directory=None):
        """The info result of `objects` (as Graph returned them): their views and their `desired_state`."""
        resource = self.resource
        views = [resource.view(obj) for obj in objects]
        result = {"changed": False, resource.list_key: views, "desired_state": [resource.export(v) for v in views]}
        if portable:
            warnings = []
            directory = directory or GroupDirectory(self.client)
            exported = result["desired_state"]
            directory.prefetch_ids([group_id for entry in exported for group_id in resource.group_ids_in(entry)])
            result["desired_state"] = [self.portable(entry, directory, warnings) for entry in exported]
            if warnings:
                result["warnings"] = warnings
        return result

    def portable(self, entry, directory, warnings):
        """An exported entry for another tenant: group names instead of group ids, no tenant-specific object id."""
        entry = dict(entry)
        for prop in self.resource.settable:
            if prop.option in entry:
                entry[prop.option] = prop.with_group_names(entry[prop.option], directory, warnings)
        if self.resource.found_by_name:
            if entry.get("display_name") is None:
                warnings.append(
                    f"{self.resource.noun} {entry['id']} has no display name, so the export keeps its id and applies "
                    "only to this tenant"
                )
            else:
                entry.pop("id", None)
        return entry


def module_task(resource):
    """The GraphTask of the module that manages `resource`."""
    if resource.read_only:
        raise ValueError(f"{resource.name} is read-only: it has an info module or a health check, never a module")

    def operation(client, params, check_mode):
        return Engine(resource, client).ensure(params, check_mode)

    return GraphTask(resource.argument_spec(), operation, **resource.constraints())


def info_task(resource):
    """The GraphTask of the `_info` module of `resource`."""

    def operation(client, params, check_mode):
        return Engine(resource, client).listing(params)

    return GraphTask(resource.info_argument_spec(), operation)
