"""Tests of the Graph emulator itself.

Token flows go through msal (a real client nobody here wrote); Graph flows use plain requests.  Every HTTP call
passes ``verify=<emulator CA>`` (through CASession) and goes to 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid

import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.emulator import graph_emulator
from tests.emulator.harness import EMULATOR_SCRIPT, GRAPH_SCOPE, CASession, start_emulator

PARTNERS = "/v1.0/deviceManagement/deviceManagementPartners"
BETA_PARTNERS = "/beta/deviceManagement/deviceManagementPartners"
UNSET = "0001-01-01T00:00:00Z"
GRAPH_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
MI_ENV = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
)


# --------------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------------


class RecordingSession(CASession):
    """CASession that remembers every URL it was asked to fetch (to prove nothing left the emulator)."""

    def __init__(self, ca_path):
        super().__init__(ca_path)
        self.urls = []

    def request(self, method, url, *args, **kwargs):  # pylint: disable=signature-differs,arguments-differ
        self.urls.append(url)
        return super().request(method, url, *args, **kwargs)


def graph(emu, method, path, token=None, headers=None, session=None, **kwargs):
    """Call the emulator's Graph API; ``path`` may be absolute (a nextLink)."""
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = "Bearer " + token
    url = path if path.startswith("https://") else emu.info["graph_endpoint"] + path
    return (session or emu.session).request(method, url, headers=all_headers, verify=emu.ca_path, **kwargs)


def msal_app(emu, credential, index=0, client_id=None, tenant_id=None):
    tenant = emu.tenant(index)
    return msal.ConfidentialClientApplication(
        client_id or tenant["client_id"],
        client_credential=credential,
        authority=f"{emu.info['authority_host']}/{tenant_id or tenant['tenant_id']}",
        instance_discovery=False,
        http_client=CASession(emu.ca_path),
    )


def client_pem_parts(info):
    """(private key PEM, certificate PEM) from the emulator's combined client PEM file."""
    with open(info["client_certificate_pem_path"], encoding="ascii") as handle:
        text = handle.read()
    key = re.search(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", text, re.DOTALL).group(0)
    cert = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.DOTALL).group(0)
    return key, cert


def token_endpoint(emu, index=0):
    return f"{emu.info['authority_host']}/{emu.tenant(index)['tenant_id']}/oauth2/v2.0/token"


def post_token(emu, data, index=0, **kwargs):
    return emu.session.post(token_endpoint(emu, index), data=data, verify=emu.ca_path, **kwargs)


def assert_graph_error(response, status, code, client_request_id=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    inner = error["innerError"]
    assert GRAPH_DATE_RE.fullmatch(inner["date"])
    assert inner["request-id"] == response.headers["request-id"]
    assert inner["client-request-id"] == response.headers["client-request-id"]
    if client_request_id:
        assert inner["client-request-id"] == client_request_id
    return error


def seed_partners(emu, partners, index=0):
    emu.control.seed({emu.tenant(index)["tenant_id"]: partners})


def self_signed_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-registered")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def token(emulator):
    return emulator.access_token()


# --------------------------------------------------------------------------------------------------------------------
# date handling (pure functions)
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2027-01-01T01:30:00.5+01:30", "2027-01-01T00:00:00.5000000Z"),
        ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00.0000000Z"),
        ("2027-01-01T00:00:00.1234567Z", "2027-01-01T00:00:00.1234567Z"),
        ("2027-06-30T23:59:59.123456789-07:00", "2027-07-01T06:59:59.1234567Z"),
        ("2027-01-01T00:00:00", "2027-01-01T00:00:00.0000000Z"),
        ("2026-12-31T23:00:00-0100", "2027-01-01T00:00:00.0000000Z"),
        (UNSET, UNSET),
        ("0001-01-01T00:00:00.0000000+00:00", UNSET),
    ],
)
def test_datetime_normalisation(given, expected):
    assert graph_emulator.format_ticks(graph_emulator.parse_datetime(given)) == expected


@pytest.mark.parametrize(
    "given",
    ["yesterday", "2027-02-30T00:00:00Z", "2027-01-01T24:00:00Z", "2027-01-01T00:00:00+15:00", "2027-01-01", 5, None],
)
def test_datetime_rejects_invalid(given):
    with pytest.raises(ValueError):
        graph_emulator.parse_datetime(given)


# --------------------------------------------------------------------------------------------------------------------
# token service
# --------------------------------------------------------------------------------------------------------------------


def test_discovery_document_and_unknown_tenant(emulator):
    tenant = emulator.tenant()
    base = f"{emulator.info['authority_host']}/{tenant['tenant_id']}"
    document = emulator.session.get(base + "/v2.0/.well-known/openid-configuration", verify=emulator.ca_path).json()
    assert document["token_endpoint"] == base + "/oauth2/v2.0/token"
    assert document["issuer"] == base + "/v2.0"
    assert document["authorization_endpoint"].startswith(base)

    unknown = str(uuid.uuid4())
    response = emulator.session.get(
        f"{emulator.info['authority_host']}/{unknown}/v2.0/.well-known/openid-configuration", verify=emulator.ca_path
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]
    assert "AADSTS90002" in response.json()["error_description"]
    with pytest.raises(ValueError):
        msal_app(emulator, tenant["client_secret"], tenant_id=unknown)


def test_msal_client_secret_gets_a_working_token(emulator):
    tenant = emulator.tenant()
    result = msal_app(emulator, tenant["client_secret"]).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    assert graph(emulator, "GET", PARTNERS, result["access_token"]).status_code == 200

    token_requests = [entry for entry in emulator.control.log() if entry["kind"] == "token"]
    assert token_requests[-1]["status"] == 200
    assert token_requests[-1]["tenant"] == tenant["tenant_id"]
    body = token_requests[-1]["body"]
    assert set(body) == {"grant_type", "client_id", "scope"}
    assert body["grant_type"] == "client_credentials"
    assert body["client_id"] == tenant["client_id"]
    assert GRAPH_SCOPE in body["scope"]


def test_token_response_shape_and_basic_client_auth(emulator):
    tenant = emulator.tenant(1)
    response = emulator.session.post(
        token_endpoint(emulator, 1),
        data={"grant_type": "client_credentials", "scope": "https://graph.microsoft.us/.default"},
        auth=(tenant["client_id"], tenant["client_secret"]),
        verify=emulator.ca_path,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


def test_wrong_secret_is_invalid_client_and_never_echoed(emulator):
    wrong = "wrong~" + uuid.uuid4().hex + "-Secret"
    result = msal_app(emulator, wrong).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]
    assert "Trace ID:" in result["error_description"]
    assert "Correlation ID:" in result["error_description"]
    assert wrong not in json.dumps(result)
    assert wrong not in json.dumps(emulator.control.log())
    assert wrong not in emulator.read_log()


def test_unknown_client_and_bad_scope(emulator):
    result = msal_app(emulator, "whatever-secret", client_id=str(uuid.uuid4())).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )
    assert result["error"] == "unauthorized_client"
    assert 700016 in result["error_codes"]

    tenant = emulator.tenant()
    result = msal_app(emulator, tenant["client_secret"]).acquire_token_for_client(
        scopes=["https://management.azure.com/.default"]
    )
    assert result["error"] == "invalid_scope"
    assert 70011 in result["error_codes"]


def test_token_endpoint_of_unknown_tenant(emulator):
    tenant = emulator.tenant()
    response = emulator.session.post(
        f"{emulator.info['authority_host']}/{uuid.uuid4()}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant["client_id"],
            "client_secret": tenant["client_secret"],
            "scope": GRAPH_SCOPE,
        },
        verify=emulator.ca_path,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["error_codes"] == [90002]
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)


@pytest.mark.parametrize("form", ["pem", "pfx", "thumbprint"])
def test_msal_certificate_credentials(emulator, form):
    info = emulator.info
    key_pem, cert_pem = client_pem_parts(info)
    credential = {
        "pem": {"private_key": key_pem, "public_certificate": cert_pem},  # PS256 + x5t#S256
        "pfx": {
            "private_key_pfx_path": info["client_certificate_pfx_path"],
            "passphrase": info["client_certificate_password"],
        },
        "thumbprint": {"private_key": key_pem, "thumbprint": info["client_certificate_thumbprint"]},  # RS256 + x5t
    }[form]
    result = msal_app(emulator, credential).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result
    assert graph(emulator, "GET", PARTNERS, result["access_token"]).status_code == 200


def test_unregistered_certificate_is_refused(emulator):
    key_pem, cert_pem = self_signed_certificate()
    result = msal_app(emulator, {"private_key": key_pem, "public_certificate": cert_pem}).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )
    assert result["error"] == "invalid_client"
    assert 700027 in result["error_codes"]


@pytest.mark.parametrize("flaw", ["audience", "expired", "issuer", "signature", "not_yet_valid"])
def test_flawed_certificate_assertions_are_refused(emulator, flaw):
    info = emulator.info
    tenant = emulator.tenant()
    key_pem, cert_pem = client_pem_parts(info)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    now = int(time.time())
    claims = {
        "aud": token_endpoint(emulator),
        "iss": tenant["client_id"],
        "sub": tenant["client_id"],
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    if flaw == "audience":
        claims["aud"] = token_endpoint(emulator, 1)
    elif flaw == "expired":
        claims["exp"] = now - 3600
    elif flaw == "issuer":
        claims["iss"] = str(uuid.uuid4())
    elif flaw == "not_yet_valid":
        claims["nbf"] = now + 3600
    headers = {"x5t#S256": jwt.utils.base64url_encode(cert.fingerprint(hashes.SHA256())).decode()}
    assertion = jwt.encode(claims, key_pem, algorithm="PS256", headers=headers)
    if flaw == "signature":
        assertion = assertion[:-6] + ("AAAAAA" if not assertion.endswith("AAAAAA") else "BBBBBB")

    good = dict(claims, aud=token_endpoint(emulator), iss=tenant["client_id"], exp=now + 600, nbf=now)
    control = jwt.encode(good, key_pem, algorithm="PS256", headers=headers)
    data = {
        "grant_type": "client_credentials",
        "client_id": tenant["client_id"],
        "scope": GRAPH_SCOPE,
        "client_assertion_type": graph_emulator.JWT_BEARER,
    }
    assert post_token(emulator, dict(data, client_assertion=control)).status_code == 200  # the baseline works

    response = post_token(emulator, dict(data, client_assertion=assertion))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_codes"] == [700027]
    assert assertion not in response.text
    assert assertion not in json.dumps(emulator.control.log())


def test_workload_identity_federated_token(emulator):
    first, second = emulator.tenant(0), emulator.tenant(1)
    federated = emulator.control.federated_token(first["tenant_id"], first["client_id"])
    result = msal_app(emulator, {"client_assertion": lambda: federated}).acquire_token_for_client(scopes=[GRAPH_SCOPE])
    assert "access_token" in result, result

    # The federated token is bound to its app registration: another tenant's app must not accept it.
    result = msal_app(emulator, {"client_assertion": lambda: federated}, index=1).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )
    assert result["error"] == "invalid_client"
    assert 700027 in result["error_codes"]

    # Same claims signed by someone else's key are refused.
    claims = jwt.decode(federated, options={"verify_signature": False})
    claims.update(tid=second["tenant_id"], sub="system:serviceaccount:default:" + second["client_id"])
    forged = jwt.encode(claims, self_signed_certificate()[0], algorithm="RS256")
    result = msal_app(emulator, {"client_assertion": lambda: forged}, index=1).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )
    assert 700027 in result["error_codes"]


def test_each_tenant_sees_only_its_own_data(emulator):
    first, second = emulator.access_token(0), emulator.access_token(1)
    created = graph(emulator, "POST", PARTNERS, first, json={"displayName": "only in tenant 0"}).json()
    assert [p["id"] for p in graph(emulator, "GET", PARTNERS, first).json()["value"]] == [created["id"]]
    assert graph(emulator, "GET", PARTNERS, second).json()["value"] == []
    assert graph(emulator, "GET", f"{PARTNERS}/{created['id']}", second).status_code == 404


# --------------------------------------------------------------------------------------------------------------------
# managed identity
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["app_service", "imds"])
@pytest.mark.parametrize("user_assigned", [False, True], ids=["system", "user"])
def test_msal_managed_identity(emulator, monkeypatch, style, user_assigned):
    info = emulator.info
    for name in MI_ENV:
        monkeypatch.delenv(name, raising=False)
    if style == "app_service":
        monkeypatch.setenv("IDENTITY_ENDPOINT", info["managed_identity_endpoint"])
        monkeypatch.setenv("IDENTITY_HEADER", info["managed_identity_header"])
        expected_path = "/msi/token"
    else:
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", info["imds_host"])
        expected_path = "/metadata/identity/oauth2/token"
    identity = (
        msal.UserAssignedManagedIdentity(client_id=info["managed_identity_client_id"])
        if user_assigned
        else msal.SystemAssignedManagedIdentity()
    )
    session = RecordingSession(emulator.ca_path)
    client = msal.ManagedIdentityClient(identity, http_client=session)
    result = client.acquire_token_for_client(resource="https://graph.microsoft.com")
    assert "access_token" in result, result

    assert session.urls
    assert all(url.startswith(info["imds_host"] + "/") for url in session.urls), session.urls
    entry = [e for e in emulator.control.log() if e["kind"] == "managed_identity"][-1]
    assert entry["path"] == expected_path
    assert entry["status"] == 200
    assert entry["tenant"] == info["tenant_id"]
    assert entry["query"].get("client_id") == (info["managed_identity_client_id"] if user_assigned else None)
    # The token belongs to the first tenant.
    seed_partners(emulator, [{"displayName": "visible to the identity"}])
    listed = graph(emulator, "GET", PARTNERS, result["access_token"]).json()["value"]
    assert [p["displayName"] for p in listed] == ["visible to the identity"]


def test_managed_identity_errors(emulator):
    info = emulator.info
    session = emulator.session
    app_service = info["managed_identity_endpoint"]
    imds = info["imds_host"] + "/metadata/identity/oauth2/token"
    graph_resource = {"resource": "https://graph.microsoft.com/"}

    response = session.get(app_service, params=dict(graph_resource, **{"api-version": "2019-08-01"}))
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401

    good_header = {"X-IDENTITY-HEADER": info["managed_identity_header"]}
    params = dict(graph_resource, **{"api-version": "2019-08-01"})
    ok = session.get(app_service, params=params, headers=good_header)
    assert ok.status_code == 200
    assert int(ok.json()["expires_on"]) > time.time()
    unknown = session.get(app_service, params=dict(params, client_id=str(uuid.uuid4())), headers=good_header)
    assert unknown.status_code == 400
    bad_resource = session.get(
        app_service, params=dict(params, resource="https://management.azure.com/"), headers=good_header
    )
    assert bad_resource.status_code == 400

    params = dict(graph_resource, **{"api-version": "2018-02-01"})
    response = session.get(imds, params=params)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Required metadata header not specified",
    }
    ok = session.get(imds, params=params, headers={"Metadata": "true"})
    assert ok.status_code == 200
    assert ok.json()["expires_in"] in ("3599", "3600")
    unknown = session.get(imds, params=dict(params, client_id=str(uuid.uuid4())), headers={"Metadata": "true"})
    assert unknown.status_code == 400


# --------------------------------------------------------------------------------------------------------------------
# Graph: reads
# --------------------------------------------------------------------------------------------------------------------


def test_list_paging_follows_absolute_next_links(emulator, token):
    seed_partners(emulator, [{"displayName": f"partner {i}"} for i in range(3)])
    emulator.control.config(page_size=1)
    pages, url = [], PARTNERS + "?$count=true"
    while url:
        body = graph(emulator, "GET", url, token).json()
        pages.append(body)
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(emulator.info["graph_endpoint"] + PARTNERS + "?")
    assert [len(page["value"]) for page in pages] == [1, 1, 1]
    assert [page["value"][0]["displayName"] for page in pages] == ["partner 0", "partner 1", "partner 2"]
    assert all(page["@odata.count"] == 3 for page in pages)
    assert pages[0]["@odata.context"].endswith("$metadata#deviceManagement/deviceManagementPartners")

    broken = graph(emulator, "GET", PARTNERS + "?$skiptoken=not-a-token", token)
    assert_graph_error(broken, 400, "BadRequest")


def test_top_limits_the_page_size(emulator, token):
    seed_partners(emulator, [{"displayName": f"partner {i}"} for i in range(3)])
    first = graph(emulator, "GET", PARTNERS + "?$top=2", token).json()
    assert len(first["value"]) == 2
    assert "%24top=2" in first["@odata.nextLink"] or "$top=2" in first["@odata.nextLink"]
    second = graph(emulator, "GET", first["@odata.nextLink"], token).json()
    assert [p["displayName"] for p in second["value"]] == ["partner 2"]
    assert "@odata.nextLink" not in second
    assert_graph_error(graph(emulator, "GET", PARTNERS + "?$top=-1", token), 400, "BadRequest")


def test_filter_by_display_name_unquotes_and_ignores_case_like_graph(emulator, token):
    seed_partners(emulator, [{"displayName": "O'Brien"}, {"displayName": "o'brien"}, {"displayName": "OBrien"}])
    response = graph(emulator, "GET", PARTNERS, token, params={"$filter": "displayName eq 'O''Brien'"})
    assert [p["displayName"] for p in response.json()["value"]] == ["O'Brien", "o'brien"]
    response = graph(emulator, "GET", PARTNERS, token, params={"$filter": "displayName eq 'nobody'"})
    assert response.json()["value"] == []
    unsupported = graph(emulator, "GET", PARTNERS, token, params={"$filter": "startswith(displayName, 'O')"})
    assert_graph_error(unsupported, 400, "BadRequest")


def test_select_returns_only_requested_properties(emulator, token):
    seed_partners(emulator, [{"id": "p1", "displayName": "selected", "partnerState": "enabled"}])
    listed = graph(emulator, "GET", PARTNERS, token, params={"$select": "displayName,partnerState"}).json()
    assert listed["value"] == [
        {
            "@odata.type": "#microsoft.graph.deviceManagementPartner",
            "id": "p1",
            "displayName": "selected",
            "partnerState": "enabled",
        }
    ]
    single = graph(emulator, "GET", PARTNERS + "/p1", token, params={"$select": "isConfigured"}).json()
    assert {k for k in single if not k.startswith("@")} == {"id", "isConfigured"}
    assert_graph_error(graph(emulator, "GET", PARTNERS, token, params={"$select": "nope"}), 400, "BadRequest")


def test_get_by_id_and_not_found(emulator, token):
    seed_partners(emulator, [{"id": "known-id", "displayName": "known"}])
    response = graph(emulator, "GET", PARTNERS + "/known-id", token)
    assert response.status_code == 200
    body = response.json()
    assert body["displayName"] == "known"
    assert body["@odata.type"] == "#microsoft.graph.deviceManagementPartner"
    assert body["@odata.context"].endswith("/$entity")
    assert body["lastHeartbeatDateTime"] == UNSET
    assert_graph_error(graph(emulator, "GET", PARTNERS + "/missing-id", token), 404, "ResourceNotFound")
    assert_graph_error(graph(emulator, "GET", PARTNERS + "/bad%20id", token), 400, "BadRequest")


def test_beta_serves_the_same_data(emulator, token):
    seed_partners(emulator, [{"id": "p1", "displayName": "both versions"}])
    v1 = graph(emulator, "GET", PARTNERS + "/p1", token).json()
    beta = graph(emulator, "GET", BETA_PARTNERS + "/p1", token).json()
    assert {k: v for k, v in v1.items() if k != "@odata.context"} == {
        k: v for k, v in beta.items() if k != "@odata.context"
    }
    assert "/beta/$metadata" in beta["@odata.context"]


# --------------------------------------------------------------------------------------------------------------------
# Graph: writes
# --------------------------------------------------------------------------------------------------------------------


def test_create_returns_201_with_defaults(emulator, token):
    response = graph(emulator, "POST", PARTNERS, token, json={"id": "client-chosen", "displayName": "new"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] != "client-chosen"
    uuid.UUID(body["id"])
    assert response.headers["Location"] == f"{emulator.info['graph_endpoint']}{PARTNERS}/{body['id']}"
    assert {k: v for k, v in body.items() if not k.startswith("@") and k != "id"} == {
        "displayName": "new",
        "partnerState": "unknown",
        "partnerAppType": "unknown",
        "isConfigured": False,
        "singleTenantAppId": None,
        "lastHeartbeatDateTime": UNSET,
        "whenPartnerDevicesWillBeRemovedDateTime": None,
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime": None,
        "groupsRequiringPartnerEnrollment": [],
    }
    tenant_id = emulator.info["tenant_id"]
    assert emulator.control.state()[tenant_id] == [{k: v for k, v in body.items() if k != "@odata.context"}]
    writes = emulator.control.writes()
    assert [(w["method"], w["status"], w["body"]) for w in writes] == [
        ("POST", 201, {"id": "client-chosen", "displayName": "new"})
    ]


def test_dates_are_normalised_to_utc_with_seven_digits(emulator, token):
    body = {
        "@odata.type": "#microsoft.graph.deviceManagementPartner",
        "lastHeartbeatDateTime": "2027-01-01T01:30:00.5+01:30",
        "whenPartnerDevicesWillBeRemovedDateTime": "2027-06-30T23:59:59.123456789-07:00",
    }
    created = graph(emulator, "POST", PARTNERS, token, json=body).json()
    assert created["lastHeartbeatDateTime"] == "2027-01-01T00:00:00.5000000Z"
    assert created["whenPartnerDevicesWillBeRemovedDateTime"] == "2027-07-01T06:59:59.1234567Z"
    assert created["whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime"] is None


def test_patch_answers_204_and_applies_only_given_properties(emulator, token):
    seed_partners(emulator, [{"id": "p1", "displayName": "before", "partnerState": "enabled"}])
    group_id = str(uuid.uuid4())
    groups = [{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group_id}}]
    response = graph(
        emulator,
        "PATCH",
        PARTNERS + "/p1",
        token,
        json={"id": "p1", "displayName": "after", "groupsRequiringPartnerEnrollment": groups},
    )
    assert response.status_code == 204
    assert response.content == b""
    body = graph(emulator, "GET", PARTNERS + "/p1", token).json()
    assert (body["displayName"], body["partnerState"]) == ("after", "enabled")
    assert body["groupsRequiringPartnerEnrollment"] == [
        {
            "target": {
                "@odata.type": "#microsoft.graph.groupAssignmentTarget",
                "deviceAndAppManagementAssignmentFilterId": None,
                "deviceAndAppManagementAssignmentFilterType": "none",
                "groupId": group_id,
            }
        }
    ]

    mismatched = graph(emulator, "PATCH", PARTNERS + "/p1", token, json={"id": "p2", "displayName": "x"})
    assert_graph_error(mismatched, 400, "BadRequest")
    assert_graph_error(graph(emulator, "PATCH", PARTNERS + "/nope", token, json={}), 404, "ResourceNotFound")


def test_patch_answers_200_when_configured(emulator, token):
    seed_partners(emulator, [{"id": "p1", "displayName": "before"}])
    emulator.control.config(patch_status=200)
    response = graph(emulator, "PATCH", PARTNERS + "/p1", token, json={"isConfigured": True})
    assert response.status_code == 200
    assert response.json()["isConfigured"] is True
    assert response.json()["displayName"] == "before"


def test_patch_status_from_the_command_line(emulator_factory):
    emu = emulator_factory("--patch-status", "200", "--tenants", "1")
    token = emu.access_token()
    created = graph(emu, "POST", PARTNERS, token, json={"displayName": "x"}).json()
    response = graph(emu, "PATCH", f"{PARTNERS}/{created['id']}", token, json={"partnerState": "enabled"})
    assert response.status_code == 200
    assert response.json()["partnerState"] == "enabled"


@pytest.mark.parametrize(
    "body",
    [
        {"notAProperty": 1},
        {"partnerState": "sleepy"},
        {"partnerAppType": "SingleTenantApp"},
        {"isConfigured": "yes"},
        {"displayName": 5},
        {"lastHeartbeatDateTime": "not a date"},
        {"lastHeartbeatDateTime": None},
        {"groupsRequiringPartnerEnrollment": "group"},
        {"@odata.type": "#microsoft.graph.user"},
    ],
)
def test_invalid_writes_are_rejected(emulator, token, body):
    seed_partners(emulator, [{"id": "p1", "displayName": "unchanged"}])
    before = emulator.control.state()
    error = assert_graph_error(graph(emulator, "PATCH", PARTNERS + "/p1", token, json=body), 400, "BadRequest")
    if "notAProperty" in body:
        expected = "Property 'notAProperty' does not exist on type 'microsoft.graph.deviceManagementPartner'"
        assert expected in error["message"]
    assert_graph_error(graph(emulator, "POST", PARTNERS, token, json=body), 400, "BadRequest")
    assert emulator.control.state() == before


def test_delete_and_terminate(emulator, token):
    seed_partners(emulator, [{"id": "p1", "partnerState": "enabled"}, {"id": "p2"}])
    response = graph(emulator, "POST", PARTNERS + "/p1/terminate", token)
    assert response.status_code == 204
    assert graph(emulator, "GET", PARTNERS + "/p1", token).json()["partnerState"] == "terminated"
    assert_graph_error(graph(emulator, "POST", PARTNERS + "/nope/terminate", token), 404, "ResourceNotFound")

    assert graph(emulator, "DELETE", PARTNERS + "/p2", token).status_code == 204
    assert_graph_error(graph(emulator, "GET", PARTNERS + "/p2", token), 404, "ResourceNotFound")
    assert_graph_error(graph(emulator, "DELETE", PARTNERS + "/p2", token), 404, "ResourceNotFound")
    assert [w["method"] for w in emulator.control.writes()] == ["POST", "POST", "DELETE", "DELETE"]


# --------------------------------------------------------------------------------------------------------------------
# Graph: errors and headers
# --------------------------------------------------------------------------------------------------------------------


def test_missing_and_expired_tokens_are_401(emulator, token):
    missing = graph(emulator, "GET", PARTNERS)
    error = assert_graph_error(missing, 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    assert graph(emulator, "GET", PARTNERS, token).status_code == 200
    emulator.control.expire_tokens()
    expired = graph(emulator, "GET", PARTNERS, token)
    error = assert_graph_error(expired, 401, "InvalidAuthenticationToken")
    assert error["message"] == "Lifetime validation failed, the token is expired."
    assert "WWW-Authenticate" in expired.headers

    unknown = graph(emulator, "GET", PARTNERS, "made-up-token")
    assert_graph_error(unknown, 401, "InvalidAuthenticationToken")


def test_token_lifetime_config_drives_expiry(emulator):
    emulator.control.config(token_lifetime=0)  # expired from the moment it is issued: no waiting needed
    expired = graph(emulator, "GET", PARTNERS, emulator.access_token())
    assert assert_graph_error(expired, 401, "InvalidAuthenticationToken")["message"].startswith("Lifetime")
    emulator.control.config(token_lifetime=120)
    response = post_token(
        emulator,
        {
            "grant_type": "client_credentials",
            "client_id": emulator.tenant()["client_id"],
            "client_secret": emulator.tenant()["client_secret"],
            "scope": GRAPH_SCOPE,
        },
    )
    assert response.json()["expires_in"] == 120
    assert graph(emulator, "GET", PARTNERS, response.json()["access_token"]).status_code == 200


def test_request_ids_are_sent_and_echoed(emulator, token):
    sent = str(uuid.uuid4())
    response = graph(emulator, "GET", PARTNERS, token, headers={"client-request-id": sent})
    assert response.headers["client-request-id"] == sent
    uuid.UUID(response.headers["request-id"])
    assert response.headers["Content-Type"].startswith("application/json")
    error_response = graph(emulator, "GET", PARTNERS + "/missing", token, headers={"client-request-id": sent})
    assert_graph_error(error_response, 404, "ResourceNotFound", client_request_id=sent)
    generated = graph(emulator, "GET", PARTNERS, token)
    uuid.UUID(generated.headers["client-request-id"])
    assert emulator.control.log()[-1]["client_request_id"] == generated.headers["client-request-id"]


def test_unknown_path_and_method(emulator, token):
    assert_graph_error(graph(emulator, "GET", "/v1.0/deviceManagement/somethingElse", token), 404, "ResourceNotFound")
    assert_graph_error(graph(emulator, "GET", "/nowhere", token), 404, "ResourceNotFound")
    not_allowed = graph(emulator, "PUT", PARTNERS, token, json={})
    assert_graph_error(not_allowed, 405, "MethodNotAllowed")
    assert "GET" in not_allowed.headers["Allow"]


def test_keep_alive_reuses_one_connection(emulator, token):
    before = emulator.control.stats()["connections"]
    session = CASession(emulator.ca_path)
    created = graph(emulator, "POST", PARTNERS, token, session=session, json={"displayName": "k"}).json()
    item = f"{PARTNERS}/{created['id']}"
    assert graph(emulator, "PATCH", item, token, session=session, json={"displayName": "l"}).status_code == 204
    assert graph(emulator, "GET", item, token, session=session).json()["displayName"] == "l"
    assert graph(emulator, "DELETE", item, token, session=session).status_code == 204
    assert graph(emulator, "GET", item, token, session=session).status_code == 404
    assert emulator.control.stats()["connections"] - before == 1


# --------------------------------------------------------------------------------------------------------------------
# faults, mutations, control API
# --------------------------------------------------------------------------------------------------------------------


def test_status_fault_with_fractional_retry_after_does_not_apply_the_request(emulator, token):
    emulator.control.add_fault(
        method="POST", path="deviceManagementPartners$", kind="status", status=429, retry_after=2.128, times=1
    )
    response = graph(emulator, "POST", PARTNERS, token, json={"displayName": "throttled"})
    assert_graph_error(response, 429, "TooManyRequests")
    assert response.headers["Retry-After"] == "2.128"
    assert emulator.control.state()[emulator.info["tenant_id"]] == []
    entry = emulator.control.log()[-1]
    assert (entry["status"], entry["fault"], entry["body"]) == (429, "status", {"displayName": "throttled"})
    assert graph(emulator, "POST", PARTNERS, token, json={"displayName": "throttled"}).status_code == 201


def test_status_fault_without_retry_after_and_with_http_date(emulator, token):
    emulator.control.add_fault(method="GET", path="deviceManagementPartners$", kind="status", status=503, times=1)
    response = graph(emulator, "GET", PARTNERS, token)
    assert_graph_error(response, 503, "ServiceUnavailable")
    assert "Retry-After" not in response.headers

    http_date = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5), usegmt=True)
    emulator.control.add_fault(
        method="*", path="deviceManagementPartners", kind="status", status=504, retry_after=http_date, times=1
    )
    response = graph(emulator, "GET", PARTNERS, token)
    assert_graph_error(response, 504, "GatewayTimeout")
    assert response.headers["Retry-After"] == http_date
    assert graph(emulator, "GET", PARTNERS, token).status_code == 200


def test_fault_times_and_fired_counts(emulator, token):
    fault_id = emulator.control.add_fault(method="GET", path="Partners$", kind="status", status=500, times=2)
    statuses = [graph(emulator, "GET", PARTNERS, token).status_code for _attempt in range(3)]
    assert statuses == [500, 500, 200]
    (fault,) = emulator.control.faults()
    assert (fault["id"], fault["fired"]) == (fault_id, 2)
    emulator.control.clear_faults()
    assert emulator.control.faults() == []


def test_latency_fault(emulator, token):
    emulator.control.add_fault(method="GET", path="deviceManagementPartners$", kind="latency", latency=0.3, times=1)
    started = time.monotonic()
    response = graph(emulator, "GET", PARTNERS, token)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert emulator.control.log()[-1]["fault"] == "latency"


def test_drop_before_leaves_state_unchanged(emulator, token):
    emulator.control.add_fault(method="POST", path="deviceManagementPartners$", kind="drop_before", times=1)
    with pytest.raises(requests.ConnectionError):
        graph(emulator, "POST", PARTNERS, token, json={"displayName": "lost"})
    assert emulator.control.state()[emulator.info["tenant_id"]] == []
    entry = emulator.control.log()[-1]
    assert (entry["status"], entry["fault"]) == (None, "drop_before")
    # The client can simply reconnect.
    assert graph(emulator, "POST", PARTNERS, token, json={"displayName": "retried"}).status_code == 201


def test_drop_after_applies_the_request_but_sends_nothing(emulator, token):
    emulator.control.add_fault(method="POST", path="deviceManagementPartners$", kind="drop_after", times=1)
    with pytest.raises(requests.ConnectionError):
        graph(emulator, "POST", PARTNERS, token, json={"displayName": "applied"})
    assert [p["displayName"] for p in emulator.control.state()[emulator.info["tenant_id"]]] == ["applied"]
    entry = emulator.control.log()[-1]
    assert (entry["status"], entry["fault"], entry["body"]) == (None, "drop_after", {"displayName": "applied"})


def test_probability_fault_is_reproducible_with_a_seed(emulator, token):
    emulator.control.add_fault(method="GET", path="Partners$", kind="status", status=503, probability=0.5, seed=7)
    statuses = [graph(emulator, "GET", PARTNERS, token).status_code for _attempt in range(16)]
    rng = random.Random(7)
    assert statuses == [503 if rng.random() < 0.5 else 200 for _attempt in range(16)]
    assert 0 < statuses.count(503) < 16  # this seed exercises both outcomes
    assert emulator.control.faults()[0]["fired"] == statuses.count(503)


def test_token_endpoint_fault_uses_entra_shape(emulator):
    emulator.control.add_fault(method="POST", path="/oauth2/v2.0/token$", kind="status", status=503, retry_after=1)
    tenant = emulator.tenant()
    data = {
        "grant_type": "client_credentials",
        "client_id": tenant["client_id"],
        "client_secret": tenant["client_secret"],
        "scope": GRAPH_SCOPE,
    }
    response = post_token(emulator, data)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert isinstance(body["error_codes"], list)
    assert "Trace ID:" in body["error_description"]
    entry = emulator.control.log()[-1]
    assert (entry["kind"], entry["status"], entry["fault"]) == ("token", 503, "status")
    assert entry["body"] == {"grant_type": "client_credentials", "client_id": tenant["client_id"], "scope": GRAPH_SCOPE}
    assert tenant["client_secret"] not in json.dumps(entry)


def test_mutation_changes_the_object_right_after_the_matched_request(emulator, token):
    seed_partners(emulator, [{"id": "p1", "displayName": "original"}])
    emulator.control.add_mutation(
        method="GET",
        path="deviceManagementPartners/p1$",
        tenant=emulator.info["tenant_id"],
        id="p1",
        set={"displayName": "changed elsewhere"},
        times=1,
    )
    assert graph(emulator, "GET", PARTNERS + "/p1", token).json()["displayName"] == "original"
    assert emulator.control.state()[emulator.info["tenant_id"]][0]["displayName"] == "changed elsewhere"
    graph(emulator, "PATCH", PARTNERS + "/p1", token, json={"displayName": "mine again"})
    assert graph(emulator, "GET", PARTNERS + "/p1", token).json()["displayName"] == "mine again"
    assert graph(emulator, "GET", PARTNERS + "/p1", token).json()["displayName"] == "mine again"  # times=1


def test_control_seed_reset_log_and_stats(emulator, token):
    new_tenant = str(uuid.uuid4())
    result = emulator.control.seed({new_tenant: [{"displayName": "seeded"}]})
    assert new_tenant in [t["tenant_id"] for t in result["tenants"]]
    assert [p["displayName"] for p in emulator.control.state()[new_tenant]] == ["seeded"]
    graph(emulator, "GET", PARTNERS, token)
    stats = emulator.control.stats()
    assert stats["by_kind_method"] == {"token": {"POST": 1}, "graph": {"GET": 1}}  # the token fixture, then the GET
    assert [entry["kind"] for entry in emulator.control.log()] == ["token", "graph"]
    emulator.control.clear_log()
    assert emulator.control.log() == []

    emulator.control.config(page_size=5)
    emulator.control.add_fault(kind="status", path="", status=500)
    emulator.control.reset()
    assert new_tenant not in emulator.control.state()
    assert emulator.control.faults() == []
    assert emulator.control.get_config() == {
        "page_size": 100,
        "patch_status": 204,
        "token_lifetime": 3600,
        "batch": True,
        "batch_shuffle_seed": None,
    }
    assert emulator.control.stats()["requests"] == 0


def test_seed_file_adds_tenants_and_reset_restores_it(emulator_factory, tmp_path):
    extra = str(uuid.uuid4())
    seed = {
        extra: [
            {"id": "fixed", "displayName": "first", "lastHeartbeatDateTime": "2026-05-01T10:00:00+02:00"},
            {"displayName": "second", "partnerState": "enabled", "groupsRequiringPartnerEnrollment": []},
        ]
    }
    seed_path = tmp_path / "seed.json"
    seed_path.write_text(json.dumps(seed), encoding="utf-8")
    emu = emulator_factory("--seed", str(seed_path), "--tenants", "1", "--page-size", "1")
    assert [t["tenant_id"] for t in emu.info["tenants"]] == [emu.info["tenant_id"], extra]
    token = emu.access_token(1)
    first = graph(emu, "GET", PARTNERS, token).json()
    assert first["value"][0]["lastHeartbeatDateTime"] == "2026-05-01T08:00:00.0000000Z"
    assert "@odata.nextLink" in first  # --page-size 1
    graph(emu, "DELETE", PARTNERS + "/fixed", token)
    emu.control.reset()
    assert [p["id"] for p in emu.control.state()[extra]][:1] == ["fixed"]
    assert emu.control.state()[emu.info["tenant_id"]] == []


def test_control_rejects_invalid_input(emulator):
    response = emulator.session.post(
        emulator.info["control_url"] + "/faults", json={"kind": "explode"}, verify=emulator.ca_path
    )
    assert response.status_code == 400
    response = emulator.session.post(
        emulator.info["control_url"] + "/config", json={"page_size": 0}, verify=emulator.ca_path
    )
    assert response.status_code == 400
    assert emulator.session.get(emulator.info["control_url"] + "/nope", verify=emulator.ca_path).status_code == 404


# --------------------------------------------------------------------------------------------------------------------
# process behaviour
# --------------------------------------------------------------------------------------------------------------------


def test_info_file_appears_atomically_and_sigterm_exits_zero(tmp_path):
    info_path = tmp_path / "info.json"
    log_path = tmp_path / "emulator.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, EMULATOR_SCRIPT, "--port", "0", "--info-file", str(info_path), "--tenants", "2"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        text = None
        while text is None:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "emulator not ready"
            try:
                text = info_path.read_text(encoding="utf-8")
            except FileNotFoundError:
                time.sleep(0.001)  # poll as fast as is reasonable to catch a half-written file
        info = json.loads(text)  # a partially written file would not parse
        expected_keys = {
            "graph_endpoint",
            "authority_host",
            "tenant_id",
            "client_id",
            "client_secret",
            "tenants",
            "ca_path",
            "client_certificate_pem_path",
            "client_certificate_pfx_path",
            "client_certificate_password",
            "managed_identity_endpoint",
            "managed_identity_header",
            "control_url",
            "imds_host",
            "managed_identity_client_id",
            "pid",
        }
        assert expected_keys <= set(info)
        assert info["pid"] == process.pid
        assert len(info["tenants"]) == 2
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", info["graph_endpoint"])
        assert sorted(p.name for p in tmp_path.iterdir()) == ["emulator.log", "info.json"]  # no temp file left
        # Ready as soon as the file exists.
        session = CASession(info["ca_path"])
        discovery = f"{info['authority_host']}/{info['tenant_id']}/v2.0/.well-known/openid-configuration"
        assert session.get(discovery, verify=info["ca_path"]).status_code == 200
        session.close()
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=10)
    assert status == 0, log_path.read_text()
    assert not os.path.exists(info["ca_path"])  # the temporary state dir is removed on exit


def test_sigint_exits_zero_and_state_dir_is_kept(tmp_path):
    state_dir = tmp_path / "state"
    emu = start_emulator("--state-dir", str(state_dir), "--tenants", "1")
    assert emu.info["ca_path"].startswith(str(state_dir))
    emu.process.send_signal(signal.SIGINT)
    assert emu.process.wait(timeout=10) == 0
    assert emu.stop() == 0
    assert (state_dir / "client.pfx").exists()  # an explicit --state-dir is left in place
