"""A scripted Graph endpoint for unit tests that drive a real GraphClient: plain requests and JSON batches ($batch).

Routes are keyed by method, API version, path and decoded query (in any order), so that a read gets the same answer
whether it travels on its own or inside a batch. A $batch POST is answered as Graph documents it: every sub-request
from the routes, the answers in shuffled order. The server checks what Graph would refuse (more than 20
sub-requests, repeated ids, absolute URLs, a method other than GET: this collection never batches writes) by failing
the test.

- `route(path, body)`: a fixed answer; `collection(path, items, page_size)`: pages linked by absolute nextLinks;
- `fail(path, answer, ...)`: answers used up by the next requests to that route, inside batches and outside;
- `outer`: answers used up by the next $batch POSTs themselves (None: that POST is served as usual);
- `batches` (every $batch POST, as Batch) and `singles` (every other request) say what was sent.
Answers are a status, or (status, body) / (status, body, headers), as for FakeSession.
"""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlencode, urlsplit

from ansible_collections.msgraph.intune.plugins.module_utils._graph_client import GraphClient
from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import resolve_settings
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import RetryPolicy, Transport

GRAPH = "https://127.0.0.1:8443"


class FakeTokenProvider:
    """token()/sign_in()/refresh()/can_refresh like the real providers; hands out tok-1, tok-2, ..."""

    def __init__(self, can_refresh=True):
        self.can_refresh = can_refresh
        self.issued = 1
        self.refreshes = 0

    def token(self):
        return f"tok-{self.issued}"

    def sign_in(self):
        self.token()

    def refresh(self):
        self.refreshes += 1
        self.issued += 1
        return self.token()


def graph_error(code, message, request_id="req-body", client_request_id="cli-body"):
    """Graph's error body, with innerError."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2026-01-01T00:00:00",
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def build_client(fake_time, session, provider=None, max_retries=3, options=None, environ=None, **policy_options):
    """A real GraphClient on `session`, sleeping on `fake_time`, with a jitter-free retry policy (rng 0.5)."""
    params = {"access_token": "tok-1", "graph_endpoint": GRAPH}
    params.update(options or {})
    settings = resolve_settings(params, environ=environ or {})
    policy = RetryPolicy(
        max_retries=max_retries, sleep=fake_time.sleep, clock=fake_time.clock, rng=lambda: 0.5, **policy_options
    )
    transport = Transport(verify=settings.verify, timeout=settings.timeout, policy=policy, session=session)
    return GraphClient(settings, transport, provider or FakeTokenProvider())


def _normalized(answer):
    if isinstance(answer, int):
        answer = (answer,)
    status, body, headers = (tuple(answer) + (None, None))[:3]
    return status, body, dict(headers or {})


class Batch:
    """One $batch POST: its version, the request as sent, its sub-requests, and the order the answers came in."""

    def __init__(self, version, call):
        self.version = version
        self.call = call
        self.requests = call.kwargs["json"]["requests"]
        self.answered = []

    @property
    def urls(self):
        return [request["url"] for request in self.requests]

    def __repr__(self):
        return f"Batch({self.version}, {self.urls})"


class GraphServer:
    def __init__(self, seed=7):
        self.routes = {}
        self.faults = {}
        self.outer = []
        self.batches = []
        self.singles = []
        self.rng = random.Random(seed)

    def session(self, fake_session, requests=200):
        """A FakeSession that sends up to `requests` requests here."""
        return fake_session(*[self] * requests)

    @staticmethod
    def key(path, query=None, version="v1.0", method="GET"):
        pairs = query.items() if isinstance(query, dict) else (query or ())
        return (method, version, path.strip("/"), frozenset(pairs))

    def route(self, path, body=None, query=None, version="v1.0", status=200, headers=None, method="GET"):
        self.routes[self.key(path, query, version, method)] = (status, body, dict(headers or {}))

    def fail(self, path, *answers, query=None, version="v1.0"):
        self.faults.setdefault(self.key(path, query, version), []).extend(answers)

    def collection(self, path, items, page_size=None, query=None, version="v1.0"):
        """`items` in pages of `page_size`; each page but the last links the next one absolutely, as Graph does."""
        query = dict(query or {})
        size = page_size or max(len(items), 1)
        pages = [items[start : start + size] for start in range(0, max(len(items), 1), size)]
        for number, page_items in enumerate(pages):
            page_query = dict(query, **({"$skiptoken": f"page{number}"} if number else {}))
            body = {"@odata.context": f"{GRAPH}/{version}/$metadata#{path}", "value": page_items}
            if number + 1 < len(pages):
                next_query = dict(query, **{"$skiptoken": f"page{number + 1}"})
                body["@odata.nextLink"] = f"{GRAPH}/{version}/{path}?{urlencode(next_query)}"
            self.route(path, body, page_query, version)

    def __call__(self, call):
        parts = urlsplit(call.url)
        assert f"{parts.scheme}://{parts.netloc}" == GRAPH, f"a request left the Graph endpoint: {call.url}"
        version, _slash, path = parts.path.lstrip("/").partition("/")
        if call.method == "POST" and path == "$batch":
            return self._batch(version, call)
        self.singles.append(call)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += list((call.kwargs.get("params") or {}).items())
        return self._answer(self.key(path, query, version, call.method))

    def _answer(self, key):
        if self.faults.get(key):
            return _normalized(self.faults[key].pop(0))
        if key in self.routes:
            return self.routes[key]
        return 404, graph_error("ResourceNotFound", f"no route for {key[0]} /{key[1]}/{key[2]}"), {}

    def _batch(self, version, call):
        answer = self.outer.pop(0) if self.outer else None
        if answer is not None:
            return _normalized(answer)
        batch = Batch(version, call)
        self.batches.append(batch)
        ids = [request["id"] for request in batch.requests]
        assert 1 <= len(ids) <= 20, f"Graph refuses a batch of {len(ids)} requests"
        assert len({str(id_).lower() for id_ in ids}) == len(ids), f"ids repeat in one batch: {ids}"
        responses = []
        for request in batch.requests:
            assert request["method"] == "GET", f"a {request['method']} was batched: only reads may be"
            assert request["url"].startswith("/") and "://" not in request["url"], request["url"]
            assert "body" not in request and "authorization" not in {name.lower() for name in request["headers"]}
            parts = urlsplit(request["url"])
            key = self.key(parts.path, parse_qsl(parts.query, keep_blank_values=True), version)
            status, body, headers = self._answer(key)
            if isinstance(body, dict):
                headers = dict({"Content-Type": "application/json"}, **headers)
            responses.append({"id": request["id"], "status": status, "headers": headers, "body": body})
        self.rng.shuffle(responses)
        batch.answered = [response["id"] for response in responses]
        return 200, {"responses": responses}
