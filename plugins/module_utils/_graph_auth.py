# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small class per authentication method. Each hands out a bearer token for Graph.

msal is imported only by the classes that need it, so a task with access_token never loads it.
"""

from __future__ import annotations

import os

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphAuthError, GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_signin import (
    MANAGED_IDENTITY_REQUEST,
    TOKEN_REQUEST,
    MsalHttpClient,
)


def _msal_error(msal):
    """msal's own exception base class (msal raises it for a discovery answer it cannot use)."""
    return getattr(getattr(msal, "exceptions", None), "MsalError", ValueError)


def _import_msal():
    try:
        import msal
    except ImportError:
        raise GraphOptionError(
            "this auth_method needs the Python library msal on the host that runs the module (pip install msal); "
            "only auth_method=access_token works without it"
        ) from None
    return msal


class TokenProvider:
    """Base class: token() returns a cached token, refresh() forces a new one."""

    can_refresh = True
    kind = TOKEN_REQUEST

    def __init__(self, settings, transport):
        self.settings = settings
        self.transport = transport
        self._token = None

    def token(self):
        if self._token is None:
            self._token = self._acquire(force=False)
        return self._token

    def refresh(self):
        self._token = self._acquire(force=True)
        return self._token

    def _acquire(self, force):
        raise NotImplementedError

    def _check(self, result):
        """msal's token, or the GraphAuthError that tells the failed sign-in."""
        if result and result.get("access_token"):
            return result["access_token"]
        raise self._http.failure_from_result(self.kind, result or {})

    def describe(self):
        return f"tenant {self.settings.tenant_id}, client {self.settings.client_id}"


class AccessTokenAuth(TokenProvider):
    """A bearer token obtained elsewhere; it cannot be renewed here."""

    can_refresh = False

    def _acquire(self, force):
        if force:
            raise GraphAuthError("Graph rejected the access_token and it cannot be refreshed: supply a new one")
        return self.settings.access_token


class _ConfidentialClientAuth(TokenProvider):
    """The client credentials grant through msal's ConfidentialClientApplication."""

    def __init__(self, settings, transport):
        super().__init__(settings, transport)
        self._app = None
        self._http = MsalHttpClient(transport, who=f"{self.describe()} at {settings.authority_host}")

    def _credential(self):
        raise NotImplementedError

    def _application(self):
        if self._app is None:
            msal = _import_msal()
            authority = f"{self.settings.authority_host}/{self.settings.tenant_id}"
            credential = self._credential()
            self._http.last = None
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id,
                    client_credential=credential,
                    authority=authority,
                    http_client=self._http,
                    instance_discovery=self.settings.instance_discovery,
                    http_cache={},
                )
            except (ValueError, RuntimeError, _msal_error(msal)) as exc:
                # OIDC discovery failed with an answer (an unknown tenant, ...): say so, with Entra's own words.
                failure = self._http.failure_from_exchange()
                if failure is not None:
                    raise failure from None
                # Otherwise msal refused the authority itself; its text holds no secret.
                raise GraphAuthError(f"cannot use authority {authority}: {str(exc).splitlines()[0]}") from None
        return self._app

    def _acquire(self, force):
        app = self._application()
        if force:
            app.remove_tokens_for_client()
        self._http.last = None
        return self._check(app.acquire_token_for_client(scopes=[self.settings.scope]))


class ClientSecretAuth(_ConfidentialClientAuth):
    def _credential(self):
        return self.settings.client_secret


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

    def describe(self):
        return f"tenant {self.settings.tenant_id}, client {self.settings.client_id} (workload identity)"


class ManagedIdentityAuth(TokenProvider):
    """Azure managed identity through msal's ManagedIdentityClient (App Service, IMDS and the others it knows)."""

    kind = MANAGED_IDENTITY_REQUEST

    def __init__(self, settings, transport):
        super().__init__(settings, transport)
        self._http = MsalHttpClient(transport, who=self.describe(), kind=MANAGED_IDENTITY_REQUEST)

    def _acquire(self, force):
        msal = _import_msal()
        if self.settings.managed_identity_client_id:
            identity = msal.UserAssignedManagedIdentity(client_id=self.settings.managed_identity_client_id)
        else:
            identity = msal.SystemAssignedManagedIdentity()
        # A new client per acquisition: its token cache must not answer a forced refresh.
        client = msal.ManagedIdentityClient(identity, http_client=self._http, http_cache={})
        self._http.last = None
        return self._check(client.acquire_token_for_client(resource=self.settings.resource))

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


def build_token_provider(settings, transport):
    return AUTH_CLASSES[settings.auth_method](settings, transport)
