"""The values the emulator's modules pass each other: a request (``RequestContext``), an answer (``Response``), the
Graph error body, and the wire encodings they share (query strings, base64url, Graph's dates and content types).

Standard library only.  See ``graph_emulator.py`` for the whole emulator.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
import uuid
from urllib.parse import unquote_plus

from .graph_schema import GraphError

GRAPH_VERSIONS = ("v1.0", "beta")
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,256}")  # the object ids (and tenant ids) the emulator accepts
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
GRAPH_ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    423: "ResourceLocked",
    424: "FailedDependency",
    429: "TooManyRequests",
    500: "InternalServerError",
    501: "NotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
    507: "InsufficientStorage",
}


class ControlError(Exception):
    """Invalid input to the control API (answered with 400) or in the --seed file (exit status 2)."""


def utc_now():
    return dt.datetime.now(dt.timezone.utc)


def graph_date():
    """The ``date`` of an error's innerError, as Graph writes it."""
    return utc_now().strftime("%Y-%m-%dT%H:%M:%S")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def parse_query(raw_query):
    """Parse a query string into ordered (name, value) pairs, percent-decoded ('+' is a space)."""
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        name, _equals, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def query_dict(pairs):
    """Turn parse_query pairs into {name: value} (a list when a name repeats), for the request log."""
    result = {}
    for name, value in pairs:
        if name in result:
            if not isinstance(result[name], list):
                result[name] = [result[name]]
            result[name].append(value)
        else:
            result[name] = value
    return result


class Response:
    """What a handler decided to answer; the transport writes it (or drops it, for drop_after faults)."""

    def __init__(self, status, body=None, headers=None, content_type=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type


class RequestContext:
    """One request, sent on its own or inside a batch (``batch_seq``: the log seq of its batch, else None).

    ``kind`` (graph|batch|token|managed_identity|discovery|control), ``tenant`` and ``log_body`` are filled in by
    whoever handles the request; they end up in the request log.
    """

    def __init__(self, method, raw_path, raw_query, headers, body, client_request_id=None, batch_seq=None):
        self.started = time.time()
        self.method = method
        self.path = raw_path
        self.query_pairs = parse_query(raw_query)
        self.headers = headers
        self.body = body
        self.client_request_id = headers.get("client-request-id") or client_request_id or str(uuid.uuid4())
        self.request_id = str(uuid.uuid4())
        self.batch_seq = batch_seq
        self.seq = None  # its log seq, once the pipeline has given it one
        self.kind = "graph"
        self.tenant = None
        self.log_body = None
        self.size = None  # number of sub-requests, for a batch


def graph_error_response(ctx, error):
    """A ``GraphError`` as Graph answers it: ``{"error": {code, message, innerError: {date, request-id, ...}}}``."""
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": graph_date(),
                "request-id": ctx.request_id,
                "client-request-id": ctx.client_request_id,
            },
        }
    }
    return Response(error.status, body, error.headers, "application/json")


def method_not_allowed(ctx, allowed):
    """The 405 of a method the resource does not serve; ``allowed`` is the Allow header's value."""
    return GraphError(
        405,
        "MethodNotAllowed",
        f"The HTTP method '{ctx.method}' is not allowed for the requested resource.",
        {"Allow": allowed},
    )


def path_not_found(ctx):
    """The 404 of a path nothing on this origin serves."""
    return GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{ctx.path}'.")
