"""Sign-in for the Graph emulator: its PKI (CA, TLS server certificate, client certificate, federation signing key),
Entra ID (OpenID discovery and the v2.0 token endpoint: client secret, certificate assertion, federated workload
identity token), managed identity (App Service and IMDS styles), and the access tokens Graph requests must carry.

Surfaces (see ``graph_emulator.py`` for the whole emulator):

* ``/{tenant}/v2.0/.well-known/openid-configuration`` and ``/{tenant}/discovery/v2.0/keys``: discovery; an unknown
  tenant is Entra's 400 AADSTS90002.
* ``/{tenant}/oauth2/v2.0/token``: client credentials only (``grant_type=client_credentials``, one Graph
  ``.default`` scope of any national cloud), authenticated by ``client_secret`` (form or HTTP Basic), a
  ``client_assertion`` signed with the emulator's client certificate (PS256/RS256, ``x5t#S256`` or ``x5t``, audience =
  this token endpoint, ``iss`` = ``sub`` = client id) or a federated token from the control API; errors carry Entra's
  AADSTS codes, trace and correlation ids.  The request log keeps ``{grant_type, client_id, scope}`` of the form,
  never a secret or an assertion.
* ``/msi/token`` (App Service: ``X-IDENTITY-HEADER``, ``api-version=2019-08-01``) and
  ``/metadata/identity/oauth2/token`` (IMDS: ``Metadata: true``): tokens of the first tenant for the system-assigned
  or the user-assigned identity (``client_id``).
* Access tokens are opaque (``emu...``), belong to one tenant and expire after the ``token_lifetime`` config value;
  Graph answers 401 InvalidAuthenticationToken (with ``WWW-Authenticate``) for a missing, unknown or expired one.

Standard library plus ``cryptography``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import ssl
import string
import time
import uuid
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .emulator_messages import Response, b64url, b64url_decode, method_not_allowed, parse_query, path_not_found, utc_now
from .graph_schema import GraphError

GRAPH_SCOPES = (
    "https://graph.microsoft.com/.default",
    "https://graph.microsoft.us/.default",
    "https://dod-graph.microsoft.us/.default",
    "https://microsoftgraph.chinacloudapi.cn/.default",
)
GRAPH_RESOURCES = tuple(scope[: -len("/.default")] for scope in GRAPH_SCOPES)
# msal may append these OIDC scopes to any request; Entra ignores them for client credentials.
IGNORED_SCOPES = frozenset(("offline_access", "openid", "profile"))
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
CLOCK_SKEW = 300  # seconds of tolerance on assertion exp/nbf, as Entra allows
ENTRA_JSON = "application/json; charset=utf-8"
SECRET_ALPHABET = string.ascii_letters + string.digits + "_-.~"


def new_secret():
    # Shaped like an Entra client secret (40 chars, "8Q~" marker), distinctive enough to grep logs for leaks.
    return "".join(secrets.choice(SECRET_ALPHABET) for _index in range(3)) + "8Q~" + secrets.token_urlsafe(27)[:34]


# --------------------------------------------------------------------------------------------------------------------
# PKI: CA, server certificate, client certificate, federation signing key
# --------------------------------------------------------------------------------------------------------------------


def _name(common_name):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Graph Emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path, data, private=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _rsa_jwk(public_key, kid):
    numbers = public_key.public_numbers()

    def encode(number):
        return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": encode(numbers.n), "e": encode(numbers.e)}


class Pki:
    """Generates and writes every key and certificate the emulator needs (EC for TLS: fast; RSA where JWTs need it)."""

    def __init__(self, directory):
        now = utc_now()
        not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=30)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("Graph Emulator Test CA")
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(self._key_usage(cert_sign=True), critical=True)
            .add_extension(ca_ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        self.server_key = ec.generate_private_key(ec.SECP256R1())
        server_names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        self.server_cert = self._issue(
            ca_key,
            ca_ski,
            self.server_key.public_key(),
            "127.0.0.1",
            not_before,
            not_after,
            ExtendedKeyUsageOID.SERVER_AUTH,
            server_names,
        )

        # msal signs assertions with PS256/RS256, so the client certificate must hold an RSA key.
        self.client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.client_cert = self._issue(
            ca_key,
            ca_ski,
            self.client_key.public_key(),
            "graph-emulator-client",
            not_before,
            not_after,
            ExtendedKeyUsageOID.CLIENT_AUTH,
            None,
        )
        self.client_password = secrets.token_urlsafe(18)

        # Signs federated (workload identity) tokens issued by the control API.
        self.federation_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.federation_kid = b64url(
            hashlib.sha256(
                self.federation_key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ).digest()[:16]
        )

        pem = serialization.Encoding.PEM
        pkcs8 = serialization.PrivateFormat.PKCS8
        no_encryption = serialization.NoEncryption()
        client_key_pem = self.client_key.private_bytes(pem, pkcs8, no_encryption)
        client_cert_pem = self.client_cert.public_bytes(pem)
        self.paths = {
            "ca": os.path.join(directory, "ca.pem"),
            "server_cert": os.path.join(directory, "server-cert.pem"),
            "server_key": os.path.join(directory, "server-key.pem"),
            "client_pem": os.path.join(directory, "client.pem"),
            "client_key": os.path.join(directory, "client-key.pem"),
            "client_cert": os.path.join(directory, "client-cert.pem"),
            "client_pfx": os.path.join(directory, "client.pfx"),
        }
        _write(self.paths["ca"], self.ca_cert.public_bytes(pem))
        _write(self.paths["server_cert"], self.server_cert.public_bytes(pem))
        _write(self.paths["server_key"], self.server_key.private_bytes(pem, pkcs8, no_encryption), private=True)
        _write(self.paths["client_pem"], client_key_pem + client_cert_pem, private=True)
        _write(self.paths["client_key"], client_key_pem, private=True)
        _write(self.paths["client_cert"], client_cert_pem)
        pfx = pkcs12.serialize_key_and_certificates(
            b"graph-emulator-client",
            self.client_key,
            self.client_cert,
            None,
            serialization.BestAvailableEncryption(self.client_password.encode("utf-8")),
        )
        _write(self.paths["client_pfx"], pfx, private=True)

    @staticmethod
    def _key_usage(cert_sign=False):
        return x509.KeyUsage(
            digital_signature=not cert_sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=cert_sign,
            crl_sign=cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    def _issue(self, ca_key, ca_ski, public_key, common_name, not_before, not_after, usage, names):
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(self._key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    def ssl_context(self):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.paths["server_cert"], self.paths["server_key"])
        context.set_alpn_protocols(["http/1.1"])
        return context


class RegisteredCertificate:
    """A certificate registered on an app registration: public key plus SHA-1/SHA-256 thumbprints."""

    def __init__(self, cert):
        self.public_key = cert.public_key()
        self.sha1 = cert.fingerprint(hashes.SHA1())  # nosec - x5t is SHA-1 by specification (RFC 7515)
        self.sha256 = cert.fingerprint(hashes.SHA256())


def split_jwt(token):
    """Return (header, claims, signing_input, signature) of a compact JWS, or raise ValueError."""
    if isinstance(token, bytes):
        token = token.decode("ascii")
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TypeError("JWT header and claims must be JSON objects")
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), b64url_decode(parts[2])


def verify_rsa_signature(public_key, algorithm, signing_input, signature):
    """Verify a PS256/RS256 signature; returns False instead of raising."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    if algorithm == "PS256":
        scheme = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    elif algorithm == "RS256":
        scheme = padding.PKCS1v15()
    else:
        return False
    try:
        public_key.verify(signature, signing_input, scheme, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# --------------------------------------------------------------------------------------------------------------------
# Entra ID, managed identity and Graph's bearer tokens
# --------------------------------------------------------------------------------------------------------------------


class SignIn:
    """The token service and the token check of Graph requests, over the emulator's state (``app``)."""

    def __init__(self, app):
        self.app = app

    def issue_token(self, tenant_id, client_id, resource):
        """A new access token of that tenant and app for ``resource``: (token, lifetime, expiry as epoch seconds)."""
        lifetime = self.app.config["token_lifetime"]
        token = "emu" + secrets.token_urlsafe(48)
        expires_at = time.time() + lifetime
        with self.app.lock:
            self.app.tokens[token] = {
                "tenant": tenant_id,
                "client_id": client_id,
                "expires_at": expires_at,
                "resource": resource,
            }
            self.app.stats["tokens_issued"] += 1
        return token, lifetime, expires_at

    def federated_token(self, tenant_id, client_id, lifetime=3600):
        """A workload identity token (RS256 JWT) that the token endpoint accepts for that app registration."""
        now = int(time.time())
        claims = {
            "iss": self.app.origin + "/federation",
            "aud": FEDERATION_AUDIENCE,
            "sub": "system:serviceaccount:default:" + client_id,
            "tid": tenant_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": self.app.pki.federation_kid}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        signature = self.app.pki.federation_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode("ascii") + "." + b64url(signature)

    def expire_tokens(self):
        """Expire every token issued so far (the next Graph request with one of them is a 401); returns the count."""
        with self.app.lock:
            for record in self.app.tokens.values():
                record["expires_at"] = 0
            return len(self.app.tokens)

    def token_record(self, ctx):
        """(bearer token or None, copy of its record or None) for this request."""
        scheme, _space, token = ctx.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None, None
        with self.app.lock:
            record = self.app.tokens.get(token)
            return token, dict(record) if record else None

    def authenticate(self, ctx):
        """The tenant of the request's bearer token (also set on ctx); 401 when it is missing, unknown or expired."""
        app = self.app
        challenge = {
            "WWW-Authenticate": f'Bearer realm="", authorization_uri="{app.origin}/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"'
        }
        token, record = self.token_record(ctx)
        if not token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        if record is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.", challenge)
        if time.time() >= record["expires_at"]:
            raise GraphError(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", challenge
            )
        ctx.tenant = record["tenant"]
        return record["tenant"]

    def entra_error(self, ctx, status, error, code, message, headers=None):
        trace_id = str(uuid.uuid4())
        timestamp = utc_now().strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {ctx.client_request_id}\r\n"
            f"Timestamp: {timestamp}"
        )
        body = {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": ctx.client_request_id,
            "error_uri": f"{self.app.origin}/error?code={code}",
        }
        all_headers = {"x-ms-request-id": trace_id, "Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        all_headers.update(headers or {})
        return Response(status, body, all_headers, ENTRA_JSON)

    def _unknown_tenant(self, ctx, error):
        return self.entra_error(
            ctx,
            400,
            error,
            90002,
            f"Tenant '{ctx.tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
            "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant.",
        )

    def discovery(self, ctx):
        app = self.app
        rest = ctx.path.split("/")[2:]
        tenant = app.tenant(ctx.tenant)
        if ctx.method != "GET":
            raise method_not_allowed(ctx, "GET")
        if rest == ["v2.0", ".well-known", "openid-configuration"]:
            if tenant is None:
                return self._unknown_tenant(ctx, "invalid_tenant")
            ctx.tenant = tenant["tenant_id"]
            base = f"{app.origin}/{tenant['tenant_id']}"
            document = {
                "token_endpoint": base + "/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": base + "/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": base + "/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": app.origin + "/oidc/userinfo",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": base + "/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "name"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
            return Response(200, document, {"Cache-Control": "max-age=86400, private"}, ENTRA_JSON)
        if rest == ["discovery", "v2.0", "keys"]:
            if tenant is None:
                return self._unknown_tenant(ctx, "invalid_tenant")
            ctx.tenant = tenant["tenant_id"]
            return Response(
                200,
                {"keys": [_rsa_jwk(app.pki.federation_key.public_key(), app.pki.federation_kid)]},
                content_type=ENTRA_JSON,
            )
        raise path_not_found(ctx)

    def token(self, ctx):
        app = self.app
        if ctx.path.split("/")[2:] != ["oauth2", "v2.0", "token"]:
            raise path_not_found(ctx)
        if ctx.method != "POST":
            return self.entra_error(
                ctx,
                400,
                "invalid_request",
                900561,
                f"The endpoint only accepts POST requests. Received a {ctx.method} request.",
            )
        form, client_id, client_secret = self.token_form(ctx)
        assertion = form.get("client_assertion")
        tenant = app.tenant(ctx.tenant)
        if tenant is None:
            return self._unknown_tenant(ctx, "invalid_request")
        ctx.tenant = tenant["tenant_id"]
        grant_type = form.get("grant_type")
        if not grant_type:
            return self.entra_error(
                ctx,
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        if grant_type != "client_credentials":
            return self.entra_error(
                ctx,
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if not client_id:
            return self.entra_error(
                ctx,
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        if client_id.lower() != tenant["client_id"].lower():
            return self.entra_error(
                ctx,
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant['tenant_id']}'. "
                "This can happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to the wrong "
                "tenant.",
            )
        if client_secret and assertion:
            return self.entra_error(
                ctx,
                400,
                "invalid_request",
                90023,
                "Only one client credential may be sent: a client secret or a client assertion.",
            )
        if client_secret:
            if not hmac.compare_digest(client_secret.encode("utf-8"), tenant["client_secret"].encode("utf-8")):
                return self.entra_error(
                    ctx,
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                    f"secret value, not the client secret ID, for a secret added to app '{tenant['client_id']}'.",
                )
        elif assertion:
            problem = self._check_assertion(tenant, form.get("client_assertion_type"), assertion)
            if problem:
                return self.entra_error(ctx, 401, "invalid_client", 700027, problem)
        else:
            return self.entra_error(
                ctx,
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        scope = form.get("scope")
        if not scope:
            return self.entra_error(
                ctx,
                400,
                "invalid_request",
                90014,
                "The required field 'scope' is missing from the credential. Ensure that you "
                "have all the necessary parameters for the login request.",
            )
        requested = [item for item in scope.split() if item not in IGNORED_SCOPES]
        if len(requested) != 1 or requested[0] not in GRAPH_SCOPES:
            return self.entra_error(
                ctx,
                400,
                "invalid_scope",
                70011,
                "The provided request must include a 'scope' input parameter. The provided value for the input "
                f"parameter 'scope' is not valid. The scope {scope} is not valid.",
            )
        token, lifetime, _expires_at = self.issue_token(
            tenant["tenant_id"], tenant["client_id"], requested[0][: -len("/.default")]
        )
        body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        return Response(200, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}, ENTRA_JSON)

    @staticmethod
    def token_form(ctx):
        """(form fields, client id, client secret) of a token request; HTTP Basic client auth wins over the form.

        Also sets the request's log body to the three fields that may be logged: never a secret or an assertion.
        """
        form = {}
        for name, value in parse_query(ctx.body.decode("utf-8", "replace")):
            form.setdefault(name, value)
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        basic_scheme, _space, basic_value = ctx.headers.get("authorization", "").partition(" ")
        if basic_scheme.lower() == "basic" and basic_value.strip():
            try:
                user, _colon, password = base64.b64decode(basic_value.strip()).decode("utf-8").partition(":")
                client_id, client_secret = unquote_plus(user), unquote_plus(password)
            except ValueError:  # undecodable Basic credentials count as no credentials
                client_id = client_secret = None
        assertion = form.get("client_assertion")
        if not client_id and assertion:
            try:
                subject = split_jwt(assertion)[1].get("sub")
            except (ValueError, TypeError):
                subject = None
            client_id = subject if isinstance(subject, str) else None
        ctx.log_body = {"grant_type": form.get("grant_type"), "client_id": client_id, "scope": form.get("scope")}
        return form, client_id, client_secret

    def _check_assertion(self, tenant, assertion_type, assertion):
        """Validate a client assertion; returns a problem description, or None when it is acceptable."""
        app = self.app
        if assertion_type != JWT_BEARER:
            return f"The client_assertion_type '{assertion_type}' is not supported; use '{JWT_BEARER}'."
        try:
            header, claims, signing_input, signature = split_jwt(assertion)
        except (ValueError, TypeError):
            return "Client assertion is not a well-formed JWT."
        now = time.time()
        if claims.get("iss") == app.origin + "/federation":
            if (
                header.get("alg") != "RS256"
                or header.get("kid") != app.pki.federation_kid
                or not verify_rsa_signature(app.pki.federation_key.public_key(), "RS256", signing_input, signature)
            ):
                return "Client assertion failed signature validation."
            audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
            if FEDERATION_AUDIENCE not in audiences:
                return "The audience of the federated token does not match the federated identity credential."
            if claims.get("tid") != tenant["tenant_id"] or claims.get("sub") != (
                "system:serviceaccount:default:" + tenant["client_id"]
            ):
                subject = claims.get("sub")
                return f"No matching federated identity record found for presented assertion subject '{subject}'."
        else:
            certificate = self._registered_certificate(header)
            if certificate is None:
                return (
                    "The certificate with identifier used to sign the client assertion is not registered on "
                    f"application '{tenant['client_id']}'."
                )
            if not verify_rsa_signature(certificate.public_key, header.get("alg"), signing_input, signature):
                return "Client assertion failed signature validation."
            expected_audience = f"{app.origin}/{tenant['tenant_id']}/oauth2/v2.0/token"
            audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
            if not any(isinstance(aud, str) and aud.lower() == expected_audience.lower() for aud in audiences):
                return f"Client assertion audience claim does not match the token endpoint '{expected_audience}'."
            client_id = tenant["client_id"].lower()
            if str(claims.get("iss", "")).lower() != client_id or str(claims.get("sub", "")).lower() != client_id:
                return f"Client assertion 'iss' and 'sub' claims must both be the client id '{tenant['client_id']}'."
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp < now - CLOCK_SKEW:
            return "Client assertion is not within its valid time range (expired or missing 'exp')."
        if nbf is not None and (not isinstance(nbf, (int, float)) or nbf > now + CLOCK_SKEW):
            return "Client assertion is not within its valid time range (not yet valid)."
        return None

    def _registered_certificate(self, header):
        for certificate in self.app.registered_certificates:
            try:
                if "x5t#S256" in header and hmac.compare_digest(b64url_decode(header["x5t#S256"]), certificate.sha256):
                    return certificate
                if "x5t" in header and hmac.compare_digest(b64url_decode(header["x5t"]), certificate.sha1):
                    return certificate
            except (ValueError, TypeError, AttributeError):
                return None
        return None

    # -- managed identity ------------------------------------------------------------------------------------------

    def _identity_for(self, params):
        """The client id of the managed identity a request selects, or None when it names an unknown one."""
        app = self.app
        selectors = {
            name: params[name]
            for name in ("client_id", "object_id", "principal_id", "mi_res_id", "msi_res_id")
            if name in params
        }
        if not selectors:
            return app.system_identity_client_id
        if set(selectors) == {"client_id"} and selectors["client_id"].lower() in (
            app.user_identity_client_id.lower(),
            app.system_identity_client_id.lower(),
        ):
            return selectors["client_id"].lower()
        return None

    @staticmethod
    def _graph_resource(resource):
        resource = (resource or "").rstrip("/")
        return resource if resource in GRAPH_RESOURCES else None

    def app_service_identity(self, ctx):
        app = self.app

        def error(status, message):
            return Response(status, {"statusCode": status, "message": message}, content_type=ENTRA_JSON)

        if ctx.method != "GET":
            return error(405, f"The requested resource does not support http method '{ctx.method}'.")
        supplied = ctx.headers.get("x-identity-header", "")
        if not supplied or not hmac.compare_digest(supplied.encode(), app.identity_header.encode()):
            return error(401, "Unauthorized: missing or invalid X-IDENTITY-HEADER.")
        params = dict(ctx.query_pairs)
        if params.get("api-version") != "2019-08-01":
            return error(400, "Unsupported or missing api-version; this endpoint implements '2019-08-01'.")
        resource = self._graph_resource(params.get("resource"))
        if resource is None:
            return error(400, f"Invalid or missing resource '{params.get('resource', '')}'.")
        identity = self._identity_for(params)
        if identity is None:
            return error(400, "No managed identity matches the requested identity.")
        token, _lifetime, expires_at = self.issue_token(app.base_tenants[0]["tenant_id"], identity, resource)
        ctx.tenant = app.base_tenants[0]["tenant_id"]
        body = {
            "access_token": token,
            "expires_on": str(int(expires_at)),
            "resource": params["resource"],
            "token_type": "Bearer",
            "client_id": identity,
        }
        return Response(200, body, content_type=ENTRA_JSON)

    def imds_identity(self, ctx):
        app = self.app

        def error(status, code, message):
            return Response(status, {"error": code, "error_description": message}, content_type=ENTRA_JSON)

        if ctx.method != "GET":
            return error(405, "invalid_request", f"The requested resource does not support http method '{ctx.method}'.")
        if ctx.headers.get("metadata", "").lower() != "true":
            return error(400, "invalid_request", "Required metadata header not specified")
        params = dict(ctx.query_pairs)
        if not params.get("api-version"):
            return error(400, "invalid_request", "Required query variable 'api-version' is missing")
        if not params.get("resource"):
            return error(400, "invalid_request", "Required query variable 'resource' is missing")
        resource = self._graph_resource(params.get("resource"))
        if resource is None:
            return error(
                400,
                "invalid_resource",
                f"AADSTS500011: The resource principal named {params['resource']} was not found in the tenant.",
            )
        identity = self._identity_for(params)
        if identity is None:
            return error(400, "invalid_request", "Identity not found")
        token, lifetime, expires_at = self.issue_token(app.base_tenants[0]["tenant_id"], identity, resource)
        ctx.tenant = app.base_tenants[0]["tenant_id"]
        now = time.time()
        body = {
            "access_token": token,
            "client_id": identity,
            "expires_in": str(max(int(expires_at - now), 0)),
            "expires_on": str(int(expires_at)),
            "ext_expires_in": str(lifetime),
            "not_before": str(int(now)),
            "resource": params["resource"],
            "token_type": "Bearer",
        }
        return Response(200, body, content_type=ENTRA_JSON)

    # -- faults ----------------------------------------------------------------------------------------------------
