# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent reads of one task in as few round trips as Graph allows: JSON batching (POST /{version}/$batch).

`Read` describes one GET, `ReadResult` holds what it gave, `GraphClient.read_many(reads)` runs them. Only reads are
batched: a write inside a throttled batch may have been applied or not, and writes keep their own lost-reply recovery.

Graph's contract (https://learn.microsoft.com/graph/json-batching): at most 20 sub-requests per batch, each with an id
unique in its batch and a URL relative to the API version; the answers come in any order, each with its own status,
headers and body; a throttled sub-request carries its own Retry-After and counts against the limits on its own.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote, urlencode

from ansible_collections.msgraph.intune.plugins.module_utils._graph_client import (
    NextLinks,
    error_code,
    graph_error,
    not_json_error,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphConnectionError,
    GraphError,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import (
    THROTTLE_STATUSES,
    throttled_error,
    url_path,
    url_without_query,
)

MAX_BATCH_REQUESTS = 20
# An endpoint that does not serve $batch (a proxy, a test server) answers the POST so; reads then go one by one.
BATCH_REFUSED_STATUSES = frozenset((404, 405, 501))
# Query characters left as they are in a sub-request's URL, as Graph's own samples write them ($select=id,state).
QUERY_SAFE = "$,'()"


class Read:
    """One independent GET, relative to the API version.

    `version` None means the task's api_version; "beta" or "v1.0" pins it. A `collection` read follows every page and
    gives the list of items; otherwise it gives the object (a dict). `missing_ok`: a 404 gives None, not an error.
    """

    def __init__(self, path, params=None, version=None, collection=True, missing_ok=False):
        self.path = path
        self.params = params
        self.version = version
        self.collection = collection
        self.missing_ok = missing_ok

    def __repr__(self):
        return f"Read({self.path!r}, params={self.params!r}, version={self.version!r})"


class ReadResult:
    """What one Read gave: `value`, or `error` (the GraphError that the same request on its own would raise)."""

    def __init__(self, value=None, error=None):
        self.value = value
        self.error = error

    def get(self):
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value

    def __repr__(self):
        return f"ReadResult(error={self.error!r})" if self.error is not None else f"ReadResult({self.value!r})"


def read_many(client, reads):
    """A ReadResult per read, in order. A lone read saves nothing in a batch, so it goes as a request of its own."""
    reads = list(reads)
    if len(reads) < 2 or not client.settings.batch or client.batch_refused:
        return [_read_alone(client, read) for read in reads]
    return _BatchRun(client, reads).run()


def read_singly(client, read):
    """One read as its own request(s), its GraphError captured as a batched one's would be.

    No answer at all (GraphConnectionError) and a refused sign-in (GraphAuthError) are raised: the tenant is out of
    reach, for every read alike.
    """
    try:
        if read.collection:
            value = client.list(read.path, params=read.params, version=read.version)
        else:
            value = client.get(read.path, params=read.params, version=read.version)
    except (GraphConnectionError, GraphAuthError):
        raise
    except GraphError as exc:
        return _failed(read, exc)
    return ReadResult(value)


def _sign_in(client):
    """Sign in before reads are sent, outside their own errors: a sign-in that fails, whatever the reason (a throttled
    token endpoint too), concerns every read alike. The reads' requests then use that token."""
    client.auth.sign_in()


def _read_alone(client, read):
    _sign_in(client)
    return read_singly(client, read)


def _failed(read, error):
    if read.missing_ok and error.status == 404:
        return ReadResult(None)
    return ReadResult(error=error)


class SubResponse:
    """One answer inside a $batch response, read the way graph_error reads a requests.Response."""

    def __init__(self, status_code, headers, body):
        self.status_code = status_code
        self.headers = _Headers(headers)
        self.body = body

    @classmethod
    def parse(cls, raw):
        """A SubResponse, or None for an item that is not one (no id's answer can be taken from it)."""
        try:
            status = int(raw.get("status"))
        except (AttributeError, TypeError, ValueError):
            return None
        headers = raw.get("headers")
        return cls(status, headers if isinstance(headers, dict) else {}, raw.get("body"))

    def json(self):
        if self.body is None:
            raise ValueError("the sub-response has no body")
        return self.body


class _Headers(dict):
    """Header names in any case, as HTTP has them."""

    def __init__(self, raw):
        super().__init__((str(name).lower(), value) for name, value in raw.items())

    def get(self, name, default=None):
        return super().get(name.lower(), default)


def relative_url(path, params=None):
    """A sub-request's URL: the path relative to the API version, plus its encoded query."""
    url = "/" + path.lstrip("/")
    if params:
        query = urlencode({k: v for k, v in dict(params).items() if v is not None}, quote_via=quote, safe=QUERY_SAFE)
        url += ("&" if "?" in url else "?") + query
    return url


class _Pending:
    """A read on its way: the sub-request it sends next and the items its pages gave so far."""

    def __init__(self, index, read, version, graph_endpoint):
        self.index = index
        self.read = read
        self.version = version
        self.url = relative_url(read.path, read.params)
        self.items = []
        self.links = NextLinks(graph_endpoint, read.path)
        self.refreshed = False
        self.new_request()

    def new_request(self):
        """Each page is a request of its own, as in GraphClient.list: its own id and its own retries."""
        self.attempt = 1
        self.client_request_id = str(uuid.uuid4())

    def sub_request(self, request_id):
        headers = {"client-request-id": self.client_request_id}
        if self.attempt > 1:
            headers["Retry-Attempt"] = str(self.attempt - 1)
        return {"id": request_id, "method": "GET", "url": self.url, "headers": headers}

    def follow(self, next_link):
        """Make the next page the sub-request to send; the link names its version (it is absolute)."""
        absolute = self.links.follow(next_link)
        self.version, _slash, rest = absolute[len(self.links.graph_endpoint) + 1 :].partition("/")
        self.url = "/" + rest
        self.new_request()


class _BatchRun:
    """The reads of one read_many call, sent in rounds of batches until each has its result.

    A round sends every read still pending, one batch per API version and 20 sub-requests; what the round leaves
    (next pages, throttled sub-requests, reads sent again with a refreshed token) goes in the next round, after the
    largest wait that the throttled ones asked for. The waits of all rounds share the policy's max_total_wait.
    """

    def __init__(self, client, reads):
        self.client = client
        self.endpoint = client.settings.graph_endpoint
        self.policy = client.transport.policy
        self.results = [None] * len(reads)
        self.pending = [
            _Pending(index, read, read.version or client.settings.api_version, self.endpoint)
            for index, read in enumerate(reads)
        ]
        self.waited = 0.0

    def run(self):
        while self.pending:
            if self.client.batch_refused:
                for item in self.pending:  # from its start: what a batch gave of it is dropped
                    self.results[item.index] = _read_alone(self.client, item.read)
                break
            self.pending = self._round(self.pending)
        return self.results

    def _round(self, pending):
        """Send `pending`; return the reads for the next round."""
        again, throttled, expired = [], [], []
        for version, chunk in _batches(pending):
            answers = None if self.client.batch_refused else self._post(version, chunk)
            if answers is None:
                again.extend(chunk)
                continue
            for item, answer in zip(chunk, answers):
                if isinstance(answer, SubResponse) and answer.status_code in THROTTLE_STATUSES:
                    throttled.append((item, answer))
                elif isinstance(answer, SubResponse) and self._token_expired(item, answer):
                    expired.append(item)
                elif self._settle(item, answer):
                    again.append(item)
        if expired:
            self.client.auth.refresh()  # the next batches carry the new token
            for item in expired:
                item.refreshed = True
            again.extend(expired)
        again.extend(self._retry(throttled))
        return again

    def _post(self, version, chunk):
        """The answers to `chunk`, in its order (a SubResponse, the batch's own GraphError, or None where no answer
        came); None when the endpoint does not serve $batch."""
        ids = [str(number) for number in range(1, len(chunk) + 1)]
        _sign_in(self.client)
        try:
            body = self.client.send_batch(version, [item.sub_request(id_) for item, id_ in zip(chunk, ids)])
        except (GraphConnectionError, GraphAuthError):
            raise
        except GraphError as exc:
            if exc.status in BATCH_REFUSED_STATUSES:
                self._refused(exc)
                return None
            return [exc] * len(chunk)
        answers = {}
        responses = body.get("responses") if isinstance(body, dict) else None
        for raw in responses if isinstance(responses, list) else ():
            answer = SubResponse.parse(raw) if isinstance(raw, dict) else None
            if answer is not None:
                answers.setdefault(str(raw.get("id")), answer)
        return [answers.get(id_) for id_ in ids]

    def _refused(self, exc):
        self.client.batch_refused = True
        self.client.notices.verbose(
            f"{exc.method} {exc.path} answered HTTP {exc.status}: the Graph endpoint {self.endpoint} does not serve "
            "JSON batching, so this task sends its reads one at a time; batch: false (or MSGRAPH_BATCH=false) "
            "skips the attempt"
        )

    def _token_expired(self, item, answer):
        """Graph refused the token for this sub-request: refresh once per read, as a single request does."""
        if answer.status_code != 401 or item.refreshed or error_code(answer) != "InvalidAuthenticationToken":
            return False
        if not self.client.auth.can_refresh:
            raise graph_error(answer, "GET", self._url(item), GraphAuthError)
        return True

    def _settle(self, item, answer):
        """Take a final answer for `item`; True when it has a next page to read."""
        url = self._url(item)
        if isinstance(answer, GraphError):
            self.results[item.index] = ReadResult(error=answer)
            return False
        if answer is None:
            self.results[item.index] = ReadResult(
                error=GraphError(
                    f"GET {url_path(url)} got no answer in Graph's $batch response",
                    client_request_id=item.client_request_id,
                    method="GET",
                    path=url_path(url),
                    url=url_without_query(url),
                )
            )
            return False
        if answer.status_code >= 400:
            if answer.status_code == 401:
                raise graph_error(answer, "GET", url, GraphAuthError)
            self.results[item.index] = _failed(item.read, graph_error(answer, "GET", url))
            return False
        body = answer.body
        if body is not None and not isinstance(body, dict):
            self.results[item.index] = ReadResult(error=not_json_error(answer, "GET", url, item.client_request_id))
            return False
        if not item.read.collection:
            self.results[item.index] = ReadResult(body)
            return False
        item.items.extend((body or {}).get("value") or [])
        next_link = (body or {}).get("@odata.nextLink")
        if next_link:
            try:
                item.follow(next_link)
                return True
            except GraphError as exc:
                self.results[item.index] = ReadResult(error=exc)
                return False
        self.results[item.index] = ReadResult(item.items)
        return False

    def _retry(self, throttled):
        """The throttled reads that may be sent again, after one wait: the largest any of them asked for.

        Within the limits of single requests (Transport.send): max_retries per request, max_wait per wait, and
        max_total_wait for all of this run's waits; a Retry-After beyond them ends that read's retries, unshortened.
        """
        waits = []
        again = []
        for item, answer in throttled:
            retry_after = answer.headers.get("Retry-After")
            reason = None
            if item.attempt > self.policy.max_retries:
                reason = f"after {item.attempt} attempts"
            else:
                wait = self.policy.delay(item.attempt, retry_after)
                if wait > self.policy.max_wait or self.waited + wait > self.policy.max_total_wait:
                    reason = f"after {item.attempt} attempts: the next wait of {wait:.1f}s exceeds the retry budget"
            if reason is not None:
                url = self._url(item)
                self.results[item.index] = ReadResult(
                    error=throttled_error(f"GET {url_path(url)}", answer, reason, "GET", url)
                )
                continue
            waits.append(wait)
            item.attempt += 1
            again.append(item)
        if waits:
            self.policy.sleep(max(waits))
            self.waited += max(waits)
        return again

    def _url(self, item):
        return f"{self.endpoint}/{item.version}{item.url}"


def _batches(pending):
    """(version, at most 20 reads) for each batch of a round."""
    by_version = {}
    for item in pending:
        by_version.setdefault(item.version, []).append(item)
    for version, items in by_version.items():
        for start in range(0, len(items), MAX_BATCH_REQUESTS):
            yield version, items[start : start + MAX_BATCH_REQUESTS]
