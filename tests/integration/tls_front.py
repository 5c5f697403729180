"""A TLS front for the Graph emulator, as a TLS-inspecting proxy presents itself: its own CA, on 127.0.0.1.

``write_chain(directory)`` writes a CA and a server certificate for 127.0.0.1 without the Authority Key Identifier
extension (the CA has no Subject Key Identifier either), as many TLS-inspecting proxies make them: valid, but refused
by Python 3.13's strict X.509 checks (VERIFY_X509_STRICT) with "Missing Authority Key Identifier".

``TlsFront(backend, backend_ca, chain)`` terminates TLS with that chain and relays every request to the emulator
(verified against the emulator's CA), replacing the emulator's origin with its own in the answers (discovery documents
and next links name the host they are served from). Use it as a context manager; ``origin`` is its https URL,
``ca_path`` the CA to trust and ``relayed`` counts the requests it relayed. ``inspecting_proxy(info, directory)``
starts one before the emulator whose info that is, with a new chain.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import ipaddress
import os
import ssl
import threading

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Not relayed: they describe one hop's connection, or a body that is re-encoded here.
HOP_HEADERS = frozenset(
    ("connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "te", "upgrade")
)
HANDSHAKE_TIMEOUT = 30


def _key_usage(cert_sign):
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


def write_chain(directory, common_name="msgraph.intune tests inspecting proxy CA"):
    """Write ca.pem, server.pem and server-key.pem (no key identifiers, see the module docstring); return their paths."""
    now = datetime.datetime.now(datetime.timezone.utc)
    valid = {
        "not_valid_before": now - datetime.timedelta(minutes=5),
        "not_valid_after": now + datetime.timedelta(days=1),
    }
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid["not_valid_before"])
        .not_valid_after(valid["not_valid_after"])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid["not_valid_before"])
        .not_valid_after(valid["not_valid_after"])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # 127.0.0.1 only: a request to https://localhost must fail the host name check.
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {name: os.path.join(directory, name + ".pem") for name in ("ca", "server", "server-key")}
    with open(paths["ca"], "wb") as handle:
        handle.write(ca.public_bytes(pem))
    with open(paths["server"], "wb") as handle:
        handle.write(server.public_bytes(pem))
    with open(paths["server-key"], "wb") as handle:
        handle.write(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def server_context(chain):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(chain["server"], chain["server-key"])
    return context


class _RelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: each one is a new handshake with the client

    def _relay(self):
        front = self.server.front
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_HEADERS | {"host"}}
        front.count_relayed()
        answer = front.backend_session.request(
            self.command,
            front.backend + self.path,
            headers=headers,
            data=body,
            verify=front.backend_ca,
            timeout=30,
            allow_redirects=False,
        )
        content = answer.content.replace(front.backend.encode(), front.origin.encode())
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value.replace(front.backend, front.origin))
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _relay

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # the base class's signature
        """Quiet: the emulator logs every request it gets."""


class _TlsRelayServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        # The handshake happens here, in the request's thread, so that a client refusing the certificate (which the
        # tests want) does not hold up the accept loop.
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            connection = self.front.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()

    def handle_error(self, request, client_address):
        """Clients that drop the connection are part of the tests."""


class TlsFront:
    def __init__(self, backend, backend_ca, chain):
        self.backend = backend
        self.backend_ca = backend_ca
        self.context = server_context(chain)
        self.ca_path = chain["ca"]
        self.backend_session = requests.Session()
        self.backend_session.trust_env = False  # the emulator is on loopback: no proxy, no REQUESTS_CA_BUNDLE
        self.relayed = 0
        self._lock = threading.Lock()
        self._server = _TlsRelayServer(("127.0.0.1", 0), _RelayHandler)
        self._server.front = self
        self.port = self._server.server_address[1]
        self.origin = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def count_relayed(self):
        with self._lock:
            self.relayed += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)
        self.backend_session.close()
        assert not self._thread.is_alive(), "the TLS front did not stop"


@contextlib.contextmanager
def inspecting_proxy(emulator_info, directory):
    """A TlsFront before the emulator, with a new chain (see write_chain) written to `directory`."""
    os.makedirs(directory, exist_ok=True)
    with TlsFront(emulator_info["graph_endpoint"], emulator_info["ca_path"], write_chain(str(directory))) as front:
        yield front
