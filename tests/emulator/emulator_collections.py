"""Graph's collections in the emulator: every path under ``/v1.0`` and ``/beta`` but ``$batch``, each object
belonging to the bearer token's tenant.  The types, properties and defaults are in ``graph_schema.py``.

* ``/deviceManagement/{collection}`` for deviceManagementPartners, complianceManagementPartners,
  remoteAssistancePartners and mobileThreatDefenseConnectors (v1.0 and beta alike, same data): ``GET`` lists (paged
  by ``page_size`` with an absolute ``@odata.nextLink`` carrying a signed ``$skiptoken``; ``$top``, ``$select``,
  ``$count`` and ``$filter=displayName eq '...'``, case-insensitive, ``''`` for a quote; a ``$filter`` on a type
  without displayName is 400), ``POST`` creates (201, ``Location`` and the object); ``/{id}``: ``GET``
  (``$select``), ``PATCH`` (204, or 200 with the object when ``patch_status`` is 200), ``DELETE`` (204); a missing
  id is 404 ResourceNotFound, any other method 405.  Unknown properties, wrong types, bad enum values, Int32 values
  out of range and null for non-nullable properties are 400 BadRequest.  POST ignores a client ``id`` (a new GUID is
  generated) except on mobileThreatDefenseConnectors, where the body's ``id`` names the partner's connector (a taken
  id is 409 Conflict; without one a GUID is generated).
* Bound actions (POST, no body, 204; the segment may carry the ``microsoft.graph.`` prefix; 404 for an unknown id,
  405 for another method): ``deviceManagementPartners/{id}/terminate`` (partnerState -> terminated),
  ``remoteAssistancePartners/{id}/beginOnboarding`` (notOnboarded -> onboarding, otherwise unchanged) and
  ``remoteAssistancePartners/{id}/disconnect`` (-> notOnboarded).
* Assignments (groupsRequiringPartnerEnrollment and the compliance partner's ``*EnrollmentAssignments``): items
  ``{"target": {...}}``, optionally with the item type's ``@odata.type``; the target's ``@odata.type`` (with or
  without ``#``) is groupAssignmentTarget or exclusionGroupAssignmentTarget (string ``groupId`` required),
  allLicensedUsersAssignmentTarget, allDevicesAssignmentTarget or configurationManagerCollectionAssignmentTarget
  (string ``collectionId`` required), each optionally with ``deviceAndAppManagementAssignmentFilterId`` (string or
  null) and ``deviceAndAppManagementAssignmentFilterType`` (none|include|exclude).  They are stored as written and
  returned the way Graph returns them: no item ``@odata.type``, every target with ``#``-prefixed ``@odata.type`` and
  both filter properties (null / "none" unless written), in a deterministic order that is NOT the written one
  (descending by the target's canonical JSON): clients must compare them as sets.
* The connector and token health kinds, read-only (``GET`` only; any other method is 405 with ``Allow: GET``),
  seeded through the control API:

  - ``deviceManagement/applePushNotificationCertificate``: v1.0 and beta, singleton (applePushNotificationCertificate)
  - ``deviceAppManagement/vppTokens``: v1.0 and beta, collection (vppToken)
  - ``deviceManagement/depOnboardingSettings``: beta only, collection (depOnboardingSetting)
  - ``deviceManagement/ndesConnectors``: beta only, collection (ndesConnector)
  - ``deviceManagement/exchangeConnectors``: v1.0 and beta, collection (deviceManagementExchangeConnector)
  - ``deviceManagement/androidManagedStoreAccountEnterpriseSettings``: beta only, singleton (same name)
  - ``deviceManagement/windowsAutopilotSettings``: beta only, singleton (windowsAutopilotSettings)

  They carry every primitive, enum and DateTimeOffset property of Microsoft's SDK models, secrets included: without
  ``$select`` a VPP token's ``token`` and the APNs certificate's ``certificate`` are returned, as Graph returns them.
  v1.0 serves only v1.0's properties (beta's extra vppToken properties are neither returned nor selectable there);
  enums take beta's values in both versions.  Collections of primitives (roleScopeTagIds, targetGroupIds, ...)
  are served; complex properties (VPP tokenActionResults, NDES healthChecks, Managed Google Play companyCodes) and
  navigation properties are not (``$select`` of one is 400).
  Collections list and page like the ones above (``$filter`` on displayName only where the type has one);
  ``/{id}`` reads one.  A singleton is 404 ResourceNotFound until it is seeded, then 200 with the object
  (``@odata.context`` ``...#deviceManagement/<segment>/$entity``); it takes ``$select`` and no other query option.
  A beta-only kind under ``/v1.0`` answers 400 BadRequest "Resource not found for the segment '<segment>'." (the
  segment as requested), as Graph does for a segment its v1.0 model lacks.
* ``$select`` everywhere: only the selected properties (case-insensitive names, ``*`` for all), plus ``id`` on
  Intune objects even when it is not selected (Intune returns it; the ``@odata.context`` names only the selected
  ones); an unknown property is 400 BadRequest "Could not find a property named ...".
* ``/groups`` and ``/groups/{id}``: Entra groups, read-only (writes are 405), seeded through the control API; the
  same listing options (filter on displayName, case-insensitive), ``$select`` of id, displayName, description,
  mailNickname, securityEnabled, mailEnabled and groupTypes (Entra leaves out ``id`` unless it is selected); no
  ``@odata.type`` on groups; 400s carry Entra's code ``Request_BadRequest``, an unknown id is 404
  ``Request_ResourceNotFound``.
* Any other path under a version is 404 ResourceNotFound; a missing, unknown or expired token is 401 (see
  ``emulator_signin.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from urllib.parse import quote, unquote

from .emulator_messages import GRAPH_JSON, ID_PATTERN, Response, b64url, b64url_decode, method_not_allowed
from .graph_schema import GROUP, ROUTES, BadRequest, GraphError

LIST_OPTIONS = ("$top", "$filter", "$select", "$skiptoken", "$count")
SINGLETON_OPTIONS = ("$select",)


def _same_name_ignoring_case(name, wanted):
    """Graph compares strings in $filter case-insensitively, so clients must check exact matches themselves."""
    return name is not None and name.casefold() == wanted.casefold()


def _segment_not_found(segment, status=404):
    code = "ResourceNotFound" if status == 404 else "BadRequest"
    return GraphError(status, code, f"Resource not found for the segment '{segment}'.")


def _not_found_error(rtype, object_id):
    if rtype is GROUP:
        return GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
        )
    return GraphError(
        404, "ResourceNotFound", f"Resource not found: no {rtype.short_name} with id '{object_id}' exists."
    )


def _json_body(ctx):
    if not ctx.body.strip():
        raise BadRequest("Empty Payload, JSON content expected.")
    try:
        return json.loads(ctx.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Invalid JSON. The request body could not be parsed as JSON.") from None


def _query_options(ctx, allowed=LIST_OPTIONS):
    options = {}
    for name, value in ctx.query_pairs:
        if not name.startswith("$"):
            continue  # Graph ignores custom query parameters
        lowered = name.lower()
        if lowered in options:
            raise BadRequest(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        if lowered not in allowed:
            raise BadRequest(f"Query option '{name}' is not supported for this resource.")
        options[lowered] = value
    return options


class GraphCollections:
    """Answers Graph requests (``handle``) from the emulator's state (``app``), authenticated by ``signin``."""

    def __init__(self, app, signin):
        self.app = app
        self.signin = signin

    # -- routing ---------------------------------------------------------------------------------------------------

    def handle(self, ctx):
        segments = [unquote(segment) for segment in ctx.path.split("/")[1:]]
        if len(segments) > 1 and segments[-1] == "":
            segments.pop()
        version = segments[0].lower()
        tenant_id = self.signin.authenticate(ctx)
        rest = segments[1:]
        if rest[:1] and rest[0].lower() == "groups":
            return self._groups(ctx, tenant_id, version, rest[1:])
        rtype = ROUTES.get((rest[0].lower(), rest[1].lower())) if len(rest) >= 2 else None
        if rtype is None or rtype is GROUP:
            raise _segment_not_found("/".join(rest[:2]))
        if version not in rtype.versions:
            raise _segment_not_found(rest[1], status=400)
        if rtype.singleton:
            return self._singleton(ctx, tenant_id, version, rtype, rest[2:])
        if len(rest) == 2:
            if ctx.method == "GET":
                return self._list(ctx, tenant_id, version, rtype)
            if ctx.method == "POST" and not rtype.read_only:
                return self._create(ctx, tenant_id, version, rtype)
            raise method_not_allowed(ctx, "GET" if rtype.read_only else "GET, POST")
        object_id = rest[2]
        if not ID_PATTERN.fullmatch(object_id):
            raise BadRequest(f"Invalid key value '{object_id}' for the segment '{rtype.segment}'.")
        if len(rest) == 3:
            if ctx.method == "GET":
                return self._get(ctx, tenant_id, version, rtype, object_id)
            if rtype.read_only:
                raise method_not_allowed(ctx, "GET")
            if ctx.method == "PATCH":
                return self._update(ctx, tenant_id, version, rtype, object_id)
            if ctx.method == "DELETE":
                return self._delete(tenant_id, rtype, object_id)
            raise method_not_allowed(ctx, "GET, PATCH, DELETE")
        action = rtype.action(rest[3]) if len(rest) == 4 else None
        if action is not None:
            if ctx.method == "POST":
                return self._action(tenant_id, rtype, object_id, action)
            raise method_not_allowed(ctx, "POST")
        raise _segment_not_found(rest[3])

    def _groups(self, ctx, tenant_id, version, rest):
        """``/groups`` and ``/groups/{id}``: Entra groups, read-only; Entra's error codes (Request_*)."""
        try:
            if not rest:
                if ctx.method == "GET":
                    return self._list(ctx, tenant_id, version, GROUP)
                raise method_not_allowed(ctx, "GET")
            if len(rest) == 1:
                if ctx.method == "GET":
                    return self._get(ctx, tenant_id, version, GROUP, rest[0])
                raise method_not_allowed(ctx, "GET")
        except GraphError as exc:
            if exc.code == "BadRequest":
                exc.code = "Request_BadRequest"
            raise
        raise _segment_not_found(rest[1])

    # -- reads -----------------------------------------------------------------------------------------------------

    def _context_url(self, version, rtype, select=None, entity=False):
        url = f"{self.app.origin}/{version}/$metadata#{rtype.context}"
        if select:
            url += "(" + ",".join(select) + ")"
        return url + ("/$entity" if entity else "")

    def _list(self, ctx, tenant_id, version, rtype):
        app = self.app
        options = _query_options(ctx)
        select = rtype.parse_select(options.get("$select"), version)
        wanted_name = rtype.parse_filter(options["$filter"], version) if "$filter" in options else None
        count = options.get("$count", "false").lower()
        if count not in ("true", "false"):
            raise BadRequest(f"'{options['$count']}' is not a valid count option.")
        page_size = app.config["page_size"]
        if "$top" in options:
            top = options["$top"]
            if not (top.isascii() and top.isdigit()):
                raise BadRequest(
                    f"Invalid value '{top}' for $top query option found. The $top query option requires "
                    "a non-negative integer value."
                )
            page_size = min(page_size, int(top))
        key = tenant_id.lower()
        last_seq = self._read_skiptoken(key, rtype.segment, options["$skiptoken"]) if "$skiptoken" in options else 0
        with app.lock:
            matching = [
                (seq, obj)
                for seq, obj in app.store(key, rtype.segment).values()
                if wanted_name is None or _same_name_ignoring_case(obj["displayName"], wanted_name)
            ]
            remaining = [(seq, obj) for seq, obj in matching if seq > last_seq]
            page = remaining[:page_size] if page_size > 0 else []
            value = [rtype.render(obj, select, version) for _seq, obj in page]
        body = {"@odata.context": self._context_url(version, rtype, select)}
        if count == "true":
            body["@odata.count"] = len(matching)
        body["value"] = value
        if page and len(remaining) > len(page):
            pairs = [(name, val) for name, val in ctx.query_pairs if name.lower() != "$skiptoken"]
            pairs.append(("$skiptoken", self._make_skiptoken(key, rtype.segment, page[-1][0])))
            query = "&".join(quote(name, safe="$") + "=" + quote(val, safe="$,'()") for name, val in pairs)
            body["@odata.nextLink"] = f"{app.origin}{ctx.path}?{query}"
        return Response(200, body, content_type=GRAPH_JSON)

    def _get(self, ctx, tenant_id, version, rtype, object_id):
        select = rtype.parse_select(_query_options(ctx).get("$select"), version)
        with self.app.lock:
            entry = self.app.store(tenant_id.lower(), rtype.segment).get(object_id)
            rendered = rtype.render(entry[1], select, version) if entry else None
        if rendered is None:
            raise _not_found_error(rtype, object_id)
        return self._entity(version, rtype, select, rendered)

    def _singleton(self, ctx, tenant_id, version, rtype, extra):
        """A singleton (no id in the URL): 404 until seeded; GET only, ``$select`` only."""
        if extra:
            raise _segment_not_found(extra[0])
        if ctx.method != "GET":
            raise method_not_allowed(ctx, "GET")
        select = rtype.parse_select(_query_options(ctx, SINGLETON_OPTIONS).get("$select"), version)
        with self.app.lock:
            entry = next(iter(self.app.store(tenant_id.lower(), rtype.segment).values()), None)
            rendered = rtype.render(entry[1], select, version) if entry else None
        if rendered is None:
            raise GraphError(
                404, "ResourceNotFound", f"Resource not found: no {rtype.short_name} is set up in this tenant."
            )
        return self._entity(version, rtype, select, rendered)

    def _entity(self, version, rtype, select, rendered):
        body = {"@odata.context": self._context_url(version, rtype, select, entity=True)}
        body.update(rendered)
        return Response(200, body, content_type=GRAPH_JSON)

    # -- writes ----------------------------------------------------------------------------------------------------

    def _create(self, ctx, tenant_id, version, rtype):
        app = self.app
        converted, body_id = rtype.convert(_json_body(ctx), allow_id=True)
        object_id = str(uuid.uuid4())
        if rtype.keeps_client_id and body_id is not None:
            if not ID_PATTERN.fullmatch(body_id):
                raise BadRequest(f"Invalid key value '{body_id}' for the property 'id' of '{rtype.entity_type}'.")
            object_id = body_id
        # Otherwise a client id is ignored, as Graph does for server-assigned keys.
        obj = rtype.new(object_id, converted)
        with app.lock:
            store = app.store(tenant_id.lower(), rtype.segment)
            if object_id in store:
                raise GraphError(
                    409, "Conflict", f"A {rtype.short_name} with id '{object_id}' already exists in this tenant."
                )
            app.next_seq += 1
            store[object_id] = (app.next_seq, obj)
            rendered = rtype.render(obj, version=version)
        body = {"@odata.context": self._context_url(version, rtype, entity=True)}
        body.update(rendered)
        location = f"{app.origin}/{version}/{rtype.context}/{object_id}"
        return Response(201, body, {"Location": location}, GRAPH_JSON)

    def _update(self, ctx, tenant_id, version, rtype, object_id):
        app = self.app
        converted, body_id = rtype.convert(_json_body(ctx), allow_id=True)
        if body_id is not None and body_id != object_id:
            raise BadRequest(
                f"The id in the request body ('{body_id}') does not match the id in the URL ('{object_id}')."
            )
        with app.lock:
            entry = app.store(tenant_id.lower(), rtype.segment).get(object_id)
            if entry is None:
                raise _not_found_error(rtype, object_id)
            entry[1].update(converted)
            rendered = rtype.render(entry[1], version=version)
            patch_status = app.config["patch_status"]
        if patch_status == 200:
            return self._entity(version, rtype, None, rendered)
        return Response(204)

    def _delete(self, tenant_id, rtype, object_id):
        with self.app.lock:
            if self.app.store(tenant_id.lower(), rtype.segment).pop(object_id, None) is None:
                raise _not_found_error(rtype, object_id)
        return Response(204)

    def _action(self, tenant_id, rtype, object_id, action):
        """A bound action without parameters (terminate, beginOnboarding, disconnect): 204, no body."""
        with self.app.lock:
            entry = self.app.store(tenant_id.lower(), rtype.segment).get(object_id)
            if entry is None:
                raise _not_found_error(rtype, object_id)
            action(entry[1])
        return Response(204)

    # -- skip tokens -----------------------------------------------------------------------------------------------

    def _make_skiptoken(self, tenant_key, collection, last_seq):
        payload = b64url(json.dumps([tenant_key, collection, last_seq]).encode())
        mac = hmac.new(self.app.skiptoken_key, payload.encode(), hashlib.sha256).digest()[:12]
        return payload + "." + b64url(mac)

    def _read_skiptoken(self, tenant_key, collection, token):
        try:
            payload, mac = token.split(".")
            expected = hmac.new(self.app.skiptoken_key, payload.encode(), hashlib.sha256).digest()[:12]
            if not hmac.compare_digest(b64url_decode(mac), expected):
                raise ValueError("bad mac")
            token_tenant, token_collection, last_seq = json.loads(b64url_decode(payload))
            if token_tenant != tenant_key or token_collection != collection or not isinstance(last_seq, int):
                raise ValueError("wrong tenant or collection")
        except (ValueError, TypeError):
            raise BadRequest(f"The $skiptoken value '{token}' is invalid.") from None
        return last_seq
