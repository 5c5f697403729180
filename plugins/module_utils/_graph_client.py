# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Graph client every module uses: authenticated requests, Graph errors, paging, and batches of reads."""

from __future__ import annotations

import uuid

from ansible_collections.msgraph.intune.plugins.module_utils._graph_auth import build_token_provider
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphError,
    Notices,
    request_ids,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import resolve_settings
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import (
    RetryPolicy,
    Transport,
    url_path,
    url_without_query,
)

MAX_PAGES = 1000


class GraphClient:
    """Requests relative to `{graph_endpoint}/{api_version}`, e.g. client.get("deviceManagement/...").

    Reads take `version` for an object that lives in one API version only (beta), whatever the task's api_version.
    `notices` collects the warnings that the task's result shows (see _graph_errors.Notices).
    `batch_refused` turns true when the endpoint answers that it does not serve $batch: from then on this client
    sends its reads one by one.
    """

    def __init__(self, settings, transport, token_provider, notices=None):
        self.settings = settings
        self.transport = transport
        self.auth = token_provider
        self.notices = notices or Notices()
        self.base_url = self.version_url(settings.api_version)
        self.batch_refused = False

    def version_url(self, version):
        return f"{self.settings.graph_endpoint}/{version}/"

    def get(self, path, params=None, version=None):
        return self._request("GET", self._url(path, version), params=params)

    def get_or_none(self, path, params=None, version=None):
        """The object, or None when Graph answers 404."""
        try:
            return self.get(path, params=params, version=version)
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path, params=None, version=None):
        """Every item of a collection, following @odata.nextLink (see NextLinks)."""
        items = []
        links = NextLinks(self.settings.graph_endpoint, path)
        page = self._request("GET", self._url(path, version), params=params)
        while True:
            items.extend(page.get("value") or [])
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return items
            page = self._request("GET", links.follow(next_link))

    def read_many(self, reads):
        """A ReadResult for each _graph_batch.Read, in the same order: in JSON batches unless batching is off."""
        # Imported here: _graph_batch builds on this module.
        from ansible_collections.msgraph.intune.plugins.module_utils._graph_batch import read_many

        return read_many(self, reads)

    def send_batch(self, version, requests):
        """POST one JSON batch of GET sub-requests and return Graph's answer; retried like a read, which it is."""
        return self._request("POST", self.version_url(version) + "$batch", body={"requests": requests})

    def create(self, path, body, recover=None):
        """POST a new object. `recover()` looks the object up after an ambiguous failure, so that a lost
        response never leads to a duplicate."""
        return self._request("POST", path, body=body, idempotent=False, recover=recover)

    def update(self, path, body):
        """PATCH; returns the object when Graph answers 200 with a body, None for 204."""
        return self._request("PATCH", path, body=body)

    def delete(self, path):
        return self._request("DELETE", path, ok_if_gone_after_retry=True)

    def action(self, path):
        """POST a bound action such as terminate. Repeating it has the same effect, so it is retried."""
        return self._request("POST", path, idempotent=True)

    def _url(self, path, version=None):
        if path.startswith("https://"):
            return path
        return (self.base_url if version is None else self.version_url(version)) + path.lstrip("/")

    def _request(
        self, method, path, params=None, body=None, idempotent=True, recover=None, ok_if_gone_after_retry=False
    ):
        url = self._url(path)
        client_request_id = str(uuid.uuid4())
        refreshed = False
        retried = False  # across token refreshes: a 404 after any retried DELETE means it was done
        token = self.auth.token()
        while True:
            headers = {
                "Authorization": f"Bearer {token}",
                "client-request-id": client_request_id,
                "Accept": "application/json",
            }
            if body is not None:
                headers["Content-Type"] = "application/json"
            result = self.transport.send(
                method, url, params=params, json=body, headers=headers, idempotent=idempotent, recover=recover
            )
            if not hasattr(result, "status_code"):
                return result  # recover() found the object that a lost POST created
            response = result
            retried = retried or "Retry-Attempt" in response.request.headers
            if response.status_code == 401 and not refreshed and error_code(response) == "InvalidAuthenticationToken":
                if not self.auth.can_refresh:
                    raise graph_error(response, method, url, error_class=GraphAuthError)
                # The new token is used as it comes, even one that expires at once: one refresh per request.
                token = self.auth.refresh()
                refreshed = True
                continue
            if response.status_code == 404 and ok_if_gone_after_retry and retried:
                return None  # an earlier attempt deleted it
            if response.status_code >= 400:
                raise graph_error(response, method, url, GraphAuthError if response.status_code == 401 else GraphError)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise not_json_error(response, method, url, client_request_id) from None


class NextLinks:
    """The @odata.nextLink chain of one collection read.

    The bearer token is only ever sent to the Graph endpoint, so a link to another origin is refused; a link seen
    before, or more than MAX_PAGES pages, stops the read instead of looping.
    """

    def __init__(self, graph_endpoint, path):
        self.graph_endpoint = graph_endpoint
        self.path = path
        self.seen = set()

    def follow(self, next_link):
        """The absolute URL of the next page."""
        if next_link.startswith("/"):
            next_link = self.graph_endpoint + next_link  # a path on the same host
        if not next_link.startswith(self.graph_endpoint + "/"):
            raise GraphError(
                "refusing to follow @odata.nextLink to {!r}: it is not on the Graph endpoint {}".format(
                    next_link.split("?", 1)[0], self.graph_endpoint
                ),
                method="GET",
                path=self.path,
            )
        if next_link in self.seen:
            raise GraphError("Graph returned the same @odata.nextLink twice; stopping", method="GET", path=self.path)
        if len(self.seen) + 1 >= MAX_PAGES:
            raise GraphError(f"more than {MAX_PAGES} pages; stopping", method="GET", path=self.path)
        self.seen.add(next_link)
        return next_link


def error_code(answer):
    """Graph's error code in a response (or a $batch sub-response), if it has one."""
    try:
        return (answer.json().get("error") or {}).get("code")
    except (ValueError, AttributeError):
        return None


def graph_error(answer, method, url, error_class=GraphError):
    """One readable message plus structured fields, from Graph's error body and headers.

    `answer` is a requests.Response or a _graph_batch.SubResponse: both have status_code, headers (read without
    regard to case) and json().
    """
    code = message = request_id = client_request_id = None
    try:
        error = answer.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        inner = error.get("innerError") or error.get("innererror") or {}
        if isinstance(inner, dict):
            request_id = inner.get("request-id")
            client_request_id = inner.get("client-request-id")
    request_id = request_id or answer.headers.get("request-id")
    client_request_id = client_request_id or answer.headers.get("client-request-id")
    path = url_path(url)
    text = f"{method} {path} failed: HTTP {answer.status_code}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    text += f" ({request_ids(request_id, client_request_id)})"
    return error_class(
        text,
        status=answer.status_code,
        code=code,
        graph_message=message,
        request_id=request_id,
        client_request_id=client_request_id,
        method=method,
        path=path,
        url=url_without_query(url),
    )


def not_json_error(answer, method, url, client_request_id):
    """A success whose body should be JSON and is not (a portal page from a proxy, a base64 body)."""
    return GraphError(
        f"{method} {url_path(url)} returned HTTP {answer.status_code} with a body that is not JSON",
        status=answer.status_code,
        request_id=answer.headers.get("request-id"),
        client_request_id=client_request_id,
        method=method,
        path=url_path(url),
        url=url_without_query(url),
    )


def build_graph_client(params, environ=None, session=None, token_cache=None):
    """Settings, transport and authentication for one task, from its validated parameters.

    `token_cache` (a plugin_utils._token_cache.TokenCacheStore) shares tokens between the tasks of a run; it is
    used unless the task's token_cache option (or MSGRAPH_TOKEN_CACHE) is false.
    """
    settings = resolve_settings(params, environ)
    notices = Notices()
    transport = Transport(
        verify=settings.verify,
        verify_strict=settings.verify_strict,
        timeout=settings.timeout,
        policy=RetryPolicy(max_retries=settings.max_retries),
        session=session,
        notices=notices,
    )
    token_store = token_cache if settings.token_cache else None
    return GraphClient(settings, transport, build_token_provider(settings, transport, token_store), notices)
