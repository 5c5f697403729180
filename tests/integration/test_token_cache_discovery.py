"""OIDC discovery documents are checked before they are used or cached (issue 24, items 3 and 5).

msal takes the token endpoint from the authority's discovery document and posts the client secret there. A document
is used only when the endpoints that msal reads are https URLs on the configured authority's host, for the configured
tenant; anything else is discarded and fetched again, with a warning that says what is wrong.

* An answer without endpoints: the task fetches the document again and goes on; when the second answer is no better,
  that task fails saying so (not with a bare key name), and later tasks, and later runs with a persistent cache
  directory, are not harmed: a bad document is never cached.
* A document naming another host, fresh from the authority or planted in the cache directory (that takes write access
  to it; defence in depth): the secret is never sent there. A recording server on that host (127.0.0.2, loopback)
  shows that it got no connection at all; the runs let 127.0.0.2 bypass the (closed) proxy, so that a client that
  followed the document would reach it.

A small HTTPS authority on 127.0.0.1 stands in front of the emulator's Entra endpoints (its own test CA, with the
emulator's CA in one bundle for ca_path) and spoils as many discovery answers as a test asks; Graph requests go to the
emulator directly.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.integration.test_token_cache import CACHE_DIR_ENV, OWN_DIRECTORY, flat, info_task, requests_of, statuses

# The runs reach the recording host directly, as they reach the emulator: a client that follows a foreign document
# would get there (with the closed proxy, nothing would, and the tests could not fail).
DIRECT = {"NO_PROXY": "127.0.0.1,127.0.0.2,localhost", "no_proxy": "127.0.0.1,127.0.0.2,localhost"}


def issue_certificates(directory):
    """A test CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server-key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msgraph-intune token cache test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = (directory / "front-ca.pem", directory / "front.pem", directory / "front-key.pem")
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(server.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


class AuthorityFront:
    """An HTTPS authority in front of the emulator's sign-in endpoints. `spoilers` (functions of a discovery
    document) change the next discovery answers, one answer each; `requests` records (method, path)."""

    def __init__(self, emulator, directory):
        self.upstream = emulator.info["authority_host"]
        self.spoilers = []
        self.requests = []
        ca, certificate, key = issue_certificates(directory)
        self.ca_bundle = directory / "ca-bundle.pem"
        self.ca_bundle.write_bytes(Path(emulator.info["ca_path"]).read_bytes() + ca.read_bytes())
        upstream_tls = ssl.create_default_context(cafile=emulator.info["ca_path"])
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=upstream_tls)
        )
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                front.answer(self)

            do_POST = do_GET

            def log_message(self, *_args):
                """Quiet: the emulator logs what reaches it."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.origin = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        self.requests.append((handler.command, handler.path))
        headers = {name: value for name, value in handler.headers.items() if name.lower() in ("content-type",)}
        request = urllib.request.Request(
            self.upstream + handler.path, data=body, headers=headers, method=handler.command
        )
        try:
            with self._opener.open(request, timeout=30) as response:
                status, content, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, content, answer_headers = error.code, error.read(), error.headers
        if handler.path.split("?")[0].endswith("/.well-known/openid-configuration") and status == 200:
            document = json.loads(content.decode().replace(self.upstream, self.origin))
            if self.spoilers:
                document = self.spoilers.pop(0)(document)
            content = json.dumps(document).encode()
        handler.send_response(status)
        for name in ("Content-Type", "Cache-Control"):
            if answer_headers.get(name):
                handler.send_header(name, answer_headers[name])
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    def info(self, emulator):
        """The emulator's info with this front as the authority (and a CA bundle that trusts both)."""
        return dict(emulator.info, authority_host=self.origin, ca_path=str(self.ca_bundle))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Recorder:
    """A TCP server on another loopback host that records every connection it gets (and answers none)."""

    def __init__(self):
        self.connections = []
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.2", 0))
        self.socket.listen(16)
        self.origin = f"https://127.0.0.2:{self.socket.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, address = self.socket.accept()
            except OSError:
                return
            self.connections.append(address)
            connection.close()

    def close(self):
        self.socket.close()


@pytest.fixture
def front(emulator, tmp_path):
    server = AuthorityFront(emulator, tmp_path)
    yield server
    server.close()


@pytest.fixture
def recorder():
    try:
        server = Recorder()
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.2 (a loopback address other than 127.0.0.1): {exc}")
    yield server
    server.close()


def without_endpoints(document):
    return {key: value for key, value in document.items() if key not in ("authorization_endpoint", "token_endpoint")}


def foreign_token_endpoint(origin):
    """A spoiler that moves the token endpoint (path and all) to `origin`."""

    def spoil(document):
        return dict(document, token_endpoint=origin + urlsplit(document["token_endpoint"]).path)

    return spoil


def test_an_answer_without_endpoints_is_fetched_again(emulator, run_playbook, front):
    front.spoilers.append(without_endpoints)
    tasks = [info_task(f"read {number}") for number in range(3)]
    emulator.control.clear_log()
    run = run_playbook(tasks, info=front.info(emulator))
    assert run.rc == 0, run.output
    assert [statuses(run, task["name"]) for task in tasks] == [["ok"]] * 3
    assert flat("returned a document that has no authorization_endpoint; it was discarded and is fetched again") in (
        flat(run.output)
    ), run.output
    log = emulator.control.log()
    # The bad answer and the good one: the good one was cached for the run's other tasks.
    assert (len(requests_of(log, "discovery")), len(requests_of(log, "token"))) == (2, 1)


def test_two_answers_without_endpoints_fail_only_the_task_that_got_them(emulator, run_playbook, front, tmp_path):
    front.spoilers.extend([without_endpoints, without_endpoints])
    env = {CACHE_DIR_ENV: str(tmp_path / "parent")}
    tasks = [dict(info_task("unlucky"), ignore_errors=True), info_task("next"), info_task("last")]
    run = run_playbook(tasks, info=front.info(emulator), env=env)
    assert run.rc == 0, run.output
    assert statuses(run, "unlucky") == ["failed"] and statuses(run, "next") == statuses(run, "last") == ["ok"]
    failure = run.result("unlucky")
    assert failure["msg"].startswith("OIDC discovery failed for tenant "), failure
    assert failure["msg"].endswith(
        "/v2.0/.well-known/openid-configuration returned a document that has no authorization_endpoint, twice"
    ), failure
    assert (failure["status"], failure["method"]) == (200, "GET")
    # A persistent cache directory kept the good document only: the next run does not ask again, and works.
    emulator.control.clear_log()
    again = run_playbook([info_task("next run")], info=front.info(emulator), env=env)
    assert again.rc == 0, again.output
    assert len(requests_of(emulator.control.log(), "discovery")) == 0


def test_a_fresh_document_naming_another_host_never_gets_the_secret(emulator, run_playbook, front, recorder):
    spoil = foreign_token_endpoint(recorder.origin)
    front.spoilers.extend([spoil, spoil])
    tasks = [dict(info_task("misled"), ignore_errors=True), info_task("next")]
    emulator.control.clear_log()
    run = run_playbook(tasks, info=front.info(emulator), env=DIRECT)
    assert recorder.connections == []
    assert run.rc == 0, run.output
    assert statuses(run, "misled") == ["failed"] and statuses(run, "next") == ["ok"]
    host = recorder.origin.split("//")[1]
    assert flat(f"names host {host} in its token_endpoint, not the authority's 127.0.0.1:") in flat(run.output)
    assert f"names host {host} in its token_endpoint" in run.result("misled")["msg"]
    assert [method for method, _path in front.requests].count("POST") == 1  # the next task's token request


def test_a_cached_document_naming_another_host_is_never_used(emulator, run_playbook, tmp_path, recorder):
    """Item 5: a discovery document in the cache directory, edited to name another host."""
    parent = tmp_path / "parent"
    env = {CACHE_DIR_ENV: str(parent), **DIRECT}
    assert run_playbook([info_task("first")], info=emulator.info, env=env).rc == 0
    cache = parent / OWN_DIRECTORY
    (entry,) = cache.glob("discovery-*.json")
    stored = json.loads(entry.read_text())
    stored["text"] = stored["text"].replace(emulator.info["authority_host"], recorder.origin)
    entry.write_text(json.dumps(stored))
    for token_file in cache.glob("token-*.json"):
        token_file.unlink()  # so that the next task must post its secret somewhere
    emulator.control.clear_log()
    run = run_playbook([info_task("second")], info=emulator.info, env=env)
    assert recorder.connections == []
    assert run.rc == 0, run.output
    host = recorder.origin.split("//")[1]
    assert flat(f"{entry} holds a discovery document that names host {host} in its") in flat(run.output), run.output
    log = emulator.control.log()
    assert (len(requests_of(log, "discovery")), len(requests_of(log, "token"))) == (1, 1)
    assert emulator.info["authority_host"] in json.loads(entry.read_text())["text"]  # replaced by the good one
