# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Token providers: lazy msal import, msal's arguments and results, certificate loading, federated tokens, tokens
of the shared cache checked against the tenant and client signing in, failures raised inside the cache's session."""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import subprocess
import sys

import msal
import pytest
from ansible_collections.msgraph.intune.plugins.module_utils import _graph_auth, _graph_client
from ansible_collections.msgraph.intune.plugins.module_utils._graph_auth import (
    AccessTokenAuth,
    ClientCertificateAuth,
    ClientSecretAuth,
    ManagedIdentityAuth,
    WorkloadIdentityAuth,
    build_token_provider,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphOptionError,
    Notices,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import resolve_settings
from ansible_collections.msgraph.intune.plugins.module_utils._graph_signin import MsalHttpClient
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import Transport
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT = "22222222-2222-4222-8222-222222222222"
# The directory holding ansible_collections/, wherever the collection was imported from.
COLLECTIONS_ROOT = _graph_client.__file__.split(os.sep + "ansible_collections" + os.sep, 1)[0]


def run_python(code):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS_ROOT)
    return subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=60
    )


class TestLazyMsal:
    def test_access_token_never_imports_msal(self):
        code = (
            "import sys\n"
            "from ansible_collections.msgraph.intune.plugins.module_utils._graph_client import build_graph_client\n"
            "client = build_graph_client({'auth_method': 'access_token', 'access_token': 'tok'}, environ={})\n"
            "assert client.auth.token() == 'tok'\n"
            "assert 'msal' not in sys.modules, 'msal was imported'\n"
        )
        result = run_python(code)
        assert result.returncode == 0, result.stderr

    def test_the_check_sees_msal_when_it_is_imported(self):
        """The same check in a subprocess does notice msal: the test above can fail."""
        code = (
            "import sys\n"
            "from ansible_collections.msgraph.intune.plugins.module_utils._graph_auth import _import_msal\n"
            "_import_msal()\n"
            "assert 'msal' not in sys.modules, 'msal was imported'\n"
        )
        result = run_python(code)
        assert result.returncode == 1
        assert "msal was imported" in result.stderr

    def test_missing_msal_is_an_option_error(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "msal", None)  # makes `import msal` raise ImportError
        with pytest.raises(GraphOptionError, match=r"needs the Python library msal .*only auth_method=access_token"):
            _graph_auth._import_msal()


@pytest.fixture
def transport(fake_session):
    return Transport(session=fake_session())


def secret_settings(**extra):
    params = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": "s3cret"}
    params.update(extra)
    return resolve_settings(params, environ={})


class TestAccessToken:
    def test_token_and_no_refresh(self, transport):
        provider = AccessTokenAuth(resolve_settings({"access_token": "tok-abc"}, environ={}), transport)
        assert provider.can_refresh is False
        assert provider.token() == "tok-abc"
        with pytest.raises(GraphAuthError, match="cannot be refreshed"):
            provider.refresh()

    @pytest.mark.parametrize(
        "auth_method, provider_class",
        [
            ("access_token", AccessTokenAuth),
            ("client_secret", ClientSecretAuth),
            ("managed_identity", ManagedIdentityAuth),
        ],
    )
    def test_build_token_provider(self, transport, auth_method, provider_class):
        settings = resolve_settings(
            {
                "auth_method": auth_method,
                "access_token": "t",
                "tenant_id": TENANT,
                "client_id": CLIENT,
                "client_secret": "s",
            },
            environ={},
        )
        provider = build_token_provider(settings, transport)
        assert isinstance(provider, provider_class)
        assert provider.transport is transport


class FakeMsal:
    """Just enough of the msal module to see what the providers give it and to script its answers."""

    def __init__(self, results):
        self.results = list(results)
        self.apps = []
        self.events = []
        outer = self

        class ConfidentialClientApplication:
            def __init__(self, client_id, **kwargs):
                if "bad" in kwargs["authority"]:
                    raise ValueError("Unable to get authority configuration for bad\nsecond line")
                self.client_id = client_id
                self.kwargs = kwargs
                outer.apps.append(self)

            def acquire_token_for_client(self, scopes):
                outer.events.append(("acquire", tuple(scopes)))
                return outer.results.pop(0)

        class SystemAssignedManagedIdentity:
            kind = "system"

        class UserAssignedManagedIdentity:
            kind = "user"

            def __init__(self, client_id):
                self.client_id = client_id

        class ManagedIdentityClient:
            def __init__(self, identity, http_client, http_cache, token_cache):
                self.identity = identity
                self.http_client = http_client
                self.token_cache = token_cache
                outer.apps.append(self)

            def acquire_token_for_client(self, resource):
                outer.events.append(("acquire_mi", resource))
                return outer.results.pop(0)

        self.ConfidentialClientApplication = ConfidentialClientApplication
        self.SystemAssignedManagedIdentity = SystemAssignedManagedIdentity
        self.UserAssignedManagedIdentity = UserAssignedManagedIdentity
        self.ManagedIdentityClient = ManagedIdentityClient
        self.TokenCache = msal.TokenCache  # the real one: providers drop rejected tokens from it


def use_fake_msal(monkeypatch, *results):
    fake = FakeMsal(results)
    monkeypatch.setattr(_graph_auth, "_import_msal", lambda: fake)
    return fake


ENTRA_ERROR = {
    "error": "invalid_client",
    "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t-1\r\nCorrelation ID: c-1",
    "correlation_id": "c-1",
}


class TestClientSecret:
    def test_msal_arguments(self, monkeypatch, transport):
        fake = use_fake_msal(monkeypatch, {"access_token": "tok-1"})
        settings = secret_settings(cloud="usgov")
        provider = ClientSecretAuth(settings, transport)
        assert provider.token() == "tok-1"
        app = fake.apps[0]
        assert app.client_id == CLIENT
        assert app.kwargs["client_credential"] == "s3cret"
        assert app.kwargs["authority"] == f"https://login.microsoftonline.us/{TENANT}"
        assert app.kwargs["instance_discovery"] is True
        assert isinstance(app.kwargs["http_client"], MsalHttpClient)
        assert app.kwargs["http_client"].transport is transport
        assert fake.events == [("acquire", ("https://graph.microsoft.us/.default",))]

    def test_non_microsoft_authority_switches_instance_discovery_off(self, monkeypatch, transport):
        fake = use_fake_msal(monkeypatch, {"access_token": "tok-1"})
        ClientSecretAuth(secret_settings(authority_host="https://127.0.0.1:8443"), transport).token()
        assert fake.apps[0].kwargs["instance_discovery"] is False
        assert fake.apps[0].kwargs["authority"] == f"https://127.0.0.1:8443/{TENANT}"

    def test_token_cached_and_refresh_forces_a_new_one(self, monkeypatch, transport):
        fake = use_fake_msal(monkeypatch, {"access_token": "tok-1"}, {"access_token": "tok-2"})
        provider = ClientSecretAuth(secret_settings(), transport)
        assert provider.token() == "tok-1"
        assert provider.token() == "tok-1"
        assert provider.refresh() == "tok-2"
        assert provider.token() == "tok-2"
        scope = ("https://graph.microsoft.com/.default",)
        assert fake.events == [("acquire", scope), ("acquire", scope)]
        assert len(fake.apps) == 1
        assert isinstance(fake.apps[0].kwargs["token_cache"], msal.TokenCache)

    def test_entra_error_first_line_only(self, monkeypatch, transport):
        use_fake_msal(monkeypatch, dict(ENTRA_ERROR))
        with pytest.raises(GraphAuthError) as info:
            ClientSecretAuth(secret_settings(), transport).token()
        error = info.value
        assert str(error) == (
            f"token request failed for tenant {TENANT}, client {CLIENT} at https://login.microsoftonline.com: "
            "invalid_client: AADSTS7000215: Invalid client secret provided. (correlation_id: c-1)"
        )
        assert (error.code, error.graph_message, error.request_id, error.client_request_id) == (
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
            None,
            "c-1",
        )
        assert "s3cret" not in str(error)

    @pytest.mark.parametrize("result", [None, {}, {"error": "x"}])
    def test_empty_results(self, monkeypatch, transport, result):
        use_fake_msal(monkeypatch, result)
        with pytest.raises(GraphAuthError, match=r"^token request failed for tenant .*: (no token in the answer|x)$"):
            ClientSecretAuth(secret_settings(), transport).token()

    def test_invalid_authority(self, monkeypatch, transport):
        use_fake_msal(monkeypatch)
        provider = ClientSecretAuth(secret_settings(authority_host="https://bad.example.test"), transport)
        with pytest.raises(GraphAuthError) as info:
            provider.token()
        assert str(info.value) == (
            f"cannot use authority https://bad.example.test/{TENANT}: Unable to get authority configuration for bad"
        )


class TestManagedIdentity:
    def test_system_assigned(self, monkeypatch, transport):
        fake = use_fake_msal(monkeypatch, {"access_token": "mi-1"}, {"access_token": "mi-2"})
        provider = ManagedIdentityAuth(
            resolve_settings({"auth_method": "managed_identity", "cloud": "china"}, {}), transport
        )
        assert provider.token() == "mi-1"
        assert provider.refresh() == "mi-2"
        assert fake.events == [("acquire_mi", "https://microsoftgraph.chinacloudapi.cn")] * 2
        # One client: the refresh drops the rejected token from its cache, so the cache cannot answer with it.
        assert len(fake.apps) == 1
        assert fake.apps[0].identity.kind == "system"
        assert fake.apps[0].http_client.transport is transport

    def test_user_assigned(self, monkeypatch, transport):
        fake = use_fake_msal(monkeypatch, {"access_token": "mi-1"})
        settings = resolve_settings({"auth_method": "managed_identity", "managed_identity_client_id": CLIENT}, {})
        ManagedIdentityAuth(settings, transport).token()
        assert (fake.apps[0].identity.kind, fake.apps[0].identity.client_id) == ("user", CLIENT)

    def test_error_names_the_identity(self, monkeypatch, transport):
        monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
        monkeypatch.delenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", raising=False)
        use_fake_msal(monkeypatch, {"error": "invalid_request", "error_description": "Identity not found"})
        settings = resolve_settings({"auth_method": "managed_identity", "managed_identity_client_id": CLIENT}, {})
        with pytest.raises(GraphAuthError) as info:
            ManagedIdentityAuth(settings, transport).token()
        assert str(info.value) == (
            f"managed identity token request failed for managed identity {CLIENT} via IMDS: "
            "invalid_request: Identity not found"
        )


class TestWorkloadIdentity:
    def test_assertion_read_again_for_every_token_request(self, tmp_path, transport):
        token_file = tmp_path / "azure-identity-token"
        token_file.write_text("first-jwt\n")
        settings = resolve_settings(
            {"auth_method": "workload_identity", "tenant_id": TENANT, "client_id": CLIENT},
            environ={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
        )
        credential = WorkloadIdentityAuth(settings, transport)._credential()
        assert credential["client_assertion"]() == "first-jwt"
        token_file.write_text("rotated-jwt\n")  # the kubelet rotates the file
        assert credential["client_assertion"]() == "rotated-jwt"

    def test_describe(self, tmp_path, transport):
        token_file = tmp_path / "token"
        token_file.write_text("jwt")
        settings = resolve_settings(
            {"auth_method": "workload_identity", "tenant_id": TENANT, "client_id": CLIENT},
            environ={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
        )
        assert WorkloadIdentityAuth(settings, transport).describe() == (
            f"tenant {TENANT}, client {CLIENT} (workload identity)"
        )


@pytest.fixture(scope="module")
def key_and_certificate():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msgraph-intune-unit")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def certificate_settings(path, password=None):
    params = {"tenant_id": TENANT, "client_id": CLIENT, "client_certificate_path": str(path)}
    if password:
        params["client_certificate_password"] = password
    return resolve_settings(params, environ={})


class TestClientCertificate:
    def expected_credential(self, key, certificate):
        return {
            "private_key": key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode("ascii"),
            "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        }

    def test_pem_with_key_and_certificate(self, tmp_path, transport, key_and_certificate):
        key, certificate = key_and_certificate
        pem = tmp_path / "client.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
            + certificate.public_bytes(serialization.Encoding.PEM)
        )
        provider = ClientCertificateAuth(certificate_settings(pem), transport)
        assert provider._credential() == self.expected_credential(key, certificate)

    def test_encrypted_pem(self, tmp_path, transport, key_and_certificate):
        key, certificate = key_and_certificate
        pem = tmp_path / "client.pem"
        encryption = serialization.BestAvailableEncryption(b"pem-pass")
        pem.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
            + certificate.public_bytes(serialization.Encoding.PEM)
        )
        provider = ClientCertificateAuth(certificate_settings(pem, "pem-pass"), transport)
        assert provider._credential() == self.expected_credential(key, certificate)

    def test_pfx(self, tmp_path, transport, key_and_certificate):
        key, certificate = key_and_certificate
        pfx = tmp_path / "client.pfx"
        encryption = serialization.BestAvailableEncryption(b"pfx-pass")
        pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"client", key, certificate, None, encryption))
        provider = ClientCertificateAuth(certificate_settings(pfx, "pfx-pass"), transport)
        assert provider._credential() == self.expected_credential(key, certificate)

    def test_wrong_password_fails_without_showing_it(self, tmp_path, transport, key_and_certificate):
        key, certificate = key_and_certificate
        pfx = tmp_path / "client.pfx"
        encryption = serialization.BestAvailableEncryption(b"pfx-pass")
        pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"client", key, certificate, None, encryption))
        provider = ClientCertificateAuth(certificate_settings(pfx, "wrong-password-123"), transport)
        with pytest.raises(GraphOptionError) as info:
            provider._credential()
        assert str(info.value).startswith(f"client_certificate_path {str(pfx)!r} could not be read")
        assert "wrong-password-123" not in str(info.value)

    def test_pfx_without_certificate(self, tmp_path, transport, key_and_certificate):
        key, _certificate = key_and_certificate
        pfx = tmp_path / "key-only.pfx"
        pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"k", key, None, None, serialization.NoEncryption()))
        provider = ClientCertificateAuth(certificate_settings(pfx), transport)
        with pytest.raises(GraphOptionError, match="must hold both a private key and a certificate"):
            provider._credential()


# --------------------------------------------------------------------------------------------------------------------
# Token reuse: expiry margin, dropping a rejected token, the shared store's identity keys
# --------------------------------------------------------------------------------------------------------------------


class FakeStore:
    """A token_store stand-in: records the identities asked for and where warnings go; its caches are msal's own, in
    memory, and record what leaves their session."""

    def __init__(self):
        self.identities = []
        self.sessions = 0
        self.trust = []
        self.caches = {}
        self.warn_to = []
        self.raised = []

    def for_identity(self, identity, warn):
        self.identities.append(identity)
        self.warn_to.append(warn)
        return self.caches.setdefault(repr(identity), FakeIdentityCache(self))

    def discovery_cache(self, verify, warn):
        self.trust.append(verify)
        self.warn_to.append(warn)
        return None if verify is False else f"discovery cache for {verify}"


class FakeIdentityCache:
    def __init__(self, store):
        self.store = store
        self.msal_cache = msal.TokenCache()

    @contextlib.contextmanager
    def session(self):
        self.store.sessions += 1
        try:
            yield self.msal_cache
        except Exception as exc:
            self.store.raised.append(exc)
            raise


def add_access_token(cache, token, scope):
    cache.add(
        {
            "client_id": CLIENT,
            "scope": [scope],
            "token_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
            "response": {"access_token": token, "expires_in": 3600, "token_type": "Bearer"},
            "grant_type": "client_credentials",
        }
    )


class TestReuse:
    def test_in_memory_until_the_margin_before_expiry(self, monkeypatch, transport):
        clock = {"now": 1000.0}
        monkeypatch.setattr(_graph_auth.time, "time", lambda: clock["now"])
        fake = use_fake_msal(
            monkeypatch,
            {"access_token": "tok-1", "expires_in": 3600},
            {"access_token": "tok-2", "expires_in": 200},
            {"access_token": "tok-3", "expires_in": 0},
            {"access_token": "tok-4", "expires_in": 3599},
        )
        provider = ClientSecretAuth(secret_settings(), transport)
        assert provider.token() == "tok-1"
        clock["now"] = 1000.0 + 3600 - 300 - 1
        assert provider.token() == "tok-1"  # still more than 5 minutes left
        clock["now"] += 1
        assert provider.token() == "tok-2"  # 5 minutes left: msal is asked again
        clock["now"] += 99
        assert provider.token() == "tok-2"  # a short-lived token: kept for half its lifetime
        clock["now"] += 1
        assert provider.token() == "tok-3"  # one that expires at once is handed out once ...
        assert provider.token() == "tok-4"  # ... and never again
        assert len(fake.events) == 4

    def test_drop_access_token_removes_only_the_rejected_one(self):
        cache = msal.TokenCache()
        add_access_token(cache, "rejected", "https://graph.microsoft.com/.default")
        add_access_token(cache, "other", "https://graph.microsoft.us/.default")
        _graph_auth.drop_access_token(cache, "rejected")
        assert [entry["secret"] for entry in cache.search(cache.CredentialType.ACCESS_TOKEN)] == ["other"]
        _graph_auth.drop_access_token(cache, "not there")
        assert [entry["secret"] for entry in cache.search(cache.CredentialType.ACCESS_TOKEN)] == ["other"]

    def test_refresh_drops_the_rejected_token_from_the_shared_cache(self, monkeypatch, transport):
        use_fake_msal(monkeypatch, {"access_token": "tok-1"}, {"access_token": "tok-2"})
        store = FakeStore()
        provider = ClientSecretAuth(secret_settings(), transport, store)
        assert provider.token() == "tok-1"
        cache = next(iter(store.caches.values())).msal_cache
        add_access_token(cache, "tok-1", "https://graph.microsoft.com/.default")  # as msal would have stored it
        assert provider.refresh() == "tok-2"
        assert list(cache.search(cache.CredentialType.ACCESS_TOKEN)) == []
        assert store.sessions == 2  # every acquisition loads and saves under the identity's lock

    def test_without_a_store_the_cache_is_the_tasks_own(self, monkeypatch, transport):
        fake = use_fake_msal(monkeypatch, {"access_token": "tok-1"})
        ClientSecretAuth(secret_settings(), transport).token()
        cache = fake.apps[0].kwargs["token_cache"]
        assert isinstance(cache, msal.TokenCache) and not isinstance(cache, msal.SerializableTokenCache)


class TestIdentityKeys:
    def identity(self, monkeypatch, transport, settings, provider_class=ClientSecretAuth):
        use_fake_msal(monkeypatch, {"access_token": "tok"})
        store = FakeStore()
        provider_class(settings, transport, store).token()
        (identity,) = store.identities
        return identity

    def test_client_secret(self, monkeypatch, transport):
        identity = self.identity(monkeypatch, transport, secret_settings())
        assert identity == ["client_secret", "https://login.microsoftonline.com", TENANT, CLIENT, "s3cret"]
        other_secret = self.identity(monkeypatch, transport, secret_settings(client_secret="s3cret-2"))
        other_authority = self.identity(monkeypatch, transport, secret_settings(cloud="usgov"))
        same = self.identity(monkeypatch, transport, secret_settings(tenant_id=TENANT.upper()))
        assert len({repr(identity), repr(other_secret), repr(other_authority)}) == 3
        assert same == identity  # tenant and client ids ignore case, as Entra does

    def test_discovery_cache_only_for_verified_connections(self, monkeypatch, transport):
        store = FakeStore()
        verified = ClientSecretAuth(secret_settings(), transport, store)
        unverified = ClientSecretAuth(secret_settings(validate_certs=False), transport, store)
        assert verified._http.discovery_cache == "discovery cache for True"
        assert unverified._http.discovery_cache is None
        assert store.trust == [True, False]
        # Discovery documents are checked against the configured authority and tenant.
        assert verified._http.authority == ("https://login.microsoftonline.com", TENANT)

    def test_cache_warnings_go_to_the_tasks_notices(self, monkeypatch, fake_session):
        use_fake_msal(monkeypatch, {"access_token": "tok"})
        notices = Notices()
        store = FakeStore()
        ClientSecretAuth(secret_settings(), Transport(session=fake_session(), notices=notices), store).token()
        assert store.warn_to == [notices.warn, notices.warn]  # the discovery cache's and the identity's

    def test_managed_identity_includes_what_msal_reads_from_the_environment(self, monkeypatch, transport):
        settings = resolve_settings({"auth_method": "managed_identity"}, {})
        monkeypatch.setenv("IDENTITY_ENDPOINT", "https://127.0.0.1/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", "header-1")
        first = self.identity(monkeypatch, transport, settings, ManagedIdentityAuth)
        monkeypatch.setenv("IDENTITY_HEADER", "header-2")
        second = self.identity(monkeypatch, transport, settings, ManagedIdentityAuth)
        assert first[:2] == ["managed_identity", ""]
        assert ["IDENTITY_HEADER", "header-1"] in first[2] and ["IDENTITY_HEADER", "header-2"] in second[2]

    def test_workload_identity_includes_the_federated_token(self, monkeypatch, tmp_path, transport):
        token_file = tmp_path / "token"
        token_file.write_text("jwt-1\n")
        settings = resolve_settings(
            {"auth_method": "workload_identity", "tenant_id": TENANT, "client_id": CLIENT},
            environ={"AZURE_FEDERATED_TOKEN_FILE": str(token_file)},
        )
        identity = self.identity(monkeypatch, transport, settings, WorkloadIdentityAuth)
        assert identity[-2:] == [str(token_file), "jwt-1"]
        token_file.unlink()
        with pytest.raises(GraphOptionError, match=r"AZURE_FEDERATED_TOKEN_FILE\) cannot be read"):
            self.identity(monkeypatch, transport, settings, WorkloadIdentityAuth)


def test_certificate_identity_is_the_key_and_certificate(monkeypatch, tmp_path, transport, key_and_certificate):
    """The same key and certificate as PEM and as PFX are one identity; another key is another one."""
    key, certificate = key_and_certificate
    pem = tmp_path / "client.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    pfx = tmp_path / "client.pfx"
    encryption = serialization.BestAvailableEncryption(b"pfx-pass")
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"client", key, certificate, None, encryption))
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_certificate = (
        x509.CertificateBuilder()
        .subject_name(certificate.subject)
        .issuer_name(certificate.issuer)
        .public_key(other_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(certificate.not_valid_before_utc)
        .not_valid_after(certificate.not_valid_after_utc)
        .sign(other_key, hashes.SHA256())
    )
    other = tmp_path / "other.pfx"
    other.write_bytes(pkcs12.serialize_key_and_certificates(b"o", other_key, other_certificate, None, encryption))
    identities = []
    for path in (pem, pfx, other):
        use_fake_msal(monkeypatch, {"access_token": "tok"})
        store = FakeStore()
        password = "pfx-pass" if path.suffix == ".pfx" else None
        ClientCertificateAuth(certificate_settings(path, password), transport, store).token()
        identities.extend(store.identities)
    assert identities[0] == identities[1]
    assert identities[2] != identities[0]
    assert "pfx-pass" not in repr(identities)  # the password opens the key; the key itself identifies


# --------------------------------------------------------------------------------------------------------------------
# The shared cache: foreign tokens, failures seen by the session
# --------------------------------------------------------------------------------------------------------------------

OTHER_TENANT = "33333333-3333-4333-8333-333333333333"
OTHER_CLIENT = "44444444-4444-4444-8444-444444444444"


def jwt(**claims):
    """A JWT-shaped token with these claims (unsigned: the providers only read claims to compare them)."""

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def cached_token(token, tenant=TENANT, client=CLIENT):
    cache = msal.TokenCache()
    cache.add(
        {
            "client_id": client,
            "scope": ["https://graph.microsoft.com/.default"],
            "token_endpoint": f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
            "response": {"access_token": token, "expires_in": 3600, "token_type": "Bearer"},
            "grant_type": "client_credentials",
        }
    )
    (entry,) = cache.search(cache.CredentialType.ACCESS_TOKEN)
    return entry


class TestForeignTokens:
    @pytest.mark.parametrize(
        "token, tenant, client, reason",
        [
            ("opaque-token", TENANT, CLIENT, None),
            (jwt(tid=TENANT, appid=CLIENT), TENANT, CLIENT, None),
            (jwt(tid=TENANT.upper(), azp=CLIENT.upper()), TENANT, CLIENT, None),
            (jwt(aud="https://graph.microsoft.com"), TENANT, CLIENT, None),  # no claim says otherwise
            ("opaque-token", TENANT, OTHER_CLIENT, "it is kept for another client"),
            ("opaque-token", OTHER_TENANT, CLIENT, "it is kept for another tenant"),
            (jwt(tid=OTHER_TENANT, appid=CLIENT), TENANT, CLIENT, "its tid claim names another tenant"),
            (jwt(tid=TENANT, appid=OTHER_CLIENT), TENANT, CLIENT, "its appid claim names another client"),
            (jwt(tid=TENANT, azp=OTHER_CLIENT), TENANT, CLIENT, "its azp claim names another client"),
            ("a.%%%.c", TENANT, CLIENT, None),  # not a JWT after all: nothing to read
        ],
    )
    def test_reason(self, token, tenant, client, reason):
        assert _graph_auth.foreign_token_reason(cached_token(token, tenant, client), TENANT, CLIENT) == reason

    def test_a_tenant_named_by_domain_is_checked_by_the_claims(self):
        entry = cached_token(jwt(tid=OTHER_TENANT), OTHER_TENANT)  # realm: the id the domain resolved to
        assert _graph_auth.foreign_token_reason(entry, "contoso.example", CLIENT) is None
        entry = cached_token(jwt(tid=TENANT), OTHER_TENANT)
        assert (
            _graph_auth.foreign_token_reason(entry, "contoso.example", CLIENT) == "its tid claim names another tenant"
        )

    def test_a_planted_token_is_dropped_before_msal_looks(self, monkeypatch, fake_session):
        fake = use_fake_msal(monkeypatch, {"access_token": "tok-new"})
        store = FakeStore()
        notices = Notices()
        provider = ClientSecretAuth(secret_settings(), Transport(session=fake_session(), notices=notices), store)
        planted = jwt(tid=OTHER_TENANT, appid=CLIENT)
        add_access_token(provider_cache(store, provider), planted, "https://graph.microsoft.com/.default")
        assert provider.token() == "tok-new"
        cache = fake.apps[0].kwargs["token_cache"]
        assert [entry["secret"] for entry in cache.search(cache.CredentialType.ACCESS_TOKEN)] == []
        assert notices.take(0) == [
            (
                "msgraph.intune token cache: a cached access token was dropped unused: its tid claim names another "
                f"tenant (this sign-in is for tenant {TENANT}, client {CLIENT})"
            )
        ]
        assert planted not in repr(notices.take(0))


def provider_cache(store, provider):
    """The msal cache that the provider's identity will get from the store (made before its first sign-in)."""
    identity = provider._identity(provider._credential())
    return store.caches.setdefault(repr(identity), FakeIdentityCache(store)).msal_cache


class TestFailuresInTheSession:
    def test_a_failed_token_request_is_raised_inside_the_session(self, monkeypatch, transport):
        use_fake_msal(monkeypatch, dict(ENTRA_ERROR))
        store = FakeStore()
        with pytest.raises(GraphAuthError) as info:
            ClientSecretAuth(secret_settings(), transport, store).token()
        assert store.raised == [info.value]  # the shared cache sees it, and keeps it for the tasks waiting

    def test_a_managed_identity_failure_too(self, monkeypatch, transport):
        use_fake_msal(monkeypatch, {"error": "invalid_request", "error_description": "Identity not found"})
        store = FakeStore()
        with pytest.raises(GraphAuthError) as info:
            ManagedIdentityAuth(resolve_settings({"auth_method": "managed_identity"}, {}), transport, store).token()
        assert store.raised == [info.value]


def test_signing_in_first_never_costs_a_second_token_request(monkeypatch, transport):
    """A token that expires at once, got by sign_in() before the reads, is the one the next request uses."""
    settings = resolve_settings({"access_token": "t0"}, environ={})
    provider = AccessTokenAuth(settings, transport)
    issued = []

    def acquire(rejected):
        issued.append(rejected)
        return {"access_token": f"t{len(issued)}", "expires_in": 0}

    monkeypatch.setattr(provider, "_acquire", acquire)
    provider.sign_in()
    assert provider.token() == "t1" and len(issued) == 1
    assert provider.token() == "t2"  # used once: the next request signs in again, as it did before
    provider.sign_in()
    provider.sign_in()  # still unused: nothing new
    assert provider.token() == "t3" and len(issued) == 3
