"""The Graph emulator's control API, ``/_emulator/...``, used by tests: JSON in and out, no auth, never logged or
faulted.  Invalid input is 400 ``{"error": "..."}``; an unknown path 404, a known path with another method 405.

* ``GET|DELETE log``: ``{"requests": [entry, ...]}``, oldest first (the entry fields are described in
  ``emulator_state.py``); DELETE clears it.
* ``GET state``: ``{"tenants": {tenant_id: [device management partners as Graph renders them]}}``;
  ``GET state/{seed key}`` (any kind below): the same for that kind, every property included (beta's too);
  a singleton kind gives ``{tenant_id: object or null}``.
* ``POST reset``: back to the seeded state and the CLI config; no faults, mutations, log or stats.
* ``POST seed`` (returns ``{"seeded": ..., "tenants": [every tenant's credentials]}``) with ``{tenant_id:
  [partners]}`` (replaces the tenant's device management partners) or ``{tenant_id: {seed key: value, ...}}``
  (replaces only the named kinds); unknown tenants are created.  The seed keys are the kinds' Graph segments:
  deviceManagementPartners, complianceManagementPartners, remoteAssistancePartners, mobileThreatDefenseConnectors,
  groups, vppTokens, depOnboardingSettings, ndesConnectors and exchangeConnectors take a list of objects;
  applePushNotificationCertificate, androidManagedStoreAccountEnterpriseSettings and windowsAutopilotSettings take
  one object, or null for "never set up" (its GET is then 404).  Seed objects are validated like Graph writes
  (property names, types, enum values, DateTimeOffset; beta's properties are accepted for every kind); ids are
  optional (a GUID is generated; a singleton gets a fixed one per tenant) and unique per kind.  The ``--seed`` file
  takes the same JSON.  A refused seed changes nothing.
* ``GET|POST config``: ``{page_size, patch_status, token_lifetime, batch, batch_shuffle_seed}``.  ``page_size``
  (>= 1) pages every list; ``patch_status`` (204|200) is what PATCH answers; ``token_lifetime`` (seconds, >= 0) of
  the tokens issued from now on; ``batch``: true (default) serves ``$batch``, or 404, 405 or 501 (false means 404)
  makes ``POST /{v}/$batch`` answer that status, as an endpoint (a proxy) that does not serve batching would;
  ``batch_shuffle_seed``: null (default: a new random order for every batch) or an integer that makes the order of
  sub-responses reproducible (see ``emulator_batch.py``).
* ``GET|POST|DELETE faults`` (``DELETE faults/{id}`` removes one) and ``GET|POST|DELETE mutations``: see
  ``emulator_faults.py``.  POST returns ``{"id": ...}``; GET lists them with their ``fired``/``applied`` counts.
* ``POST expire-tokens``; ``POST federated-token`` ``{tenant_id, client_id}`` (a workload identity token the token
  endpoint accepts as ``client_assertion``); ``GET stats`` (see ``emulator_state.py``); ``GET info`` (the info
  file's content).
"""

from __future__ import annotations

import copy
import json
import uuid

from .emulator_messages import ID_PATTERN, ControlError, Response
from .graph_schema import COLLECTIONS, DEFAULT_COLLECTION, GraphError

BATCH_STATUSES = (404, 405, 501)  # what $batch answers when the config says it is not served


# --------------------------------------------------------------------------------------------------------------------
# Seeds (the control API's and the --seed file's)
# --------------------------------------------------------------------------------------------------------------------


def prepare_seed(tenant_id, value):
    """{seed key: [stored objects]} from a tenant's seed: a list of device management partners, or an object naming
    the kinds it replaces."""
    if isinstance(value, list):
        return {DEFAULT_COLLECTION: _seed_objects(tenant_id, DEFAULT_COLLECTION, value)}
    if not isinstance(value, dict):
        raise ControlError(
            f"the seed of tenant {tenant_id!r} must be a JSON list of partners or an object mapping seed keys "
            f"({', '.join(COLLECTIONS)}) to their values"
        )
    prepared = {}
    for collection, objects in value.items():
        if collection not in COLLECTIONS:
            raise ControlError(f"unknown collection {collection!r} in the seed of tenant {tenant_id!r}")
        prepared[collection] = _seed_objects(tenant_id, collection, objects)
    return prepared


def _seed_objects(tenant_id, collection, objects):
    """Validate seed objects (Graph camelCase, optional id) into stored objects of one kind, in order."""
    rtype = COLLECTIONS[collection]
    if rtype.singleton:
        if objects is not None and not isinstance(objects, dict):
            raise ControlError(f"{collection} of tenant {tenant_id!r} must be a JSON object or null")
        objects = [] if objects is None else [objects]
    elif not isinstance(objects, list):
        raise ControlError(f"{collection} of tenant {tenant_id!r} must be a JSON list")
    result = []
    seen = set()
    for item in objects:
        try:
            converted, object_id = rtype.convert(item, allow_id=True)
            if object_id is None:
                # A singleton's id is stable per tenant, as Graph's is; collection members get fresh GUIDs.
                fixed = uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id.lower()}/{collection}")
                object_id = str(fixed if rtype.singleton else uuid.uuid4())
            if not ID_PATTERN.fullmatch(object_id) or object_id in seen:
                raise ControlError(f"invalid or duplicate {rtype.short_name} id {object_id!r} for tenant {tenant_id!r}")
            seen.add(object_id)
            result.append(rtype.new(object_id, converted))
        except GraphError as exc:
            raise ControlError(f"invalid {rtype.short_name} for tenant {tenant_id!r}: {exc.message}") from None
    return result


def _validated_config(values):
    if not isinstance(values, dict):
        raise ControlError("config body must be a JSON object")

    def count(value):
        return not isinstance(value, bool) and isinstance(value, int)

    checks = {
        "page_size": lambda v: count(v) and v >= 1,
        "patch_status": lambda v: count(v) and v in (200, 204),
        "token_lifetime": lambda v: count(v) and v >= 0,
        "batch": lambda v: v is True or v is False or (count(v) and v in BATCH_STATUSES),
        "batch_shuffle_seed": lambda v: v is None or count(v),
    }
    for name, value in values.items():
        if name not in checks:
            raise ControlError(f"unknown config key {name!r} (known: {', '.join(checks)})")
        if not checks[name](value):
            raise ControlError(f"invalid value {value!r} for {name!r}")
    return values


# --------------------------------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------------------------------


class ControlApi:
    """Answers ``/_emulator/...`` requests from the emulator's state (``app``); ``signin`` issues tokens."""

    def __init__(self, app, signin):
        self.app = app
        self.signin = signin

    def handle(self, ctx, route):
        try:
            payload = json.loads(ctx.body.decode("utf-8")) if ctx.body.strip() else None
        except (ValueError, UnicodeDecodeError):
            return Response(400, {"error": "control request body must be JSON"})
        try:
            result = self._call(ctx.method, route, payload)
        except ControlError as exc:
            return Response(400, {"error": str(exc)})
        if isinstance(result, Response):
            return result
        return Response(200, result)

    def _call(self, method, route, payload):  # pylint: disable=too-many-return-statements
        app = self.app
        faults = app.faults
        routes = {
            ("GET", "log"): lambda: {"requests": app.log_entries()},
            ("DELETE", "log"): lambda: self._clear("log"),
            ("GET", "state"): self.state_snapshot,
            ("POST", "reset"): lambda: app.reset() or {"reset": True},
            ("POST", "seed"): lambda: self.seed(payload),
            ("GET", "config"): lambda: dict(app.config),
            ("POST", "config"): lambda: app.set_config(_validated_config(payload or {})),
            ("GET", "faults"): lambda: {"faults": [fault.describe() for fault in faults.rules]},
            ("POST", "faults"): lambda: {"id": faults.add(payload)},
            ("DELETE", "faults"): lambda: self._clear("faults"),
            ("GET", "mutations"): lambda: {"mutations": [mutation.describe() for mutation in faults.mutations]},
            ("POST", "mutations"): lambda: {"id": faults.add_mutation(payload)},
            ("DELETE", "mutations"): lambda: self._clear("mutations"),
            ("POST", "expire-tokens"): lambda: {"expired": self.signin.expire_tokens()},
            ("POST", "federated-token"): lambda: self._federated(payload),
            ("GET", "stats"): lambda: copy.deepcopy(app.stats),
            ("GET", "info"): app.info,
        }
        with app.lock:
            action = routes.get((method, route))
            if action is not None:
                return action()
        if route.startswith("state/") and route[len("state/") :] in COLLECTIONS:
            if method != "GET":
                return Response(405, {"error": f"method {method} not allowed on /_emulator/{route}"})
            return self.state_snapshot(route[len("state/") :])
        if method == "DELETE" and route.startswith("faults/"):
            fault_id = route[len("faults/") :]
            if not faults.remove(fault_id):
                return Response(404, {"error": f"no fault with id {fault_id}"})
            return {"deleted": True}
        if any(key[1] == route for key in routes):
            return Response(405, {"error": f"method {method} not allowed on /_emulator/{route}"})
        return Response(404, {"error": f"unknown control path /_emulator/{route}"})

    def _clear(self, what):
        app = self.app
        with app.lock:
            if what == "log":
                count, app.log = len(app.log), []
            elif what == "faults":
                count, app.faults.rules = len(app.faults.rules), []
            else:
                count, app.faults.mutations = len(app.faults.mutations), []
        return {"cleared": count}

    def state_snapshot(self, collection=DEFAULT_COLLECTION):
        """{"tenants": {tenant_id: [objects of the kind, every property]}} (a singleton: the object or null)."""
        app = self.app
        rtype = COLLECTIONS[collection]
        with app.lock:
            snapshot = {}
            for key, tenant in app.tenants.items():
                objects = [rtype.render(obj) for _seq, obj in app.store(key, collection).values()]
                snapshot[tenant["tenant_id"]] = (objects[0] if objects else None) if rtype.singleton else objects
            return {"tenants": snapshot}

    def seed(self, mapping):
        app = self.app
        if not isinstance(mapping, dict):
            raise ControlError(
                "seed body must be a JSON object mapping tenant id -> list of partners or {seed key: value}"
            )
        prepared = {}
        for tenant_id, value in mapping.items():
            if not isinstance(tenant_id, str) or not ID_PATTERN.fullmatch(tenant_id):
                raise ControlError(f"invalid tenant id {tenant_id!r}")
            prepared[tenant_id] = prepare_seed(tenant_id, value)
        with app.lock:
            for tenant_id, collections in prepared.items():
                key = tenant_id.lower()
                if key not in app.tenants:
                    app.add_tenant(tenant_id)
                for collection, objects in collections.items():
                    app.install(key, collection, objects)
            seeded = {
                tenant_id: (
                    len(collections[DEFAULT_COLLECTION])
                    if isinstance(mapping[tenant_id], list)
                    else {name: len(objects) for name, objects in collections.items()}
                )
                for tenant_id, collections in prepared.items()
            }
            return {"seeded": seeded, "tenants": app.tenant_list()}

    def _federated(self, payload):
        if not isinstance(payload, dict):
            raise ControlError('body must be {"tenant_id": ..., "client_id": ...}')
        tenant = self.app.tenant(payload.get("tenant_id"))
        if tenant is None or str(payload.get("client_id", "")).lower() != tenant["client_id"].lower():
            raise ControlError("tenant_id/client_id do not name a known app registration")
        lifetime = payload.get("lifetime", 3600)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int):
            raise ControlError("'lifetime' must be an integer number of seconds")
        return {"token": self.signin.federated_token(tenant["tenant_id"], tenant["client_id"], lifetime)}
