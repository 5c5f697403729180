# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GraphClient: headers, Graph errors, token refresh, DELETE after a retry, and paging."""

from __future__ import annotations

import uuid

import pytest
import requests
from ansible_collections.msgraph.intune.plugins.module_utils import _graph_client
from ansible_collections.msgraph.intune.plugins.module_utils._graph_auth import AccessTokenAuth
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    GraphAuthError,
    GraphConnectionError,
    GraphError,
    GraphThrottledError,
)

from tests.unit.plugins.module_utils.fake_graph_server import GRAPH, FakeTokenProvider, build_client, graph_error

COLLECTION = "deviceManagement/deviceManagementPartners"
COLLECTION_URL = f"{GRAPH}/v1.0/{COLLECTION}"
COLLECTION_PATH = f"/v1.0/{COLLECTION}"
INVALID_TOKEN = (401, graph_error("InvalidAuthenticationToken", "Access token has expired or is not yet valid."))


@pytest.fixture
def make_client(fake_time, fake_session):
    """make_client(*script, provider=None, max_retries=3) -> (client, session)."""

    def factory(*script, provider=None, max_retries=3):
        session = fake_session(*script)
        return build_client(fake_time, session, provider=provider, max_retries=max_retries), session

    return factory


class TestRequests:
    def test_get_returns_the_body(self, make_client):
        client, session = make_client((200, {"id": "p1", "displayName": "Contoso"}))
        assert client.get(f"{COLLECTION}/p1", params={"$select": "id"}) == {"id": "p1", "displayName": "Contoso"}
        call = session.calls[0]
        assert (call.method, call.url) == ("GET", f"{COLLECTION_URL}/p1")
        assert call.kwargs["params"] == {"$select": "id"}
        assert call.headers["Authorization"] == "Bearer tok-1"
        assert call.headers["Accept"] == "application/json"
        assert call.kwargs["verify"] is True
        assert call.kwargs["timeout"] == 30.0

    def test_leading_slash_in_path(self, make_client):
        client, session = make_client((200, {}))
        client.get("/" + COLLECTION)
        assert session.calls[0].url == COLLECTION_URL

    def test_update_sends_json_and_204_gives_none(self, make_client):
        client, session = make_client(204)
        assert client.update(f"{COLLECTION}/p1", {"displayName": "New"}) is None
        assert session.calls[0].method == "PATCH"
        assert session.calls[0].kwargs["json"] == {"displayName": "New"}
        assert session.calls[0].headers["Content-Type"] == "application/json"

    def test_a_request_without_a_body_has_no_content_type(self, make_client):
        client, session = make_client((200, {}), 204)
        client.get(COLLECTION)
        client.delete(f"{COLLECTION}/p1")
        assert ["Content-Type" in call.headers for call in session.calls] == [False, False]

    def test_send_batch_posts_the_sub_requests_to_the_version(self, make_client):
        requests_ = [{"id": "1", "method": "GET", "url": "/deviceManagement"}]
        client, session = make_client((200, {"responses": []}))
        assert client.send_batch("beta", requests_) == {"responses": []}
        call = session.calls[0]
        assert (call.method, call.url, call.kwargs["json"]) == ("POST", f"{GRAPH}/beta/$batch", {"requests": requests_})
        assert call.headers["Authorization"] == "Bearer tok-1"
        assert (call.headers["Accept"], call.headers["Content-Type"]) == ("application/json", "application/json")
        assert str(uuid.UUID(call.headers["client-request-id"])) == call.headers["client-request-id"]

    def test_update_200_gives_the_object(self, make_client):
        client, _session = make_client((200, {"id": "p1", "displayName": "New"}))
        assert client.update(f"{COLLECTION}/p1", {"displayName": "New"}) == {"id": "p1", "displayName": "New"}

    def test_200_with_empty_body_gives_none(self, make_client):
        client, _session = make_client((200, b""))
        assert client.get(COLLECTION) is None

    def test_200_with_non_json_body_is_an_error(self, make_client):
        client, _session = make_client((200, "<html>portal</html>", {"request-id": "req-h"}))
        with pytest.raises(GraphError) as info:
            client.get(COLLECTION)
        assert str(info.value) == f"GET {COLLECTION_PATH} returned HTTP 200 with a body that is not JSON"
        assert (info.value.status, info.value.request_id) == (200, "req-h")

    def test_client_request_id_is_a_uuid_and_kept_across_retries(self, make_client):
        client, session = make_client(429, (503, None, {"Retry-After": "1"}), (200, {"value": []}))
        client.get(COLLECTION)
        ids = [call.headers["client-request-id"] for call in session.calls]
        assert len(ids) == 3
        assert len(set(ids)) == 1
        assert str(uuid.UUID(ids[0])) == ids[0]
        assert [call.headers.get("Retry-Attempt") for call in session.calls] == [None, "1", "2"]

    def test_each_logical_request_gets_its_own_client_request_id(self, make_client):
        client, session = make_client((200, {}), (200, {}))
        client.get(COLLECTION)
        client.get(COLLECTION)
        assert session.calls[0].headers["client-request-id"] != session.calls[1].headers["client-request-id"]

    def test_create_is_a_post_that_is_not_resent_after_504(self, make_client):
        client, session = make_client((504, graph_error("GatewayTimeout", "upstream timed out")), (201, {"id": "x"}))
        with pytest.raises(GraphError) as info:
            client.create(COLLECTION, {"displayName": "Contoso"})
        assert len(session.calls) == 1
        assert info.value.status == 504
        assert "cannot be retried safely" in str(info.value)

    def test_create_returns_what_recover_found(self, make_client):
        found = {"id": "p1", "displayName": "Contoso"}
        client, session = make_client(requests.exceptions.ReadTimeout("read timed out"))
        assert client.create(COLLECTION, {"displayName": "Contoso"}, recover=lambda: found) is found
        assert [call.method for call in session.calls] == ["POST"]

    def test_create_returns_the_created_object(self, make_client):
        client, session = make_client((201, {"id": "p1", "displayName": "Contoso"}))
        assert client.create(COLLECTION, {"displayName": "Contoso"}) == {"id": "p1", "displayName": "Contoso"}
        assert session.calls[0].kwargs["json"] == {"displayName": "Contoso"}

    def test_action_is_retried_after_504(self, make_client):
        client, session = make_client(504, 204)
        assert client.action(f"{COLLECTION}/p1/terminate") is None
        assert [(call.method, call.url) for call in session.calls] == [("POST", f"{COLLECTION_URL}/p1/terminate")] * 2

    def test_throttling_exhausted_surfaces(self, make_client):
        client, session = make_client(429, 429, max_retries=1)
        with pytest.raises(GraphThrottledError, match="throttled"):
            client.get(COLLECTION)
        assert len(session.calls) == 2

    def test_connection_failure_carries_the_client_request_id(self, make_client):
        client, session = make_client(requests.exceptions.ConnectionError("refused"), max_retries=0)
        with pytest.raises(GraphConnectionError) as info:
            client.get(COLLECTION)
        assert info.value.client_request_id == session.calls[0].headers["client-request-id"]


class TestErrors:
    def test_graph_error_body_parsed(self, make_client):
        body = graph_error("BadRequest", "Invalid filter clause", request_id="req-1", client_request_id="cli-1")
        client, _session = make_client((400, body, {"request-id": "req-header", "client-request-id": "cli-header"}))
        with pytest.raises(GraphError) as info:
            client.get(COLLECTION, params={"$filter": "bogus"})
        error = info.value
        assert isinstance(error, GraphError) and not isinstance(error, GraphAuthError)
        assert str(error) == (
            f"GET {COLLECTION_PATH} failed: HTTP 400 BadRequest: Invalid filter clause "
            "(request-id: req-1, client-request-id: cli-1)"
        )
        assert error.to_result() == {
            "status": 400,
            "error_code": "BadRequest",
            "graph_message": "Invalid filter clause",
            "request_id": "req-1",
            "client_request_id": "cli-1",
            "method": "GET",
            "path": COLLECTION_PATH,
            "url": COLLECTION_URL,  # without the query
        }

    def test_ids_fall_back_to_headers(self, make_client):
        body = {"error": {"code": "Forbidden", "message": "Missing scope"}}
        headers = {"request-id": "req-h", "client-request-id": "cli-h"}
        client, _session = make_client((403, body, headers))
        with pytest.raises(GraphError) as info:
            client.delete(f"{COLLECTION}/p1")
        error = info.value
        assert isinstance(error, GraphError) and not isinstance(error, GraphAuthError)
        assert str(error) == (
            f"DELETE {COLLECTION_PATH}/p1 failed: HTTP 403 Forbidden: Missing scope (request-id: req-h, client-request-id: cli-h)"
        )
        assert (error.status, error.code, error.request_id, error.client_request_id, error.method) == (
            403,
            "Forbidden",
            "req-h",
            "cli-h",
            "DELETE",
        )

    def test_lowercase_innererror_accepted(self, make_client):
        body = {"error": {"code": "NotFound", "message": "gone", "innererror": {"request-id": "req-l"}}}
        client, _session = make_client((409, body))
        with pytest.raises(GraphError) as info:
            client.get(COLLECTION)
        assert info.value.request_id == "req-l"

    def test_non_json_error_body(self, make_client):
        client, _session = make_client((500, "<html><body>Internal error</body></html>", {"request-id": "req-x"}))
        with pytest.raises(GraphError) as info:
            client.get(COLLECTION)
        assert str(info.value) == (
            f"GET {COLLECTION_PATH} failed: HTTP 500 (request-id: req-x, client-request-id: none)"
        )
        assert (info.value.status, info.value.code, info.value.graph_message) == (500, None, None)

    @pytest.mark.parametrize("body", [[1, 2], {"error": "just a string"}, {"unrelated": True}, b""])
    def test_odd_error_bodies(self, make_client, body):
        client, _session = make_client((400, body))
        with pytest.raises(GraphError) as info:
            client.get(COLLECTION)
        assert str(info.value) == f"GET {COLLECTION_PATH} failed: HTTP 400 (request-id: none, client-request-id: none)"

    def test_error_path_leaves_out_the_query(self, make_client):
        client, _session = make_client((400, graph_error("BadRequest", "bad")))
        with pytest.raises(GraphError) as info:
            client.get(f"{GRAPH}/v1.0/{COLLECTION}?$skiptoken=abc")
        assert info.value.path == COLLECTION_PATH

    def test_get_or_none(self, make_client):
        client, _session = make_client((404, graph_error("ResourceNotFound", "nope")), (400, graph_error("X", "y")))
        assert client.get_or_none(f"{COLLECTION}/p1") is None
        with pytest.raises(GraphError) as info:
            client.get_or_none(f"{COLLECTION}/p1")
        assert info.value.status == 400


class TestTokenRefresh:
    def test_invalid_token_refreshed_once_and_retried(self, make_client):
        provider = FakeTokenProvider()
        client, session = make_client(INVALID_TOKEN, (200, {"id": "p1"}), provider=provider)
        assert client.get(f"{COLLECTION}/p1") == {"id": "p1"}
        assert provider.refreshes == 1
        assert [call.headers["Authorization"] for call in session.calls] == ["Bearer tok-1", "Bearer tok-2"]
        # Still the same logical request.
        assert session.calls[0].headers["client-request-id"] == session.calls[1].headers["client-request-id"]

    def test_the_refreshed_token_is_used_as_it_comes(self, make_client):
        """One token() per logical request; after a 401 the token from refresh() is sent, not a further token()."""

        class ExpiringProvider(FakeTokenProvider):
            asked = 0

            def token(self):
                self.asked += 1
                self.issued += 1  # a provider that would fetch anew on every call, e.g. for short-lived tokens
                return f"tok-{self.issued}"

            def refresh(self):
                self.refreshes += 1
                self.issued += 1
                return f"tok-{self.issued}"

        provider = ExpiringProvider()
        client, session = make_client(INVALID_TOKEN, (200, {"id": "p1"}), provider=provider)
        client.get(f"{COLLECTION}/p1")
        assert (provider.asked, provider.refreshes) == (1, 1)
        assert [call.headers["Authorization"] for call in session.calls] == ["Bearer tok-2", "Bearer tok-3"]

    def test_second_401_fails(self, make_client):
        provider = FakeTokenProvider()
        client, session = make_client(INVALID_TOKEN, INVALID_TOKEN, (200, {}), provider=provider)
        with pytest.raises(GraphAuthError) as info:
            client.get(f"{COLLECTION}/p1")
        assert provider.refreshes == 1
        assert len(session.calls) == 2
        assert info.value.status == 401
        assert info.value.code == "InvalidAuthenticationToken"

    def test_other_401_not_refreshed(self, make_client):
        provider = FakeTokenProvider()
        client, session = make_client((401, graph_error("Unauthorized", "Wrong audience")), provider=provider)
        with pytest.raises(GraphAuthError, match="HTTP 401 Unauthorized: Wrong audience"):
            client.get(COLLECTION)
        assert provider.refreshes == 0
        assert len(session.calls) == 1

    def test_provider_that_cannot_refresh(self, make_client):
        provider = FakeTokenProvider(can_refresh=False)
        client, session = make_client(INVALID_TOKEN, (200, {}), provider=provider)
        with pytest.raises(GraphAuthError) as info:
            client.get(COLLECTION)
        assert provider.refreshes == 0
        assert len(session.calls) == 1
        assert info.value.code == "InvalidAuthenticationToken"

    def test_real_access_token_provider(self, make_client):
        client, session = make_client(INVALID_TOKEN, (200, {}))
        client.auth = AccessTokenAuth(client.settings, client.transport)
        with pytest.raises(GraphAuthError) as info:
            client.get(COLLECTION)
        assert len(session.calls) == 1
        assert session.calls[0].headers["Authorization"] == "Bearer tok-1"
        assert info.value.status == 401

    def test_403_is_not_an_auth_error(self, make_client):
        client, _session = make_client((403, graph_error("Forbidden", "no")))
        with pytest.raises(GraphError) as info:
            client.get(COLLECTION)
        assert not isinstance(info.value, GraphAuthError)


class TestDelete:
    def test_204(self, make_client):
        client, session = make_client(204)
        assert client.delete(f"{COLLECTION}/p1") is None
        assert [(call.method, call.url) for call in session.calls] == [("DELETE", f"{COLLECTION_URL}/p1")]

    @pytest.mark.parametrize(
        "first",
        [requests.exceptions.ReadTimeout("read timed out"), 504, 503, 429],
        ids=["read-timeout", "504", "503", "429"],
    )
    def test_404_after_a_retried_attempt_counts_as_done(self, make_client, first):
        client, session = make_client(first, (404, graph_error("ResourceNotFound", "gone")))
        assert client.delete(f"{COLLECTION}/p1") is None
        assert len(session.calls) == 2
        assert session.calls[1].headers["Retry-Attempt"] == "1"

    def test_404_on_the_first_attempt_raises(self, make_client):
        client, session = make_client((404, graph_error("ResourceNotFound", "gone", request_id="req-4")))
        with pytest.raises(GraphError) as info:
            client.delete(f"{COLLECTION}/p1")
        assert len(session.calls) == 1
        assert (info.value.status, info.value.code, info.value.request_id) == (404, "ResourceNotFound", "req-4")

    def test_404_after_timeout_and_token_refresh_counts_as_done(self, make_client):
        provider = FakeTokenProvider()
        client, session = make_client(
            requests.exceptions.ReadTimeout("read timed out"),
            INVALID_TOKEN,
            (404, graph_error("ResourceNotFound", "gone")),
            provider=provider,
        )
        assert client.delete(f"{COLLECTION}/p1") is None
        assert len(session.calls) == 3
        assert provider.refreshes == 1

    def test_404_after_retry_is_only_forgiven_for_delete(self, make_client):
        client, _session = make_client(504, (404, graph_error("ResourceNotFound", "gone")))
        with pytest.raises(GraphError) as info:
            client.get(f"{COLLECTION}/p1")
        assert info.value.status == 404


def page(items, next_link=None):
    body = {"value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return (200, body)


class TestPaging:
    def test_follows_next_links(self, make_client):
        link2 = f"{COLLECTION_URL}?$skiptoken=two"
        link3 = f"{COLLECTION_URL}?$skiptoken=three"
        client, session = make_client(
            page([{"id": "a"}, {"id": "b"}], link2), page([{"id": "c"}], link3), page([{"id": "d"}])
        )
        items = client.list(COLLECTION, params={"$filter": "displayName eq 'x'"})
        assert [item["id"] for item in items] == ["a", "b", "c", "d"]
        assert [call.url for call in session.calls] == [COLLECTION_URL, link2, link3]
        # The nextLink already holds the query: the first page's params are not sent again.
        assert [call.kwargs["params"] for call in session.calls] == [{"$filter": "displayName eq 'x'"}, None, None]
        assert [call.headers["Authorization"] for call in session.calls] == ["Bearer tok-1"] * 3

    def test_relative_next_link_stays_on_the_graph_endpoint(self, make_client):
        """OData allows a nextLink relative to the service; it is resolved against the Graph endpoint only."""
        client, session = make_client(page([{"id": "a"}], f"/v1.0/{COLLECTION}?$skiptoken=two"), page([{"id": "b"}]))
        assert [item["id"] for item in client.list(COLLECTION)] == ["a", "b"]
        assert [call.url for call in session.calls] == [COLLECTION_URL, f"{COLLECTION_URL}?$skiptoken=two"]

    def test_empty_collection(self, make_client):
        client, session = make_client((200, {"value": []}))
        assert client.list(COLLECTION) == []
        assert len(session.calls) == 1

    def test_page_without_value(self, make_client):
        client, _session = make_client((200, {"@odata.context": "x"}))
        assert client.list(COLLECTION) == []

    @pytest.mark.parametrize(
        "next_link",
        [
            "https://evil.example/v1.0/deviceManagement/deviceManagementPartners?$skiptoken=x",
            f"{GRAPH}.evil.example/v1.0/{COLLECTION}?$skiptoken=x",
            f"{GRAPH}0/v1.0/{COLLECTION}?$skiptoken=x",
            f"http://127.0.0.1:8443/v1.0/{COLLECTION}?$skiptoken=x",
            f"https://user@127.0.0.1:8443/v1.0/{COLLECTION}",
        ],
    )
    def test_next_link_to_another_origin_refused(self, make_client, next_link):
        client, session = make_client(page([{"id": "a"}], next_link), page([{"id": "stolen"}]))
        with pytest.raises(GraphError) as info:
            client.list(COLLECTION)
        assert str(info.value).startswith(f"refusing to follow @odata.nextLink to {next_link.split('?', 1)[0]!r}")
        assert "skiptoken" not in str(info.value)
        # The token was never sent anywhere but the Graph endpoint.
        assert [call.url for call in session.calls] == [COLLECTION_URL]
        assert (info.value.method, info.value.path) == ("GET", COLLECTION)

    def test_repeated_next_link_stops(self, make_client):
        link = f"{COLLECTION_URL}?$skiptoken=same"
        client, session = make_client(page([{"id": "a"}], link), page([{"id": "b"}], link), page([{"id": "c"}]))
        with pytest.raises(GraphError, match="same @odata.nextLink twice"):
            client.list(COLLECTION)
        assert [call.url for call in session.calls] == [COLLECTION_URL, link]

    def test_page_limit(self, make_client, monkeypatch):
        monkeypatch.setattr(_graph_client, "MAX_PAGES", 3)
        links = [f"{COLLECTION_URL}?$skiptoken={number}" for number in range(1, 4)]
        client, session = make_client(*(page([{"id": str(n)}], link) for n, link in enumerate(links)))
        with pytest.raises(GraphError, match="^more than 3 pages; stopping$"):
            client.list(COLLECTION)
        # Three pages were read; the fourth was never asked for.
        assert [call.url for call in session.calls] == [COLLECTION_URL, *links[:2]]

    def test_exactly_the_page_limit_is_read(self, make_client, monkeypatch):
        monkeypatch.setattr(_graph_client, "MAX_PAGES", 3)
        links = [f"{COLLECTION_URL}?$skiptoken={number}" for number in range(1, 3)]
        client, _session = make_client(
            page([{"id": "a"}], links[0]), page([{"id": "b"}], links[1]), page([{"id": "c"}])
        )
        assert [item["id"] for item in client.list(COLLECTION)] == ["a", "b", "c"]

    def test_error_on_a_later_page(self, make_client):
        link = f"{COLLECTION_URL}?$skiptoken=two"
        client, _session = make_client(page([{"id": "a"}], link), (400, graph_error("BadRequest", "expired token")))
        with pytest.raises(GraphError, match="expired token"):
            client.list(COLLECTION)
