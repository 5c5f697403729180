"""The Graph emulator's state, guarded by one lock: tenants and their credentials, every kind's stored objects,
config, access tokens, faults and mutations, the request log and the stats.

Stored objects live in ``data[tenant key][seed key] = {id: (seq, object)}`` (a singleton kind holds at most one);
``seq`` orders listings and paging.  ``reset()`` goes back to the state at start: the seeded data (CLI ``--seed``)
and the CLI config, no faults, mutations, log or stats; access tokens survive it.

The request log (``GET /_emulator/log``) holds one entry per request that is not a control request::

    {seq, time, method, path, query, kind, tenant, status, fault, body, client_request_id, batch_seq}

``kind`` is graph|batch|token|managed_identity|discovery: every Graph request (``/groups`` and actions included,
and every sub-request of a batch) is ``graph`` with its tenant; the outer ``POST /{v}/$batch`` is ``batch`` and
also carries ``size`` (its number of sub-requests; null when the body could not be read as a batch).
``batch_seq`` is the ``seq`` of the batch a sub-request came in, null for a request sent on its own.  So the Graph
requests of a run, batched ones included, are the ``graph`` entries, and its HTTP round trips to Graph are the
``graph`` entries with a null ``batch_seq`` plus the ``batch`` entries.  ``status`` is null for a dropped
connection; ``body`` is the JSON body of Graph writes, ``{grant_type, client_id, scope}`` for token requests, null
otherwise (a batch's sub-requests are logged with their own bodies).

Stats (``GET /_emulator/stats``): ``requests`` (log entries), ``by_kind``, ``by_kind_method``, ``by_status``
(``dropped`` for a dropped connection), ``faults_fired``, ``tokens_issued``, ``connections`` (TLS connections
accepted), ``batches`` (requests to ``/{v}/$batch``, whatever they were answered: the ``batch`` entries) and
``batched_requests`` (sub-requests run: the ``graph`` entries with a ``batch_seq``).
"""

from __future__ import annotations

import copy
import os
import random
import secrets
import threading
import uuid

from cryptography.hazmat.primitives import hashes

from .emulator_control import prepare_seed
from .emulator_faults import Faults
from .emulator_messages import ID_PATTERN, ControlError, query_dict
from .emulator_signin import RegisteredCertificate, new_secret
from .graph_schema import COLLECTIONS


class Emulator:
    """All emulator state, guarded by one lock; the request handlers call into it."""

    def __init__(self, args, pki, seed):
        self.pki = pki
        self.lock = threading.RLock()
        self.origin = None
        self.cli_config = {
            "page_size": args.page_size,
            "patch_status": args.patch_status,
            "token_lifetime": args.token_lifetime,
            "batch": True,
            "batch_shuffle_seed": None,
        }
        self.skiptoken_key = secrets.token_bytes(32)
        self.registered_certificates = [RegisteredCertificate(pki.client_cert)]
        self.identity_header = secrets.token_urlsafe(24)
        self.system_identity_client_id = str(uuid.uuid4())
        self.user_identity_client_id = str(uuid.uuid4())
        self.faults = Faults(self)

        self.base_tenants = [self.new_tenant(str(uuid.uuid4())) for _index in range(args.tenants)]
        known = {tenant["tenant_id"].lower() for tenant in self.base_tenants}
        self.base_data = {}
        for tenant_id, value in seed.items():
            if not isinstance(tenant_id, str) or not ID_PATTERN.fullmatch(tenant_id):
                raise ControlError(f"invalid tenant id {tenant_id!r} in the seed")
            if tenant_id.lower() not in known:
                self.base_tenants.append(self.new_tenant(tenant_id))
                known.add(tenant_id.lower())
            self.base_data[tenant_id.lower()] = prepare_seed(tenant_id, value)
        if not self.base_tenants:
            raise ValueError("at least one tenant is required (--tenants N or a --seed file naming tenants)")

        self.tokens = {}
        self.reset()

    # -- tenants and stored objects --------------------------------------------------------------------------------

    @staticmethod
    def new_tenant(tenant_id):
        return {"tenant_id": tenant_id, "client_id": str(uuid.uuid4()), "client_secret": new_secret()}

    def install(self, key, collection, objects):
        """Replace one kind's objects of one tenant (hold the lock)."""
        store = {}
        for obj in objects:
            self.next_seq += 1
            store[obj["id"]] = (self.next_seq, copy.deepcopy(obj))
        self.data.setdefault(key, {})[collection] = store

    def add_tenant(self, tenant_id):
        """A new tenant with empty stores (hold the lock)."""
        key = tenant_id.lower()
        self.tenants[key] = self.new_tenant(tenant_id)
        for collection in COLLECTIONS:
            self.install(key, collection, [])

    def store(self, tenant_key, collection):
        """{id: (seq, stored object)} of one kind of one tenant (empty for an unknown tenant); hold the lock."""
        return self.data.setdefault(tenant_key, {}).setdefault(collection, {})

    def tenant(self, tenant_id):
        return self.tenants.get((tenant_id or "").lower())

    def tenant_list(self):
        return [dict(tenant) for tenant in self.tenants.values()]

    def reset(self):
        """Back to the state at start: seeded data, CLI config; no faults, mutations, log or stats."""
        with self.lock:
            self.config = dict(self.cli_config)
            self.batch_random = random.Random(self.config["batch_shuffle_seed"])
            self.tenants = {tenant["tenant_id"].lower(): dict(tenant) for tenant in self.base_tenants}
            self.next_seq = 0
            self.data = {}
            for key in self.tenants:
                for collection in COLLECTIONS:
                    self.install(key, collection, self.base_data.get(key, {}).get(collection, []))
            self.faults.reset()
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
                "batches": 0,
                "batched_requests": 0,
            }

    def set_config(self, values):
        """Apply already validated config values (the control API checks them)."""
        with self.lock:
            self.config.update(values)
            if "batch_shuffle_seed" in values:
                self.batch_random = random.Random(self.config["batch_shuffle_seed"])
            return dict(self.config)

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

    # -- log and stats ---------------------------------------------------------------------------------------------

    def next_log_seq(self):
        with self.lock:
            self.log_seq += 1
            return self.log_seq

    def record(self, seq, ctx, status, fault_kind):
        entry = {
            "seq": seq,
            "time": ctx.started,
            "method": ctx.method,
            "path": ctx.path,
            "query": query_dict(ctx.query_pairs),
            "kind": ctx.kind,
            "tenant": ctx.tenant,
            "status": status,
            "fault": fault_kind,
            "body": ctx.log_body,
            "client_request_id": ctx.client_request_id,
            "batch_seq": ctx.batch_seq,
        }
        if ctx.kind == "batch":
            entry["size"] = ctx.size
        with self.lock:
            self.log.append(entry)
            stats = self.stats
            stats["requests"] += 1
            stats["by_kind"][ctx.kind] = stats["by_kind"].get(ctx.kind, 0) + 1
            by_method = stats["by_kind_method"].setdefault(ctx.kind, {})
            by_method[ctx.method] = by_method.get(ctx.method, 0) + 1
            status_key = str(status) if status is not None else "dropped"
            stats["by_status"][status_key] = stats["by_status"].get(status_key, 0) + 1
            if ctx.kind == "batch":
                stats["batches"] += 1
            if ctx.batch_seq is not None:
                stats["batched_requests"] += 1

    def log_entries(self):
        """Copies of the log entries, oldest (lowest seq) first."""
        with self.lock:
            return sorted((dict(entry) for entry in self.log), key=lambda entry: entry["seq"])

    def count_connection(self):
        with self.lock:
            self.stats["connections"] += 1
