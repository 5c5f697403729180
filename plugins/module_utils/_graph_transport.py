# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP transport: one requests session, per-request TLS settings, and retries with a bounded budget.

Both Graph calls and msal's sign-in calls (through _graph_signin.MsalHttpClient) go through it, so certificates,
proxies and throttling are handled the same way everywhere: validate_certs, ca_path and validate_certs_strict reach
the token endpoint, the managed identity endpoint and Graph alike.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import re
import ssl
import time
import traceback
import warnings
from urllib.parse import urlsplit

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphConnectionError,
    GraphThrottledError,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import VALIDATE_CERTS_STRICT_ENV

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import InsecureRequestWarning
    from urllib3.util.ssl_ import create_urllib3_context

    REQUESTS_IMPORT_ERROR = None
except ImportError:
    requests = None
    HTTPAdapter = object  # the module then fails with missing_required_lib before any request
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

USER_AGENT = "msgraph.intune-ansible/0.2.0"
THROTTLE_STATUSES = frozenset((429, 503, 504))

# OpenSSL's X509_V_ERR_* codes of the checks that only VERIFY_X509_STRICT makes (x509_vfy.h: 78 and 80 to 94; 79,
# "invalid CA certificate", is reported without the flag too). Python 3.13 and newer set the flag by default.
STRICT_X509_ERRORS = frozenset((78, *range(80, 95)))
CA_ADVICE = "Set ca_path to the CA that signed the server's certificate, or validate_certs=false to skip verification"
STRICT_ADVICE = (
    "That is one of the strict X.509 checks (ssl.VERIFY_X509_STRICT: conformance to RFC 5280) that Python 3.13 and "
    "newer apply. The better fix is a CA whose certificates carry the extensions RFC 5280 requires (Authority and "
    "Subject Key Identifier): for a TLS-inspecting proxy, its CA certificate and the certificates it issues. Until "
    f"then, validate_certs_strict=false (or {VALIDATE_CERTS_STRICT_ENV}=false) keeps verifying the chain against "
    "ca_path or the trust store, the host name and the validity dates, only without the strict checks"
)
UNVERIFIED_NOTICE = (
    "validate_certs is false: TLS certificates were not verified, so anyone on the network path could read the "
    "access token and the data or answer in Graph's name. Set ca_path to the CA that signed the server's certificate "
    f"instead (with validate_certs_strict=false, or {VALIDATE_CERTS_STRICT_ENV}=false, if that CA fails Python's "
    "strict X.509 checks)"
)


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


class NonStrictX509Adapter(HTTPAdapter):
    """An HTTPS adapter whose SSL context is urllib3's default one without VERIFY_X509_STRICT.

    The chain (against the CA file that requests loads into the context), the host name and the validity dates are
    checked as before. Connections through a proxy get the same context.
    """

    def __init__(self, *args, **kwargs):
        self.ssl_context = create_urllib3_context()
        self.ssl_context.verify_flags &= ~ssl.VERIFY_X509_STRICT
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self.ssl_context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        proxy_kwargs["ssl_context"] = self.ssl_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)


class Transport:
    """Sends requests with the task's TLS settings and retries what is safe to retry.

    `verify` is passed on every request: a Session attribute would lose to REQUESTS_CA_BUNDLE.
    Proxies come from the standard environment variables (requests' trust_env). `verify_strict=False` verifies
    without Python's strict X.509 checks (see NonStrictX509Adapter). With `verify=False`, `notices` gets one warning
    instead of urllib3's InsecureRequestWarning on stderr.
    """

    def __init__(self, verify=True, timeout=30.0, policy=None, session=None, notices=None, verify_strict=True):
        self.verify = verify
        self.verify_strict = verify_strict
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.notices = notices
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._non_strict_ca = None

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
                response = self._request(method, url, headers, kwargs)
            except requests.exceptions.SSLError as exc:
                raise GraphConnectionError(
                    f"TLS verification failed for {describe} at {urlsplit(url).netloc}: {_tls_failure(exc)}",
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
                error = throttled_error(describe, response, exhausted_reason, method, url)
                error.response = response
                raise error
            raise GraphConnectionError(
                f"{describe} failed: {_short(failure)} ({exhausted_reason})",
                method=method,
                path=url_path(url),
                url=url_without_query(url),
                client_request_id=headers.get("client-request-id"),
            )

    def _request(self, method, url, headers, kwargs):
        verify = self._request_verify(url)
        if verify is not False:
            return self.session.request(method, url, headers=headers, verify=verify, timeout=self.timeout, **kwargs)
        if self.notices is not None:
            self.notices.warn(UNVERIFIED_NOTICE)
        with warnings.catch_warnings():
            # The notice says it once per task through Ansible; urllib3 would write to raw stderr on each request.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return self.session.request(method, url, headers=headers, verify=False, timeout=self.timeout, **kwargs)

    def _request_verify(self, url):
        """The `verify` of one request.

        Without the strict checks, the HTTPS adapter has an SSL context of its own, into which requests loads CA
        certificates only when `verify` names a file or directory: so it always names one, REQUESTS_CA_BUNDLE (or
        CURL_CA_BUNDLE) as requests would apply it, else requests' own bundle.
        """
        if self.verify is False or self.verify_strict:
            return self.verify
        location = self.verify
        if location is True:
            location = self.session.merge_environment_settings(url, {}, None, True, None)["verify"]
        if location is True:
            location = requests.utils.DEFAULT_CA_BUNDLE_PATH
        if location != self._non_strict_ca:
            # One context per CA location: certificates loaded into a context add up, and ca_path means that CA only.
            previous = self.session.adapters.get("https://")
            self.session.mount("https://", NonStrictX509Adapter())
            if previous is not None:
                previous.close()
            self._non_strict_ca = location
        return location


def throttled_error(describe, answer, reason, method, url):
    """The error of a request whose retries ran out on `answer` (a response, or a batch's sub-response)."""
    retry_after = answer.headers.get("Retry-After")
    hint = f", Retry-After {retry_after}" if retry_after else ""
    outcome = "was throttled" if answer.status_code in THROTTLE_STATUSES else "kept failing"
    return GraphThrottledError(
        f"{describe} {outcome} (HTTP {answer.status_code}{hint}) {reason}",
        status=answer.status_code,
        code="throttled",
        request_id=answer.headers.get("request-id"),
        client_request_id=answer.headers.get("client-request-id"),
        method=method,
        path=url_path(url),
        url=url_without_query(url),
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


def _tls_failure(exc):
    """The certificate problem itself (e.g. "unable to get local issuer certificate") and what to do about it."""
    error = _certificate_error(exc)
    if error is None:
        return f"{_short(exc)}. {CA_ADVICE}"
    advice = STRICT_ADVICE if error.verify_code in STRICT_X509_ERRORS else CA_ADVICE
    # OpenSSL's host name message ends with a full stop of its own.
    return f"certificate verify failed: {error.verify_message.rstrip('.')}. {advice}"


def _certificate_error(exc):
    """The ssl.SSLCertVerificationError among the errors that requests and urllib3 wrap around it, or None."""
    pending = [exc]
    seen = set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
            return error
        nested = [getattr(error, "reason", None), error.__cause__, error.__context__]
        nested.extend(arg for arg in getattr(error, "args", ()) if isinstance(arg, BaseException))
        pending.extend(item for item in nested if isinstance(item, BaseException))
    return None


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
