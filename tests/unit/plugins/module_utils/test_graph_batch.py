# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GraphClient.read_many: reads in JSON batches, per-read errors and retries, paging, and the single-request path."""

from __future__ import annotations

import uuid

import pytest
import requests
from ansible_collections.msgraph.intune.plugins.module_utils import _graph_client
from ansible_collections.msgraph.intune.plugins.module_utils._graph_batch import Read, ReadResult, relative_url
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphConnectionError,
    GraphError,
    GraphThrottledError,
)

from tests.unit.plugins.module_utils.fake_graph_server import (
    GRAPH,
    FakeTokenProvider,
    GraphServer,
    build_client,
    graph_error,
)

PATHS = [f"deviceManagement/kind{number}" for number in range(41)]
THROTTLED = graph_error("TooManyRequests", "Too many requests")
INVALID_TOKEN = (401, graph_error("InvalidAuthenticationToken", "Access token has expired or is not yet valid."))


def collections(server, count, **options):
    """`count` collections, each holding one item named after its path; their reads, in order."""
    for path in PATHS[:count]:
        server.collection(path, [{"id": path}], **options)
    return [Read(path, version=options.get("version")) for path in PATHS[:count]]


def values(results):
    return [result.get() for result in results]


def throttled(retry_after=None, header="Retry-After"):
    return (429, THROTTLED, {header: retry_after} if retry_after is not None else {})


@pytest.fixture
def server():
    return GraphServer()


@pytest.fixture
def connect(fake_time, fake_session, server):
    """connect(provider=None, max_retries=3, options=None, **policy) -> (client, session) on `server`."""

    def factory(provider=None, max_retries=3, options=None, **policy):
        session = server.session(fake_session)
        return build_client(fake_time, session, provider, max_retries, options, **policy), session

    return factory


def single_request_error(server, fake_time, fake_session, read):
    """The error the same read gives as a request of its own (batching off), on the same server."""
    client = build_client(fake_time, server.session(fake_session), options={"batch": False})
    return client.read_many([read])[0].error


class TestBatches:
    def test_reads_travel_together(self, connect, server):
        server.collection("deviceManagement/vppTokens", [{"id": "v1", "state": "valid"}], query={"$select": "id,state"})
        server.route("deviceManagement/androidManagedStoreAccountEnterpriseSettings", {"id": "s", "bindStatus": "x"})
        server.collection("groups", [{"id": "g1"}], query={"$filter": "displayName eq 'Mac fleet'"})
        client, session = connect()
        results = client.read_many(
            [
                Read("deviceManagement/vppTokens", params={"$select": "id,state"}),
                Read("/deviceManagement/androidManagedStoreAccountEnterpriseSettings", collection=False),
                Read("groups", params={"$filter": "displayName eq 'Mac fleet'"}),
            ]
        )
        assert values(results) == [[{"id": "v1", "state": "valid"}], {"id": "s", "bindStatus": "x"}, [{"id": "g1"}]]
        assert [call.method for call in session.calls] == ["POST"]
        batch = server.batches[0]
        assert batch.call.url == f"{GRAPH}/v1.0/$batch"
        assert batch.urls == [
            "/deviceManagement/vppTokens?$select=id,state",
            "/deviceManagement/androidManagedStoreAccountEnterpriseSettings",
            "/groups?$filter=displayName%20eq%20'Mac%20fleet'",
        ]
        assert [request["id"] for request in batch.requests] == ["1", "2", "3"]
        assert [request["method"] for request in batch.requests] == ["GET"] * 3
        headers = batch.call.headers
        assert headers["Authorization"] == "Bearer tok-1"
        assert (headers["Accept"], headers["Content-Type"]) == ("application/json", "application/json")
        sub_ids = [request["headers"]["client-request-id"] for request in batch.requests]
        assert len(set(sub_ids + [headers["client-request-id"]])) == 4
        assert all(str(uuid.UUID(value)) == value for value in sub_ids)

    @pytest.mark.parametrize("count, sizes", [(21, [20, 1]), (41, [20, 20, 1]), (20, [20])])
    def test_more_than_20_are_split(self, connect, server, count, sizes):
        reads = collections(server, count)
        client, _session = connect()
        assert values(client.read_many(reads)) == [[{"id": path}] for path in PATHS[:count]]
        assert [len(batch.requests) for batch in server.batches] == sizes
        for batch in server.batches:
            assert [request["id"] for request in batch.requests] == [str(n) for n in range(1, len(batch.requests) + 1)]
        assert [url for batch in server.batches for url in batch.urls] == ["/" + path for path in PATHS[:count]]
        assert server.singles == []

    def test_shuffled_answers_are_matched_by_id(self, connect, server):
        reads = collections(server, 20)
        client, _session = connect()
        results = client.read_many(reads)
        batch = server.batches[0]
        assert batch.answered != [request["id"] for request in batch.requests]  # the server did shuffle
        assert values(results) == [[{"id": path}] for path in PATHS[:20]]

    def test_versions_go_in_batches_of_their_own(self, connect, server):
        server.collection(PATHS[0], [{"id": "a"}])
        server.collection(PATHS[1], [{"id": "b"}], version="beta")
        server.collection(PATHS[2], [{"id": "c"}])
        client, _session = connect()
        results = client.read_many([Read(PATHS[0]), Read(PATHS[1], version="beta"), Read(PATHS[2], version="v1.0")])
        assert values(results) == [[{"id": "a"}], [{"id": "b"}], [{"id": "c"}]]
        assert [(batch.call.url, batch.urls) for batch in server.batches] == [
            (f"{GRAPH}/v1.0/$batch", ["/" + PATHS[0], "/" + PATHS[2]]),
            (f"{GRAPH}/beta/$batch", ["/" + PATHS[1]]),
        ]

    def test_no_version_means_the_tasks_api_version(self, connect, server):
        reads = collections(server, 2, version="beta")
        client, _session = connect(options={"api_version": "beta"})
        assert values(client.read_many([Read(read.path) for read in reads])) == [[{"id": PATHS[0]}], [{"id": PATHS[1]}]]
        assert [batch.version for batch in server.batches] == ["beta"]

    def test_a_lone_read_is_a_request_of_its_own(self, connect, server):
        reads = collections(server, 1)
        client, session = connect()
        assert values(client.read_many(reads)) == [[{"id": PATHS[0]}]]
        assert [(call.method, call.url) for call in session.calls] == [("GET", f"{GRAPH}/v1.0/{PATHS[0]}")]
        assert client.read_many([]) == []

    def test_writes_are_never_batched(self, connect, server):
        reads = collections(server, 3)
        server.route(PATHS[0], {"id": "new"}, status=201, method="POST")
        server.route(f"{PATHS[0]}/new", status=204, method="PATCH")
        server.route(f"{PATHS[0]}/new/terminate", status=204, method="POST")
        server.route(f"{PATHS[0]}/new", status=204, method="DELETE")
        client, _session = connect()
        client.read_many(reads)
        client.create(PATHS[0], {"displayName": "x"})
        client.update(f"{PATHS[0]}/new", {"displayName": "y"})
        client.action(f"{PATHS[0]}/new/terminate")
        client.delete(f"{PATHS[0]}/new")
        client.read_many(reads)
        # The server fails the test on any method but GET inside a batch; every write went on its own.
        assert [[request["method"] for request in batch.requests] for batch in server.batches] == [["GET"] * 3] * 2
        assert [call.method for call in server.singles] == ["POST", "PATCH", "POST", "DELETE"]


class TestErrorsOfOneRead:
    def test_404_and_403_belong_to_their_read(self, connect, server, fake_time, fake_session):
        missing = graph_error("ResourceNotFound", "gone", request_id="req-a", client_request_id="cli-a")
        server.route(PATHS[0], missing, status=404)
        forbidden = {"error": {"code": "Forbidden", "message": "Missing scope"}}
        server.route(PATHS[1], forbidden, status=403, headers={"Request-Id": "req-b", "client-request-id": "cli-b"})
        server.collection(PATHS[2], [{"id": "c"}])
        reads = [Read(PATHS[0], collection=False), Read(PATHS[1]), Read(PATHS[2])]
        client, _session = connect()
        results = client.read_many(reads)
        assert len(server.batches) == 1
        assert results[2].get() == [{"id": "c"}]
        first, second = results[0].error, results[1].error
        assert {first.__class__, second.__class__} == {GraphError}  # the class itself, no subclass
        assert str(first) == (
            f"GET /v1.0/{PATHS[0]} failed: HTTP 404 ResourceNotFound: gone (request-id: req-a, client-request-id: cli-a)"
        )
        assert second.to_result() == {
            "status": 403,
            "error_code": "Forbidden",
            "graph_message": "Missing scope",
            "request_id": "req-b",
            "client_request_id": "cli-b",
            "method": "GET",
            "path": f"/v1.0/{PATHS[1]}",
            "url": f"{GRAPH}/v1.0/{PATHS[1]}",
        }
        with pytest.raises(GraphError) as info:
            results[1].get()
        assert info.value is second
        # The same class, message and fields as the same request on its own.
        for read, error in zip(reads, (first, second)):
            alone = single_request_error(server, fake_time, fake_session, read)
            assert (type(alone), str(alone), alone.to_result()) == (type(error), str(error), error.to_result())

    @pytest.mark.parametrize("options", [None, {"batch": False}], ids=["batched", "single"])
    def test_missing_ok(self, connect, server, options):
        server.route(PATHS[1], {"id": "there"})
        client, _session = connect(options=options)
        results = client.read_many(
            [Read(PATHS[0], collection=False, missing_ok=True), Read(PATHS[1], collection=False, missing_ok=True)]
        )
        assert (results[0].value, results[0].error, results[0].get()) == (None, None, None)
        assert results[1].get() == {"id": "there"}
        strict = client.read_many([Read(PATHS[0], collection=False), Read(PATHS[1], collection=False)])
        assert strict[0].error.status == 404 and strict[0].value is None

    def test_a_read_without_an_answer_fails_alone(self, connect, server):
        reads = collections(server, 2)
        server.outer.append(
            (
                200,
                {"responses": ["junk", {"id": "3", "status": 200}, {"id": "1", "status": 200, "body": {"value": []}}]},
            )
        )
        client, _session = connect()
        results = client.read_many(reads)
        assert results[0].get() == []
        error = results[1].error
        assert str(error) == f"GET /v1.0/{PATHS[1]} got no answer in Graph's $batch response"
        assert (error.method, error.path, error.url) == ("GET", f"/v1.0/{PATHS[1]}", f"{GRAPH}/v1.0/{PATHS[1]}")
        assert uuid.UUID(error.client_request_id)

    def test_a_body_that_is_not_json(self, connect, server):
        reads = collections(server, 2)
        server.fail(PATHS[0], (200, "PGh0bWw+", {"request-id": "req-s"}))
        client, _session = connect()
        results = client.read_many(reads)
        assert str(results[0].error) == f"GET /v1.0/{PATHS[0]} returned HTTP 200 with a body that is not JSON"
        assert (results[0].error.status, results[0].error.request_id) == (200, "req-s")
        assert results[1].get() == [{"id": PATHS[1]}]

    def test_connection_failure_is_raised(self, fake_time, fake_session):
        session = fake_session(requests.exceptions.ConnectionError("refused"))
        client = build_client(fake_time, session, max_retries=0)
        with pytest.raises(GraphConnectionError):
            client.read_many([Read(PATHS[0]), Read(PATHS[1])])

    def test_read_result(self):
        error = GraphError("nope", status=400)
        assert ReadResult([1]).get() == [1]
        with pytest.raises(GraphError) as info:
            ReadResult(error=error).get()
        assert info.value is error


class TestThrottling:
    def test_one_throttled_read_is_retried_alone_after_its_retry_after(self, connect, server, fake_time):
        reads = collections(server, 3)
        server.fail(PATHS[1], throttled("0.3"))
        client, _session = connect()
        assert values(client.read_many(reads)) == [[{"id": path}] for path in PATHS[:3]]
        assert fake_time.sleeps == [0.3]
        assert [batch.urls for batch in server.batches] == [["/" + path for path in PATHS[:3]], ["/" + PATHS[1]]]
        first, retried = server.batches[0].requests[1], server.batches[1].requests[0]
        assert retried["headers"] == {
            "client-request-id": first["headers"]["client-request-id"],
            "Retry-Attempt": "1",
        }

    def test_without_retry_after_the_wait_backs_off(self, connect, server, fake_time):
        reads = collections(server, 2)
        server.fail(PATHS[0], throttled(), throttled())
        client, _session = connect()
        assert values(client.read_many(reads)) == [[{"id": path}] for path in PATHS[:2]]
        # base_delay 1 and rng 0.5: half the step plus a quarter of it, the step doubling on each retry.
        assert fake_time.sleeps == [0.75, 1.5]
        assert [len(batch.requests) for batch in server.batches] == [2, 1, 1]

    def test_the_largest_retry_after_wins(self, connect, server, fake_time):
        reads = collections(server, 4)
        server.fail(PATHS[0], throttled("0.3"))
        server.fail(PATHS[1], throttled("2.5", header="retry-after"))
        server.fail(PATHS[2], (503, graph_error("ServiceUnavailable", "busy")))
        client, _session = connect()
        assert values(client.read_many(reads)) == [[{"id": path}] for path in PATHS[:4]]
        assert fake_time.sleeps == [2.5]
        assert server.batches[1].urls == ["/" + path for path in PATHS[:3]]

    def test_max_retries_ends_one_read_only(self, connect, server, fake_time, fake_session):
        reads = collections(server, 3)
        server.fail(PATHS[1], *[throttled("1")] * 3)
        client, _session = connect(max_retries=2)
        results = client.read_many(reads)
        assert [results[0].get(), results[2].get()] == [[{"id": PATHS[0]}], [{"id": PATHS[2]}]]
        error = results[1].error
        assert isinstance(error, GraphThrottledError)
        assert str(error) == f"GET /v1.0/{PATHS[1]} was throttled (HTTP 429, Retry-After 1) after 3 attempts"
        assert (error.status, error.code, error.method, error.path) == (429, "throttled", "GET", f"/v1.0/{PATHS[1]}")
        assert fake_time.sleeps == [1.0, 1.0]
        # Worded as Transport.send words the same request's exhausted retries.
        server.fail(PATHS[1], *[throttled("1")] * 3)
        alone = build_client(fake_time, server.session(fake_session), max_retries=2, options={"batch": False})
        assert str(alone.read_many(reads)[1].error) == str(error)

    def test_total_wait_budget_is_shared_by_the_rounds(self, connect, server, fake_time):
        server.collection(PATHS[0], [{"id": "a"}])
        server.collection(PATHS[1], [{"id": "b1"}, {"id": "b2"}], page_size=1)
        server.fail(PATHS[0], throttled("3"))  # round one: waits 3 of the 5
        server.fail(PATHS[1], throttled("3"), query={"$skiptoken": "page1"})  # round two: 3 more would pass 5
        client, _session = connect(max_total_wait=5.0)
        results = client.read_many([Read(PATHS[0]), Read(PATHS[1])])
        assert fake_time.sleeps == [3.0]
        assert results[0].get() == [{"id": "a"}]
        assert str(results[1].error) == (
            f"GET /v1.0/{PATHS[1]} was throttled (HTTP 429, Retry-After 3) after 1 attempts: the next wait of 3.0s "
            "exceeds the retry budget"
        )
        assert [batch.urls for batch in server.batches] == [
            [f"/{PATHS[0]}", f"/{PATHS[1]}"],
            [f"/{PATHS[1]}?%24skiptoken=page1", f"/{PATHS[0]}"],
        ]

    def test_a_later_round_cannot_pass_the_budget(self, connect, server, fake_time):
        reads = collections(server, 2)
        server.fail(PATHS[0], throttled("3"), throttled("3"))
        client, _session = connect(max_total_wait=5.0)
        results = client.read_many(reads)
        assert fake_time.sleeps == [3.0]
        assert "after 2 attempts: the next wait of 3.0s exceeds the retry budget" in str(results[0].error)
        assert results[1].get() == [{"id": PATHS[1]}]

    def test_a_retry_after_beyond_max_wait_is_not_shortened(self, connect, server, fake_time):
        reads = collections(server, 2)
        server.fail(PATHS[0], throttled("120"))
        client, _session = connect()
        results = client.read_many(reads)
        assert fake_time.sleeps == []
        assert "(HTTP 429, Retry-After 120) after 1 attempts: the next wait of 120.0s" in str(results[0].error)
        assert len(server.batches) == 1

    def test_the_outer_post_is_retried_like_any_request(self, connect, server, fake_time):
        reads = collections(server, 2)
        server.outer.append((503, graph_error("ServiceUnavailable", "busy"), {"Retry-After": "2"}))
        client, session = connect()
        assert values(client.read_many(reads)) == [[{"id": path}] for path in PATHS[:2]]
        assert fake_time.sleeps == [2.0]
        assert [call.method for call in session.calls] == ["POST", "POST"]
        assert session.calls[1].headers["Retry-Attempt"] == "1"
        assert session.calls[0].headers["client-request-id"] == session.calls[1].headers["client-request-id"]

    def test_a_failed_outer_post_fails_the_reads_of_that_batch(self, connect, server):
        reads = collections(server, 21)
        server.outer.append((500, graph_error("InternalServerError", "boom", request_id="req-o")))
        client, _session = connect()
        results = client.read_many(reads)
        for result in results[:20]:
            assert str(result.error) == (
                "POST /v1.0/$batch failed: HTTP 500 InternalServerError: boom (request-id: req-o, client-request-id: "
                "cli-body)"
            )
        assert results[20].get() == [{"id": PATHS[20]}]


class TestPaging:
    def test_next_pages_of_several_lists_travel_together(self, connect, server):
        server.collection(PATHS[0], [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}], page_size=1, query={"$select": "id"})
        server.collection(PATHS[1], [{"id": "b1"}, {"id": "b2"}], page_size=1)
        server.collection(PATHS[2], [{"id": "c1"}])
        server.route(PATHS[3], {"id": "d"})
        reads = [Read(PATHS[0], {"$select": "id"}), Read(PATHS[1]), Read(PATHS[2]), Read(PATHS[3], collection=False)]
        client, _session = connect()
        assert values(client.read_many(reads)) == [
            [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
            [{"id": "b1"}, {"id": "b2"}],
            [{"id": "c1"}],
            {"id": "d"},
        ]
        assert [batch.urls for batch in server.batches] == [
            [f"/{PATHS[0]}?$select=id", f"/{PATHS[1]}", f"/{PATHS[2]}", f"/{PATHS[3]}"],
            # The nextLinks as Graph sent them, made relative to their version.
            [f"/{PATHS[0]}?%24select=id&%24skiptoken=page1", f"/{PATHS[1]}?%24skiptoken=page1"],
            [f"/{PATHS[0]}?%24select=id&%24skiptoken=page2"],
        ]
        ids = [[request["headers"]["client-request-id"] for request in batch.requests] for batch in server.batches]
        assert len({value for batch in ids for value in batch}) == 7  # each page is a request of its own

    def test_a_next_link_names_its_version(self, connect, server):
        server.route(PATHS[0], {"value": [{"id": "a"}], "@odata.nextLink": f"{GRAPH}/beta/{PATHS[0]}?$skiptoken=b"})
        server.route(PATHS[0], {"value": [{"id": "b"}]}, query={"$skiptoken": "b"}, version="beta")
        server.route(PATHS[1], {"value": [{"id": "c"}], "@odata.nextLink": f"/v1.0/{PATHS[1]}?$skiptoken=d"})
        server.route(PATHS[1], {"value": [{"id": "d"}]}, query={"$skiptoken": "d"})
        client, _session = connect()
        assert values(client.read_many([Read(PATHS[0]), Read(PATHS[1])])) == [
            [{"id": "a"}, {"id": "b"}],
            [{"id": "c"}, {"id": "d"}],
        ]
        assert [(batch.version, batch.urls) for batch in server.batches[1:]] == [
            ("beta", [f"/{PATHS[0]}?$skiptoken=b"]),
            ("v1.0", [f"/{PATHS[1]}?$skiptoken=d"]),
        ]

    def test_a_repeated_next_link_stops_that_read(self, connect, server):
        link = f"{GRAPH}/v1.0/{PATHS[0]}?$skiptoken=same"
        server.route(PATHS[0], {"value": [{"id": "a"}], "@odata.nextLink": link})
        server.route(PATHS[0], {"value": [{"id": "b"}], "@odata.nextLink": link}, query={"$skiptoken": "same"})
        server.collection(PATHS[1], [{"id": "c"}, {"id": "d"}], page_size=1)
        client, _session = connect()
        results = client.read_many([Read(PATHS[0]), Read(PATHS[1])])
        assert str(results[0].error) == "Graph returned the same @odata.nextLink twice; stopping"
        assert (results[0].error.method, results[0].error.path) == ("GET", PATHS[0])
        assert results[1].get() == [{"id": "c"}, {"id": "d"}]
        assert [batch.urls for batch in server.batches][1] == [
            f"/{PATHS[0]}?$skiptoken=same",
            f"/{PATHS[1]}?%24skiptoken=page1",
        ]
        assert len(server.batches) == 2

    def test_a_next_link_to_another_host_is_refused(self, connect, server):
        server.route(PATHS[0], {"value": [{"id": "a"}], "@odata.nextLink": f"https://evil.example/v1.0/{PATHS[0]}?x=1"})
        server.collection(PATHS[1], [{"id": "b"}])
        client, session = connect()
        results = client.read_many([Read(PATHS[0]), Read(PATHS[1])])
        assert str(results[0].error) == (
            f"refusing to follow @odata.nextLink to 'https://evil.example/v1.0/{PATHS[0]}': it is not on the Graph "
            f"endpoint {GRAPH}"
        )
        assert results[1].get() == [{"id": "b"}]
        # The token went to the Graph endpoint only, and the link was not sent in a batch either.
        assert [call.url for call in session.calls] == [f"{GRAPH}/v1.0/$batch"]

    def test_page_limit(self, connect, server, monkeypatch):
        monkeypatch.setattr(_graph_client, "MAX_PAGES", 2)
        server.collection(PATHS[0], [{"id": "a"}, {"id": "b"}, {"id": "c"}], page_size=1)
        server.collection(PATHS[1], [{"id": "d"}, {"id": "e"}], page_size=1)
        client, _session = connect()
        results = client.read_many([Read(PATHS[0]), Read(PATHS[1])])
        assert str(results[0].error) == "more than 2 pages; stopping"
        assert results[1].get() == [{"id": "d"}, {"id": "e"}]


class TestTokenRefresh:
    def test_rejected_token_refreshed_once_and_those_reads_resent(self, connect, server):
        reads = collections(server, 3)
        server.fail(PATHS[0], INVALID_TOKEN)
        server.fail(PATHS[2], INVALID_TOKEN)
        provider = FakeTokenProvider()
        client, _session = connect(provider=provider)
        assert values(client.read_many(reads)) == [[{"id": path}] for path in PATHS[:3]]
        assert provider.refreshes == 1
        assert [batch.call.headers["Authorization"] for batch in server.batches] == ["Bearer tok-1", "Bearer tok-2"]
        assert server.batches[1].urls == ["/" + PATHS[0], "/" + PATHS[2]]
        first = {request["url"]: request["headers"] for request in server.batches[0].requests}
        assert [request["headers"] for request in server.batches[1].requests] == [
            first["/" + PATHS[0]],
            first["/" + PATHS[2]],
        ]

    def test_a_second_rejection_is_raised(self, connect, server):
        reads = collections(server, 2)
        server.fail(PATHS[0], INVALID_TOKEN, INVALID_TOKEN)
        provider = FakeTokenProvider()
        client, _session = connect(provider=provider)
        with pytest.raises(GraphAuthError) as info:
            client.read_many(reads)
        assert (info.value.status, info.value.code, info.value.path) == (
            401,
            "InvalidAuthenticationToken",
            f"/v1.0/{PATHS[0]}",
        )
        assert provider.refreshes == 1

    @pytest.mark.parametrize(
        "answer, can_refresh",
        [(INVALID_TOKEN, False), ((401, graph_error("Unauthorized", "Wrong audience")), True)],
        ids=["cannot-refresh", "other-401"],
    )
    def test_other_rejections_are_raised(self, connect, server, answer, can_refresh):
        reads = collections(server, 2)
        server.fail(PATHS[1], answer)
        provider = FakeTokenProvider(can_refresh=can_refresh)
        client, _session = connect(provider=provider)
        with pytest.raises(GraphAuthError):
            client.read_many(reads)
        assert provider.refreshes == 0


class TestWithoutBatching:
    def expected(self, server):
        server.collection(PATHS[0], [{"id": "a"}, {"id": "b"}], page_size=1)
        server.route(PATHS[1], {"id": "c"}, query={"$select": "id"})
        server.route(PATHS[2], graph_error("Forbidden", "no", request_id="req-f"), status=403)
        reads = [Read(PATHS[0]), Read(PATHS[1], {"$select": "id"}, collection=False), Read(PATHS[2])]
        return reads, [[{"id": "a"}, {"id": "b"}], {"id": "c"}]

    def check(self, results, expected):
        assert [result.value for result in results[:2]] == expected
        assert results[2].value is None
        assert str(results[2].error) == (
            f"GET /v1.0/{PATHS[2]} failed: HTTP 403 Forbidden: no (request-id: req-f, client-request-id: cli-body)"
        )

    @pytest.mark.parametrize("status", [404, 405, 501])
    def test_an_endpoint_without_batch_falls_back_for_good(self, connect, server, status):
        reads, expected = self.expected(server)
        server.outer.append((status, graph_error("NotFound", "no such segment")))
        client, session = connect()
        self.check(client.read_many(reads), expected)
        assert client.batch_refused
        assert [call.method for call in session.calls] == ["POST", "GET", "GET", "GET", "GET"]
        notices = client.notices.take(1)
        assert len(notices) == 1 and f"answered HTTP {status}" in notices[0]
        # The client's life goes on without batches, and without saying so again.
        self.check(client.read_many(reads), expected)
        assert [call.method for call in session.calls].count("POST") == 1
        assert client.notices.take(1) == []

    def test_the_fallback_notice(self, connect, server):
        reads, _expected = self.expected(server)
        server.outer.append((405, graph_error("MethodNotAllowed", "no")))
        client, _session = connect()
        client.read_many(reads)
        assert client.notices.take(1) == [
            (
                f"POST /v1.0/$batch answered HTTP 405: the Graph endpoint {GRAPH} does not serve JSON batching, so "
                "this task sends its reads one at a time; batch: false (or MSGRAPH_BATCH=false) skips the attempt"
            )
        ]

    def test_the_fallback_notice_shows_from_v_on(self, connect, server):
        reads, _expected = self.expected(server)
        server.outer.append((404, graph_error("NotFound", "no")))
        client, _session = connect()
        client.read_many(reads)
        assert client.notices.take(0) == []

    def test_a_refusal_mid_run_reads_the_rest_from_the_start(self, connect, server):
        server.collection(PATHS[0], [{"id": "a"}, {"id": "b"}], page_size=1)
        server.collection(PATHS[1], [{"id": "c"}], version="beta")
        server.outer.extend([None, (404, graph_error("NotFound", "no"))])  # v1.0 served, beta refused
        client, _session = connect()
        results = client.read_many([Read(PATHS[0]), Read(PATHS[1], version="beta")])
        assert values(results) == [[{"id": "a"}, {"id": "b"}], [{"id": "c"}]]
        assert [call.url for call in server.singles] == [
            f"{GRAPH}/v1.0/{PATHS[0]}",
            f"{GRAPH}/v1.0/{PATHS[0]}?%24skiptoken=page1",
            f"{GRAPH}/beta/{PATHS[1]}",
        ]

    @pytest.mark.parametrize(
        "options, environ",
        [({"batch": False}, None), (None, {"MSGRAPH_BATCH": "false"}), ({"batch": False}, {"MSGRAPH_BATCH": "true"})],
        ids=["option", "environment", "option-beats-environment"],
    )
    def test_batch_false_never_posts_a_batch(self, fake_time, fake_session, server, options, environ):
        reads, expected = self.expected(server)
        client = build_client(fake_time, server.session(fake_session), options=options, environ=environ)
        self.check(client.read_many(reads), expected)
        assert server.batches == []
        assert [call.method for call in server.singles] == ["GET"] * 4
        assert client.notices.take(1) == []

    def test_same_results_with_batching_on(self, connect, server):
        reads, expected = self.expected(server)
        client, _session = connect()
        self.check(client.read_many(reads), expected)
        assert len(server.batches) == 2 and server.singles == []


@pytest.mark.parametrize(
    "path, params, url",
    [
        ("deviceManagement/vppTokens", {"$select": "id,state"}, "/deviceManagement/vppTokens?$select=id,state"),
        ("/groups", {"$filter": "displayName eq 'A&B #1+'"}, "/groups?$filter=displayName%20eq%20'A%26B%20%231%2B'"),
        ("groups/x", {"$select": "displayName", "$top": None}, "/groups/x?$select=displayName"),
        ("groups?$count=true", {"$top": 5}, "/groups?$count=true&$top=5"),
        ("deviceManagement", None, "/deviceManagement"),
    ],
)
def test_relative_url(path, params, url):
    assert relative_url(path, params) == url
