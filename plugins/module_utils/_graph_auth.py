# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small class per authentication method. Each hands out a bearer token for Graph.

msal is imported only by the classes that need it, so a task with access_token never loads it.

Tokens are kept in a token cache: one of this task alone in memory, or, when `token_store` is given (the in-process
path, see plugin_utils/_token_cache.py), one that the tasks of a run share, found by the identity that signs in:
authority, tenant, client and credential. Within a task a token is reused until it nears its expiry (never in its
last 5 minutes when it lives longer than 10, the margin msal applies to cached tokens); one that Graph rejects is
dropped from the cache before a new one is asked for. A cached token that was not issued to the tenant and client
signing in (by what the cache says of it, and by its own tid/appid/azp claims when it is a JWT) is dropped unused.
The sign-in's failure is raised inside the cache's session, which keeps it for the tasks waiting on the same
identity.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphOptionError,
    Notices,
)
from ansible_collections.msgraph.intune.plugins.module_utils._graph_signin import (
    GUID,
    MANAGED_IDENTITY_REQUEST,
    TOKEN_REQUEST,
    MsalHttpClient,
)

EXPIRY_MARGIN = 300  # seconds; msal does not hand out a cached token with less time left
# What msal's ManagedIdentityClient reads from the environment to find and prove the identity.
MANAGED_IDENTITY_ENV_PREFIXES = ("IDENTITY_", "MSI_", "IMDS_", "AZURE_POD_IDENTITY_")


def _import_msal():
    try:
        import msal
    except ImportError:
        raise GraphOptionError(
            "this auth_method needs the Python library msal on the host that runs the module (pip install msal); "
            "only auth_method=access_token works without it"
        ) from None
    return msal


def _msal_error(msal):
    """msal's own exception base class (msal raises it for a discovery answer it cannot use)."""
    return getattr(getattr(msal, "exceptions", None), "MsalError", ValueError)


class MemoryTokenCache:
    """msal's token cache for this task alone: the module path, and token_cache=false."""

    def __init__(self, msal):
        self.msal_cache = msal.TokenCache()

    @contextlib.contextmanager
    def session(self):
        yield self.msal_cache


def drop_access_token(msal_cache, rejected):
    """Remove the access token that Graph rejected, and only that one (another task may have renewed it already)."""
    for entry in list(msal_cache.search(msal_cache.CredentialType.ACCESS_TOKEN)):
        if entry.get("secret") == rejected:
            msal_cache.remove_at(entry)


def jwt_claims(token):
    """The claims of a JWT, read without verifying it (only to compare them with what the cache says), or {}."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, RecursionError):  # binascii.Error and UnicodeDecodeError are ValueErrors
        return {}
    return claims if isinstance(claims, dict) else {}


def foreign_token_reason(entry, tenant_id, client_id):
    """Why a cached access token was not issued to this tenant and client, or None when nothing says so."""
    client = client_id.lower()
    if str(entry.get("client_id") or "").lower() != client:
        return "it is kept for another client"
    realm = str(entry.get("realm") or "").lower()
    if GUID.fullmatch(tenant_id) and realm != tenant_id.lower():
        return "it is kept for another tenant"
    claims = jwt_claims(entry.get("secret"))
    tid = claims.get("tid")
    if isinstance(tid, str) and tid.lower() != realm:
        return "its tid claim names another tenant"
    for claim in ("appid", "azp"):  # v1 and v2 access tokens name the client in one of them
        value = claims.get(claim)
        if isinstance(value, str) and value.lower() != client:
            return f"its {claim} claim names another client"
    return None


def drop_foreign_tokens(msal_cache, tenant_id, client_id, warn):
    """Remove the access tokens that were not issued to this tenant and client (a tampered cache), with a warning."""
    for entry in list(msal_cache.search(msal_cache.CredentialType.ACCESS_TOKEN)):
        reason = foreign_token_reason(entry, tenant_id, client_id)
        if reason is not None:
            msal_cache.remove_at(entry)
            warn(
                f"msgraph.intune token cache: a cached access token was dropped unused: {reason} (this sign-in is "
                f"for tenant {tenant_id}, client {client_id})"
            )


class TokenProvider:
    """Base class: token() returns a token, refresh() replaces the one that Graph rejected."""

    can_refresh = True
    kind = TOKEN_REQUEST

    def __init__(self, settings, transport, token_store=None):
        self.settings = settings
        self.transport = transport
        self.token_store = token_store
        self.notices = transport.notices if transport.notices is not None else Notices()
        self._token = None
        self._reuse_until = 0.0
        self._signed_in_unused = False
        self._cache = None

    def token(self):
        self.sign_in()
        self._signed_in_unused = False
        return self._token

    def sign_in(self):
        """Get a token now unless a usable one is held, so that a failed sign-in shows before any request is sent.
        The next token() hands this one out as it comes, even one that expires at once: signing in first never costs a
        second token request."""
        if self._token is None or (time.time() >= self._reuse_until and not self._signed_in_unused):
            self._take(self._acquire(rejected=None))
            self._signed_in_unused = True

    def refresh(self):
        self._take(self._acquire(rejected=self._token))
        return self._token

    def _take(self, result):
        """Keep msal's token; in memory until EXPIRY_MARGIN (or half its lifetime, if shorter) before it expires."""
        self._token = result["access_token"]
        try:
            expires_in = float(result.get("expires_in"))
        except (TypeError, ValueError):
            self._reuse_until = float("inf")  # nothing says when it expires: keep it until Graph rejects it
            return
        self._reuse_until = time.time() + expires_in - min(EXPIRY_MARGIN, expires_in / 2)

    def _acquire(self, rejected):
        """msal's result dict holding access_token (and expires_in); `rejected` is the token Graph refused."""
        raise NotImplementedError

    def _token_cache(self, msal, identity):
        """The cache to use, chosen on the first acquisition; `identity()` gives what identifies the credential."""
        if self._cache is None:
            shared = None
            if self.token_store is not None:
                shared = self.token_store.for_identity(identity(), self.notices.warn)
            self._cache = shared or MemoryTokenCache(msal)
        return self._cache

    def _check(self, result):
        """msal's result with a token, or the GraphAuthError that tells the failed sign-in."""
        if result and result.get("access_token"):
            return result
        raise self._http.failure_from_result(self.kind, result or {})

    def describe(self):
        return f"tenant {self.settings.tenant_id}, client {self.settings.client_id}"


class AccessTokenAuth(TokenProvider):
    """A bearer token obtained elsewhere; it cannot be renewed here."""

    can_refresh = False

    def _acquire(self, rejected):
        if rejected:
            raise GraphAuthError("Graph rejected the access_token and it cannot be refreshed: supply a new one")
        return {"access_token": self.settings.access_token}


class _ConfidentialClientAuth(TokenProvider):
    """The client credentials grant through msal's ConfidentialClientApplication."""

    def __init__(self, settings, transport, token_store=None):
        super().__init__(settings, transport, token_store)
        self._app = None
        self._credential_value = None
        discovery_cache = None
        if token_store is not None:
            discovery_cache = token_store.discovery_cache(settings.verify, self.notices.warn)
        self._http = MsalHttpClient(
            transport,
            who=f"{self.describe()} at {settings.authority_host}",
            discovery_cache=discovery_cache,
            authority=(settings.authority_host, settings.tenant_id),
        )

    def _credential(self):
        raise NotImplementedError

    def _identity(self, credential):
        """What makes this identity: the cache key is derived from it (it holds the credential; never shown)."""
        raise NotImplementedError

    def _identity_base(self):
        settings = self.settings
        return [settings.auth_method, settings.authority_host, settings.tenant_id.lower(), settings.client_id.lower()]

    def _application(self, msal, msal_cache):
        if self._app is None:
            authority = f"{self.settings.authority_host}/{self.settings.tenant_id}"
            self._http.last = None
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id,
                    client_credential=self._credential_value,
                    authority=authority,
                    http_client=self._http,
                    instance_discovery=self.settings.instance_discovery,
                    http_cache={},
                    token_cache=msal_cache,
                )
            except (ValueError, RuntimeError, _msal_error(msal)) as exc:
                # OIDC discovery failed with an answer (an unknown tenant, ...): say so, with Entra's own words.
                failure = self._http.failure_from_exchange()
                if failure is not None:
                    raise failure from None
                # Otherwise msal refused the authority itself; its text holds no secret.
                raise GraphAuthError(f"cannot use authority {authority}: {str(exc).splitlines()[0]}") from None
        return self._app

    def _acquire(self, rejected):
        msal = _import_msal()
        if self._credential_value is None:
            self._credential_value = self._credential()
        cache = self._token_cache(msal, lambda: self._identity(self._credential_value))
        with cache.session() as msal_cache:
            app = self._application(msal, msal_cache)
            drop_foreign_tokens(msal_cache, self.settings.tenant_id, self.settings.client_id, self.notices.warn)
            if rejected:
                drop_access_token(msal_cache, rejected)
            self._http.last = None
            return self._check(app.acquire_token_for_client(scopes=[self.settings.scope]))


class ClientSecretAuth(_ConfidentialClientAuth):
    def _credential(self):
        return self.settings.client_secret

    def _identity(self, credential):
        return self._identity_base() + [credential]


class ClientCertificateAuth(_ConfidentialClientAuth):
    """A PEM file holding the private key and the certificate, or a PFX/PKCS#12 file.

    The key is loaded here, before any request, so a wrong password fails early and clearly.
    """

    def _credential(self):
        path = self.settings.client_certificate_path
        password = self.settings.client_certificate_password
        with open(path, "rb") as handle:
            data = handle.read()
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        secret = password.encode("utf-8") if password else None
        try:
            if b"-----BEGIN" in data:
                key = serialization.load_pem_private_key(data, password=secret)
                certificate = x509.load_pem_x509_certificate(data)
            else:
                key, certificate, _chain = pkcs12.load_key_and_certificates(data, secret)
        except (ValueError, TypeError):
            # cryptography's messages are about the file and the password, never contain it; keep ours generic.
            raise GraphOptionError(
                f"client_certificate_path {path!r} could not be read: wrong or missing client_certificate_password, or not a "
                "PEM file with a private key and a certificate, or a PFX file"
            ) from None
        if key is None or certificate is None:
            raise GraphOptionError(f"client_certificate_path {path!r} must hold both a private key and a certificate")
        return {
            "private_key": key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode("ascii"),
            "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        }

    def _identity(self, credential):
        return self._identity_base() + [credential["private_key"], credential["public_certificate"]]


class WorkloadIdentityAuth(_ConfidentialClientAuth):
    """A federated token (AKS workload identity) sent as the client assertion.

    The file is read again for every token request, since the kubelet rotates it.
    """

    def _credential(self):
        path = self.settings.federated_token_file

        def read_assertion():
            with open(path) as handle:
                return handle.read().strip()

        return {"client_assertion": read_assertion}

    def _identity(self, credential):
        """The federated token as it is now: a rotated token starts a new cache entry, a foreign one never matches."""
        path = self.settings.federated_token_file
        try:
            assertion = credential["client_assertion"]()
        except OSError as exc:
            raise GraphOptionError(f"{path!r} (AZURE_FEDERATED_TOKEN_FILE) cannot be read: {exc.strerror}") from None
        return self._identity_base() + [path, assertion]

    def describe(self):
        return f"tenant {self.settings.tenant_id}, client {self.settings.client_id} (workload identity)"


class ManagedIdentityAuth(TokenProvider):
    """Azure managed identity through msal's ManagedIdentityClient (App Service, IMDS and the others it knows)."""

    kind = MANAGED_IDENTITY_REQUEST

    def __init__(self, settings, transport, token_store=None):
        super().__init__(settings, transport, token_store)
        self._client = None
        self._http = MsalHttpClient(transport, who=self.describe(), kind=MANAGED_IDENTITY_REQUEST)

    def _identity(self):
        """The identity asked for and everything msal reads to reach and prove it (endpoint, header, ...)."""
        environment = sorted(
            [name, value] for name, value in os.environ.items() if name.startswith(MANAGED_IDENTITY_ENV_PREFIXES)
        )
        return ["managed_identity", self.settings.managed_identity_client_id or "", environment]

    def _acquire(self, rejected):
        msal = _import_msal()
        cache = self._token_cache(msal, self._identity)
        with cache.session() as msal_cache:
            if self._client is None:
                if self.settings.managed_identity_client_id:
                    identity = msal.UserAssignedManagedIdentity(client_id=self.settings.managed_identity_client_id)
                else:
                    identity = msal.SystemAssignedManagedIdentity()
                self._client = msal.ManagedIdentityClient(
                    identity, http_client=self._http, http_cache={}, token_cache=msal_cache
                )
            if rejected:
                drop_access_token(msal_cache, rejected)
            self._http.last = None
            return self._check(self._client.acquire_token_for_client(resource=self.settings.resource))

    def describe(self):
        who = self.settings.managed_identity_client_id or "system-assigned"
        endpoint = os.environ.get("IDENTITY_ENDPOINT") or os.environ.get("AZURE_POD_IDENTITY_AUTHORITY_HOST") or "IMDS"
        return f"managed identity {who} via {endpoint}"


AUTH_CLASSES = {
    "access_token": AccessTokenAuth,
    "client_secret": ClientSecretAuth,
    "client_certificate": ClientCertificateAuth,
    "workload_identity": WorkloadIdentityAuth,
    "managed_identity": ManagedIdentityAuth,
}


def build_token_provider(settings, transport, token_store=None):
    """The provider for the settings' auth method; `token_store` shares tokens between tasks (the in-process path)."""
    return AUTH_CLASSES[settings.auth_method](settings, transport, token_store)
