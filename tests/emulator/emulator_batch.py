"""JSON batching in the Graph emulator: ``POST /v1.0/$batch`` and ``POST /beta/$batch``, as Graph documents it
(https://learn.microsoft.com/graph/json-batching).

The body is ``{"requests": [{"id", "method", "url", "headers"?, "body"?, "dependsOn"?}, ...]}``; the answer is 200
``{"responses": [{"id", "status", "headers", "body"}, ...]}`` with one response per request.

* The batch as a whole is 400 BadRequest (Graph's error body; no sub-request runs) when its body is not JSON, has no
  or an empty ``requests`` list ("Invalid batch payload format."), holds more than 20 requests, repeats an ``id``
  (ids are strings compared without regard to case: "Request Id 1 has to be unique in a batch."), or when a request
  lacks ``method`` (GET, POST, PATCH, PUT or DELETE) or ``url``, has a ``url`` that is absolute or names a version
  (``https://...``, ``/v1.0/...``: urls are relative to the batch's own version, with or without a leading ``/``),
  is itself a ``$batch``, has a ``body`` without a ``Content-Type`` in its ``headers``, or a ``dependsOn`` that does
  not name earlier requests of the batch.  A missing, unknown or expired token is a 401 for the whole batch.
* Each request then runs through the same routing as a request sent on its own, in the batch's order: the batch's
  own token (its tenant) whatever the request's headers say, the request's own query string and headers (its
  ``client-request-id``, else the batch's, is echoed), its own fault (faults match the request's own method and path,
  e.g. ``/v1.0/deviceAppManagement/vppTokens``, with ``scope`` any or batched; see ``emulator_faults.py``), its own
  mutations and its own log entry and stats (``kind`` graph, ``batch_seq`` = the batch's seq).  Writes run too.  A
  request whose ``dependsOn`` names one that failed (status >= 400) does not run and answers 424 FailedDependency;
  it is not logged.
* Each response carries the request's ``id``, its ``status``, its ``headers`` (``Content-Type`` when there is a
  body, ``Retry-After`` when a fault set one, ``Location``/``Allow``/``WWW-Authenticate`` as the request alone would
  get them, and its own ``request-id`` and ``client-request-id``) and its ``body`` (null when there is none).  A
  list's ``@odata.nextLink`` is absolute, as for a request sent on its own; the next page is a new request.
* Responses come back shuffled, and never in request order when there are two or more: clients must match them by
  ``id``.  With the config value ``batch_shuffle_seed`` (an integer) the sequence of orders is reproducible from the
  last reset or change of that value; null gives a new random order every time.
* Latency faults on sub-requests delay the whole answer by the largest of them (Graph runs them side by side);
  drop faults never match a sub-request, only the outer POST, whose path is ``/{v}/$batch`` and whose faults,
  mutations and log entry (``kind`` batch, ``size``) are those of any request.
* With the config value ``batch`` set to 404, 405 or 501 (false: 404), every request to ``/{v}/$batch`` answers that
  status, as a proxy or test server that does not serve batching would.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

from .emulator_messages import GRAPH_VERSIONS, RequestContext, Response, graph_error_response, method_not_allowed
from .graph_schema import BadRequest, GraphError

MAX_REQUESTS = 20
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
INVALID_PAYLOAD = "Invalid batch payload format."
ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:|//")


def _not_served(status):
    """What an endpoint that does not serve batching answers (the config value ``batch``: 404, 405 or 501)."""
    if status == 405:
        return GraphError(
            405, "MethodNotAllowed", "The requested resource does not support batching.", {"Allow": "GET"}
        )
    if status == 501:
        return GraphError(501, "NotImplemented", "The server does not implement '$batch'.")
    return GraphError(404, "ResourceNotFound", "Resource not found for the segment '$batch'.")


class BatchItem:
    """One validated request of a batch."""

    def __init__(self, raw, earlier):
        if not isinstance(raw, dict):
            raise BadRequest(INVALID_PAYLOAD)
        self.id = raw.get("id")
        if not isinstance(self.id, str) or not self.id:
            raise BadRequest("Every request of a batch needs an 'id' that is a non-empty string.")
        self.key = self.id.casefold()
        if self.key in earlier:
            raise BadRequest(f"Request Id {self.id} has to be unique in a batch.")
        method = raw.get("method")
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise BadRequest(f"Request {self.id}: 'method' must be one of {', '.join(METHODS)}.")
        self.method = method.upper()
        self.path, self.query = self._parse_url(raw.get("url"))
        headers = raw.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values()):
            raise BadRequest(f"Request {self.id}: 'headers' must be an object of strings.")
        self.headers = {name.lower(): value for name, value in headers.items()}
        self.body = b""
        if raw.get("body") is not None:
            if "content-type" not in self.headers:
                raise BadRequest(f"Request {self.id}: a request with a body needs a Content-Type header.")
            self.body = json.dumps(raw["body"]).encode("utf-8")
        depends_on = raw.get("dependsOn") or []
        if not isinstance(depends_on, list) or not all(isinstance(name, str) for name in depends_on):
            raise BadRequest(f"Request {self.id}: 'dependsOn' must be a list of request ids.")
        self.depends_on = [name.casefold() for name in depends_on]
        for name, key in zip(depends_on, self.depends_on):
            if key not in earlier:
                raise BadRequest(
                    f"Request {self.id}: dependsOn names '{name}', which is no earlier request of the batch."
                )

    def _parse_url(self, url):
        """(path relative to the version, raw query) of a request's url."""
        if not isinstance(url, str) or not url.strip():
            raise BadRequest(f"Request {self.id}: 'url' must be a non-empty string.")
        if ABSOLUTE_URL.match(url):
            raise BadRequest(f"Request {self.id}: the url '{url}' must be relative to the batch's Graph version.")
        path, _mark, query = url.partition("?")
        path = path.lstrip("/")
        first = unquote(path.split("/", 1)[0]).lower()
        if first in GRAPH_VERSIONS:
            raise BadRequest(f"Request {self.id}: the url '{url}' must not name a Graph version; the batch's applies.")
        if first == "$batch":
            raise BadRequest(f"Request {self.id}: a batch cannot contain another batch.")
        return path, query


class BatchService:
    """Answers ``/{v}/$batch`` from the emulator's state (``app``).

    ``run_sub_request(ctx)`` runs one sub-request through the emulator's request pipeline (its fault, handler, log
    entry and mutations) and returns ``(response, seconds of injected latency)``.
    """

    def __init__(self, app, signin, run_sub_request):
        self.app = app
        self.signin = signin
        self.run_sub_request = run_sub_request

    def handle(self, ctx):
        setting = self.app.config["batch"]
        if setting is not True:
            raise _not_served(setting)
        if ctx.method != "POST":
            raise method_not_allowed(ctx, "POST")
        self.signin.authenticate(ctx)
        items = self._parse(ctx)
        version = ctx.path.split("/")[1].lower()
        outcomes = {}
        latency = 0
        for item in items:  # dependencies name earlier requests, so this order satisfies them
            sub = self._sub_context(ctx, version, item)
            failed = next((key for key in item.depends_on if outcomes[key][2].status >= 400), None)
            if failed is not None:
                error = GraphError(
                    424,
                    "FailedDependency",
                    f"Request {item.id} depends on request {outcomes[failed][0].id}, which failed.",
                )
                response = graph_error_response(sub, error)
            else:
                response, delay = self.run_sub_request(sub)
                latency = max(latency, delay)
            outcomes[item.key] = (item, sub, response)
        if latency:
            time.sleep(latency)  # the sub-requests ran side by side: the slowest one sets the pace
        responses = [self._sub_response(*outcome) for outcome in self._shuffled(list(outcomes.values()))]
        return Response(200, {"responses": responses}, content_type="application/json")

    def _parse(self, ctx):
        try:
            payload = json.loads(ctx.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(INVALID_PAYLOAD) from None
        requests = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(requests, list) or not requests:
            raise BadRequest(INVALID_PAYLOAD)
        ctx.size = len(requests)
        if len(requests) > MAX_REQUESTS:
            raise BadRequest(
                f"The batch holds {len(requests)} requests; a batch can hold at most {MAX_REQUESTS} requests."
            )
        items = []
        earlier = set()
        for raw in requests:
            item = BatchItem(raw, earlier)
            earlier.add(item.key)
            items.append(item)
        return items

    @staticmethod
    def _sub_context(ctx, version, item):
        headers = dict(item.headers, authorization=ctx.headers.get("authorization", ""))
        return RequestContext(
            item.method,
            f"/{version}/{item.path}",
            item.query,
            headers,
            item.body,
            client_request_id=ctx.client_request_id,
            batch_seq=ctx.seq,
        )

    def _shuffled(self, outcomes):
        order = list(range(len(outcomes)))
        with self.app.lock:
            self.app.batch_random.shuffle(order)
        if order == sorted(order):
            order = order[1:] + order[:1]  # never the request order: clients must match responses by id
        return [outcomes[index] for index in order]

    @staticmethod
    def _sub_response(item, sub, response):
        headers = {}
        if response.body is not None and response.status != 204:
            headers["Content-Type"] = response.content_type or "application/json"
        headers.update(response.headers)
        headers["request-id"] = sub.request_id
        headers["client-request-id"] = sub.client_request_id
        return {"id": item.id, "status": response.status, "headers": headers, "body": response.body}
