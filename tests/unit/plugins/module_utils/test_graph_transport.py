# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RetryPolicy and Transport: wait times, retry budget, TLS settings on every request, POST safety."""

from __future__ import annotations

import email.utils
import socket
import ssl
import sys
import threading
import warnings

import pytest
import requests
import urllib3
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphConnectionError,
    GraphThrottledError,
    Notices,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import (
    UNVERIFIED_NOTICE,
    USER_AGENT,
    NonStrictX509Adapter,
    RetryPolicy,
    Transport,
    url_path,
    url_without_query,
)
from urllib3.util.ssl_ import create_urllib3_context

from tests.integration.tls_front import server_context, write_chain

URL = "https://127.0.0.1:8443/v1.0/deviceManagement/deviceManagementPartners"
PATH = "/v1.0/deviceManagement/deviceManagementPartners"
OK = (200, {"value": []})


@pytest.fixture
def make_transport(fake_time, fake_session):
    """make_transport(*script, verify=..., timeout=..., **policy) -> (transport, session)."""

    def factory(*script, verify=True, timeout=30.0, **policy):
        policy.setdefault("rng", lambda: 0.5)
        session = fake_session(*script)
        retry_policy = RetryPolicy(sleep=fake_time.sleep, clock=fake_time.clock, **policy)
        return Transport(verify=verify, timeout=timeout, policy=retry_policy, session=session), session

    return factory


def connection_error():
    return requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")


def read_timeout():
    return requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)")


def connect_timeout():
    return requests.exceptions.ConnectTimeout("Connection to 127.0.0.1 timed out. (connect timeout=30)")


class TestRetryPolicyDelay:
    @pytest.mark.parametrize(
        "retry_number, expected",
        [(1, 0.75), (2, 1.5), (3, 3.0), (4, 6.0), (6, 24.0)],
    )
    def test_equal_jitter_at_half(self, retry_number, expected):
        policy = RetryPolicy(base_delay=1.0, rng=lambda: 0.5)
        assert policy.delay(retry_number) == expected

    @pytest.mark.parametrize("rng_value, expected", [(0.0, 2.0), (0.5, 3.0), (0.999, 3.998)])
    def test_jitter_spans_half_to_full_step(self, rng_value, expected):
        policy = RetryPolicy(base_delay=2.0, rng=lambda: rng_value)
        assert policy.delay(2) == pytest.approx(expected)

    def test_step_capped_at_max_wait(self):
        policy = RetryPolicy(base_delay=1.0, max_wait=4.0, rng=lambda: 0.5)
        assert policy.delay(10) == 3.0

    def test_step_capped_at_default_max_wait(self):
        # 2^6 = 64 s would exceed the default max_wait of 60 s.
        assert RetryPolicy(base_delay=1.0, rng=lambda: 0.5).delay(7) == 45.0

    @pytest.mark.parametrize(
        "header, expected",
        [("2.128", 2.128), ("0", 0.0), ("7", 7.0), (" 3 ", 3.0), ("-5", 0.0)],
    )
    def test_retry_after_seconds(self, header, expected):
        policy = RetryPolicy(rng=lambda: 0.5)
        assert policy.delay(1, header) == expected

    def test_retry_after_http_date_against_the_clock(self, fake_time):
        policy = RetryPolicy(clock=fake_time.clock, rng=lambda: 0.5)
        header = email.utils.formatdate(fake_time.now + 42, usegmt=True)
        assert policy.delay(1, header) == 42.0

    def test_retry_after_http_date_in_the_past_is_zero(self, fake_time):
        policy = RetryPolicy(clock=fake_time.clock, rng=lambda: 0.5)
        assert policy.delay(3, email.utils.formatdate(fake_time.now - 100, usegmt=True)) == 0.0

    def test_unreadable_retry_after_falls_back_to_backoff(self):
        policy = RetryPolicy(base_delay=1.0, rng=lambda: 0.5)
        assert policy.delay(2, "soon") == 1.5


class TestRetryTiming:
    def test_fractional_retry_after_waited_exactly(self, make_transport, fake_time):
        transport, session = make_transport((429, None, {"Retry-After": "2.128"}), OK)
        response = transport.send("GET", URL)
        assert response.status_code == 200
        assert fake_time.sleeps == [2.128]
        assert len(session.calls) == 2

    def test_http_date_retry_after(self, make_transport, fake_time):
        header = email.utils.formatdate(fake_time.now + 9, usegmt=True)
        transport, _session = make_transport((503, None, {"Retry-After": header}), OK)
        transport.send("GET", URL)
        assert fake_time.sleeps == [9.0]

    @pytest.mark.parametrize("base_delay", [1.0, 0.5, 2.0])
    def test_backoff_without_retry_after(self, make_transport, fake_time, base_delay):
        transport, session = make_transport(503, 504, 429, OK, base_delay=base_delay)
        assert transport.send("GET", URL).status_code == 200
        # rng 0.5 -> 0.75 * base * 2^(n-1)
        assert fake_time.sleeps == [0.75 * base_delay, 1.5 * base_delay, 3.0 * base_delay]
        assert len(session.calls) == 4

    def test_max_retries_three_means_four_attempts(self, make_transport, fake_time):
        transport, session = make_transport(*([(429, None, {"Retry-After": "1"})] * 5), max_retries=3)
        with pytest.raises(GraphThrottledError) as info:
            transport.send("GET", URL)
        assert len(session.calls) == 4
        assert fake_time.sleeps == [1.0, 1.0, 1.0]
        error = info.value
        assert "throttled" in str(error)
        assert str(error) == f"GET {PATH} was throttled (HTTP 429, Retry-After 1) after 4 attempts"
        assert (error.status, error.code, error.method, error.path) == (429, "throttled", "GET", PATH)

    def test_throttled_error_carries_request_ids(self, make_transport):
        headers = {"request-id": "req-9", "client-request-id": "cli-9"}
        transport, _session = make_transport((503, None, headers), max_retries=0)
        with pytest.raises(GraphThrottledError) as info:
            transport.send("GET", URL)
        assert (info.value.request_id, info.value.client_request_id, info.value.status) == ("req-9", "cli-9", 503)

    def test_max_retries_zero_sends_once(self, make_transport, fake_time):
        transport, session = make_transport(504, max_retries=0)
        with pytest.raises(GraphThrottledError, match=r"HTTP 504\) after 1 attempts$"):
            transport.send("GET", URL)
        assert len(session.calls) == 1
        assert fake_time.sleeps == []

    def test_retry_after_above_max_wait_is_not_slept(self, make_transport, fake_time):
        transport, session = make_transport((429, None, {"Retry-After": "61"}), OK, max_wait=60.0)
        with pytest.raises(GraphThrottledError) as info:
            transport.send("GET", URL)
        assert fake_time.sleeps == []
        assert len(session.calls) == 1
        assert str(info.value) == (
            f"GET {PATH} was throttled (HTTP 429, Retry-After 61) after 1 attempts: "
            "the next wait of 61.0s exceeds the retry budget"
        )

    def test_retry_after_equal_to_max_wait_is_slept_in_full(self, make_transport, fake_time):
        transport, _session = make_transport((429, None, {"Retry-After": "60"}), OK, max_wait=60.0)
        transport.send("GET", URL)
        assert fake_time.sleeps == [60.0]

    def test_retry_after_beyond_total_budget_is_not_shortened(self, make_transport, fake_time):
        throttled = (429, None, {"Retry-After": "6"})
        transport, session = make_transport(throttled, throttled, OK, max_total_wait=10.0)
        with pytest.raises(GraphThrottledError, match="exceeds the retry budget"):
            transport.send("GET", URL)
        # 6 fits; a second 6 would make 12 > 10: stop rather than wait 4.
        assert fake_time.sleeps == [6.0]
        assert len(session.calls) == 2

    def test_http_date_far_ahead_ends_retries(self, make_transport, fake_time):
        header = email.utils.formatdate(fake_time.now + 3600, usegmt=True)
        transport, session = make_transport((503, None, {"Retry-After": header}))
        with pytest.raises(GraphThrottledError, match="the next wait of 3600.0s exceeds the retry budget"):
            transport.send("GET", URL)
        assert fake_time.sleeps == []
        assert len(session.calls) == 1


class TestRetriedFailures:
    @pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
    @pytest.mark.parametrize(
        "failure",
        [429, 503, 504, connection_error, read_timeout, connect_timeout],
        ids=["429", "503", "504", "connection-error", "read-timeout", "connect-timeout"],
    )
    def test_idempotent_methods_retried(self, make_transport, fake_time, method, failure):
        first = failure() if callable(failure) else failure
        transport, session = make_transport(first, 204)
        response = transport.send(method, URL, json={"displayName": "x"})
        assert response.status_code == 204
        assert [(call.method, call.url) for call in session.calls] == [(method, URL), (method, URL)]
        assert session.calls[1].kwargs["json"] == {"displayName": "x"}
        assert fake_time.sleeps == [0.75]

    @pytest.mark.parametrize("status", [200, 201, 204, 400, 401, 404, 409, 500, 502])
    def test_other_statuses_returned_at_once(self, make_transport, fake_time, status):
        transport, session = make_transport(status)
        assert transport.send("GET", URL).status_code == status
        assert len(session.calls) == 1
        assert fake_time.sleeps == []

    def test_retry_attempt_header(self, make_transport):
        transport, session = make_transport(429, 503, OK)
        transport.send("GET", URL, headers={"client-request-id": "cid-1"})
        assert [call.headers.get("Retry-Attempt") for call in session.calls] == [None, "1", "2"]
        assert [call.headers["client-request-id"] for call in session.calls] == ["cid-1"] * 3

    def test_caller_headers_not_mutated(self, make_transport):
        transport, _session = make_transport(429, OK)
        headers = {"Accept": "application/json"}
        transport.send("GET", URL, headers=headers)
        assert headers == {"Accept": "application/json"}

    def test_connection_errors_exhausted(self, make_transport, fake_time):
        transport, session = make_transport(*[connection_error() for _attempt in range(4)], max_retries=3)
        with pytest.raises(GraphConnectionError) as info:
            transport.send("GET", URL, headers={"client-request-id": "cid-7"})
        assert len(session.calls) == 4
        assert fake_time.sleeps == [0.75, 1.5, 3.0]
        assert str(info.value) == f"GET {PATH} failed: Connection aborted: RemoteDisconnected (after 4 attempts)"
        assert (info.value.method, info.value.path, info.value.client_request_id) == ("GET", PATH, "cid-7")

    def test_urllib3_noise_trimmed_from_message(self, make_transport):
        noisy = requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /v1.0 "
            "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f>: "
            "Failed to establish a new connection: [Errno 111] Connection refused'))"
        )
        transport, _session = make_transport(noisy, max_retries=0)
        with pytest.raises(GraphConnectionError) as info:
            transport.send("GET", URL)
        assert "HTTPSConnectionPool" not in str(info.value)
        assert "[Errno 111] Connection refused" in str(info.value)

    @pytest.mark.parametrize(
        "cause, reason",
        [
            (
                (
                    "NewConnectionError(\"HTTPSConnection(host='127.0.0.1', port=1): Failed to establish a new connection: "
                    '[Errno 111] Connection refused"))'
                ),
                "Failed to establish a new connection: [Errno 111] Connection refused",
            ),
            (
                (
                    "NameResolutionError(\"HTTPSConnection(host='x.invalid', port=443): Failed to resolve 'x.invalid' "
                    '([Errno -2] Name or service not known)"))'
                ),
                "Failed to resolve 'x.invalid' ([Errno -2] Name or service not known)",
            ),
        ],
    )
    def test_urllib3_2_reasons_without_the_connection_repr(self, make_transport, cause, reason):
        error = requests.exceptions.ConnectionError(
            f"HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /v1.0 (Caused by {cause}"
        )
        transport, _session = make_transport(error, max_retries=0)
        with pytest.raises(GraphConnectionError) as info:
            transport.send("GET", URL)
        assert str(info.value) == f"GET {PATH} failed: {reason} (after 1 attempts)"
        assert info.value.url == URL

    def test_connection_dropped_mid_body_is_retried(self, make_transport):
        dropped = requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(0 bytes read)")
        transport, session = make_transport(dropped, OK)
        assert transport.send("GET", URL).status_code == 200
        assert len(session.calls) == 2


class TestTlsAndTimeout:
    @pytest.mark.parametrize("verify", [True, False, "/etc/ssl/msgraph-ca.pem"])
    def test_verify_and_timeout_on_every_request(self, make_transport, verify):
        transport, session = make_transport(429, connection_error(), 503, OK, verify=verify, timeout=12.5)
        transport.send("GET", URL)
        assert len(session.calls) == 4
        assert [call.kwargs["verify"] for call in session.calls] == [verify] * 4
        assert [call.kwargs["timeout"] for call in session.calls] == [12.5] * 4

    def test_ca_path_reaches_the_adapter_despite_requests_ca_bundle(self, monkeypatch, fake_time):
        """With a real Session, REQUESTS_CA_BUNDLE would beat Session.verify; a per-request verify wins."""

        class RecordingAdapter(requests.adapters.BaseAdapter):
            def __init__(self):
                super().__init__()
                self.seen = []

            def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
                self.seen.append((verify, timeout))
                response = requests.Response()
                response.status_code = 204
                response._content = b""
                response.request = request
                response.url = request.url
                return response

            def close(self):
                """Nothing to release."""

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/somewhere/else/bundle.pem")
        session = requests.Session()
        adapter = RecordingAdapter()
        session.mount("https://", adapter)
        transport = Transport(
            verify="/tmp/emulator-ca.pem",
            timeout=7.0,
            policy=RetryPolicy(sleep=fake_time.sleep, clock=fake_time.clock),
            session=session,
        )
        assert transport.send("GET", URL).status_code == 204
        assert adapter.seen == [("/tmp/emulator-ca.pem", 7.0)]
        assert session.headers["User-Agent"] == USER_AGENT

    def test_ssl_error_names_ca_path_and_is_not_retried(self, make_transport, fake_time):
        failure = requests.exceptions.SSLError("certificate verify failed: unable to get local issuer certificate")
        transport, session = make_transport(failure, OK)
        with pytest.raises(GraphConnectionError) as info:
            transport.send("GET", URL)
        assert len(session.calls) == 1
        assert fake_time.sleeps == []
        message = str(info.value)
        assert message.startswith(
            f"TLS verification failed for GET {PATH} at 127.0.0.1:8443: certificate verify failed"
        )
        assert "ca_path" in message
        assert "validate_certs=false" in message
        assert (info.value.method, info.value.path) == ("GET", PATH)

    def test_user_agent_set_on_session(self, make_transport):
        transport, session = make_transport()
        assert transport.session is session
        assert session.headers["User-Agent"] == USER_AGENT


class TestPostRules:
    """POST (idempotent=False) is only re-sent when the server cannot have processed it."""

    @pytest.mark.parametrize(
        "throttled", [(429,), (429, None, {"Retry-After": "1.5"}), (503, None, {"Retry-After": "2"})]
    )
    def test_retried_when_server_did_not_process(self, make_transport, throttled):
        transport, session = make_transport(throttled, (201, {"id": "p1"}))
        response = transport.send("POST", URL, idempotent=False, json={"displayName": "x"})
        assert response.status_code == 201
        assert [call.method for call in session.calls] == ["POST", "POST"]

    def test_recover_not_asked_after_429(self, make_transport):
        calls = []

        def recover():
            calls.append("recover")

        transport, _session = make_transport(429, (201, {"id": "p1"}))
        transport.send("POST", URL, idempotent=False, recover=recover)
        assert calls == []

    @pytest.mark.parametrize("status", [504, 503])
    def test_ambiguous_status_not_resent(self, make_transport, fake_time, status):
        transport, session = make_transport(status, (201, {"id": "p1"}))
        with pytest.raises(GraphThrottledError) as info:
            transport.send("POST", URL, idempotent=False)
        assert info.value.status == status
        assert "cannot be retried safely" in str(info.value)
        assert len(session.calls) == 1
        assert fake_time.sleeps == []

    @pytest.mark.parametrize("failure", [connection_error, read_timeout], ids=["connection-dropped", "read-timeout"])
    def test_lost_answer_not_resent(self, make_transport, fake_time, failure):
        transport, session = make_transport(failure(), (201, {"id": "p1"}))
        with pytest.raises(GraphConnectionError) as info:
            transport.send("POST", URL, idempotent=False)
        assert len(session.calls) == 1
        assert fake_time.sleeps == []
        assert "cannot be retried safely" in str(info.value)

    def test_connect_timeout_is_retried(self, make_transport):
        transport, session = make_transport(connect_timeout(), (201, {"id": "p1"}))
        assert transport.send("POST", URL, idempotent=False).status_code == 201
        assert len(session.calls) == 2

    @pytest.mark.parametrize(
        "failure",
        [504, 503, connection_error, read_timeout],
        ids=["504", "503-without-retry-after", "connection-dropped", "read-timeout"],
    )
    def test_recover_finding_the_object_stops_the_post(self, make_transport, fake_time, failure):
        found = {"id": "p1", "displayName": "x"}
        recover_calls = []

        def recover():
            recover_calls.append(1)
            return found

        transport, session = make_transport(failure() if callable(failure) else failure, (201, {"id": "dup"}))
        assert transport.send("POST", URL, idempotent=False, recover=recover) is found
        assert len(session.calls) == 1
        assert recover_calls == [1]
        assert fake_time.sleeps == []

    @pytest.mark.parametrize("failure", [504, connection_error], ids=["504", "connection-dropped"])
    def test_recover_finding_nothing_twice_retries_the_post(self, make_transport, fake_time, failure):
        recover_calls = []

        def recover():
            recover_calls.append(1)

        transport, session = make_transport(failure() if callable(failure) else failure, (201, {"id": "p1"}))
        response = transport.send("POST", URL, idempotent=False, recover=recover)
        assert response.status_code == 201
        assert [call.method for call in session.calls] == ["POST", "POST"]
        assert session.calls[1].headers["Retry-Attempt"] == "1"
        # Looked up right after the failure and again after the wait, just before the new POST.
        assert recover_calls == [1, 1]
        assert fake_time.sleeps == [0.75]

    def test_object_appearing_during_the_wait_stops_the_post(self, make_transport, fake_time):
        lookups = iter([None, {"id": "late"}])
        transport, session = make_transport(read_timeout(), (201, {"id": "dup"}))
        assert transport.send("POST", URL, idempotent=False, recover=lambda: next(lookups)) == {"id": "late"}
        assert [call.method for call in session.calls] == ["POST"]
        assert fake_time.sleeps == [0.75]

    def test_post_that_timed_out_is_never_resent(self, make_transport, fake_time):
        """The server may still be creating the object: a new POST could create it twice."""
        recover_calls = []

        def recover():
            recover_calls.append(1)

        transport, session = make_transport(read_timeout(), (201, {"id": "dup"}))
        with pytest.raises(GraphConnectionError, match="not sent again"):
            transport.send("POST", URL, idempotent=False, recover=recover)
        assert [call.method for call in session.calls] == ["POST"]
        assert recover_calls == [1, 1]
        assert fake_time.sleeps == [0.75]

    def test_recover_exhausted_is_throttled(self, make_transport):
        transport, session = make_transport(504, 504, max_retries=1)
        with pytest.raises(GraphThrottledError, match=r"HTTP 504\) after 2 attempts"):
            transport.send("POST", URL, idempotent=False, recover=lambda: None)
        assert len(session.calls) == 2

    def test_retry_statuses_of_the_caller(self, make_transport):
        transport, session = make_transport(500, 502, OK)
        assert transport.send("GET", URL, retry_statuses=frozenset((500, 502))).status_code == 200
        assert len(session.calls) == 3

    def test_other_statuses_are_not_retried_by_default(self, make_transport):
        transport, session = make_transport(500, OK)
        assert transport.send("GET", URL).status_code == 500
        assert len(session.calls) == 1

    def test_exhausted_error_keeps_the_last_answer(self, make_transport):
        transport, _session = make_transport(502, (502, {"error": "x"}), max_retries=1)
        with pytest.raises(GraphThrottledError) as info:
            transport.send("GET", URL + "?a=b", retry_statuses=frozenset((502,)))
        assert str(info.value) == f"GET {PATH} kept failing (HTTP 502) after 2 attempts"
        assert info.value.response.json() == {"error": "x"}
        assert (info.value.status, info.value.path, info.value.url) == (502, PATH, URL)

    def test_idempotent_post_is_retried_after_504(self, make_transport):
        transport, session = make_transport(504, 204)
        assert transport.send("POST", URL + "/p1/terminate").status_code == 204
        assert len(session.calls) == 2


@pytest.mark.parametrize(
    "url, path",
    [
        ("https://127.0.0.1:8443/v1.0/a/b?$filter=x", "/v1.0/a/b"),
        ("https://graph.example.test", "/"),
        ("https://graph.example.test/", "/"),
        ("https://graph.example.test?x=1", "/"),
    ],
)
def test_url_path(url, path):
    assert url_path(url) == path


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://127.0.0.1:8443/t/oauth2/v2.0/token?x=secret#f", "https://127.0.0.1:8443/t/oauth2/v2.0/token"),
        ("https://user:pass@graph.example.test/v1.0", "https://graph.example.test/v1.0"),
        ("https://[::1]:8443", "https://[::1]:8443/"),
    ],
)
def test_url_without_query(url, expected):
    assert url_without_query(url) == expected


# Python 3.13 and newer (and urllib3 >= 2.3 there) verify with VERIFY_X509_STRICT by default.
STRICT_BY_DEFAULT = sys.version_info >= (3, 13)
# OpenSSL 1.1.1 has no "Missing Authority Key Identifier" check.
needs_openssl_3 = pytest.mark.skipif(ssl.OPENSSL_VERSION_INFO < (3,), reason="the strict key identifier checks")
PROXY = "http://proxy.example.test:3128"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"


class TlsPeer:
    """The far end of every connection urllib3 opens: a TLS server (an inspecting proxy after a CONNECT, when the
    request goes through one) with a chain whose certificates lack the key identifiers, on a socketpair (no network).

    `addresses` are the (host, port) pairs urllib3 connected to, `client_contexts` the SSL contexts its sockets
    were wrapped with.
    """

    def __init__(self, directory, monkeypatch):
        self.chain = write_chain(str(directory / "proxy"), "proxy CA")
        self.other_chain = write_chain(str(directory / "other"), "another CA")
        self.context = server_context(self.chain)
        self.addresses = []
        self.client_contexts = []
        self.threads = []
        original_wrap = ssl.SSLContext.wrap_socket

        def wrap_socket(context, sock, *args, **kwargs):
            if not kwargs.get("server_side"):
                self.client_contexts.append(context)
            return original_wrap(context, sock, *args, **kwargs)

        monkeypatch.setattr(ssl.SSLContext, "wrap_socket", wrap_socket)
        monkeypatch.setattr(urllib3.util.connection, "create_connection", self.connect)

    def connect(self, address, *args, **kwargs):
        self.addresses.append(address)
        client, server = socket.socketpair()
        for end in (client, server):
            end.settimeout(10)
        thread = threading.Thread(target=self.serve, args=(server, address == ("proxy.example.test", 3128)))
        thread.start()
        self.threads.append(thread)
        return client

    def serve(self, sock, tunnel):
        try:
            if tunnel:
                read_head(sock)  # CONNECT graph.example.test:443 HTTP/1.1 ...
                sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with self.context.wrap_socket(sock, server_side=True) as connection:
                read_head(connection)
                connection.sendall(ANSWER)
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate
        finally:
            sock.close()

    def join(self):
        for thread in self.threads:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in self.threads), "a TLS peer thread did not end"


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of the request head")
        data += chunk
    return data


@pytest.fixture
def tls_peer(tmp_path, monkeypatch, fake_time):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "proxy").mkdir()
    (tmp_path / "other").mkdir()
    peer = TlsPeer(tmp_path, monkeypatch)
    yield peer
    peer.join()


def real_transport(fake_time, **options):
    """A Transport with a real requests Session, no retries (a TLS failure is never retried anyway)."""
    policy = RetryPolicy(max_retries=0, sleep=fake_time.sleep, clock=fake_time.clock)
    return Transport(policy=policy, session=requests.Session(), **options)


def strict(context):
    return bool(context.verify_flags & ssl.VERIFY_X509_STRICT)


class StrictAdapter(requests.adapters.HTTPAdapter):
    """What Python 3.13 and newer use by default, on any Python: urllib3's context with VERIFY_X509_STRICT."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = create_urllib3_context()
        kwargs["ssl_context"].verify_flags |= ssl.VERIFY_X509_STRICT
        super().init_poolmanager(*args, **kwargs)


GRAPH_URL = "https://graph.example.test/v1.0/deviceManagement/deviceManagementPartners"


@needs_openssl_3
class TestStrictX509Checks:
    def test_strict_check_failure_says_which_check_and_what_to_do(self, tls_peer, fake_time):
        transport = real_transport(fake_time, verify=tls_peer.chain["ca"])
        transport.session.mount("https://", StrictAdapter())
        with pytest.raises(GraphConnectionError) as info:
            transport.send("GET", URL)
        message = str(info.value)
        assert message.startswith(
            f"TLS verification failed for GET {PATH} at 127.0.0.1:8443: certificate verify failed: Missing Authority "
            "Key Identifier. That is one of the strict X.509 checks (ssl.VERIFY_X509_STRICT"
        ), message
        assert "Python 3.13 and newer" in message
        assert "Authority and Subject Key Identifier" in message  # the better fix: a CA with the extensions
        assert message.endswith(
            "validate_certs_strict=false (or MSGRAPH_VALIDATE_CERTS_STRICT=false) keeps verifying the chain against "
            "ca_path or the trust store, the host name and the validity dates, only without the strict checks"
        )
        assert "validate_certs=false" not in message  # switching verification off is not the advice here

    def test_other_failures_keep_the_ca_advice(self, tls_peer, fake_time):
        transport = real_transport(fake_time, verify=tls_peer.other_chain["ca"])
        transport.session.mount("https://", StrictAdapter())
        with pytest.raises(GraphConnectionError) as info:
            transport.send("GET", URL)
        assert str(info.value).endswith(
            "certificate verify failed: unable to get local issuer certificate. Set ca_path to the CA that signed the "
            "server's certificate, or validate_certs=false to skip verification"
        )

    def test_default_context_of_this_python(self, tls_peer, fake_time):
        """The default SSL context: strict on Python 3.13 and newer, where the proxy's chain is refused; older
        Pythons have no strict checks, so the same chain verifies there."""
        transport = real_transport(fake_time, verify=tls_peer.chain["ca"])
        if STRICT_BY_DEFAULT:
            with pytest.raises(
                GraphConnectionError, match="Missing Authority Key Identifier. That is one of the strict"
            ):
                transport.send("GET", URL)
        else:
            assert transport.send("GET", URL).status_code == 200
        assert [strict(context) for context in tls_peer.client_contexts] == [STRICT_BY_DEFAULT]

    def test_without_the_strict_checks_the_chain_verifies(self, tls_peer, fake_time):
        transport = real_transport(fake_time, verify=tls_peer.chain["ca"], verify_strict=False)
        transport.session.mount("https://", StrictAdapter())  # replaced: the option decides, not the Python
        assert transport.send("GET", URL).json() == {}
        assert transport.send("GET", URL).json() == {}
        adapter = transport.session.get_adapter(URL)
        assert isinstance(adapter, NonStrictX509Adapter)
        # The context that wrapped the sockets is the adapter's, without the flag, and verifying.
        assert tls_peer.client_contexts == [adapter.ssl_context] * 2
        context = adapter.ssl_context
        assert not strict(context)
        assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)

    def test_without_the_strict_checks_another_ca_fails(self, tls_peer, fake_time):
        transport = real_transport(fake_time, verify=tls_peer.other_chain["ca"], verify_strict=False)
        with pytest.raises(GraphConnectionError, match="certificate verify failed: unable to get local issuer"):
            transport.send("GET", URL)

    def test_without_the_strict_checks_the_host_name_is_checked(self, tls_peer, fake_time):
        transport = real_transport(fake_time, verify=tls_peer.chain["ca"], verify_strict=False)
        with pytest.raises(GraphConnectionError) as info:
            transport.send("GET", "https://localhost:8443/v1.0/me")
        assert "certificate verify failed: Hostname mismatch, certificate is not valid for 'localhost'. Set" in str(
            info.value
        )

    def test_without_the_strict_checks_ca_path_beats_requests_ca_bundle(self, tls_peer, fake_time, monkeypatch):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_peer.other_chain["ca"])
        transport = real_transport(fake_time, verify=tls_peer.chain["ca"], verify_strict=False)
        assert transport.send("GET", URL).status_code == 200

    def test_without_the_strict_checks_requests_ca_bundle_is_the_trust_store(self, tls_peer, fake_time, monkeypatch):
        transport = real_transport(fake_time, verify=True, verify_strict=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_peer.chain["ca"])
        assert transport.send("GET", URL).status_code == 200
        # Another bundle gets a context of its own: CA certificates loaded into one context would add up.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_peer.other_chain["ca"])
        with pytest.raises(GraphConnectionError, match="unable to get local issuer certificate"):
            transport.send("GET", URL)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_peer.chain["ca"])
        assert transport.send("GET", URL).status_code == 200
        assert len(set(map(id, tls_peer.client_contexts))) == 3

    def test_without_the_strict_checks_and_no_bundle_requests_default_bundle_is_used(self, tls_peer, fake_time):
        """Without ca_path and REQUESTS_CA_BUNDLE: requests' own bundle (certifi), which knows no test CA."""
        transport = real_transport(fake_time, verify=True, verify_strict=False)
        with pytest.raises(GraphConnectionError, match="unable to get local issuer certificate"):
            transport.send("GET", URL)
        assert not strict(tls_peer.client_contexts[0])

    def test_through_an_inspecting_proxy(self, tls_peer, fake_time, monkeypatch):
        """HTTPS_PROXY: a CONNECT tunnel to the proxy, which answers TLS with its own chain."""
        monkeypatch.setenv("HTTPS_PROXY", PROXY)
        if STRICT_BY_DEFAULT:
            with pytest.raises(GraphConnectionError, match="Missing Authority Key Identifier. That is one of"):
                real_transport(fake_time, verify=tls_peer.chain["ca"]).send("GET", GRAPH_URL)
        lenient = real_transport(fake_time, verify=tls_peer.chain["ca"], verify_strict=False)
        # The proxy's certificate names 127.0.0.1, as an inspecting proxy names the host asked for.
        assert lenient.send("GET", GRAPH_URL.replace("graph.example.test", "127.0.0.1")).status_code == 200
        assert set(tls_peer.addresses) == {("proxy.example.test", 3128)}
        assert tls_peer.client_contexts[-1] is lenient.session.get_adapter(GRAPH_URL).ssl_context
        assert not strict(tls_peer.client_contexts[-1])


class TestUnverifiedRequests:
    def test_one_notice_per_task_and_no_insecure_request_warning(self, tls_peer, fake_time):
        notices = Notices()
        transport = real_transport(fake_time, verify=False, notices=notices)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert transport.send("GET", URL).status_code == 200
            assert transport.send("GET", URL).status_code == 200
            warnings.warn("another warning", UserWarning)  # only urllib3's warning is silenced
        assert [str(warning.message) for warning in caught] == ["another warning"]
        assert notices.take(0) == [UNVERIFIED_NOTICE]
        # The next item of a loop (same transport) is told again.
        transport.send("GET", URL)
        assert notices.take(0) == [UNVERIFIED_NOTICE]

    def test_urllib3_would_warn_without_it(self, tls_peer):
        """The warning that the transport keeps off stderr exists: a plain request raises it."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            requests.get(URL, verify=False, timeout=10)
        assert [warning.category for warning in caught] == [urllib3.exceptions.InsecureRequestWarning]

    def test_verified_requests_add_no_notice(self, tls_peer, fake_time):
        notices = Notices()
        transport = real_transport(fake_time, verify=tls_peer.chain["ca"], verify_strict=False, notices=notices)
        transport.send("GET", URL)
        assert notices.take(0) == []
