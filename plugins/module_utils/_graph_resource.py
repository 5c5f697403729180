# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The declaration of a Graph resource: everything the engine (_graph_engine.py) needs to know about one object type.

A resource is data: its collection, its nouns, its result key, how it is found, its properties (see
_graph_properties.py and _graph_targets.py) and its bound actions. From that alone come the modules' argument
specs and the validation that runs before any request.

Three switches give the kinds that are only read (the connector health kinds): `read_only` (listed and judged,
never created, updated or deleted), `singleton` (one object at a fixed path with no id; a 404 means it was never
set up) and `api_version` (a kind that lives in one Graph version only, read from it whatever the task's
api_version says).
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_batch import Read
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_targets import TargetSet
from ansible_collections.msgraph.intune.plugins.module_utils._graph_values import validate_id


class Action:
    """A bound action (`POST {object}/{path}`, no body) that the task asks for with `option: value`.

    `sets` is what the object shows afterwards; the action is skipped while the object already shows one of the
    values in `unless` (by default, what `sets` says). `requires_existing`: never run right after a create.
    `exported`: an export carries `option: value` for an object that shows what the action leads to.
    """

    def __init__(self, option, value, path, sets, unless=None, requires_existing=False, exported=False):
        self.option = option
        self.value = value
        self.path = path
        self.sets = dict(sets)
        self.unless = unless or {name: (expected,) for name, expected in self.sets.items()}
        self.requires_existing = requires_existing
        self.exported = exported

    def needed(self, view):
        return not all(view.get(name) in values for name, values in self.unless.items())


class Resource:
    """One Graph object type, declared. `find_by` lists the options that identify an object (`id`, and
    `display_name` when the type has one); `client_assigned_id` means a create sends the task's id. `labels` are
    the options that name an object to a person, the first one set wins (the id when none is).

    `collection` is the path of the collection, or of the object itself for a singleton.
    """

    def __init__(
        self,
        name,
        collection,
        noun,
        short_noun,
        result_key,
        properties,
        find_by=("id", "display_name"),
        client_assigned_id=False,
        actions=(),
        labels=("display_name",),
        read_only=False,
        singleton=False,
        api_version=None,
    ):
        if read_only and (actions or any(prop.settable for prop in properties)):
            raise ValueError(f"{name}: a read-only kind has neither settable properties nor actions")
        self.name = name
        self.collection = collection
        self.noun = noun
        self.short_noun = short_noun
        self.result_key = result_key
        self.list_key = result_key + "s"
        self.properties = tuple(properties)
        self.find_by = tuple(find_by)
        self.client_assigned_id = client_assigned_id
        self.actions = tuple(actions)
        self.labels = tuple(labels)
        self.read_only = read_only
        self.singleton = singleton
        self.api_version = api_version
        self.by_option = {prop.option: prop for prop in self.properties}
        self.settable = tuple(prop for prop in self.properties if prop.settable)
        affected = {name for action in self.actions for name in action.sets}
        # The diff shows what a task can change: its options and what its actions change.
        self.diffed = tuple(prop for prop in self.properties if prop.settable or prop.option in affected)

    @property
    def found_by_name(self):
        return "display_name" in self.find_by

    @property
    def has_targets(self):
        return any(isinstance(prop, TargetSet) for prop in self.properties)

    # -- argument specs ----------------------------------------------------------------------------------------------

    def argument_spec(self):
        states = ["present", "absent"] + [action.value for action in self.actions if action.option == "state"]
        spec = {
            "id": {"type": "str"} if self.found_by_name else {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": states},
        }
        for prop in self.settable:
            spec[prop.option] = prop.argument_spec()
        for action in self.actions:
            if action.option != "state":
                spec.setdefault(action.option, {"type": "str", "choices": []})["choices"].append(action.value)
        return spec

    def constraints(self):
        return {"required_one_of": [("id", "display_name")]} if self.found_by_name else {}

    def info_argument_spec(self):
        spec = {"id": {"type": "str"}}
        if self.found_by_name:
            spec["display_name"] = self.by_option["display_name"].argument_spec()
        spec["portable"] = {"type": "bool", "default": False}
        if self.has_targets:
            spec["portable"]["aliases"] = ["group_names"]  # its name before every kind had it
        return spec

    # -- validation (no requests) ------------------------------------------------------------------------------------

    def requested_actions(self, params):
        return [action for action in self.actions if params.get(action.option) == action.value]

    def desired(self, params):
        """The task's property values, validated and normalised; raises GraphOptionError before any request."""
        if params.get("id") is not None:
            validate_id(params["id"])
        elif not self.found_by_name:
            raise GraphOptionError(f"id is required to identify the {self.short_noun}")
        elif params.get("display_name") is None:
            raise GraphOptionError(f"one of id or display_name is required to identify the {self.short_noun}")
        desired = {
            prop.option: prop.validate(params[prop.option])
            for prop in self.settable
            if params.get(prop.option) is not None
        }
        for action in self.requested_actions(params):
            for name, value in action.sets.items():
                if desired.get(name) not in (None, value):
                    raise GraphOptionError(f"{action.option}={action.value} conflicts with {name}={desired[name]}")
                desired.pop(name, None)  # the action sets it, not a PATCH
        return desired

    # -- views of an object ------------------------------------------------------------------------------------------

    def view(self, graph_object):
        """A Graph object with option names as keys (None stays None)."""
        if graph_object is None:
            return None
        view = {"id": graph_object.get("id")}
        for prop in self.properties:
            view[prop.option] = prop.from_graph(graph_object.get(prop.graph))
        return view

    def diff_view(self, view):
        return {prop.option: view.get(prop.option) for prop in self.diffed} if view else {}

    def export(self, view):
        """Options for the module that reproduce `view` exactly (properties the service sets are left out)."""
        entry = {"id": view["id"]}
        for prop in self.settable:
            if prop.exported and view.get(prop.option) is not None:
                entry[prop.option] = view[prop.option]
        for action in self.actions:
            if action.exported and not action.needed(view):
                entry[action.option] = action.value
        return entry

    def label(self, view):
        """What names the object to a person: its first label that is set, else its id."""
        return next((view[option] for option in self.labels if view.get(option) not in (None, "")), view.get("id"))

    def group_names_in(self, options):
        """Every group name that a dict of the task's option values asks to look up."""
        return [name for option, value in options.items() for name in self.by_option[option].group_names_in(value)]

    def group_ids_in(self, options):
        """Every group id that a dict of option values (an export) names."""
        return [
            group_id
            for option, value in options.items()
            if option in self.by_option
            for group_id in self.by_option[option].group_ids_in(value)
        ]

    def item_path(self, object_id=None):
        return self.collection if self.singleton else f"{self.collection}/{object_id}"

    # -- reads -------------------------------------------------------------------------------------------------------

    def select(self, options=None):
        """`$select`: the id and the declared properties (or those of `options`), so that what a declaration leaves
        out (a VPP token's token, an APNs certificate's certificate) is never requested."""
        properties = self.properties if options is None else [self.by_option[option] for option in options]
        return ",".join(["id"] + [prop.graph for prop in properties])

    def read(self, options=None):
        """The read of every object of this kind (see _graph_batch.Read): all pages of the collection, or the
        singleton, which is None when Graph answers 404 (never set up)."""
        return Read(
            self.collection,
            params={"$select": self.select(options)},
            version=self.api_version,
            collection=not self.singleton,
            missing_ok=self.singleton,
        )
