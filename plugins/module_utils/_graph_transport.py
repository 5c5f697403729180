# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP transport: one requests session, per-request TLS settings, and retries with a bounded budget.

Both Graph calls and msal's sign-in calls (through _graph_signin.MsalHttpClient) go through it, so certificates,
proxies and throttling are handled the same way everywhere.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import re
import ssl
import time
import traceback
from urllib.parse import urlsplit

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphConnectionError,
    GraphThrottledError,
)

try:
    import requests

    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

USER_AGENT = "msgraph.intune-ansible/0.2.0"
THROTTLE_STATUSES = frozenset((429, 503, 504))


class RetryPolicy:
    """When to wait and for how long.

    Retry-After (seconds, fractional seconds or an HTTP date) is always honoured; without it the wait
    grows exponentially with jitter. A wait that would exceed max_wait, or push the sum of waits past
    max_total_wait, ends the retries instead of being shortened: the server's word is never ignored.
    """

    def __init__(
        self, max_retries=5, base_delay=1.0, max_wait=60.0, max_total_wait=180.0, sleep=None, clock=None, rng=None
    ):
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_wait = max_wait
        self.max_total_wait = max_total_wait
        self.sleep = sleep or time.sleep
        self.clock = clock or time.time
        self.rng = rng or random.random

    def delay(self, retry_number, retry_after=None):
        """Seconds to wait before retry number `retry_number` (1-based)."""
        if retry_after is not None:
            parsed = self.parse_retry_after(retry_after)
            if parsed is not None:
                return parsed
        ceiling = min(self.max_wait, self.base_delay * (2 ** (retry_number - 1)))
        # "Equal jitter": at least half the exponential step, so clients that collided spread out
        # without ever retrying immediately.
        return ceiling / 2 + self.rng() * ceiling / 2

    def parse_retry_after(self, value):
        value = str(value).strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, moment.timestamp() - self.clock())


class Transport:
    """Sends requests with the task's TLS settings and retries what is safe to retry.

    `verify` is passed on every request: a Session attribute would lose to REQUESTS_CA_BUNDLE.
    Proxies come from the standard environment variables (requests' trust_env).
    """

    def __init__(self, verify=True, timeout=30.0, policy=None, session=None, notices=None):
        self.verify = verify
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.notices = notices
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def send(
        self, method, url, idempotent=True, recover=None, describe=None, retry_statuses=THROTTLE_STATUSES, **kwargs
    ):
        """Send one logical request, retrying it within the budget.

        Non-idempotent requests (a POST that creates) are only re-sent when the server cannot have
        processed them: 429, or 503 with Retry-After. After an ambiguous failure (504, a dropped
        connection, a timeout) `recover()` is asked first; whatever it returns (not None) is returned
        instead of a response, since the object already exists.

        `retry_statuses` are the HTTP statuses that are retried (Graph's throttling statuses by default). When
        they persist, GraphThrottledError is raised; its `response` is the last answer.
        """
        describe = describe or f"{method} {url_path(url)}"
        headers = dict(kwargs.pop("headers", None) or {})
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                headers["Retry-Attempt"] = str(attempt - 1)
            failure = None
            response = None
            try:
                response = self.session.request(
                    method, url, headers=headers, verify=self.verify, timeout=self.timeout, **kwargs
                )
            except requests.exceptions.SSLError as exc:
                raise GraphConnectionError(
                    f"TLS verification failed for {describe} at {urlsplit(url).netloc}: "
                    f"{_tls_reason(exc)}. Set ca_path to the CA that signed the server's certificate, or "
                    "validate_certs=false to skip verification",
                    method=method,
                    path=url_path(url),
                    url=url_without_query(url),
                ) from None
            except (
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError,  # dropped in the middle of the body
            ) as exc:
                failure = exc

            if response is not None and response.status_code not in retry_statuses:
                return response
            # Did a create perhaps happen? Not after 429 or 503 with Retry-After, nor if we never connected.
            ambiguous = not idempotent and (
                not _server_did_not_process(response)
                if response is not None
                else not isinstance(failure, requests.exceptions.ConnectTimeout)
            )
            if ambiguous and recover is not None:
                found = recover()
                if found is not None:
                    return found

            retry_after = response.headers.get("Retry-After") if response is not None else None
            exhausted_reason = None
            if attempt > self.policy.max_retries:
                exhausted_reason = f"after {attempt} attempts"
            elif ambiguous and recover is None:
                exhausted_reason = "and it cannot be retried safely (the server may have processed it)"
            else:
                wait = self.policy.delay(attempt, retry_after)
                if wait > self.policy.max_wait or waited + wait > self.policy.max_total_wait:
                    exhausted_reason = (
                        f"after {attempt} attempts: the next wait of {wait:.1f}s exceeds the retry budget"
                    )
            if exhausted_reason is None:
                self.policy.sleep(wait)
                waited += wait
                if ambiguous:
                    # A request that timed out may still be running on the server: look again before re-sending,
                    # and never re-send one that timed out, since it may yet create the object.
                    found = recover()
                    if found is not None:
                        return found
                    if isinstance(failure, requests.exceptions.ReadTimeout):
                        raise GraphConnectionError(
                            f"{describe} got no answer within {self.timeout:g}s and the object had not appeared "
                            f"{wait:.1f}s later; it was not sent again, so that it cannot be created twice. Run the "
                            "task again: it finds the object if the server created it late",
                            method=method,
                            path=url_path(url),
                            url=url_without_query(url),
                            client_request_id=headers.get("client-request-id"),
                        )
                continue

            if response is not None:
                hint = f", Retry-After {retry_after}" if retry_after else ""
                outcome = "was throttled" if response.status_code in THROTTLE_STATUSES else "kept failing"
                error = GraphThrottledError(
                    f"{describe} {outcome} (HTTP {response.status_code}{hint}) {exhausted_reason}",
                    status=response.status_code,
                    code="throttled",
                    request_id=response.headers.get("request-id"),
                    client_request_id=response.headers.get("client-request-id"),
                    method=method,
                    path=url_path(url),
                    url=url_without_query(url),
                )
                error.response = response
                raise error
            raise GraphConnectionError(
                f"{describe} failed: {_short(failure)} ({exhausted_reason})",
                method=method,
                path=url_path(url),
                url=url_without_query(url),
                client_request_id=headers.get("client-request-id"),
            )


def _server_did_not_process(response):
    return response.status_code == 429 or (response.status_code == 503 and "Retry-After" in response.headers)


def url_path(url):
    """The path of a URL, without origin and query: what messages show."""
    return urlsplit(url).path or "/"


def url_without_query(url):
    """Scheme, host, port and path of a URL: no user information, query or fragment (they may hold secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}{':' + str(port) if port else ''}{parts.path or '/'}"


def _tls_reason(exc):
    """The certificate problem itself (e.g. "unable to get local issuer certificate"), found in the wrapped errors."""
    pending = [exc]
    seen = set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
            return f"certificate verify failed: {error.verify_message}"
        nested = [getattr(error, "reason", None), error.__cause__, error.__context__]
        nested.extend(arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException))
        pending.extend(item for item in nested if isinstance(item, BaseException))
    return _short(exc)


def _short(exc):
    """A one-line reason, without the urllib3 object reprs that make messages unreadable."""
    text = str(exc)
    for marker in ("Caused by ", "(Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1].rstrip(")")
    # NewConnectionError("HTTPSConnection(host='h', port=1): Failed to ... refused"): keep the quoted reason, and drop
    # the connection object's repr in front of it (older urllib3: <urllib3.connection.HTTPSConnection object at 0x..>).
    wrapped = re.match(r"\w+\((['\"])(.*?)\1?\)*$", text, re.DOTALL)
    if wrapped:
        text = wrapped.group(2)
    text = re.sub(r"^(?:<[^>]*>|\w+Connection\([^)]*\)): ", "", text)
    return text.splitlines()[0][:300] if text else exc.__class__.__name__
