"""Faults and mutations of the Graph emulator: rules, added through the control API, that change what a request gets.

* A fault ``{method, path, kind, status, retry_after, latency, times, probability, seed, scope}`` matches a request
  by method (``*`` for any) and ``re.search`` of ``path`` on its path (without the query); the first matching fault
  that fires is the request's only fault.  ``kind``: ``status`` (answer ``status``, default 503, with a
  ``Retry-After`` header when ``retry_after`` is set; the request is not applied), ``latency`` (wait ``latency``
  seconds, then answer normally), ``drop_before`` (close the connection without applying the request) or
  ``drop_after`` (apply it, then close without answering).  ``times`` limits how often it fires (null: always),
  ``probability`` makes it fire at random (reproducibly with ``seed``).  ``scope`` says which requests it sees:
  ``any`` (default), ``single`` (requests sent on their own, the outer ``POST /{v}/$batch`` included) or ``batched``
  (the sub-requests of a batch, matched on their own method and path, e.g. ``/v1.0/deviceAppManagement/vppTokens``).
  The drop kinds act on a whole HTTP exchange, so they never match a sub-request.
* A mutation ``{method, path, tenant, collection, id, set, times}`` changes one stored object (``set``: Graph
  properties, validated like a write) right after a matching request's response has been computed, so that
  response still shows the old state: a change made elsewhere, between a client's read and its write.  ``id`` is
  not needed for a singleton kind.  ``times`` defaults to 1.

Faults answer in the shape of the endpoint they hit: Graph's error body, Entra's for token and discovery requests,
the managed identity endpoints' own.  Fault and mutation ids come from one counter.
"""

from __future__ import annotations

import copy
import random
import re

from .emulator_messages import GRAPH_ERROR_CODES, ID_PATTERN, ControlError, Response, graph_error_response
from .emulator_signin import ENTRA_JSON
from .graph_schema import COLLECTIONS, DEFAULT_COLLECTION, GraphError

FAULT_MESSAGES = {
    429: "Too many requests. Please retry after the time specified in the Retry-After header.",
    500: "An internal server error occurred.",
    502: "Bad gateway.",
    503: "The service is temporarily unavailable. Please retry later.",
    504: "The request timed out.",
}
FAULT_KINDS = ("status", "latency", "drop_before", "drop_after")
CONNECTION_KINDS = ("drop_before", "drop_after")  # act on an HTTP exchange, never on a batch's sub-request
FAULT_METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT", "*")
FAULT_SCOPES = ("any", "single", "batched")


class Fault:
    def __init__(self, fault_id, spec):
        self.id = fault_id
        self.spec = spec
        self.method = spec["method"]
        self.pattern = re.compile(spec["path"])
        self.remaining = spec["times"]
        self.probability = spec["probability"]
        self.random = random.Random(spec["seed"])
        self.fired = 0

    def matches(self, method, path, batched):
        if self.method not in ("*", method) or not self.pattern.search(path):
            return False
        if self.spec["scope"] != "any" and (self.spec["scope"] == "batched") != batched:
            return False
        return not (batched and self.spec["kind"] in CONNECTION_KINDS)

    def describe(self):
        return dict(self.spec, id=self.id, fired=self.fired)


class Mutation:
    def __init__(self, mutation_id, spec, converted):
        self.id = mutation_id
        self.spec = spec
        self.method = spec["method"]
        self.pattern = re.compile(spec["path"])
        self.converted = converted
        self.remaining = spec["times"]
        self.applied = 0

    def describe(self):
        return dict(self.spec, id=self.id, applied=self.applied)


def _validate_times(value, name="times"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ControlError(f"'{name}' must be a positive integer or null")
    return value


def _validate_method_and_path(spec):
    method = spec.get("method", "*")
    if not isinstance(method, str) or method.upper() not in FAULT_METHODS:
        raise ControlError(f"'method' must be one of {', '.join(FAULT_METHODS)}")
    path = spec.get("path", "")
    if not isinstance(path, str):
        raise ControlError("'path' must be a regular expression string")
    try:
        re.compile(path)
    except re.error as exc:
        raise ControlError(f"'path' is not a valid regular expression: {exc}") from None
    return method.upper(), path


def _normalize_fault(spec):
    if not isinstance(spec, dict):
        raise ControlError("a fault must be a JSON object")
    method, path = _validate_method_and_path(spec)
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlError(f"'kind' must be one of {', '.join(FAULT_KINDS)}")
    status = spec.get("status", 503 if kind == "status" else None)
    if kind == "status" and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
        raise ControlError("'status' must be an HTTP status code (100..599)")
    retry_after = spec.get("retry_after")
    if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, (int, float, str))):
        raise ControlError("'retry_after' must be a number, a string or null")
    latency = spec.get("latency", 0 if kind != "latency" else None)
    if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
        raise ControlError("'latency' must be a non-negative number of seconds")
    probability = spec.get("probability")
    if probability is not None and (
        isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1
    ):
        raise ControlError("'probability' must be a number between 0 and 1, or null")
    seed = spec.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ControlError("'seed' must be an integer or null")
    scope = spec.get("scope", "any")
    if scope not in FAULT_SCOPES:
        raise ControlError(f"'scope' must be one of {', '.join(FAULT_SCOPES)}")
    return {
        "method": method,
        "path": path,
        "kind": kind,
        "status": status,
        "retry_after": retry_after,
        "latency": latency,
        "times": _validate_times(spec.get("times")),
        "probability": probability,
        "seed": seed,
        "scope": scope,
    }


class Faults:
    """The faults and mutations in force, over the emulator's state (``app``: its lock, tenants, stores, stats)."""

    def __init__(self, app):
        self.app = app
        self.rules = []
        self.mutations = []
        self.next_id = 0

    def reset(self):
        with self.app.lock:
            self.rules, self.mutations, self.next_id = [], [], 0

    def _new_id(self):
        self.next_id += 1
        return self.next_id

    # -- faults ----------------------------------------------------------------------------------------------------

    def add(self, spec):
        normalized = _normalize_fault(spec)
        with self.app.lock:
            fault = Fault(self._new_id(), normalized)
            self.rules.append(fault)
        return fault.id

    def remove(self, fault_id):
        """Remove the fault with that id (as text); False when there is none."""
        with self.app.lock:
            before = len(self.rules)
            self.rules = [fault for fault in self.rules if str(fault.id) != fault_id]
            return len(self.rules) != before

    def pick(self, method, path, batched=False):
        """The spec of the first matching fault that fires for this request (consumes its budget), or None."""
        with self.app.lock:
            for fault in self.rules:
                if not fault.matches(method, path, batched):
                    continue
                if fault.remaining is not None and fault.remaining <= 0:
                    continue
                if fault.probability is not None and not fault.random.random() < fault.probability:
                    continue
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                self.app.stats["faults_fired"] += 1
                return fault.spec
        return None

    # -- mutations -------------------------------------------------------------------------------------------------

    def add_mutation(self, spec):
        if not isinstance(spec, dict):
            raise ControlError("a mutation must be a JSON object")
        method, path = _validate_method_and_path(spec)
        tenant = self.app.tenant(spec.get("tenant"))
        if tenant is None:
            raise ControlError("'tenant' must name a known tenant")
        collection = spec.get("collection", DEFAULT_COLLECTION)
        rtype = COLLECTIONS.get(collection) if isinstance(collection, str) else None
        if rtype is None:
            raise ControlError(f"'collection' must be one of {', '.join(COLLECTIONS)}")
        object_id = spec.get("id")
        if not (rtype.singleton and object_id is None) and (
            not isinstance(object_id, str) or not ID_PATTERN.fullmatch(object_id)
        ):
            raise ControlError(f"'id' must be a {rtype.short_name} id")
        try:
            converted, _body_id = rtype.convert(spec.get("set"), allow_id=False)
        except GraphError as exc:
            raise ControlError(f"invalid 'set': {exc.message}") from None
        normalized = {
            "method": method,
            "path": path,
            "tenant": tenant["tenant_id"],
            "collection": collection,
            "id": object_id,
            "set": spec.get("set"),
            "times": _validate_times(spec.get("times", 1)),
        }
        with self.app.lock:
            mutation = Mutation(self._new_id(), normalized, converted)
            self.mutations.append(mutation)
        return mutation.id

    def apply_mutations(self, method, path):
        with self.app.lock:
            for mutation in self.mutations:
                if mutation.method not in ("*", method) or not mutation.pattern.search(path):
                    continue
                if mutation.remaining is not None and mutation.remaining <= 0:
                    continue
                if mutation.remaining is not None:
                    mutation.remaining -= 1
                store = self.app.store(mutation.spec["tenant"].lower(), mutation.spec["collection"])
                wanted = mutation.spec["id"]
                entry = next(iter(store.values()), None) if wanted is None else store.get(wanted)
                if entry is not None:
                    entry[1].update(copy.deepcopy(mutation.converted))
                    mutation.applied += 1


def fault_response(ctx, fault, signin):
    """What a status fault answers, in the shape of the endpoint the request went to."""
    status = fault["status"]
    headers = {}
    retry_after = fault["retry_after"]
    if retry_after is not None:
        headers["Retry-After"] = retry_after if isinstance(retry_after, str) else repr(retry_after)
    message = FAULT_MESSAGES.get(status, f"Injected failure with status {status}.")
    if ctx.kind in ("token", "discovery"):
        error = "temporarily_unavailable" if status == 429 or status >= 500 else "invalid_request"
        return signin.entra_error(ctx, status, error, 90033, "A transient error has occurred. " + message, headers)
    if ctx.kind == "managed_identity":
        if ctx.path.startswith("/msi/"):
            return Response(status, {"statusCode": status, "message": message}, headers, ENTRA_JSON)
        return Response(status, {"error": "service_unavailable", "error_description": message}, headers, ENTRA_JSON)
    return graph_error_response(
        ctx, GraphError(status, GRAPH_ERROR_CODES.get(status, "UnknownError"), message, headers)
    )
