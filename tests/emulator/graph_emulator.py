"""HTTPS emulator for Microsoft Graph (the Intune connector family and Entra groups) and the Entra ID token service.

Run it as a script (the command line is a contract that test suites rely on)::

    python tests/emulator/graph_emulator.py --port 0 --info-file PATH [--seed FILE] [--page-size N]
        [--patch-status 204|200] [--tenants N] [--token-lifetime SECONDS] [--state-dir DIR]

It listens on 127.0.0.1 only, generates its own CA, server certificate and client certificate, and writes a JSON
info file (atomically) once it is ready to serve.  It serves until SIGTERM or SIGINT and then exits 0 (2 when the
arguments or the seed file are invalid).

Served surfaces (all on one origin):

* ``/{tenant}/v2.0/.well-known/openid-configuration`` and ``/{tenant}/oauth2/v2.0/token``: Entra ID (client
  credentials with a secret, a certificate-signed assertion or a federated workload identity token).
* ``/msi/token`` (App Service style) and ``/metadata/identity/oauth2/token`` (IMDS style): managed identity.
* Graph, under ``/v1.0`` and ``/beta`` alike (same data), every object belonging to the bearer token's tenant:

  - ``/deviceManagement/{collection}`` for the collections deviceManagementPartners, complianceManagementPartners,
    remoteAssistancePartners and mobileThreatDefenseConnectors: ``GET`` lists (paged by ``page_size`` with an
    absolute ``@odata.nextLink`` carrying a signed ``$skiptoken``; ``$top``, ``$select``, ``$count`` and
    ``$filter=displayName eq '...'``, case-insensitive, ``''`` for a quote; a ``$filter`` on
    mobileThreatDefenseConnectors, which has no displayName, is 400), ``POST`` creates (201, ``Location`` and the
    object); ``/{id}``: ``GET`` (``$select``), ``PATCH`` (204, or 200 with the object when ``patch_status`` is
    200), ``DELETE`` (204); a missing id is 404 ResourceNotFound, any other method 405.  Unknown properties, wrong
    types, bad enum values, Int32 values out of range and null for non-nullable properties are 400 BadRequest.
    POST ignores a client ``id`` (a new GUID is generated) except on mobileThreatDefenseConnectors, where the
    body's ``id`` names the partner's connector (a taken id is 409 Conflict; without one a GUID is generated).
    The types, properties and defaults are in ``graph_schema.py``.
  - Bound actions (POST, no body, 204; the segment may carry the ``microsoft.graph.`` prefix; 404 for an unknown
    id, 405 for another method): ``deviceManagementPartners/{id}/terminate`` (partnerState -> terminated),
    ``remoteAssistancePartners/{id}/beginOnboarding`` (notOnboarded -> onboarding, otherwise unchanged) and
    ``remoteAssistancePartners/{id}/disconnect`` (-> notOnboarded).
  - Assignments (groupsRequiringPartnerEnrollment and the compliance partner's ``*EnrollmentAssignments``): items
    ``{"target": {...}}``, optionally with the item type's ``@odata.type``; the target's ``@odata.type`` (with or
    without ``#``) is groupAssignmentTarget or exclusionGroupAssignmentTarget (string ``groupId`` required),
    allLicensedUsersAssignmentTarget, allDevicesAssignmentTarget or configurationManagerCollectionAssignmentTarget
    (string ``collectionId`` required), each optionally with ``deviceAndAppManagementAssignmentFilterId`` (string
    or null) and ``deviceAndAppManagementAssignmentFilterType`` (none|include|exclude).  They are stored as written
    and returned the way Graph returns them: no item ``@odata.type``, every target with ``#``-prefixed
    ``@odata.type`` and both filter properties (null / "none" unless written), in a deterministic order that is
    NOT the written one (descending by the target's canonical JSON): clients must compare them as sets.
  - ``/groups`` and ``/groups/{id}``: Entra groups, read-only (writes are 405), seeded through the control API;
    the same listing options (filter on displayName, case-insensitive), ``$select`` of id, displayName,
    description, mailNickname, securityEnabled, mailEnabled and groupTypes (Entra leaves out ``id`` unless it is
    selected); no ``@odata.type`` on groups; 400s carry Entra's code ``Request_BadRequest``, an unknown id is 404
    ``Request_ResourceNotFound``.

* ``/_emulator/...``: the control API used by tests (JSON in and out, no auth, never logged or faulted):

  - ``GET|DELETE log``: ``{"requests": [{seq, time, method, path, query, kind, tenant, status, fault, body,
    client_request_id}]}``; ``kind`` is graph|token|managed_identity|discovery (every Graph request, /groups and
    actions included, is graph with its tenant), ``status`` is null for a dropped connection, ``body`` is the JSON
    body of Graph writes or ``{grant_type, client_id, scope}`` for token requests.
  - ``GET state``: ``{"tenants": {tenant_id: [device management partners as Graph renders them]}}``;
    ``GET state/{collection}`` (any collection above or ``groups``): the same for that collection.
  - ``POST reset``; ``POST seed`` (returns ``{"seeded": ..., "tenants": [every tenant's credentials]}``) with
    ``{tenant_id: [partners]}`` (replaces the tenant's device management partners) or ``{tenant_id: {collection:
    [objects], ...}}`` (replaces only the named collections; ``groups`` included); unknown tenants are created.
    Seed objects are validated like Graph writes; ids are optional (generated) and unique per collection.  The
    ``--seed`` file takes the same JSON.
  - ``GET|POST config`` ``{page_size, patch_status, token_lifetime}``.
  - ``GET|POST|DELETE faults`` (``DELETE faults/{id}`` removes one): ``{method, path (regex, re.search on the path),
    kind: status|latency|drop_before|drop_after, status, retry_after, latency, times, probability, seed}``.
  - ``GET|POST|DELETE mutations``: ``{method, path, tenant, collection (default deviceManagementPartners), id,
    set, times}``; ``set`` is validated against that collection's type and applied once the matched request's
    response has been computed, so that response still shows the old state.
  - ``POST expire-tokens``, ``POST federated-token`` ``{tenant_id, client_id}``, ``GET stats`` (request counts by
    kind/method/status, faults fired, tokens issued, TLS connections accepted), ``GET info``.

Only the standard library and ``cryptography`` are used on purpose: the emulator must not share code paths with
the HTTP clients under test.  ``graph_schema.py`` beside this file holds the resource types (it is imported as a
sibling module when this file runs as a script, and relative to the package when tests import it).
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import socketserver
import ssl
import string
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if __package__:  # imported as tests.emulator.graph_emulator
    from .graph_schema import (
        COLLECTIONS,
        DEFAULT_COLLECTION,
        DEVICE_MANAGEMENT_TYPES,
        GROUP,
        BadRequest,
        GraphError,
        format_ticks,
        parse_datetime,
    )
else:  # run as a script: its directory is on sys.path
    from graph_schema import (
        COLLECTIONS,
        DEFAULT_COLLECTION,
        DEVICE_MANAGEMENT_TYPES,
        GROUP,
        BadRequest,
        GraphError,
        format_ticks,
        parse_datetime,
    )

__all__ = ["format_ticks", "parse_datetime"]  # re-exported: other suites import them from here

# --------------------------------------------------------------------------------------------------------------------
# Constants of the emulated contract
# --------------------------------------------------------------------------------------------------------------------

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

GRAPH_VERSIONS = {"v1.0": "v1.0", "beta": "beta"}
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
ENTRA_JSON = "application/json; charset=utf-8"
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,256}")
DEVICE_MANAGEMENT_BY_LOWER = {name.lower(): rtype for name, rtype in DEVICE_MANAGEMENT_TYPES.items()}

GRAPH_ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    423: "ResourceLocked",
    429: "TooManyRequests",
    500: "InternalServerError",
    501: "NotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
    507: "InsufficientStorage",
}
FAULT_MESSAGES = {
    429: "Too many requests. Please retry after the time specified in the Retry-After header.",
    500: "An internal server error occurred.",
    502: "Bad gateway.",
    503: "The service is temporarily unavailable. Please retry later.",
    504: "The request timed out.",
}
FAULT_KINDS = ("status", "latency", "drop_before", "drop_after")
FAULT_METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT", "*")
MAX_BODY = 16 * 1024 * 1024
SECRET_ALPHABET = string.ascii_letters + string.digits + "_-.~"


class ControlError(Exception):
    """Invalid input to the control API (answered with 400)."""


# --------------------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------------------


def _same_name_ignoring_case(name, wanted):
    """Graph compares strings in $filter case-insensitively, so clients must check exact matches themselves."""
    return name is not None and name.casefold() == wanted.casefold()


def utc_now():
    return dt.datetime.now(dt.timezone.utc)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def new_secret():
    # Shaped like an Entra client secret (40 chars, "8Q~" marker), distinctive enough to grep logs for leaks.
    return "".join(secrets.choice(SECRET_ALPHABET) for _index in range(3)) + "8Q~" + secrets.token_urlsafe(27)[:34]


def graph_date():
    return utc_now().strftime("%Y-%m-%dT%H:%M:%S")


def query_dict(pairs):
    """Turn parse_qsl-style pairs into {name: value} (a list when a name repeats), for the request log."""
    result = {}
    for name, value in pairs:
        if name in result:
            if not isinstance(result[name], list):
                result[name] = [result[name]]
            result[name].append(value)
        else:
            result[name] = value
    return result


def parse_query(raw_query):
    """Parse a query string into ordered (name, value) pairs, percent-decoded ('+' is a space)."""
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        name, _equals, value = part.partition("=")
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


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
# Emulator state and behaviour (independent of the HTTP plumbing)
# --------------------------------------------------------------------------------------------------------------------


class Response:
    """What a handler decided to answer; the transport writes it (or drops it, for drop_after faults)."""

    def __init__(self, status, body=None, headers=None, content_type=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type


class RequestContext:
    def __init__(self, method, raw_path, raw_query, headers, body):
        self.method = method
        self.path = raw_path
        self.query_pairs = parse_query(raw_query)
        self.headers = headers
        self.body = body
        self.client_request_id = headers.get("client-request-id") or str(uuid.uuid4())
        self.request_id = str(uuid.uuid4())
        self.kind = "graph"
        self.tenant = None
        self.log_body = None


class Fault:
    def __init__(self, fault_id, spec):
        self.id = fault_id
        self.spec = spec
        self.method = spec["method"]
        self.pattern = re.compile(spec["path"])
        self.remaining = spec["times"]
        self.probability = spec["probability"]
        self.random = random.Random(spec["seed"])
        self.fired = 0

    def describe(self):
        return dict(self.spec, id=self.id, fired=self.fired)


class Mutation:
    def __init__(self, mutation_id, spec, converted):
        self.id = mutation_id
        self.spec = spec
        self.method = spec["method"]
        self.pattern = re.compile(spec["path"])
        self.converted = converted
        self.remaining = spec["times"]
        self.applied = 0

    def describe(self):
        return dict(self.spec, id=self.id, applied=self.applied)


def _validate_times(value, name="times"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ControlError(f"'{name}' must be a positive integer or null")
    return value


def _validate_method_and_path(spec):
    method = spec.get("method", "*")
    if not isinstance(method, str) or method.upper() not in FAULT_METHODS:
        raise ControlError(f"'method' must be one of {', '.join(FAULT_METHODS)}")
    path = spec.get("path", "")
    if not isinstance(path, str):
        raise ControlError("'path' must be a regular expression string")
    try:
        re.compile(path)
    except re.error as exc:
        raise ControlError(f"'path' is not a valid regular expression: {exc}") from None
    return method.upper(), path


class Emulator:
    """All emulator state, guarded by one lock; request handlers call into it."""

    def __init__(self, args, pki, seed):
        self.pki = pki
        self.lock = threading.RLock()
        self.origin = None
        self.cli_config = {
            "page_size": args.page_size,
            "patch_status": args.patch_status,
            "token_lifetime": args.token_lifetime,
        }
        self.config = dict(self.cli_config)
        self.skiptoken_key = secrets.token_bytes(32)
        self.registered_certificates = [RegisteredCertificate(pki.client_cert)]
        self.identity_header = secrets.token_urlsafe(24)
        self.system_identity_client_id = str(uuid.uuid4())
        self.user_identity_client_id = str(uuid.uuid4())

        self.base_tenants = [self._new_tenant(str(uuid.uuid4())) for _index in range(args.tenants)]
        known = {tenant["tenant_id"].lower() for tenant in self.base_tenants}
        self.base_data = {}
        for tenant_id, partners in seed.items():
            if not isinstance(tenant_id, str) or not ID_PATTERN.fullmatch(tenant_id):
                raise ControlError(f"invalid tenant id {tenant_id!r} in the seed")
            if tenant_id.lower() not in known:
                self.base_tenants.append(self._new_tenant(tenant_id))
                known.add(tenant_id.lower())
            self.base_data[tenant_id.lower()] = self._prepare_seed(tenant_id, partners)
        if not self.base_tenants:
            raise ValueError("at least one tenant is required (--tenants N or a --seed file naming tenants)")

        self.tokens = {}
        self.reset()

    # -- tenants and seeding ---------------------------------------------------------------------------------------

    @staticmethod
    def _new_tenant(tenant_id):
        return {"tenant_id": tenant_id, "client_id": str(uuid.uuid4()), "client_secret": new_secret()}

    @staticmethod
    def _prepare_seed(tenant_id, value):
        """{collection: [stored objects]} from a tenant's seed: a list of device management partners, or an object
        naming the collections it replaces."""
        if isinstance(value, list):
            return {DEFAULT_COLLECTION: Emulator._seed_objects(tenant_id, DEFAULT_COLLECTION, value)}
        if not isinstance(value, dict):
            raise ControlError(
                f"the seed of tenant {tenant_id!r} must be a JSON list of partners or an object mapping collection "
                f"names ({', '.join(COLLECTIONS)}) to lists"
            )
        prepared = {}
        for collection, objects in value.items():
            if collection not in COLLECTIONS:
                raise ControlError(f"unknown collection {collection!r} in the seed of tenant {tenant_id!r}")
            prepared[collection] = Emulator._seed_objects(tenant_id, collection, objects)
        return prepared

    @staticmethod
    def _seed_objects(tenant_id, collection, objects):
        """Validate seed objects (Graph camelCase, optional id) into stored objects of one collection, in order."""
        rtype = COLLECTIONS[collection]
        if not isinstance(objects, list):
            raise ControlError(f"{collection} of tenant {tenant_id!r} must be a JSON list")
        result = []
        seen = set()
        for item in objects:
            try:
                converted, object_id = rtype.convert(item, allow_id=True)
                object_id = object_id or str(uuid.uuid4())
                if not ID_PATTERN.fullmatch(object_id) or object_id in seen:
                    raise ControlError(
                        f"invalid or duplicate {rtype.short_name} id {object_id!r} for tenant {tenant_id!r}"
                    )
                seen.add(object_id)
                result.append(rtype.new(object_id, converted))
            except GraphError as exc:
                raise ControlError(f"invalid {rtype.short_name} for tenant {tenant_id!r}: {exc.message}") from None
        return result

    def _install(self, key, collection, objects):
        store = {}
        for obj in objects:
            self.next_seq += 1
            store[obj["id"]] = (self.next_seq, copy.deepcopy(obj))
        self.data.setdefault(key, {})[collection] = store

    def store(self, tenant_key, collection):
        """{id: (seq, stored object)} of one collection of one tenant (empty for an unknown tenant); hold the lock."""
        return self.data.setdefault(tenant_key, {}).setdefault(collection, {})

    def reset(self):
        """Back to the state at start: seeded data, CLI config; no faults, mutations, log or stats."""
        with self.lock:
            self.config = dict(self.cli_config)
            self.tenants = {tenant["tenant_id"].lower(): dict(tenant) for tenant in self.base_tenants}
            self.next_seq = 0
            self.data = {}
            for key in self.tenants:
                for collection in COLLECTIONS:
                    self._install(key, collection, self.base_data.get(key, {}).get(collection, []))
            self.faults = []
            self.mutations = []
            self.log = []
            self.log_seq = 0
            self.stats = {
                "requests": 0,
                "by_kind": {},
                "by_kind_method": {},
                "by_status": {},
                "faults_fired": 0,
                "tokens_issued": 0,
                "connections": 0,
            }
            self.next_fault_id = 0

    def tenant(self, tenant_id):
        return self.tenants.get((tenant_id or "").lower())

    def tenant_list(self):
        return [dict(tenant) for tenant in self.tenants.values()]

    # -- info ------------------------------------------------------------------------------------------------------

    def info(self):
        first = self.base_tenants[0]
        return {
            "graph_endpoint": self.origin,
            "authority_host": self.origin,
            "tenant_id": first["tenant_id"],
            "client_id": first["client_id"],
            "client_secret": first["client_secret"],
            "tenants": [dict(tenant) for tenant in self.base_tenants],
            "ca_path": self.pki.paths["ca"],
            "client_certificate_pem_path": self.pki.paths["client_pem"],
            "client_certificate_key_path": self.pki.paths["client_key"],
            "client_certificate_cert_path": self.pki.paths["client_cert"],
            "client_certificate_pfx_path": self.pki.paths["client_pfx"],
            "client_certificate_password": self.pki.client_password,
            "client_certificate_thumbprint": self.pki.client_cert.fingerprint(hashes.SHA1()).hex().upper(),
            "managed_identity_endpoint": self.origin + "/msi/token",
            "managed_identity_header": self.identity_header,
            "managed_identity_client_id": self.user_identity_client_id,
            "imds_host": self.origin,
            "control_url": self.origin + "/_emulator",
            "port": int(self.origin.rsplit(":", 1)[1]),
            "pid": os.getpid(),
        }

    # -- tokens ----------------------------------------------------------------------------------------------------

    def issue_token(self, tenant_id, client_id, resource):
        lifetime = self.config["token_lifetime"]
        token = "emu" + secrets.token_urlsafe(48)
        expires_at = time.time() + lifetime
        with self.lock:
            self.tokens[token] = {
                "tenant": tenant_id,
                "client_id": client_id,
                "expires_at": expires_at,
                "resource": resource,
            }
            self.stats["tokens_issued"] += 1
        return token, lifetime, expires_at

    def federated_token(self, tenant_id, client_id, lifetime=3600):
        now = int(time.time())
        claims = {
            "iss": self.origin + "/federation",
            "aud": FEDERATION_AUDIENCE,
            "sub": "system:serviceaccount:default:" + client_id,
            "tid": tenant_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": self.pki.federation_kid}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        signature = self.pki.federation_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode("ascii") + "." + b64url(signature)

    # -- faults and mutations --------------------------------------------------------------------------------------

    def add_fault(self, spec):
        if not isinstance(spec, dict):
            raise ControlError("a fault must be a JSON object")
        method, path = _validate_method_and_path(spec)
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ControlError(f"'kind' must be one of {', '.join(FAULT_KINDS)}")
        status = spec.get("status", 503 if kind == "status" else None)
        if kind == "status" and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
            raise ControlError("'status' must be an HTTP status code (100..599)")
        retry_after = spec.get("retry_after")
        if retry_after is not None and (
            isinstance(retry_after, bool) or not isinstance(retry_after, (int, float, str))
        ):
            raise ControlError("'retry_after' must be a number, a string or null")
        latency = spec.get("latency", 0 if kind != "latency" else None)
        if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
            raise ControlError("'latency' must be a non-negative number of seconds")
        probability = spec.get("probability")
        if probability is not None and (
            isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1
        ):
            raise ControlError("'probability' must be a number between 0 and 1, or null")
        seed = spec.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ControlError("'seed' must be an integer or null")
        normalized = {
            "method": method,
            "path": path,
            "kind": kind,
            "status": status,
            "retry_after": retry_after,
            "latency": latency,
            "times": _validate_times(spec.get("times")),
            "probability": probability,
            "seed": seed,
        }
        with self.lock:
            self.next_fault_id += 1
            fault = Fault(self.next_fault_id, normalized)
            self.faults.append(fault)
        return fault.id

    def pick_fault(self, method, path):
        """The first matching fault that fires for this request (consumes its budget), or None."""
        with self.lock:
            for fault in self.faults:
                if fault.method not in ("*", method) or not fault.pattern.search(path):
                    continue
                if fault.remaining is not None and fault.remaining <= 0:
                    continue
                if fault.probability is not None and not fault.random.random() < fault.probability:
                    continue
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                self.stats["faults_fired"] += 1
                return fault.spec
        return None

    def add_mutation(self, spec):
        if not isinstance(spec, dict):
            raise ControlError("a mutation must be a JSON object")
        method, path = _validate_method_and_path(spec)
        tenant = self.tenant(spec.get("tenant"))
        if tenant is None:
            raise ControlError("'tenant' must name a known tenant")
        collection = spec.get("collection", DEFAULT_COLLECTION)
        rtype = COLLECTIONS.get(collection) if isinstance(collection, str) else None
        if rtype is None:
            raise ControlError(f"'collection' must be one of {', '.join(COLLECTIONS)}")
        object_id = spec.get("id")
        if not isinstance(object_id, str) or not ID_PATTERN.fullmatch(object_id):
            raise ControlError(f"'id' must be a {rtype.short_name} id")
        try:
            converted, _body_id = rtype.convert(spec.get("set"), allow_id=False)
        except GraphError as exc:
            raise ControlError(f"invalid 'set': {exc.message}") from None
        normalized = {
            "method": method,
            "path": path,
            "tenant": tenant["tenant_id"],
            "collection": collection,
            "id": object_id,
            "set": spec.get("set"),
            "times": _validate_times(spec.get("times", 1)),
        }
        with self.lock:
            self.next_fault_id += 1
            mutation = Mutation(self.next_fault_id, normalized, converted)
            self.mutations.append(mutation)
        return mutation.id

    def apply_mutations(self, method, path):
        with self.lock:
            for mutation in self.mutations:
                if mutation.method not in ("*", method) or not mutation.pattern.search(path):
                    continue
                if mutation.remaining is not None and mutation.remaining <= 0:
                    continue
                if mutation.remaining is not None:
                    mutation.remaining -= 1
                entry = self.store(mutation.spec["tenant"].lower(), mutation.spec["collection"]).get(
                    mutation.spec["id"]
                )
                if entry is not None:
                    entry[1].update(copy.deepcopy(mutation.converted))
                    mutation.applied += 1

    # -- log and stats ---------------------------------------------------------------------------------------------

    def next_log_seq(self):
        with self.lock:
            self.log_seq += 1
            return self.log_seq

    def record(self, seq, started, ctx, status, fault_kind):
        entry = {
            "seq": seq,
            "time": started,
            "method": ctx.method,
            "path": ctx.path,
            "query": query_dict(ctx.query_pairs),
            "kind": ctx.kind,
            "tenant": ctx.tenant,
            "status": status,
            "fault": fault_kind,
            "body": ctx.log_body,
            "client_request_id": ctx.client_request_id,
        }
        with self.lock:
            self.log.append(entry)
            stats = self.stats
            stats["requests"] += 1
            stats["by_kind"][ctx.kind] = stats["by_kind"].get(ctx.kind, 0) + 1
            by_method = stats["by_kind_method"].setdefault(ctx.kind, {})
            by_method[ctx.method] = by_method.get(ctx.method, 0) + 1
            status_key = str(status) if status is not None else "dropped"
            stats["by_status"][status_key] = stats["by_status"].get(status_key, 0) + 1

    def count_connection(self):
        with self.lock:
            self.stats["connections"] += 1

    # -- skip tokens -----------------------------------------------------------------------------------------------

    def make_skiptoken(self, tenant_key, collection, last_seq):
        payload = b64url(json.dumps([tenant_key, collection, last_seq]).encode())
        mac = hmac.new(self.skiptoken_key, payload.encode(), hashlib.sha256).digest()[:12]
        return payload + "." + b64url(mac)

    def read_skiptoken(self, tenant_key, collection, token):
        try:
            payload, mac = token.split(".")
            expected = hmac.new(self.skiptoken_key, payload.encode(), hashlib.sha256).digest()[:12]
            if not hmac.compare_digest(b64url_decode(mac), expected):
                raise ValueError("bad mac")
            token_tenant, token_collection, last_seq = json.loads(b64url_decode(payload))
            if token_tenant != tenant_key or token_collection != collection or not isinstance(last_seq, int):
                raise ValueError("wrong tenant or collection")
        except (ValueError, TypeError):
            raise BadRequest(f"The $skiptoken value '{token}' is invalid.") from None
        return last_seq

    # -- control API -----------------------------------------------------------------------------------------------

    def state_snapshot(self, collection=DEFAULT_COLLECTION):
        """{"tenants": {tenant_id: [objects of the collection as Graph renders them]}}, every tenant."""
        rtype = COLLECTIONS[collection]
        with self.lock:
            return {
                "tenants": {
                    tenant["tenant_id"]: [rtype.render(obj) for _seq, obj in self.store(key, collection).values()]
                    for key, tenant in self.tenants.items()
                }
            }

    def seed(self, mapping):
        if not isinstance(mapping, dict):
            raise ControlError(
                "seed body must be a JSON object mapping tenant id -> list of partners or {collection: [objects]}"
            )
        prepared = {}
        for tenant_id, value in mapping.items():
            if not isinstance(tenant_id, str) or not ID_PATTERN.fullmatch(tenant_id):
                raise ControlError(f"invalid tenant id {tenant_id!r}")
            prepared[tenant_id] = self._prepare_seed(tenant_id, value)
        with self.lock:
            for tenant_id, collections in prepared.items():
                key = tenant_id.lower()
                if key not in self.tenants:
                    self.tenants[key] = self._new_tenant(tenant_id)
                    for collection in COLLECTIONS:
                        self._install(key, collection, [])
                for collection, objects in collections.items():
                    self._install(key, collection, objects)
            seeded = {
                tenant_id: (
                    len(collections[DEFAULT_COLLECTION])
                    if isinstance(mapping[tenant_id], list)
                    else {name: len(objects) for name, objects in collections.items()}
                )
                for tenant_id, collections in prepared.items()
            }
            return {"seeded": seeded, "tenants": self.tenant_list()}

    def set_config(self, values):
        if not isinstance(values, dict):
            raise ControlError("config body must be a JSON object")
        checks = {
            "page_size": lambda v: v >= 1,
            "patch_status": lambda v: v in (200, 204),
            "token_lifetime": lambda v: v >= 0,
        }
        for name, value in values.items():
            if name not in checks:
                raise ControlError(f"unknown config key {name!r} (known: {', '.join(checks)})")
            if isinstance(value, bool) or not isinstance(value, int) or not checks[name](value):
                raise ControlError(f"invalid value {value!r} for {name!r}")
        with self.lock:
            self.config.update(values)
            return dict(self.config)

    def expire_tokens(self):
        with self.lock:
            for record in self.tokens.values():
                record["expires_at"] = 0
            return len(self.tokens)


# --------------------------------------------------------------------------------------------------------------------
# Request handling
# --------------------------------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length (or is a 204)
    server_version = "GraphEmulator/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this many seconds

    # -- connection plumbing ---------------------------------------------------------------------------------------

    def setup(self):
        # The TLS handshake runs here, in the connection's own thread, so a slow client never blocks accept().
        self.request.settimeout(self.timeout)
        # Responses are small; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
        self.server.app.count_connection()
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            try:
                self.request.close()
            except OSError:
                pass

    def log_request(self, code="-", size="-"):
        pass  # replaced by our own line in _dispatch (never includes query strings or bodies)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # signature fixed by the base class
        sys.stderr.write("graph-emulator: %s\n" % (format % args))

    def _drop_connection(self):
        """Close the connection without sending any response."""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise GraphError(413, "RequestEntityTooLarge", "The request body is too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise GraphError(413, "RequestEntityTooLarge", "The request body is too large.")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, ctx, response):
        body = response.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        self.send_response(response.status)
        if ctx is not None and ctx.kind != "control":
            self.send_header("request-id", ctx.request_id)
            self.send_header("client-request-id", ctx.client_request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204 and response.status >= 200:
            body = body or b""
            if body:
                self.send_header("Content-Type", response.content_type or "application/json")
            self.send_header("Content-Length", str(len(body)))
        if body and self.command != "HEAD" and response.status != 204:
            # Head and body leave in one write (one TLS record) rather than two.
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()
        else:
            self.end_headers()
        self.wfile.flush()

    # -- dispatch --------------------------------------------------------------------------------------------------

    def do_GET(self):
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self):
        app = self.server.app
        started = time.time()
        raw_path, _mark, raw_query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body = self._read_body()
        except (ValueError, GraphError) as exc:
            ctx = RequestContext(self.command, raw_path, raw_query, headers, b"")
            error = exc if isinstance(exc, GraphError) else BadRequest("Malformed request body.")
            self.close_connection = True  # the stream position is unknown after a bad body
            self._send(ctx, self._graph_error(ctx, error))
            return
        ctx = RequestContext(self.command, raw_path, raw_query, headers, body)
        segments = raw_path.split("/")[1:]

        if segments and segments[0] == "_emulator":
            ctx.kind = "control"
            self._send(ctx, self._control(ctx, segments[1:]))
            return

        handler = self._route(ctx, segments)
        seq = app.next_log_seq()
        fault = app.pick_fault(ctx.method, raw_path)
        fault_kind = fault["kind"] if fault else None
        if fault_kind == "latency":
            time.sleep(fault["latency"])
        if fault_kind == "drop_before":
            self._prepare_log_body(ctx)
            app.record(seq, started, ctx, None, fault_kind)
            self._drop_connection()
            return
        if fault_kind == "status":
            self._prepare_log_body(ctx)
            response = self._fault_response(ctx, fault)
        else:
            try:
                response = handler(ctx)
            except GraphError as exc:
                response = self._graph_error(ctx, exc)
            except Exception:  # noqa: BLE001 - an emulator bug must surface as a 500 with a traceback, not a drop
                traceback.print_exc()
                response = self._graph_error(ctx, GraphError(500, "InternalServerError", "Emulator error."))
        if fault_kind == "drop_after":
            app.record(seq, started, ctx, None, fault_kind)
            self._drop_connection()
            return
        app.record(seq, started, ctx, response.status, fault_kind)
        self.log_message(
            "%s %s -> %s%s", ctx.method, raw_path, response.status, f" (fault {fault_kind})" if fault_kind else ""
        )
        # The response is already computed, so the client sees the state before the mutation; applying it before
        # the bytes leave means any later request, even on another connection, sees the mutated state.
        app.apply_mutations(ctx.method, raw_path)
        self._send(ctx, response)

    def _route(self, ctx, segments):
        """Classify the request (sets ctx.kind) and return the function that answers it."""
        first = segments[0] if segments else ""
        if first == "msi" and segments[1:] == ["token"]:
            ctx.kind = "managed_identity"
            return self._app_service_identity
        if first == "metadata" and segments[1:] == ["identity", "oauth2", "token"]:
            ctx.kind = "managed_identity"
            return self._imds_identity
        if first.lower() in GRAPH_VERSIONS:
            return self._graph
        rest = segments[1:]
        if first and rest[:1] in (["v2.0"], [".well-known"], ["discovery"]):
            ctx.kind = "discovery"
            ctx.tenant = unquote(first)
            return self._discovery
        if first and rest[:1] == ["oauth2"]:
            ctx.kind = "token"
            ctx.tenant = unquote(first)
            return self._token
        return self._not_found

    # -- Graph -----------------------------------------------------------------------------------------------------

    def _graph_error(self, ctx, error):
        body = {
            "error": {
                "code": error.code,
                "message": error.message,
                "innerError": {
                    "date": graph_date(),
                    "request-id": ctx.request_id,
                    "client-request-id": ctx.client_request_id,
                },
            }
        }
        return Response(error.status, body, error.headers, "application/json")

    def _not_found(self, ctx):
        raise GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{ctx.path}'.")

    def _token_record(self, ctx):
        """(bearer token or None, copy of its record or None) for this request."""
        scheme, _space, token = ctx.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None, None
        with self.server.app.lock:
            record = self.server.app.tokens.get(token)
            return token, dict(record) if record else None

    def _authenticate(self, ctx):
        app = self.server.app
        challenge = {
            "WWW-Authenticate": f'Bearer realm="", authorization_uri="{app.origin}/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"'
        }
        token, record = self._token_record(ctx)
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

    def _graph(self, ctx):
        segments = [unquote(segment) for segment in ctx.path.split("/")[1:]]
        if len(segments) > 1 and segments[-1] == "":
            segments.pop()
        version = GRAPH_VERSIONS[segments[0].lower()]
        self._prepare_log_body(ctx)
        tenant_id = self._authenticate(ctx)
        rest = segments[1:]
        if rest[:1] and rest[0].lower() == "groups":
            return self._groups(ctx, tenant_id, version, rest[1:])
        rtype = None
        if len(rest) >= 2 and rest[0].lower() == "devicemanagement":
            rtype = DEVICE_MANAGEMENT_BY_LOWER.get(rest[1].lower())
        if rtype is None:
            segment = "/".join(rest[:2])
            raise GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{segment}'.")
        if len(rest) == 2:
            if ctx.method == "GET":
                return self._list(ctx, tenant_id, version, rtype)
            if ctx.method == "POST":
                return self._create(ctx, tenant_id, version, rtype)
            raise self._method_not_allowed(ctx, "GET, POST")
        object_id = rest[2]
        if not ID_PATTERN.fullmatch(object_id):
            raise BadRequest(f"Invalid key value '{object_id}' for the segment '{rtype.segment}'.")
        if len(rest) == 3:
            if ctx.method == "GET":
                return self._get(ctx, tenant_id, version, rtype, object_id)
            if ctx.method == "PATCH":
                return self._update(ctx, tenant_id, version, rtype, object_id)
            if ctx.method == "DELETE":
                return self._delete(tenant_id, rtype, object_id)
            raise self._method_not_allowed(ctx, "GET, PATCH, DELETE")
        action = rtype.action(rest[3]) if len(rest) == 4 else None
        if action is not None:
            if ctx.method == "POST":
                return self._action(tenant_id, rtype, object_id, action)
            raise self._method_not_allowed(ctx, "POST")
        raise GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{rest[3]}'.")

    def _groups(self, ctx, tenant_id, version, rest):
        """``/groups`` and ``/groups/{id}``: Entra groups, read-only; Entra's error codes (Request_*)."""
        try:
            if not rest:
                if ctx.method == "GET":
                    return self._list(ctx, tenant_id, version, GROUP)
                raise self._method_not_allowed(ctx, "GET")
            if len(rest) == 1:
                if ctx.method == "GET":
                    return self._get(ctx, tenant_id, version, GROUP, rest[0])
                raise self._method_not_allowed(ctx, "GET")
        except GraphError as exc:
            if exc.code == "BadRequest":
                exc.code = "Request_BadRequest"
            raise
        raise GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{rest[1]}'.")

    @staticmethod
    def _method_not_allowed(ctx, allowed):
        return GraphError(
            405,
            "MethodNotAllowed",
            f"The HTTP method '{ctx.method}' is not allowed for the requested resource.",
            {"Allow": allowed},
        )

    def _prepare_log_body(self, ctx):
        """Log fields a handler would have filled in, for requests that a fault stops before the handler runs."""
        if ctx.kind == "token":
            self._token_form(ctx)
        if ctx.kind != "graph":
            return
        if ctx.tenant is None:
            ctx.tenant = (self._token_record(ctx)[1] or {}).get("tenant")
        if ctx.method in ("POST", "PATCH", "PUT", "DELETE") and ctx.body:
            try:
                ctx.log_body = json.loads(ctx.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                ctx.log_body = None

    @staticmethod
    def _json_body(ctx):
        if not ctx.body.strip():
            raise BadRequest("Empty Payload, JSON content expected.")
        try:
            return json.loads(ctx.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("Invalid JSON. The request body could not be parsed as JSON.") from None

    def _query_options(self, ctx):
        options = {}
        for name, value in ctx.query_pairs:
            if not name.startswith("$"):
                continue  # Graph ignores custom query parameters
            lowered = name.lower()
            if lowered in options:
                raise BadRequest(
                    f"Query option '{name}' was specified more than once, but it must be specified at most once."
                )
            if lowered not in ("$top", "$filter", "$select", "$skiptoken", "$count"):
                raise BadRequest(f"Query option '{name}' is not supported for this resource.")
            options[lowered] = value
        return options

    def _context_url(self, version, rtype, select=None, entity=False):
        url = f"{self.server.app.origin}/{version}/$metadata#{rtype.context}"
        if select:
            url += "(" + ",".join(select) + ")"
        return url + ("/$entity" if entity else "")

    def _list(self, ctx, tenant_id, version, rtype):
        app = self.server.app
        options = self._query_options(ctx)
        select = rtype.parse_select(options.get("$select"))
        wanted_name = rtype.parse_filter(options["$filter"]) if "$filter" in options else None
        count = options.get("$count", "false").lower()
        if count not in ("true", "false"):
            raise BadRequest(f"'{options['$count']}' is not a valid count option.")
        page_size = app.config["page_size"]
        if "$top" in options:
            top = options["$top"]
            if not (top.isascii() and top.isdigit()):
                raise BadRequest(
                    f"Invalid value '{top}' for $top query option found. The $top query option requires "
                    "a non-negative integer value."
                )
            page_size = min(page_size, int(top))
        key = tenant_id.lower()
        last_seq = app.read_skiptoken(key, rtype.segment, options["$skiptoken"]) if "$skiptoken" in options else 0
        with app.lock:
            matching = [
                (seq, obj)
                for seq, obj in app.store(key, rtype.segment).values()
                if wanted_name is None or _same_name_ignoring_case(obj["displayName"], wanted_name)
            ]
            remaining = [(seq, obj) for seq, obj in matching if seq > last_seq]
            page = remaining[:page_size] if page_size > 0 else []
            value = [rtype.render(obj, select) for _seq, obj in page]
        body = {"@odata.context": self._context_url(version, rtype, select)}
        if count == "true":
            body["@odata.count"] = len(matching)
        body["value"] = value
        if page and len(remaining) > len(page):
            pairs = [(name, val) for name, val in ctx.query_pairs if name.lower() != "$skiptoken"]
            pairs.append(("$skiptoken", app.make_skiptoken(key, rtype.segment, page[-1][0])))
            query = "&".join(quote(name, safe="$") + "=" + quote(val, safe="$,'()") for name, val in pairs)
            body["@odata.nextLink"] = f"{app.origin}{ctx.path}?{query}"
        return Response(200, body, content_type=GRAPH_JSON)

    def _get(self, ctx, tenant_id, version, rtype, object_id):
        app = self.server.app
        options = self._query_options(ctx)
        select = rtype.parse_select(options.get("$select"))
        with app.lock:
            entry = app.store(tenant_id.lower(), rtype.segment).get(object_id)
            rendered = rtype.render(entry[1], select) if entry else None
        if rendered is None:
            raise self._not_found_error(rtype, object_id)
        body = {"@odata.context": self._context_url(version, rtype, select, entity=True)}
        body.update(rendered)
        return Response(200, body, content_type=GRAPH_JSON)

    @staticmethod
    def _not_found_error(rtype, object_id):
        if rtype is GROUP:
            return GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not "
                "present.",
            )
        return GraphError(
            404, "ResourceNotFound", f"Resource not found: no {rtype.short_name} with id '{object_id}' exists."
        )

    def _create(self, ctx, tenant_id, version, rtype):
        app = self.server.app
        converted, body_id = rtype.convert(self._json_body(ctx), allow_id=True)
        object_id = str(uuid.uuid4())
        if rtype.keeps_client_id and body_id is not None:
            if not ID_PATTERN.fullmatch(body_id):
                raise BadRequest(f"Invalid key value '{body_id}' for the property 'id' of '{rtype.entity_type}'.")
            object_id = body_id
        # Otherwise a client id is ignored, as Graph does for server-assigned keys.
        obj = rtype.new(object_id, converted)
        with app.lock:
            store = app.store(tenant_id.lower(), rtype.segment)
            if object_id in store:
                raise GraphError(
                    409, "Conflict", f"A {rtype.short_name} with id '{object_id}' already exists in this tenant."
                )
            app.next_seq += 1
            store[object_id] = (app.next_seq, obj)
            rendered = rtype.render(obj)
        body = {"@odata.context": self._context_url(version, rtype, entity=True)}
        body.update(rendered)
        location = f"{app.origin}/{version}/{rtype.context}/{object_id}"
        return Response(201, body, {"Location": location}, GRAPH_JSON)

    def _update(self, ctx, tenant_id, version, rtype, object_id):
        app = self.server.app
        converted, body_id = rtype.convert(self._json_body(ctx), allow_id=True)
        if body_id is not None and body_id != object_id:
            raise BadRequest(
                f"The id in the request body ('{body_id}') does not match the id in the URL ('{object_id}')."
            )
        with app.lock:
            entry = app.store(tenant_id.lower(), rtype.segment).get(object_id)
            if entry is None:
                raise self._not_found_error(rtype, object_id)
            entry[1].update(converted)
            rendered = rtype.render(entry[1])
            patch_status = app.config["patch_status"]
        if patch_status == 200:
            body = {"@odata.context": self._context_url(version, rtype, entity=True)}
            body.update(rendered)
            return Response(200, body, content_type=GRAPH_JSON)
        return Response(204)

    def _delete(self, tenant_id, rtype, object_id):
        app = self.server.app
        with app.lock:
            if app.store(tenant_id.lower(), rtype.segment).pop(object_id, None) is None:
                raise self._not_found_error(rtype, object_id)
        return Response(204)

    def _action(self, tenant_id, rtype, object_id, action):
        """A bound action without parameters (terminate, beginOnboarding, disconnect): 204, no body."""
        app = self.server.app
        with app.lock:
            entry = app.store(tenant_id.lower(), rtype.segment).get(object_id)
            if entry is None:
                raise self._not_found_error(rtype, object_id)
            action(entry[1])
        return Response(204)

    # -- Entra ID --------------------------------------------------------------------------------------------------

    def _entra_error(self, ctx, status, error, code, message, headers=None):
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
            "error_uri": f"{self.server.app.origin}/error?code={code}",
        }
        all_headers = {"x-ms-request-id": trace_id, "Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        all_headers.update(headers or {})
        return Response(status, body, all_headers, ENTRA_JSON)

    def _unknown_tenant(self, ctx, error):
        return self._entra_error(
            ctx,
            400,
            error,
            90002,
            f"Tenant '{ctx.tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
            "correct cloud. Check with your subscription administrator, this may happen if there are no active "
            "subscriptions for the tenant.",
        )

    def _discovery(self, ctx):
        app = self.server.app
        rest = ctx.path.split("/")[2:]
        tenant = app.tenant(ctx.tenant)
        if ctx.method != "GET":
            raise self._method_not_allowed(ctx, "GET")
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
        return self._not_found(ctx)

    def _token(self, ctx):
        app = self.server.app
        if ctx.path.split("/")[2:] != ["oauth2", "v2.0", "token"]:
            return self._not_found(ctx)
        if ctx.method != "POST":
            return self._entra_error(
                ctx,
                400,
                "invalid_request",
                900561,
                f"The endpoint only accepts POST requests. Received a {ctx.method} request.",
            )
        form, client_id, client_secret = self._token_form(ctx)
        assertion = form.get("client_assertion")
        tenant = app.tenant(ctx.tenant)
        if tenant is None:
            return self._unknown_tenant(ctx, "invalid_request")
        ctx.tenant = tenant["tenant_id"]
        grant_type = form.get("grant_type")
        if not grant_type:
            return self._entra_error(
                ctx,
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        if grant_type != "client_credentials":
            return self._entra_error(
                ctx,
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if not client_id:
            return self._entra_error(
                ctx,
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        if client_id.lower() != tenant["client_id"].lower():
            return self._entra_error(
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
            return self._entra_error(
                ctx,
                400,
                "invalid_request",
                90023,
                "Only one client credential may be sent: a client secret or a client assertion.",
            )
        if client_secret:
            if not hmac.compare_digest(client_secret.encode("utf-8"), tenant["client_secret"].encode("utf-8")):
                return self._entra_error(
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
                return self._entra_error(ctx, 401, "invalid_client", 700027, problem)
        else:
            return self._entra_error(
                ctx,
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        scope = form.get("scope")
        if not scope:
            return self._entra_error(
                ctx,
                400,
                "invalid_request",
                90014,
                "The required field 'scope' is missing from the credential. Ensure that you "
                "have all the necessary parameters for the login request.",
            )
        requested = [item for item in scope.split() if item not in IGNORED_SCOPES]
        if len(requested) != 1 or requested[0] not in GRAPH_SCOPES:
            return self._entra_error(
                ctx,
                400,
                "invalid_scope",
                70011,
                "The provided request must include a 'scope' input parameter. The provided value for the input "
                f"parameter 'scope' is not valid. The scope {scope} is not valid.",
            )
        token, lifetime, _expires_at = app.issue_token(
            tenant["tenant_id"], tenant["client_id"], requested[0][: -len("/.default")]
        )
        body = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        return Response(200, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}, ENTRA_JSON)

    @staticmethod
    def _token_form(ctx):
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
        app = self.server.app
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
        for certificate in self.server.app.registered_certificates:
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
        app = self.server.app
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

    def _app_service_identity(self, ctx):
        app = self.server.app

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
        token, _lifetime, expires_at = app.issue_token(app.base_tenants[0]["tenant_id"], identity, resource)
        ctx.tenant = app.base_tenants[0]["tenant_id"]
        body = {
            "access_token": token,
            "expires_on": str(int(expires_at)),
            "resource": params["resource"],
            "token_type": "Bearer",
            "client_id": identity,
        }
        return Response(200, body, content_type=ENTRA_JSON)

    def _imds_identity(self, ctx):
        app = self.server.app

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
        token, lifetime, expires_at = app.issue_token(app.base_tenants[0]["tenant_id"], identity, resource)
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

    def _fault_response(self, ctx, fault):
        status = fault["status"]
        headers = {}
        retry_after = fault["retry_after"]
        if retry_after is not None:
            headers["Retry-After"] = retry_after if isinstance(retry_after, str) else repr(retry_after)
        message = FAULT_MESSAGES.get(status, f"Injected failure with status {status}.")
        if ctx.kind in ("token", "discovery"):
            error = "temporarily_unavailable" if status == 429 or status >= 500 else "invalid_request"
            return self._entra_error(ctx, status, error, 90033, "A transient error has occurred. " + message, headers)
        if ctx.kind == "managed_identity":
            if ctx.path.startswith("/msi/"):
                return Response(status, {"statusCode": status, "message": message}, headers, ENTRA_JSON)
            return Response(status, {"error": "service_unavailable", "error_description": message}, headers, ENTRA_JSON)
        return self._graph_error(
            ctx, GraphError(status, GRAPH_ERROR_CODES.get(status, "UnknownError"), message, headers)
        )

    # -- control API -----------------------------------------------------------------------------------------------

    def _control(self, ctx, segments):
        app = self.server.app
        method = ctx.method
        route = "/".join(segments)
        try:
            payload = json.loads(ctx.body.decode("utf-8")) if ctx.body.strip() else None
        except (ValueError, UnicodeDecodeError):
            return Response(400, {"error": "control request body must be JSON"})
        try:
            result = self._control_call(app, method, route, payload)
        except ControlError as exc:
            return Response(400, {"error": str(exc)})
        if isinstance(result, Response):
            return result
        return Response(200, result)

    def _control_call(self, app, method, route, payload):  # pylint: disable=too-many-return-statements
        routes = {
            ("GET", "log"): lambda: {"requests": sorted((dict(e) for e in app.log), key=lambda e: e["seq"])},
            ("DELETE", "log"): lambda: self._clear(app, "log"),
            ("GET", "state"): app.state_snapshot,
            ("POST", "reset"): lambda: app.reset() or {"reset": True},
            ("POST", "seed"): lambda: app.seed(payload),
            ("GET", "config"): lambda: dict(app.config),
            ("POST", "config"): lambda: app.set_config(payload or {}),
            ("GET", "faults"): lambda: {"faults": [fault.describe() for fault in app.faults]},
            ("POST", "faults"): lambda: {"id": app.add_fault(payload)},
            ("DELETE", "faults"): lambda: self._clear(app, "faults"),
            ("GET", "mutations"): lambda: {"mutations": [mutation.describe() for mutation in app.mutations]},
            ("POST", "mutations"): lambda: {"id": app.add_mutation(payload)},
            ("DELETE", "mutations"): lambda: self._clear(app, "mutations"),
            ("POST", "expire-tokens"): lambda: {"expired": app.expire_tokens()},
            ("POST", "federated-token"): lambda: self._federated(app, payload),
            ("GET", "stats"): lambda: copy.deepcopy(app.stats),
            ("GET", "info"): app.info,
        }
        with app.lock:
            action = routes.get((method, route))
            if action is not None:
                return action()
        if route.startswith("state/") and route[len("state/") :] in COLLECTIONS:
            if method != "GET":
                return Response(405, {"error": f"method {method} not allowed on /_emulator/{route}"})
            return app.state_snapshot(route[len("state/") :])
        if method == "DELETE" and route.startswith("faults/"):
            with app.lock:
                before = len(app.faults)
                fault_id = route[len("faults/") :]
                app.faults = [fault for fault in app.faults if str(fault.id) != fault_id]
                if len(app.faults) == before:
                    return Response(404, {"error": f"no fault with id {fault_id}"})
                return {"deleted": True}
        if any(key[1] == route for key in routes):
            return Response(405, {"error": f"method {method} not allowed on /_emulator/{route}"})
        return Response(404, {"error": f"unknown control path /_emulator/{route}"})

    @staticmethod
    def _clear(app, attribute):
        with app.lock:
            count = len(getattr(app, attribute))
            setattr(app, attribute, [])
        return {"cleared": count}

    @staticmethod
    def _federated(app, payload):
        if not isinstance(payload, dict):
            raise ControlError('body must be {"tenant_id": ..., "client_id": ...}')
        tenant = app.tenant(payload.get("tenant_id"))
        if tenant is None or str(payload.get("client_id", "")).lower() != tenant["client_id"].lower():
            raise ControlError("tenant_id/client_id do not name a known app registration")
        lifetime = payload.get("lifetime", 3600)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int):
            raise ControlError("'lifetime' must be an integer number of seconds")
        return {"token": app.federated_token(tenant["tenant_id"], tenant["client_id"], lifetime)}


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, app, ssl_context):
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind() does a reverse DNS lookup (getfqdn); skip it, the address is fixed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, ssl.SSLError, TimeoutError, OSError)):
            return  # clients dropping connections or failing TLS is normal in fault tests
        super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Microsoft Graph / Entra ID emulator for tests (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--info-file", required=True, help="where to write the JSON info file once ready")
    parser.add_argument("--seed", help="JSON file: tenant id -> list of partners (Graph camelCase)")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--patch-status", type=int, choices=(200, 204), default=204)
    parser.add_argument("--tenants", type=int, default=3, help="number of generated tenants")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="access token lifetime in seconds")
    parser.add_argument("--state-dir", help="directory for generated keys and certificates (default: temporary)")
    args = parser.parse_args(argv)
    if args.page_size < 1:
        parser.error("--page-size must be >= 1")
    if args.tenants < 0:
        parser.error("--tenants must be >= 0")
    if args.token_lifetime < 0:
        parser.error("--token-lifetime must be >= 0")
    return args


def write_info_atomically(path, info):
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".graph-emulator-info-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main(argv=None):
    args = parse_args(argv)
    stopping = {"requested": False, "server": None}

    def request_stop(_signum, _frame):
        # serve_forever runs in this (main) thread: shutdown() must be called from another one.
        if stopping["requested"]:
            return
        stopping["requested"] = True
        if stopping["server"] is not None:
            threading.Thread(target=stopping["server"].shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    temporary_state = args.state_dir is None
    state_dir = tempfile.mkdtemp(prefix="graph-emulator-") if temporary_state else args.state_dir
    try:
        os.makedirs(state_dir, exist_ok=True)
        seed = {}
        if args.seed:
            with open(args.seed, encoding="utf-8") as handle:
                seed = json.load(handle)
            if not isinstance(seed, dict):
                raise ControlError("the seed file must hold a JSON object: tenant id -> list of partners")
        pki = Pki(state_dir)
        app = Emulator(args, pki, seed)
        server = EmulatorServer(("127.0.0.1", args.port), app, pki.ssl_context())
        app.origin = f"https://127.0.0.1:{server.server_address[1]}"
        stopping["server"] = server
        if stopping["requested"]:
            server.server_close()
            return 0
        write_info_atomically(args.info_file, app.info())
        sys.stderr.write(f"graph-emulator: serving on {app.origin} (pid {os.getpid()})\n")
        sys.stderr.flush()
        try:
            server.serve_forever(poll_interval=0.1)
        finally:
            server.server_close()
        sys.stderr.write("graph-emulator: stopped\n")
        return 0
    except (ControlError, ValueError, OSError) as exc:
        sys.stderr.write(f"graph-emulator: error: {exc}\n")
        return 2
    finally:
        if temporary_state:
            shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
