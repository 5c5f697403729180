"""The Graph emulator's HTTP side and command line: a threading HTTPS server on 127.0.0.1 (TLS 1.2+, HTTP/1.1
keep-alive, one thread per connection), the request handler that reads each request and writes (or drops) its
answer, and ``main``.  What a request gets is decided by ``emulator_pipeline.py``.

Bodies may be sent with Content-Length or chunked, up to 16 MiB (413 above); a body that cannot be read is 400 and
closes the connection.  Every non-control response carries ``request-id`` and ``client-request-id`` (the
request's own, else a generated one); head and body leave in one write.  The command line is described in
``graph_emulator.py``, the entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .emulator_messages import ControlError, RequestContext, graph_error_response
from .emulator_pipeline import Pipeline
from .emulator_signin import Pki
from .emulator_state import Emulator
from .graph_schema import BadRequest, GraphError

MAX_BODY = 16 * 1024 * 1024


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
        pass  # the pipeline writes its own line (never with query strings or bodies)

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
        raw_path, _mark, raw_query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body = self._read_body()
        except (ValueError, GraphError) as exc:
            ctx = RequestContext(self.command, raw_path, raw_query, headers, b"")
            error = exc if isinstance(exc, GraphError) else BadRequest("Malformed request body.")
            self.close_connection = True  # the stream position is unknown after a bad body
            self._send(ctx, graph_error_response(ctx, error))
            return
        ctx = RequestContext(self.command, raw_path, raw_query, headers, body)
        response = self.server.pipeline.serve(ctx)
        if response is None:
            self._drop_connection()
            return
        self._send(ctx, response)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, app, ssl_context):
        self.app = app
        self.pipeline = Pipeline(app)
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
