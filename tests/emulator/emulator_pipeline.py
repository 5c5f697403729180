"""What happens to one request in the Graph emulator, whatever carried it (a connection, or a batch): it is routed
to the surface that serves its path, gets its fault (if one fires), is answered, logged, and then the mutations
that match it are applied.  Control requests (``/_emulator/...``) skip faults and the log.

Routing: ``/_emulator/...`` control API (``emulator_control.py``); ``/msi/token`` and
``/metadata/identity/oauth2/token`` managed identity, ``/{tenant}/v2.0|discovery/...`` discovery and
``/{tenant}/oauth2/...`` tokens (``emulator_signin.py``); ``/v1.0|beta/$batch`` batching (``emulator_batch.py``);
anything else under ``/v1.0`` or ``/beta`` Graph (``emulator_collections.py``); any other path 404.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from urllib.parse import unquote

from .emulator_batch import BatchService
from .emulator_collections import GraphCollections
from .emulator_control import ControlApi
from .emulator_faults import fault_response
from .emulator_messages import GRAPH_VERSIONS, graph_error_response, path_not_found
from .emulator_signin import SignIn
from .graph_schema import GraphError

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


class Pipeline:
    """Every surface of the emulator over one state (``app``), and the path a request takes through them."""

    def __init__(self, app):
        self.app = app
        self.signin = SignIn(app)
        self.collections = GraphCollections(app, self.signin)
        self.batch = BatchService(app, self.signin, self.run_sub_request)
        self.control = ControlApi(app, self.signin)

    # -- entry points ----------------------------------------------------------------------------------------------

    def serve(self, ctx):
        """The response to a request sent on its own, or None when the connection must be dropped without one."""
        segments = ctx.path.split("/")[1:]
        if segments and segments[0] == "_emulator":
            ctx.kind = "control"
            return self.control.handle(ctx, "/".join(segments[1:]))
        app = self.app
        handler = self._route(ctx, segments)
        ctx.seq = app.next_log_seq()
        fault = app.faults.pick(ctx.method, ctx.path)
        fault_kind = fault["kind"] if fault else None
        if fault_kind == "latency":
            time.sleep(fault["latency"])
        if fault_kind == "drop_before":
            self._prepare_log_body(ctx)
            app.record(ctx.seq, ctx, None, fault_kind)
            return None
        response = self._respond(ctx, handler, fault)
        if fault_kind == "drop_after":
            app.record(ctx.seq, ctx, None, fault_kind)
            return None
        self._finish(ctx, response, fault_kind)
        return response

    def run_sub_request(self, ctx):
        """Run one sub-request of a batch as a request of its own; returns (response, seconds of injected latency).

        Its fault is picked among those that see batched requests (never a drop); the batch waits for the latency.
        """
        handler = self._route(ctx, ctx.path.split("/")[1:])
        ctx.seq = self.app.next_log_seq()
        fault = self.app.faults.pick(ctx.method, ctx.path, batched=True)
        fault_kind = fault["kind"] if fault else None
        response = self._respond(ctx, handler, fault)
        self._finish(ctx, response, fault_kind)
        return response, fault["latency"] if fault_kind == "latency" else 0

    # -- the steps -------------------------------------------------------------------------------------------------

    def _route(self, ctx, segments):
        """Classify the request (sets ctx.kind) and return the function that answers it."""
        signin = self.signin
        first = segments[0] if segments else ""
        if first == "msi" and segments[1:] == ["token"]:
            ctx.kind = "managed_identity"
            return signin.app_service_identity
        if first == "metadata" and segments[1:] == ["identity", "oauth2", "token"]:
            ctx.kind = "managed_identity"
            return signin.imds_identity
        if first.lower() in GRAPH_VERSIONS:
            if unquote("/".join(segments[1:])).strip("/").lower() == "$batch":
                ctx.kind = "batch"
                return self._batch
            return self._graph
        rest = segments[1:]
        if first and rest[:1] in (["v2.0"], [".well-known"], ["discovery"]):
            ctx.kind = "discovery"
            ctx.tenant = unquote(first)
            return signin.discovery
        if first and rest[:1] == ["oauth2"]:
            ctx.kind = "token"
            ctx.tenant = unquote(first)
            return signin.token
        return self._not_found

    def _graph(self, ctx):
        self._prepare_log_body(ctx)
        return self.collections.handle(ctx)

    def _batch(self, ctx):
        self._prepare_log_body(ctx)
        return self.batch.handle(ctx)

    @staticmethod
    def _not_found(ctx):
        raise path_not_found(ctx)

    def _respond(self, ctx, handler, fault):
        if fault and fault["kind"] == "status":
            self._prepare_log_body(ctx)
            return fault_response(ctx, fault, self.signin)
        try:
            return handler(ctx)
        except GraphError as exc:
            return graph_error_response(ctx, exc)
        except Exception:  # noqa: BLE001 - an emulator bug must surface as a 500 with a traceback, not a drop
            traceback.print_exc()
            return graph_error_response(ctx, GraphError(500, "InternalServerError", "Emulator error."))

    def _prepare_log_body(self, ctx):
        """The log fields a handler fills in (tenant, body), also for requests that a fault stops before it runs."""
        if ctx.kind == "token":
            self.signin.token_form(ctx)
        if ctx.kind not in ("graph", "batch"):
            return
        if ctx.tenant is None:
            ctx.tenant = (self.signin.token_record(ctx)[1] or {}).get("tenant")
        if ctx.kind == "graph" and ctx.method in WRITE_METHODS and ctx.body:
            try:
                ctx.log_body = json.loads(ctx.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                ctx.log_body = None

    def _finish(self, ctx, response, fault_kind):
        """Log the answered request, then apply its mutations.

        The response is already computed, so the client sees the state before the mutation; applying it before the
        bytes leave means any later request, even on another connection, sees the mutated state.
        """
        self.app.record(ctx.seq, ctx, response.status, fault_kind)
        notes = [f"fault {fault_kind}"] if fault_kind else []
        if ctx.batch_seq is not None:
            notes.append(f"in batch {ctx.batch_seq}")
        suffix = f" ({', '.join(notes)})" if notes else ""
        sys.stderr.write(f"graph-emulator: {ctx.method} {ctx.path} -> {response.status}{suffix}\n")
        self.app.faults.apply_mutations(ctx.method, ctx.path)
