# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assignment targets: the property kind for collections of `{"target": {...}}`, and group names.

Intune assigns partner enrollment to Entra groups, all users or all devices through
deviceAndAppManagementAssignmentTarget subtypes. A task writes them as `{type, group_id | group_display_name |
collection_id}`; they are compared as a set (order and the fields Graph adds do not matter) and, when the set
differs, the whole list is written, because Graph replaces the collection.
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_batch import Read
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError, ResourceError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Property
from ansible_collections.msgraph.intune.plugins.module_utils._graph_values import odata_string, validate_id

GROUPS = "groups"
ID_KEYS = ("group_id", "group_display_name", "collection_id")


class TargetType:
    """One target type: its option value, Graph's @odata.type, and the key that names what it targets."""

    def __init__(self, name, odata_type, id_key=None, graph_id_key=None):
        self.name = name
        self.odata_type = odata_type
        self.id_key = id_key
        self.graph_id_key = graph_id_key

    @property
    def allowed_keys(self):
        if self.id_key == "group_id":
            return ("group_id", "group_display_name")
        return (self.id_key,) if self.id_key else ()


TARGET_TYPES = (
    TargetType("group", "#microsoft.graph.groupAssignmentTarget", "group_id", "groupId"),
    TargetType("exclusion_group", "#microsoft.graph.exclusionGroupAssignmentTarget", "group_id", "groupId"),
    TargetType("all_licensed_users", "#microsoft.graph.allLicensedUsersAssignmentTarget"),
    TargetType("all_devices", "#microsoft.graph.allDevicesAssignmentTarget"),
    TargetType(
        "configuration_manager_collection",
        "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
        "collection_id",
        "collectionId",
    ),
)
TYPE_BY_NAME = {target_type.name: target_type for target_type in TARGET_TYPES}
# Graph's samples write @odata.type with and without the leading "#"; both name the same type.
TYPE_BY_ODATA = {target_type.odata_type.lstrip("#"): target_type for target_type in TARGET_TYPES}


def target_identity(target):
    """What makes two targets the same: the type and the id (ids are GUIDs, so case does not matter)."""
    target_type = TYPE_BY_NAME.get(target["type"])
    key = target.get(target_type.id_key) if target_type and target_type.id_key else None
    if key is None and target.get("group_display_name") is not None:
        return (target["type"], "name", target["group_display_name"])
    return (target["type"], "id", key.casefold() if isinstance(key, str) else key)


def _sort_key(target):
    return (target["type"], next((target[key] for key in ID_KEYS if target.get(key) is not None), ""))


def _describe(target):
    return ", ".join(f"{key}={value}" for key, value in target.items())


class TargetSet(Property):
    """A collection of assignment targets, compared as a set."""

    spec_type = "list"

    def argument_spec(self):
        spec = super().argument_spec()
        spec["elements"] = "dict"
        spec["options"] = {
            "type": {"type": "str", "required": True, "choices": [target_type.name for target_type in TARGET_TYPES]},
            "group_id": {"type": "str"},
            "group_display_name": {"type": "str"},
            "collection_id": {"type": "str"},
        }
        return spec

    def validate(self, value):
        """Each target in its short form `{type, <its id key>}`; wrong keys and repeated targets fail here."""
        targets = []
        for index, item in enumerate(value):
            where = f"{self.option}[{index}]"
            if not isinstance(item, dict) or item.get("type") not in TYPE_BY_NAME:
                raise GraphOptionError(
                    f"{where} needs a type, one of {', '.join(target_type.name for target_type in TARGET_TYPES)}"
                )
            target_type = TYPE_BY_NAME[item["type"]]
            given = [key for key in ID_KEYS if item.get(key) is not None]
            unused = [key for key in given if key not in target_type.allowed_keys]
            if unused:
                raise GraphOptionError(f"{where}: type {target_type.name} does not use {', '.join(unused)}")
            if target_type.allowed_keys and len(given) != 1:
                raise GraphOptionError(
                    f"{where}: type {target_type.name} needs exactly one of {' or '.join(target_type.allowed_keys)}"
                )
            target = {"type": target_type.name}
            for key in given:
                target[key] = item[key] if key == "group_display_name" else validate_id(item[key], f"{where}.{key}")
            targets.append(target)
        self._check_unique([(target, target) for target in targets], GraphOptionError)
        return targets

    def _check_unique(self, pairs, error_class):
        """`pairs` are (target as compared, target as the task wrote it)."""
        seen = {}
        for target, written in pairs:
            identity = target_identity(target)
            if identity in seen:
                raise error_class(
                    f"{self.option} lists the same target twice: {_describe(seen[identity])} and {_describe(written)}"
                )
            seen[identity] = written

    def resolve(self, directory, value):
        """Group names become ids (one lookup per distinct name and task); a name and an id of one group clash."""
        pairs = []
        for target in value:
            resolved = target
            if target.get("group_display_name") is not None:
                resolved = {
                    "type": target["type"],
                    "group_id": directory.id_for(target["group_display_name"], self.option),
                }
            pairs.append((resolved, target))
        self._check_unique(pairs, ResourceError)
        return [resolved for resolved, _written in pairs]

    def from_graph(self, raw):
        if raw is None:
            return None
        targets = []
        for item in raw:
            graph_target = (item or {}).get("target") or {}
            odata_type = str(graph_target.get("@odata.type") or "").lstrip("#")
            target_type = TYPE_BY_ODATA.get(odata_type)
            if target_type is None:  # a type newer than this module: shown, never equal to a task's target
                targets.append({"type": odata_type})
                continue
            target = {"type": target_type.name}
            if target_type.id_key:
                target[target_type.id_key] = graph_target.get(target_type.graph_id_key)
            targets.append(target)
        return sorted(targets, key=_sort_key)

    def to_graph(self, value):
        body = []
        for target in value:
            target_type = TYPE_BY_NAME[target["type"]]
            graph_target = {"@odata.type": target_type.odata_type}
            if target_type.id_key:
                graph_target[target_type.graph_id_key] = target[target_type.id_key]
            body.append({"target": graph_target})
        return body

    def predict(self, value):
        return sorted((dict(target) for target in value), key=_sort_key)

    def same(self, desired, current):
        wanted = {target_identity(target) for target in desired}
        return wanted == {target_identity(target) for target in current or ()}

    def group_names_in(self, value):
        return [target["group_display_name"] for target in value or () if target.get("group_display_name") is not None]

    def group_ids_in(self, value):
        return [target["group_id"] for target in value or () if target.get("group_id") is not None]

    def with_group_names(self, value, directory, warnings):
        """An exported value that applies to another tenant: group ids become group names where the group exists."""
        if value is None:
            return None
        named = []
        for target in value:
            if target.get("group_id") is not None:
                name = directory.name_for(target["group_id"])
                if name is None:
                    warnings.append(
                        f"{self.option}: group {target['group_id']} no longer exists, so the export keeps its id"
                    )
                else:
                    target = {"type": target["type"], "group_display_name": name}
            named.append(target)
        return sorted(named, key=_sort_key)


class GroupDirectory:
    """Entra group names and ids of one tenant, looked up once per task (needs Group.Read.All).

    `prefetch_names`/`prefetch_ids` look up everything a task will need in one read_many (a batch per 20 distinct
    values); `name_reads`/`learn_names` and `id_reads`/`learn_ids` are the same in two halves, for a caller that puts
    the reads into a read_many of its own. `id_for`/`name_for` use what was learnt and look up the rest.
    """

    def __init__(self, client):
        self.client = client
        self._by_name = {}  # name -> ReadResult of Graph's displayName match (which ignores case)
        self._by_id = {}  # casefolded id -> ReadResult of the group (value None: no such group)

    def name_reads(self, names):
        """{name: Read} for the distinct names not known yet."""
        return {
            name: Read(GROUPS, params={"$filter": f"displayName eq {odata_string(name)}", "$select": "id,displayName"})
            for name in dict.fromkeys(names)
            if name not in self._by_name
        }

    def learn_names(self, results):
        """Take {name: ReadResult} of the reads that name_reads gave."""
        self._by_name.update(results)

    def id_reads(self, group_ids):
        """{group id: Read} for the distinct ids not known yet (ids are GUIDs: case does not matter)."""
        reads = {}
        known = set(self._by_id)
        for group_id in group_ids:
            if group_id.casefold() not in known:
                known.add(group_id.casefold())
                reads[group_id] = Read(
                    f"{GROUPS}/{validate_id(group_id, 'group id')}",
                    params={"$select": "displayName"},
                    collection=False,
                    missing_ok=True,
                )
        return reads

    def learn_ids(self, results):
        """Take {group id: ReadResult} of the reads that id_reads gave."""
        self._by_id.update((group_id.casefold(), result) for group_id, result in results.items())

    def prefetch_names(self, names):
        self.learn_names(self._read(self.name_reads(names)))

    def prefetch_ids(self, group_ids):
        self.learn_ids(self._read(self.id_reads(group_ids)))

    def _read(self, reads):
        return dict(zip(reads, self.client.read_many(list(reads.values())))) if reads else {}

    def id_for(self, name, option):
        """The id of the one group with exactly this name; none or several is an error naming the group.

        A lookup that failed raises its GraphError, as the request on its own would.
        """
        self.prefetch_names([name])
        candidates = self._by_name[name].get()
        # Entra's eq ignores case; only an exact match names the group the task means.
        ids = [group.get("id") for group in candidates if group.get("displayName") == name]
        if not ids:
            other_case = sorted(
                {
                    group["displayName"]
                    for group in candidates
                    if isinstance(group.get("displayName"), str) and group["displayName"].casefold() == name.casefold()
                }
            )
            hint = f" (groups that differ only in case: {', '.join(map(repr, other_case))})" if other_case else ""
            raise ResourceError(
                f"{option}: no group is named {name!r} in this tenant{hint}; check the name or use group_id"
            )
        if len(ids) > 1:
            raise ResourceError(
                f"{option}: {len(ids)} groups are named {name!r} (ids: {', '.join(ids)}); use group_id to choose one",
                matching_ids=ids,
            )
        return ids[0]

    def name_for(self, group_id):
        """The display name of a group, or None when the group does not exist."""
        self.prefetch_ids([group_id])
        group = self._by_id[group_id.casefold()].get()
        return group.get("displayName") if group else None
