# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""msal's HTTP client: requests named for what they are, sign-in failures told with Entra's fields, discovery
documents checked before msal reads them, the discovery cache."""

from __future__ import annotations

import pytest
import requests
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphConnectionError,
    GraphThrottledError,
    Notices,
    failure_result,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_signin import (
    INSTANCE_DISCOVERY,
    MANAGED_IDENTITY_REQUEST,
    OIDC_DISCOVERY,
    TOKEN_REQUEST,
    MsalHttpClient,
    discovery_problem,
    entra_fields,
    json_object,
    request_kind,
    sign_in_error,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import RetryPolicy, Transport

from tests.unit.conftest import build_response

AUTHORITY = "https://127.0.0.1:8443"
TENANT = "11111111-1111-4111-8111-111111111111"
TOKEN_URL = f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"
DISCOVERY_URL = f"{AUTHORITY}/{TENANT}/v2.0/.well-known/openid-configuration"
WHO = f"tenant {TENANT}, client c-1 at {AUTHORITY}"
SECRET = "s3cret-value-never-shown"


def entra_error(status, error, code, message, trace="trace-1", correlation="corr-1", headers=None):
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\n"
        "Timestamp: 2026-01-01 00:00:00Z",
        "error_codes": [code],
        "trace_id": trace,
        "correlation_id": correlation,
    }
    return (status, body, headers or {})


@pytest.fixture
def make_client(fake_time, fake_session):
    """make_client(*script, max_retries=2, **client_options) -> (MsalHttpClient, session); the transport's Notices
    are the client's transport.notices."""

    def factory(*script, max_retries=2, **options):
        session = fake_session(*script)
        policy = RetryPolicy(max_retries=max_retries, sleep=fake_time.sleep, clock=fake_time.clock, rng=lambda: 0.5)
        transport = Transport(verify="/ca.pem", policy=policy, session=session, notices=Notices())
        return MsalHttpClient(transport, who=WHO, **options), session

    return factory


@pytest.mark.parametrize(
    "url, kind",
    [
        (TOKEN_URL, TOKEN_REQUEST),
        (DISCOVERY_URL, OIDC_DISCOVERY),
        (DISCOVERY_URL + "/", OIDC_DISCOVERY),
        ("https://login.microsoftonline.com/common/discovery/instance?api-version=1.1", INSTANCE_DISCOVERY),
    ],
)
def test_request_kind(url, kind):
    assert request_kind(url) == kind


class TestRequests:
    def test_token_post_goes_through_the_transport_and_is_retried_on_server_errors(self, make_client):
        client, session = make_client(500, 504, (200, {"access_token": "tok"}))
        response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"}, headers={"X": "1"}, stream=True)
        assert response.json() == {"access_token": "tok"}
        assert [call.kwargs["verify"] for call in session.calls] == ["/ca.pem"] * 3
        assert session.calls[0].kwargs["data"] == {"grant_type": "client_credentials"}
        assert "stream" not in session.calls[0].kwargs
        assert (client.last.kind, client.last.method, client.last.response.status_code) == (TOKEN_REQUEST, "POST", 200)

    def test_an_error_answer_is_returned_to_msal(self, make_client):
        client, _session = make_client(entra_error(401, "invalid_client", 7000215, "Invalid client secret provided."))
        assert client.post(TOKEN_URL, data={"client_secret": SECRET}).status_code == 401
        assert client.last.response.status_code == 401


class TestTransportFailures:
    def test_throttled_token_request(self, make_client):
        throttled = entra_error(
            429, "temporarily_unavailable", 90033, "A transient error has occurred.", headers={"Retry-After": "1"}
        )
        client, session = make_client(throttled, throttled, throttled)
        with pytest.raises(GraphThrottledError) as info:
            client.post(TOKEN_URL + "?x=1", data={"client_secret": SECRET})
        assert len(session.calls) == 3
        assert str(info.value) == (
            f"token request failed for {WHO}: POST /{TENANT}/oauth2/v2.0/token was throttled (HTTP 429, Retry-After 1) "
            "after 3 attempts: temporarily_unavailable: AADSTS90033: A transient error has occurred. "
            "(trace_id: trace-1, correlation_id: corr-1)"
        )
        assert failure_result(info.value) == {
            "msg": str(info.value),
            "status": 429,
            "error_code": "temporarily_unavailable",
            "graph_message": "AADSTS90033: A transient error has occurred.",
            "request_id": "trace-1",
            "client_request_id": "corr-1",
            "method": "POST",
            "path": f"/{TENANT}/oauth2/v2.0/token",
            "url": TOKEN_URL,
        }
        assert client.last is None  # nothing for msal to read: it never sees the answer

    def test_server_error_without_entra_body(self, make_client):
        client, _session = make_client(502, 502, max_retries=1)
        with pytest.raises(GraphThrottledError) as info:
            client.get(DISCOVERY_URL)
        assert str(info.value) == (
            f"OIDC discovery failed for {WHO}: GET /{TENANT}/v2.0/.well-known/openid-configuration kept failing "
            "(HTTP 502) after 2 attempts"
        )
        assert (info.value.status, info.value.code, info.value.url) == (502, "throttled", DISCOVERY_URL)

    def test_unreachable_authority(self, make_client):
        refused = requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='127.0.0.1', port=8443): Max retries exceeded with url: / (Caused by "
            "NewConnectionError(\"HTTPSConnection(host='127.0.0.1', port=8443): Failed to establish a new connection: "
            '[Errno 111] Connection refused"))'
        )
        client, _session = make_client(refused, refused, max_retries=1)
        with pytest.raises(GraphConnectionError) as info:
            client.get(DISCOVERY_URL, headers={"client-request-id": "corr-9"})
        assert str(info.value) == (
            f"OIDC discovery failed for {WHO}: GET /{TENANT}/v2.0/.well-known/openid-configuration failed: "
            "Failed to establish a new connection: [Errno 111] Connection refused (after 2 attempts)"
        )
        assert (info.value.status, info.value.method, info.value.url) == (None, "GET", DISCOVERY_URL)
        assert info.value.client_request_id == "corr-9"

    def test_managed_identity_requests_keep_their_kind(self, make_client):
        client, _session = make_client(503, 503, max_retries=1, kind=MANAGED_IDENTITY_REQUEST)
        with pytest.raises(GraphThrottledError, match=r"^managed identity token request failed for "):
            client.get("http://127.0.0.1:8443/metadata/identity/oauth2/token?resource=x")


class TestFailuresFromMsal:
    def test_error_result_with_its_exchange(self, make_client):
        client, _session = make_client(
            entra_error(400, "unauthorized_client", 700016, "Application with identifier 'c-1' was not found.")
        )
        response = client.post(TOKEN_URL, data={"client_secret": SECRET})
        result = dict(response.json(), error_description=response.json()["error_description"])
        error = client.failure_from_result(TOKEN_REQUEST, result)
        assert isinstance(error, GraphAuthError)
        assert str(error) == (
            f"token request failed for {WHO}: POST /{TENANT}/oauth2/v2.0/token returned HTTP 400 unauthorized_client: "
            "AADSTS700016: Application with identifier 'c-1' was not found. (trace_id: trace-1, correlation_id: corr-1)"
        )
        assert (error.status, error.method, error.path, error.url) == (
            400,
            "POST",
            f"/{TENANT}/oauth2/v2.0/token",
            TOKEN_URL,
        )
        assert SECRET not in str(error)

    def test_error_result_without_an_exchange(self, make_client):
        client, _session = make_client()
        error = client.failure_from_result(TOKEN_REQUEST, {"error": "invalid_client", "error_description": "bad\nx"})
        assert str(error) == f"token request failed for {WHO}: invalid_client: bad"
        assert (error.status, error.method, error.url) == (None, None, None)

    def test_empty_result(self, make_client):
        client, _session = make_client()
        assert str(client.failure_from_result(TOKEN_REQUEST, {})) == (
            f"token request failed for {WHO}: no token in the answer"
        )

    def test_failed_discovery_exchange(self, make_client):
        client, _session = make_client(entra_error(400, "invalid_tenant", 90002, "Tenant 'nope' not found."))
        assert client.get(DISCOVERY_URL).status_code == 400
        error = client.failure_from_exchange()
        assert str(error) == (
            f"OIDC discovery failed for {WHO}: GET /{TENANT}/v2.0/.well-known/openid-configuration returned HTTP 400 "
            "invalid_tenant: AADSTS90002: Tenant 'nope' not found. (trace_id: trace-1, correlation_id: corr-1)"
        )
        assert "token request" not in str(error)
        assert (error.status, error.code, error.url) == (400, "invalid_tenant", DISCOVERY_URL)

    def test_no_failed_exchange(self, make_client):
        client, _session = make_client((200, {"token_endpoint": TOKEN_URL}))
        assert client.failure_from_exchange() is None
        client.get(DISCOVERY_URL)
        assert client.failure_from_exchange() is None


class RecordingDiscoveryCache:
    def __init__(self, answer=None):
        self.answer = answer
        self.calls = []
        self.checks = []

    def get(self, url, params, fetch, problem_of=None):
        self.calls.append((url, params))
        self.checks.append(problem_of)
        return self.answer if self.answer is not None else fetch()


class TestDiscoveryCache:
    def test_discovery_gets_go_through_the_cache(self, make_client):
        stored = requests.Response()
        stored.status_code = 200
        cache = RecordingDiscoveryCache(stored)
        client, session = make_client(discovery_cache=cache)
        assert client.get(DISCOVERY_URL, params={"a": "b"}) is stored
        assert cache.calls == [(DISCOVERY_URL, {"a": "b"})]
        assert session.calls == []
        assert (client.last.kind, client.last.response) == (OIDC_DISCOVERY, stored)

    def test_a_miss_fetches_through_the_transport(self, make_client):
        cache = RecordingDiscoveryCache()
        client, session = make_client((200, {"issuer": "x"}), discovery_cache=cache)
        assert client.get(DISCOVERY_URL).json() == {"issuer": "x"}
        assert len(session.calls) == 1 and len(cache.calls) == 1

    def test_other_requests_never_touch_it(self, make_client):
        cache = RecordingDiscoveryCache()
        client, _session = make_client((200, {}), (200, {}), discovery_cache=cache)
        client.post(TOKEN_URL, data={})
        client.get(TOKEN_URL)
        assert cache.calls == []

    def test_managed_identity_gets_never_touch_it(self, make_client):
        cache = RecordingDiscoveryCache()
        client, _session = make_client((200, {}), discovery_cache=cache, kind=MANAGED_IDENTITY_REQUEST)
        client.get("http://127.0.0.1/metadata/identity/oauth2/token/.well-known/openid-configuration")
        assert cache.calls == []


def test_entra_fields_fall_back_to_headers():
    fields = entra_fields({"error": "x"}, {"x-ms-request-id": "trace-h", "client-request-id": "corr-h"})
    assert fields == {"error": "x", "description": None, "trace_id": "trace-h", "correlation_id": "corr-h"}
    assert entra_fields("not a dict") == {"error": None, "description": None, "trace_id": None, "correlation_id": None}


def test_sign_in_error_without_ids():
    error = sign_in_error(OIDC_DISCOVERY, WHO, "GET", DISCOVERY_URL, 404, {})
    assert (
        str(error)
        == f"OIDC discovery failed for {WHO}: GET /{TENANT}/v2.0/.well-known/openid-configuration returned HTTP 404"
    )


# --------------------------------------------------------------------------------------------------------------------
# OIDC discovery documents: checked before msal reads them or the cache keeps them
# --------------------------------------------------------------------------------------------------------------------

ENDPOINTS = {
    "authorization_endpoint": f"{AUTHORITY}/{TENANT}/oauth2/v2.0/authorize",
    "token_endpoint": TOKEN_URL,
    "device_authorization_endpoint": f"{AUTHORITY}/{TENANT}/oauth2/v2.0/devicecode",
    "issuer": f"{AUTHORITY}/{TENANT}/v2.0",
}


def discovery(**changes):
    document = dict(ENDPOINTS)
    for key, value in changes.items():
        if value is None:
            document.pop(key)
        else:
            document[key] = value
    return (200, document)


def problem(answer, authority=AUTHORITY, tenant=TENANT):
    return discovery_problem(build_response("GET", DISCOVERY_URL, {}, *answer), authority, tenant)


class TestDiscoveryProblem:
    def test_entras_document_passes(self):
        assert problem(discovery()) is None
        assert problem(discovery(device_authorization_endpoint=None)) is None  # msal reads it only when it is there
        assert problem(discovery(token_endpoint=TOKEN_URL.upper().replace("HTTPS", "https"))) is None  # host case

    def test_error_answers_are_left_to_msal(self):
        assert problem(entra_error(400, "invalid_tenant", 90002, "Tenant not found.")) is None

    @pytest.mark.parametrize(
        "answer, reason",
        [
            (discovery(authorization_endpoint=None), "has no authorization_endpoint"),
            (discovery(token_endpoint=None), "has no token_endpoint"),
            (discovery(token_endpoint=""), "has no token_endpoint"),
            (discovery(token_endpoint=["x"]), "has no token_endpoint"),
            (
                discovery(token_endpoint=TOKEN_URL.replace("https:", "http:")),
                "gives no https URL as its token_endpoint",
            ),
            (discovery(token_endpoint="https://[::1/x"), "gives no https URL as its token_endpoint"),
            (
                discovery(token_endpoint=f"https://127.0.0.2:8443/{TENANT}/oauth2/v2.0/token"),
                "names host 127.0.0.2:8443 in its token_endpoint, not the authority's 127.0.0.1:8443",
            ),
            (
                discovery(token_endpoint=f"https://127.0.0.1:9443/{TENANT}/oauth2/v2.0/token"),
                "names host 127.0.0.1:9443 in its token_endpoint, not the authority's 127.0.0.1:8443",
            ),
            (
                discovery(device_authorization_endpoint="https://evil.example.test/x/devicecode"),
                "names host evil.example.test:443 in its device_authorization_endpoint",
            ),
            (
                discovery(token_endpoint=f"{AUTHORITY}/22222222-2222-4222-8222-222222222222/oauth2/v2.0/token"),
                "names different tenants in its endpoints",
            ),
            (discovery(token_endpoint="https://127.0.0.1:8443?/a/b"), "names different tenants in its endpoints"),
            ((200, "not json"), "is not usable JSON"),
            ((200, [1]), "is not usable JSON (not a JSON object)"),
            ((200, "[" * 100000 + "]" * 100000), "is not usable JSON (nested too deeply)"),
        ],
    )
    def test_unusable_documents(self, answer, reason):
        assert reason in (problem(answer) or ""), problem(answer)

    def test_the_tenant_is_the_configured_one(self):
        other = "33333333-3333-4333-8333-333333333333"
        document = discovery(
            authorization_endpoint=f"{AUTHORITY}/{other}/oauth2/v2.0/authorize",
            token_endpoint=f"{AUTHORITY}/{other}/oauth2/v2.0/token",
            device_authorization_endpoint=None,
        )
        assert problem(document) == f"names tenant '{other}' in its endpoints, not {TENANT}"
        # A tenant given by its domain name is answered with its id, never with another name.
        assert problem(document, tenant="contoso.onmicrosoft.com") is None
        named = discovery(
            authorization_endpoint=f"{AUTHORITY}/fabrikam.example/oauth2/v2.0/authorize",
            token_endpoint=f"{AUTHORITY}/fabrikam.example/oauth2/v2.0/token",
            device_authorization_endpoint=None,
        )
        assert "names tenant 'fabrikam.example'" in problem(named, tenant="contoso.onmicrosoft.com")
        assert problem(discovery(), tenant=TENANT.upper()) is None


class TestJsonObject:
    def test_depth_limit(self):
        assert json_object('{"a": {"b": [1]}}', 3) == {"a": {"b": [1]}}
        with pytest.raises(ValueError, match="nested too deeply"):
            json_object('{"a": {"b": [1]}}', 2)
        with pytest.raises(ValueError, match="nested too deeply"):
            json_object(b"[" * 50000 + b"]" * 50000, 8)  # json.loads itself would exceed the recursion limit
        with pytest.raises(ValueError, match="not a JSON object"):
            json_object("[]", 8)
        with pytest.raises(ValueError):
            json_object(b"\xff", 8)


class TestCheckedDiscovery:
    def client(self, make_client, *script, **options):
        return make_client(*script, authority=(AUTHORITY, TENANT), **options)

    def test_a_usable_document_is_fetched_once(self, make_client):
        client, session = self.client(make_client, discovery())
        assert client.get(DISCOVERY_URL).json()["token_endpoint"] == TOKEN_URL
        assert len(session.calls) == 1 and client.transport.notices.take(0) == []
        assert (client.last.kind, client.last.response.status_code) == (OIDC_DISCOVERY, 200)

    def test_an_unusable_document_is_discarded_and_fetched_again(self, make_client):
        client, session = self.client(make_client, discovery(authorization_endpoint=None), discovery())
        assert client.get(DISCOVERY_URL).json() == ENDPOINTS
        assert len(session.calls) == 2
        assert client.transport.notices.take(0) == [
            (
                f"OIDC discovery for {WHO}: GET /{TENANT}/v2.0/.well-known/openid-configuration returned a document "
                "that has no authorization_endpoint; it was discarded and is fetched again"
            )
        ]

    def test_twice_unusable_fails_the_sign_in_with_what_is_wrong(self, make_client):
        foreign = discovery(token_endpoint=f"https://127.0.0.2:8443/{TENANT}/oauth2/v2.0/token")
        client, session = self.client(make_client, foreign, foreign)
        with pytest.raises(GraphAuthError) as info:
            client.get(DISCOVERY_URL)
        assert str(info.value) == (
            f"OIDC discovery failed for {WHO}: GET /{TENANT}/v2.0/.well-known/openid-configuration returned a document "
            "that names host 127.0.0.2:8443 in its token_endpoint, not the authority's 127.0.0.1:8443, twice"
        )
        assert (info.value.status, info.value.method, info.value.url) == (200, "GET", DISCOVERY_URL)
        assert len(session.calls) == 2 and client.last is None
        assert len(client.transport.notices.take(0)) == 1

    def test_error_answers_go_to_msal_unchanged(self, make_client):
        client, session = self.client(make_client, entra_error(400, "invalid_tenant", 90002, "Tenant not found."))
        assert client.get(DISCOVERY_URL).status_code == 400
        assert len(session.calls) == 1 and client.failure_from_exchange().code == "invalid_tenant"

    def test_the_cache_gets_the_check(self, make_client):
        cache = RecordingDiscoveryCache()
        client, _session = self.client(make_client, discovery(token_endpoint=None), discovery(), discovery_cache=cache)
        assert client.get(DISCOVERY_URL).json() == ENDPOINTS
        assert len(cache.calls) == 2
        bad = build_response("GET", DISCOVERY_URL, {}, *discovery(token_endpoint=None))
        assert [check(bad) for check in cache.checks] == ["has no token_endpoint"] * 2

    def test_without_an_authority_nothing_is_checked(self, make_client):
        client, _session = make_client(discovery(token_endpoint=None))
        assert "token_endpoint" not in client.get(DISCOVERY_URL).json()
