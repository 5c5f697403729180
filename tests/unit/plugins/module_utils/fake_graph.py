"""An in-memory stand-in for GraphClient: collections of objects by path, and a log of every call.

Only what the engine uses: get, get_or_none, list (with $filter displayName eq, as Graph: ignoring case), read_many
(one after the other; `version` is recorded, not served separately), create, update, delete and action. Actions are
looked up in `actions`: {name: function(object)}.

- `update_status`: 204 (update returns None) or 200 (it returns the object);
- `server_changes`: fields the service itself changes while handling a PATCH (only a 200 answer shows them);
- `filter_status`: 400 makes every list with a $filter fail, as an endpoint that cannot filter would;
- `recover`: the recover() function of the last create, to play a lost answer.
"""

from __future__ import annotations

import copy

from ansible_collections.msgraph.intune.plugins.module_utils._graph_batch import read_singly
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphError

WRITES = ("create", "update", "delete", "action")


class FakeGraph:
    def __init__(self, collections=None, actions=None, update_status=204, server_changes=None, filter_status=200):
        # {collection path: {id: object}}
        self.collections = {
            path: {obj["id"]: copy.deepcopy(obj) for obj in objects} for path, objects in (collections or {}).items()
        }
        self.actions = actions or {}
        self.update_status = update_status
        self.server_changes = server_changes or {}
        self.filter_status = filter_status
        self.recover = None
        self.calls = []
        self.read_many_calls = []  # the reads of each read_many call (each is one round of batches)

    @property
    def writes(self):
        return [call for call in self.calls if call[0] in WRITES]

    def _object(self, path):
        collection, object_id = path.rsplit("/", 1)
        store = self.collections.get(collection, {})
        if object_id not in store:
            raise GraphError(
                f"GET /v1.0/{path} failed: HTTP 404 ResourceNotFound",
                status=404,
                code="ResourceNotFound",
                request_id="req-404",
                client_request_id="cli-404",
                method="GET",
                path=f"/v1.0/{path}",
            )
        return store[object_id]

    def get(self, path, params=None, version=None):
        self.calls.append(("get", path, params) if version is None else ("get", path, params, version))
        found = copy.deepcopy(self._object(path))
        if params and "$select" in params:
            fields = params["$select"].split(",")
            found = {key: value for key, value in found.items() if key in fields or key == "id"}
        return found

    def get_or_none(self, path, params=None, version=None):
        try:
            return self.get(path, params, version)
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path, params=None, version=None):
        self.calls.append(("list", path, params) if version is None else ("list", path, params, version))
        if params and "$filter" in params and self.filter_status == 400:
            raise GraphError("filter not supported", status=400, code="BadRequest")
        items = [copy.deepcopy(obj) for obj in self.collections.get(path, {}).values()]
        if params and "$filter" in params:
            wanted = params["$filter"].split(" eq ", 1)[1][1:-1].replace("''", "'").casefold()
            items = [item for item in items if (item.get("displayName") or "").casefold() == wanted]
        return items

    def read_many(self, reads):
        self.read_many_calls.append(list(reads))
        return [read_singly(self, read) for read in reads]

    def create(self, path, body, recover=None):
        self.calls.append(("create", path, copy.deepcopy(body)))
        self.recover = recover
        created = copy.deepcopy(body)
        created.setdefault("id", f"new-{len(self.collections.get(path, {})) + 1}")
        self.collections.setdefault(path, {})[created["id"]] = created
        return copy.deepcopy(created)

    def update(self, path, body):
        self.calls.append(("update", path, copy.deepcopy(body)))
        obj = self._object(path)
        obj.update(copy.deepcopy(body))
        obj.update(copy.deepcopy(self.server_changes))
        return copy.deepcopy(obj) if self.update_status == 200 else None

    def delete(self, path):
        self.calls.append(("delete", path, None))
        self._object(path)
        collection, object_id = path.rsplit("/", 1)
        del self.collections[collection][object_id]

    def action(self, path):
        self.calls.append(("action", path, None))
        object_path, name = path.rsplit("/", 1)
        self.actions[name](self._object(object_path))
