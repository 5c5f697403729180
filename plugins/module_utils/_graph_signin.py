# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sign-in requests (OIDC discovery, token requests, managed identity) and their failures, told as such.

msal sends its requests through MsalHttpClient, which names each one for what it is. A failed sign-in names the
request (discovery or token request), who signs in where (tenant, client and authority host, or the managed
identity), the HTTP status, Entra's error with its AADSTS description, and the trace and correlation ids that
Microsoft support asks for; the failed result gets status, method, url and path. Messages are built from these
fields alone, and Entra never echoes a credential, so no secret can reach one.

An OIDC discovery document is checked before msal reads it (and before the token cache keeps it): the endpoints
that msal uses must be https URLs on the configured authority's host, for the configured tenant, or the client
secret would go wherever the document points. One that fails is discarded and fetched again (with a warning); a
second one fails the sign-in with a message that says what is wrong.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphConnectionError,
    GraphError,
    GraphThrottledError,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import (
    THROTTLE_STATUSES,
    url_path,
    url_without_query,
)

OIDC_DISCOVERY = "OIDC discovery"
INSTANCE_DISCOVERY = "instance discovery"
TOKEN_REQUEST = "token request"
MANAGED_IDENTITY_REQUEST = "managed identity token request"
DISCOVERY_KINDS = (OIDC_DISCOVERY, INSTANCE_DISCOVERY)
# The endpoints of an OIDC discovery document that msal reads; the device code one only when it is there.
DISCOVERY_ENDPOINTS = ("authorization_endpoint", "token_endpoint")
OPTIONAL_DISCOVERY_ENDPOINTS = ("device_authorization_endpoint",)
DISCOVERY_MAX_DEPTH = 8  # Entra's document nests 2 levels
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Sign-in requests are idempotent (asking twice only yields two tokens), so server errors are retried too.
SIGN_IN_RETRY_STATUSES = THROTTLE_STATUSES | frozenset((500, 502))


def request_kind(url):
    """What msal asks for at this URL."""
    path = urlsplit(url).path.rstrip("/")
    if path.endswith("/.well-known/openid-configuration"):
        return OIDC_DISCOVERY
    if path.endswith("/discovery/instance"):
        return INSTANCE_DISCOVERY
    return TOKEN_REQUEST


def json_object(data, max_depth):
    """The JSON object in `data` (text or UTF-8 bytes); ValueError when there is none or it nests deeper than
    `max_depth` levels of objects and arrays (json.loads would recurse, and so would whoever reads it)."""
    try:
        document = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    level = [document]
    for _depth in range(max_depth + 1):
        level = [child for item in level for child in _children(item)]
        if not level:
            break
    else:
        raise ValueError("nested too deeply")
    if isinstance(document, dict):
        return document
    raise ValueError("not a JSON object")


def _children(value):
    if isinstance(value, dict):
        return list(value.values())
    return value if isinstance(value, list) else []


def _origin(url):
    """(hostname, port) of an https URL; ValueError for another scheme or a bad port."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("not an https URL")
    return parts.hostname.lower(), parts.port or 443


def discovery_problem(response, authority_host, tenant):
    """What makes an OIDC discovery answer unusable for this authority and tenant (worded to follow "a document
    that"), or None. Error answers are None too: msal reports them, and they are never cached."""
    if response.status_code != 200:
        return None
    try:
        document = json_object(response.text, DISCOVERY_MAX_DEPTH)
    except ValueError as exc:
        return f"is not usable JSON ({exc})"
    host, port = _origin(authority_host)
    tenants = set()
    for key in DISCOVERY_ENDPOINTS + OPTIONAL_DISCOVERY_ENDPOINTS:
        value = document.get(key)
        if value is None and key in OPTIONAL_DISCOVERY_ENDPOINTS:
            continue
        if not isinstance(value, str) or not value:
            return f"has no {key}"
        try:
            named = _origin(value)
        except ValueError:
            return f"gives no https URL as its {key}"
        if named != (host, port):
            return f"names host {named[0]}:{named[1]} in its {key}, not the authority's {host}:{port}"
        segments = urlsplit(value).path.split("/")
        tenants.add(segments[1].lower() if len(segments) > 1 else "")
    if len(tenants) != 1:
        return "names different tenants in its endpoints"
    (named_tenant,) = tenants
    # A tenant given by its domain name is answered with its id.
    if named_tenant != tenant.lower() and (GUID.fullmatch(tenant) or not GUID.fullmatch(named_tenant)):
        return f"names tenant {named_tenant!r} in its endpoints, not {tenant}"
    return None


class Exchange:
    """One sign-in request and the answer it got."""

    def __init__(self, kind, method, url, response):
        self.kind = kind
        self.method = method
        self.url = url
        self.response = response


def response_body(response):
    """The JSON object of a response, or {} (Entra answers errors with JSON; a proxy may not)."""
    try:
        body = response.json()
    except (ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def _header(headers, name):
    if not headers:
        return None
    value = headers.get(name)
    if value is None and hasattr(headers, "items"):
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def entra_fields(body, headers=None):
    """error, description (its first line, which holds the AADSTS code), trace_id and correlation_id.

    From an Entra error body or msal's result dict; the ids fall back to the response headers.
    """
    body = body if isinstance(body, dict) else {}
    description = body.get("error_description")
    lines = description.strip().splitlines() if isinstance(description, str) else []
    error = body.get("error")
    return {
        "error": error if isinstance(error, str) and error else None,
        "description": lines[0].strip() if lines else None,
        "trace_id": body.get("trace_id") or _header(headers, "x-ms-request-id"),
        "correlation_id": body.get("correlation_id") or _header(headers, "client-request-id"),
    }


def sign_in_error(
    kind, who, method=None, url=None, status=None, fields=None, detail=None, error_class=GraphAuthError, code=None
):
    """A GraphError saying which sign-in request failed for whom, and how.

    `detail` is what the transport said (throttled after retries, no answer, TLS); otherwise the HTTP status (if
    any) heads the reason. Entra's error and description follow, then its trace and correlation ids.
    """
    fields = fields or {}
    error = fields.get("error")
    description = fields.get("description")
    head = detail
    if head is None and status is not None:
        head = f"{method} {url_path(url)} returned HTTP {status}"
        if error:
            head += f" {error}"
            error = None
    reason = ": ".join(part for part in (head, error, description) if part) or "no token in the answer"
    text = f"{kind} failed for {who}: {reason}"
    ids = [f"{name}: {fields[name]}" for name in ("trace_id", "correlation_id") if fields.get(name)]
    if ids:
        text += " ({})".format(", ".join(ids))
    return error_class(
        text,
        status=status,
        code=fields.get("error") or code,
        graph_message=description,
        request_id=fields.get("trace_id"),
        client_request_id=fields.get("correlation_id"),
        method=method,
        path=url_path(url) if url else None,
        url=url_without_query(url) if url else None,
    )


class MsalHttpClient:
    """The http_client given to msal: our transport, so msal's requests get the same TLS settings, proxies and
    retries as Graph's, and failures that say what was asked of whom.

    A request still failing after our retries raises instead of returning, so msal's own throttle cache never stores
    it and never hides a later, retried request. `last` is the last exchange, from which an error that msal reports
    out of a response is told the same way. GETs of discovery documents go through `discovery_cache` when one is
    given (never a managed identity request: those GETs return tokens). With `authority` (authority host, tenant),
    OIDC discovery documents are checked (see discovery_problem).
    """

    def __init__(self, transport, who="", kind=None, discovery_cache=None, authority=None):
        self.transport = transport
        self.who = who
        self.kind = kind
        self.discovery_cache = discovery_cache
        self.authority = authority
        self.last = None

    def post(self, url, params=None, data=None, headers=None, **_ignored):
        return self._send("POST", url, params=params, data=data, headers=headers)

    def get(self, url, params=None, headers=None, **_ignored):
        kind = self.kind or request_kind(url)
        if kind == OIDC_DISCOVERY and self.authority is not None:
            return self._checked_discovery(url, params, headers)
        if kind in DISCOVERY_KINDS:
            return self._discovery(kind, url, params, headers)
        return self._send("GET", url, params=params, headers=headers)

    def _discovery(self, kind, url, params, headers, problem_of=None):
        if self.discovery_cache is None:
            return self._send("GET", url, params=params, headers=headers)
        response = self.discovery_cache.get(
            url, params, lambda: self._send("GET", url, params=params, headers=headers), problem_of
        )
        self.last = Exchange(kind, "GET", url, response)
        return response

    def _checked_discovery(self, url, params, headers):
        """The OIDC discovery answer once it passes discovery_problem; a document that fails twice fails the sign-in."""

        def problem_of(response):
            return discovery_problem(response, *self.authority)

        for attempt in range(2):
            response = self._discovery(OIDC_DISCOVERY, url, params, headers, problem_of)
            problem = problem_of(response)
            if problem is None:
                return response
            if attempt == 0 and self.transport.notices is not None:
                self.transport.notices.warn(
                    f"{OIDC_DISCOVERY} for {self.who}: GET {url_path(url)} returned a document that {problem}; "
                    "it was discarded and is fetched again"
                )
        self.last = None
        raise sign_in_error(
            OIDC_DISCOVERY,
            self.who,
            "GET",
            url,
            response.status_code,
            detail=f"GET {url_path(url)} returned a document that {problem}, twice",
        )

    def close(self):
        """msal may call close(); the session belongs to the transport."""

    def _send(self, method, url, **kwargs):
        kind = self.kind or request_kind(url)
        self.last = None
        try:
            response = self.transport.send(
                method,
                url,
                idempotent=True,
                describe=f"{method} {url_path(url)}",
                retry_statuses=SIGN_IN_RETRY_STATUSES,
                **kwargs,
            )
        except GraphError as exc:
            raise self._failure(kind, method, url, exc) from None
        self.last = Exchange(kind, method, url, response)
        return response

    def _failure(self, kind, method, url, exc):
        response = getattr(exc, "response", None)
        if response is None:  # no HTTP answer (refused, timed out, TLS): nothing from Entra to add
            error = sign_in_error(kind, self.who, method, url, detail=str(exc), error_class=GraphConnectionError)
            error.client_request_id = exc.client_request_id
            return error
        fields = entra_fields(response_body(response), response.headers)
        return sign_in_error(
            kind,
            self.who,
            method,
            url,
            response.status_code,
            fields,
            detail=str(exc),
            error_class=GraphThrottledError,
            code="throttled",
        )

    def _failed_exchange(self):
        """The last exchange if Entra answered it with an error, else None."""
        exchange = self.last
        if exchange is None or exchange.response is None or exchange.response.status_code < 400:
            return None
        return exchange

    def _exchange_error(self, exchange, fields):
        return sign_in_error(
            exchange.kind, self.who, exchange.method, exchange.url, exchange.response.status_code, fields
        )

    def failure_from_result(self, kind, result):
        """The error for msal's result dict without a token, with the HTTP exchange it came from (if any)."""
        exchange = self._failed_exchange()
        if exchange is None:
            return sign_in_error(kind, self.who, fields=entra_fields(result))
        return self._exchange_error(exchange, entra_fields(result, exchange.response.headers))

    def failure_from_exchange(self):
        """The error for the last exchange when it failed (msal raised on it, e.g. for an unknown tenant), else None."""
        exchange = self._failed_exchange()
        if exchange is None:
            return None
        response = exchange.response
        return self._exchange_error(exchange, entra_fields(response_body(response), response.headers))
