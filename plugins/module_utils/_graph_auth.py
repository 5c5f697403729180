# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One small class per authentication method. Each hands out a bearer token for Graph.

msal is imported only by the classes that need it, so a task with access_token never loads it.
"""

from __future__ import annotations

import os

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphAuthError, GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import MsalHttpClient


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

    def _check(self, result, who):
        """Turn msal's result dict into a token or a GraphAuthError (first line of Entra's description only)."""
        if result and result.get("access_token"):
            return result["access_token"]
        result = result or {}
        error = result.get("error") or "no_token"
        description = (result.get("error_description") or "").strip().splitlines()
        raise GraphAuthError(
            "{} failed for {}: {}{}".format(who, self.describe(), error, ": " + description[0] if description else ""),
            code=error,
            graph_message=description[0] if description else None,
            request_id=result.get("correlation_id"),
        )

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

    def _credential(self):
        raise NotImplementedError

    def _application(self):
        if self._app is None:
            msal = _import_msal()
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id,
                    client_credential=self._credential(),
                    authority=f"{self.settings.authority_host}/{self.settings.tenant_id}",
                    http_client=MsalHttpClient(self.transport),
                    instance_discovery=self.settings.instance_discovery,
                    http_cache={},
                )
            except ValueError as exc:
                # msal raises ValueError for an unreachable or invalid authority; its text holds no secret.
                raise GraphAuthError(
                    f"cannot use authority {self.settings.authority_host}/{self.settings.tenant_id}: {str(exc).splitlines()[0]}"
                ) from None
        return self._app

    def _acquire(self, force):
        app = self._application()
        if force:
            app.remove_tokens_for_client()
        return self._check(app.acquire_token_for_client(scopes=[self.settings.scope]), "token request")


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

    def _acquire(self, force):
        msal = _import_msal()
        if self.settings.managed_identity_client_id:
            identity = msal.UserAssignedManagedIdentity(client_id=self.settings.managed_identity_client_id)
        else:
            identity = msal.SystemAssignedManagedIdentity()
        # A new client per acquisition: its token cache must not answer a forced refresh.
        client = msal.ManagedIdentityClient(identity, http_client=MsalHttpClient(self.transport), http_cache={})
        return self._check(
            client.acquire_token_for_client(resource=self.settings.resource), "managed identity token request"
        )

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
