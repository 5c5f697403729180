"""Tests of the emulator's JSON batching (``POST /{version}/$batch``), as Graph documents it.  Plain requests against
127.0.0.1, ``verify=<emulator CA>`` on every call."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.emulator.test_emulator import assert_graph_error, graph

PARTNERS = "deviceManagement/deviceManagementPartners"
VPP = "deviceAppManagement/vppTokens"
APNS = "deviceManagement/applePushNotificationCertificate"
DEP = "deviceManagement/depOnboardingSettings"
TOKEN_MARKER = "vpp-token-marker-batch"
JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.fixture
def token(emulator):
    return emulator.access_token()


@pytest.fixture
def seeded(emulator):
    """Tenant 0 with two partners, two VPP tokens and an APNs certificate; tenant 1 with one partner."""
    emulator.control.seed(
        {
            emulator.tenant(0)["tenant_id"]: {
                "deviceManagementPartners": [{"id": "p1", "displayName": "one"}, {"id": "p2", "displayName": "two"}],
                "vppTokens": [
                    {"id": "v1", "organizationName": "Contoso", "token": TOKEN_MARKER, "state": "valid"},
                    {"id": "v2", "organizationName": "Fabrikam", "token": TOKEN_MARKER, "state": "expired"},
                ],
                "applePushNotificationCertificate": {"appleIdentifier": "mdm@example.com"},
                "depOnboardingSettings": [{"id": "d1", "tokenName": "ADE"}],
            },
            emulator.tenant(1)["tenant_id"]: [{"id": "other", "displayName": "tenant 1 only"}],
        }
    )
    return emulator


def get(request_id, url, **extra):
    return dict({"id": request_id, "method": "GET", "url": url}, **extra)


def post_batch(emu, token, body, version="v1.0", headers=None, **kwargs):
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = "Bearer " + token
    return emu.session.post(
        f"{emu.info['graph_endpoint']}/{version}/$batch", json=body, headers=all_headers, verify=emu.ca_path, **kwargs
    )


def run_batch(emu, token, requests_, version="v1.0", **kwargs):
    """Post a batch that must be accepted; returns {id: sub-response} and the responses in the order received."""
    response = post_batch(emu, token, {"requests": requests_}, version, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    responses = response.json()["responses"]
    assert sorted(item["id"] for item in responses) == sorted(item["id"] for item in requests_)
    return {item["id"]: item for item in responses}, responses


def assert_sub_error(sub, status, code):
    assert sub["status"] == status, sub
    assert sub["headers"]["Content-Type"].startswith("application/json")
    error = sub["body"]["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["innerError"]["request-id"] == sub["headers"]["request-id"]
    assert error["innerError"]["client-request-id"] == sub["headers"]["client-request-id"]
    return error


def graph_entries(emu):
    return [entry for entry in emu.control.log() if entry["kind"] == "graph"]


# --------------------------------------------------------------------------------------------------------------------
# The batch as Graph answers it
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_sub_requests_answer_like_requests_sent_alone(emulator, token):
    urls = {"1": "/" + PARTNERS, "2": VPP + "?$select=organizationName,state", "3": APNS, "4": PARTNERS + "/p2"}
    by_id, _order = run_batch(emulator, token, [get(key, url) for key, url in urls.items()])
    for key, url in urls.items():
        alone = graph(emulator, "GET", "/v1.0/" + url.lstrip("/"), token)
        sub = by_id[key]
        assert sub["status"] == alone.status_code == 200
        assert sub["body"] == alone.json()
        assert sub["headers"]["Content-Type"] == alone.headers["Content-Type"]
        uuid.UUID(sub["headers"]["request-id"])
    assert [item["organizationName"] for item in by_id["2"]["body"]["value"]] == ["Contoso", "Fabrikam"]
    assert TOKEN_MARKER not in str(by_id["2"]["body"])  # $select of the sub-request applies


@pytest.mark.usefixtures("seeded")
def test_responses_come_back_shuffled_and_reproducibly_with_a_seed(emulator, token):
    batch = [get(str(index), PARTNERS + "/p1") for index in range(6)]
    _by_id, received = run_batch(emulator, token, batch[:2])
    assert [item["id"] for item in received] == ["1", "0"]  # never the request order
    orders = []
    for _attempt in range(2):
        emulator.control.config(batch_shuffle_seed=1234)
        orders.append([[item["id"] for item in run_batch(emulator, token, batch)[1]] for _run in range(3)])
    assert orders[0] == orders[1]
    assert all(order != [item["id"] for item in batch] for order in orders[0])
    assert len({tuple(order) for order in orders[0]}) > 1  # a sequence of orders, not one order repeated
    emulator.control.config(batch_shuffle_seed=99)
    assert [[item["id"] for item in run_batch(emulator, token, batch)[1]] for _run in range(3)] != orders[0]


@pytest.mark.usefixtures("seeded")
def test_the_batch_token_decides_the_tenant_of_every_sub_request(emulator, token):
    other = emulator.access_token(1)
    by_id, _order = run_batch(
        emulator, token, [get("1", PARTNERS, headers={"Authorization": "Bearer " + other}), get("2", PARTNERS)]
    )
    for key in ("1", "2"):
        assert [item["id"] for item in by_id[key]["body"]["value"]] == ["p1", "p2"]
    by_id, _order = run_batch(emulator, other, [get("1", PARTNERS), get("2", VPP)])
    assert [item["id"] for item in by_id["1"]["body"]["value"]] == ["other"]
    assert by_id["2"]["body"]["value"] == []
    tenants = {entry["tenant"] for entry in graph_entries(emulator) if entry["batch_seq"] is not None}
    assert tenants == {emulator.tenant(0)["tenant_id"], emulator.tenant(1)["tenant_id"]}
    entries = [entry for entry in graph_entries(emulator) if entry["batch_seq"] is not None]
    assert [entry["tenant"] for entry in entries[:2]] == [emulator.tenant(0)["tenant_id"]] * 2


def test_a_batch_without_a_valid_token_is_401_whole(emulator):
    for bearer in (None, "made-up-token"):
        response = post_batch(emulator, bearer, {"requests": [get("1", PARTNERS)]})
        assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert graph_entries(emulator) == []


@pytest.mark.usefixtures("seeded")
def test_client_request_ids_of_sub_requests(emulator, token):
    outer, own = str(uuid.uuid4()), str(uuid.uuid4())
    by_id, _order = run_batch(
        emulator,
        token,
        [get("1", PARTNERS, headers={"client-request-id": own}), get("2", PARTNERS + "/nope")],
        headers={"client-request-id": outer},
    )
    assert by_id["1"]["headers"]["client-request-id"] == own
    assert by_id["2"]["headers"]["client-request-id"] == outer
    assert assert_sub_error(by_id["2"], 404, "ResourceNotFound")["innerError"]["client-request-id"] == outer
    assert by_id["1"]["headers"]["request-id"] != by_id["2"]["headers"]["request-id"]
    logged = {entry["path"]: entry["client_request_id"] for entry in graph_entries(emulator)}
    assert logged == {"/v1.0/" + PARTNERS: own, "/v1.0/" + PARTNERS + "/nope": outer}


@pytest.mark.usefixtures("seeded")
def test_urls_are_relative_with_or_without_a_slash_and_keep_their_query(emulator, token):
    by_id, _order = run_batch(
        emulator,
        token,
        [get("slash", "/" + PARTNERS + "?$top=1"), get("bare", PARTNERS + "?$filter=displayName eq 'TWO'")],
    )
    assert [item["id"] for item in by_id["slash"]["body"]["value"]] == ["p1"]
    assert [item["id"] for item in by_id["bare"]["body"]["value"]] == ["p2"]
    queries = [entry["query"] for entry in graph_entries(emulator)]
    assert queries == [{"$top": "1"}, {"$filter": "displayName eq 'TWO'"}]


@pytest.mark.usefixtures("seeded")
def test_beta_batches_serve_beta_and_v1_batches_refuse_beta_only_kinds(emulator, token):
    by_id, _order = run_batch(emulator, token, [get("1", DEP), get("2", VPP + "?$select=displayName")], version="beta")
    assert [item["tokenName"] for item in by_id["1"]["body"]["value"]] == ["ADE"]
    assert by_id["2"]["status"] == 200
    by_id, _order = run_batch(emulator, token, [get("1", DEP), get("2", VPP + "?$select=displayName")])
    error = assert_sub_error(by_id["1"], 400, "BadRequest")
    assert error["message"] == "Resource not found for the segment 'depOnboardingSettings'."
    assert_sub_error(by_id["2"], 400, "BadRequest")
    assert [entry["path"] for entry in graph_entries(emulator)][-2:] == ["/v1.0/" + DEP, "/v1.0/" + VPP]


# --------------------------------------------------------------------------------------------------------------------
# Batches refused whole (400)
# --------------------------------------------------------------------------------------------------------------------


def test_twenty_requests_are_served_and_twenty_one_refused(emulator, token):
    twenty = [get(str(index), PARTNERS) for index in range(20)]
    run_batch(emulator, token, twenty)
    assert len(graph_entries(emulator)) == 20
    emulator.control.clear_log()
    response = post_batch(emulator, token, {"requests": [*twenty, get("20", PARTNERS)]})
    assert "20" in assert_graph_error(response, 400, "BadRequest")["message"]
    assert graph_entries(emulator) == []
    (entry,) = emulator.control.log()
    assert (entry["kind"], entry["status"], entry["size"]) == ("batch", 400, 21)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"requests": [get("a", PARTNERS), get("A", PARTNERS)]}, "Request Id A has to be unique in a batch."),
        ({"requests": [get("1", "https://graph.microsoft.com/v1.0/" + PARTNERS)]}, "relative"),
        ({"requests": [get("1", "//graph.microsoft.com/v1.0/" + PARTNERS)]}, "relative"),
        ({"requests": [get("1", "/v1.0/" + PARTNERS)]}, "version"),
        ({"requests": [get("1", "beta/" + PARTNERS)]}, "version"),
        ({"requests": [get("1", "$batch")]}, "another batch"),
        ({"requests": [get("1", "/%24batch")]}, "another batch"),
        ({"requests": [dict(get("1", PARTNERS), method="POST", body={"displayName": "x"})]}, "Content-Type"),
        (
            {"requests": [dict(get("1", PARTNERS), method="POST", body={}, headers={"Accept": "application/json"})]},
            "Content-Type",
        ),
        ({"requests": [get("1", PARTNERS, dependsOn=["2"]), get("2", PARTNERS)]}, "dependsOn"),
        ({"requests": [get("1", PARTNERS, dependsOn=["1"])]}, "dependsOn"),
        ({"requests": [get("1", PARTNERS, dependsOn="0"), get("0", PARTNERS)]}, "dependsOn"),
        ({"requests": [get("1", PARTNERS, headers={"Accept": 5})]}, "headers"),
        ({"requests": [dict(get("1", PARTNERS), method="HEAD")]}, "method"),
        ({"requests": [{"id": "1", "url": PARTNERS}]}, "method"),
        ({"requests": [{"id": "1", "method": "GET"}]}, "url"),
        ({"requests": [{"method": "GET", "url": PARTNERS}]}, "id"),
        ({"requests": [dict(get("1", PARTNERS), id=1)]}, "id"),
        ({"requests": []}, "Invalid batch payload format."),
        ({"requests": "all of them"}, "Invalid batch payload format."),
        ({"requests": ["GET /me"]}, "Invalid batch payload format."),
        ({"request": [get("1", PARTNERS)]}, "Invalid batch payload format."),
        ([get("1", PARTNERS)], "Invalid batch payload format."),
    ],
)
def test_malformed_batches_are_400_and_run_nothing(emulator, token, body, message):
    response = post_batch(emulator, token, body)
    assert message in assert_graph_error(response, 400, "BadRequest")["message"]
    assert graph_entries(emulator) == []
    assert emulator.control.state()[emulator.info["tenant_id"]] == []  # no write slipped through


def test_a_body_that_is_not_json_is_400(emulator, token):
    response = emulator.session.post(
        emulator.info["graph_endpoint"] + "/v1.0/$batch",
        data=b"{not json",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        verify=emulator.ca_path,
    )
    assert assert_graph_error(response, 400, "BadRequest")["message"] == "Invalid batch payload format."
    assert emulator.control.log()[-1]["size"] is None


def test_only_post_reaches_the_batch_endpoint(emulator, token):
    response = graph(emulator, "GET", "/v1.0/$batch", token)
    assert_graph_error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == "POST"


# --------------------------------------------------------------------------------------------------------------------
# Writes and dependencies
# --------------------------------------------------------------------------------------------------------------------


def test_writes_inside_a_batch_are_applied_and_logged_as_writes(emulator, token):
    created, _order = run_batch(
        emulator,
        token,
        [{"id": "new", "method": "POST", "url": PARTNERS, "body": {"displayName": "batched"}, "headers": JSON_HEADERS}],
    )
    sub = created["new"]
    assert sub["status"] == 201
    new_id = sub["body"]["id"]
    assert sub["headers"]["Location"] == f"{emulator.info['graph_endpoint']}/v1.0/{PARTNERS}/{new_id}"
    by_id, _order = run_batch(
        emulator,
        token,
        [
            {
                "id": "patch",
                "method": "PATCH",
                "url": f"{PARTNERS}/{new_id}",
                "body": {"isConfigured": True},
                "headers": JSON_HEADERS,
            },
            {"id": "read", "method": "GET", "url": f"{PARTNERS}/{new_id}", "dependsOn": ["patch"]},
            {"id": "delete", "method": "DELETE", "url": f"{PARTNERS}/{new_id}", "dependsOn": ["read"]},
        ],
    )
    assert (by_id["patch"]["status"], by_id["patch"]["body"]) == (204, None)
    assert "Content-Type" not in by_id["patch"]["headers"]
    assert by_id["read"]["body"]["isConfigured"] is True  # dependencies run in order
    assert by_id["delete"]["status"] == 204
    assert emulator.control.state()[emulator.info["tenant_id"]] == []
    writes = emulator.control.writes()
    assert [(entry["method"], entry["body"]) for entry in writes] == [
        ("POST", {"displayName": "batched"}),
        ("PATCH", {"isConfigured": True}),
        ("DELETE", None),
    ]
    assert all(entry["batch_seq"] is not None for entry in writes)


@pytest.mark.usefixtures("seeded")
def test_a_request_whose_dependency_failed_answers_424_and_does_not_run(emulator, token):
    by_id, _order = run_batch(
        emulator,
        token,
        [
            get("missing", PARTNERS + "/nope"),
            {
                "id": "write",
                "method": "PATCH",
                "url": PARTNERS + "/p1",
                "body": {"displayName": "never"},
                "headers": JSON_HEADERS,
                "dependsOn": ["MISSING"],  # ids are not case-sensitive
            },
            get("chained", PARTNERS + "/p1", dependsOn=["write"]),
            get("fine", PARTNERS + "/p1", dependsOn=[]),
        ],
    )
    assert_sub_error(by_id["missing"], 404, "ResourceNotFound")
    assert "missing" in assert_sub_error(by_id["write"], 424, "FailedDependency")["message"]
    assert "write" in assert_sub_error(by_id["chained"], 424, "FailedDependency")["message"]
    assert by_id["fine"]["status"] == 200
    assert by_id["fine"]["body"]["displayName"] == "one"
    assert [entry["path"] for entry in graph_entries(emulator)] == [f"/v1.0/{PARTNERS}/nope", f"/v1.0/{PARTNERS}/p1"]
    assert emulator.control.writes() == []


# --------------------------------------------------------------------------------------------------------------------
# Paging inside batches
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_a_sub_response_next_link_is_absolute_and_can_come_back_in_the_next_batch(emulator, token):
    emulator.control.config(page_size=1)
    by_id, _order = run_batch(emulator, token, [get("vpp", VPP + "?$select=organizationName"), get("p", PARTNERS)])
    first = by_id["vpp"]["body"]
    assert [item["id"] for item in first["value"]] == ["v1"]
    next_link = first["@odata.nextLink"]
    prefix = f"{emulator.info['graph_endpoint']}/v1.0/{VPP}?"
    assert next_link.startswith(prefix)
    alone = graph(emulator, "GET", next_link, token).json()
    relative = next_link[len(emulator.info["graph_endpoint"] + "/v1.0/") :]
    again, _order = run_batch(
        emulator,
        token,
        [
            get("vpp", relative),
            get("p", by_id["p"]["body"]["@odata.nextLink"][len(emulator.info["graph_endpoint"]) + 6 :]),
        ],
    )
    assert (
        again["vpp"]["body"]["value"]
        == alone["value"]
        == [{"@odata.type": "#microsoft.graph.vppToken", "id": "v2", "organizationName": "Fabrikam"}]
    )
    assert "@odata.nextLink" not in again["vpp"]["body"]
    assert [item["id"] for item in again["p"]["body"]["value"]] == ["p2"]


# --------------------------------------------------------------------------------------------------------------------
# Faults on sub-requests and on the outer POST
# --------------------------------------------------------------------------------------------------------------------

SUB_FAULTS = [
    (429, 0.249, "TooManyRequests"),
    (429, None, "TooManyRequests"),
    (503, 3, "ServiceUnavailable"),
    (404, None, "ResourceNotFound"),
    (403, None, "Forbidden"),
]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("status", "retry_after", "code"), SUB_FAULTS, ids=[f"{s}-{r}" for s, r, _c in SUB_FAULTS])
def test_a_status_fault_hits_one_sub_request_only(emulator, token, status, retry_after, code):
    emulator.control.add_fault(
        method="GET", path="vppTokens$", kind="status", status=status, retry_after=retry_after, times=1
    )
    by_id, _order = run_batch(emulator, token, [get("vpp", VPP), get("apns", APNS), get("p", PARTNERS)])
    assert_sub_error(by_id["vpp"], status, code)
    if retry_after is None:
        assert "Retry-After" not in by_id["vpp"]["headers"]
    else:
        assert by_id["vpp"]["headers"]["Retry-After"] == str(retry_after)
    assert (by_id["apns"]["status"], by_id["p"]["status"]) == (200, 200)
    entries = {entry["path"]: entry for entry in graph_entries(emulator)}
    assert (entries["/v1.0/" + VPP]["status"], entries["/v1.0/" + VPP]["fault"]) == (status, "status")
    assert entries["/v1.0/" + APNS]["fault"] is None
    retried, _order = run_batch(emulator, token, [get("vpp", VPP)])  # times=1: the retry goes through
    assert retried["vpp"]["status"] == 200


@pytest.mark.usefixtures("seeded")
def test_fault_scope_any_single_and_batched(emulator, token):
    control = emulator.control
    for scope in ("any", "single", "batched"):
        control.add_fault(method="GET", path=f"{PARTNERS}/p1$", kind="status", status=503, scope=scope)
    alone = graph(emulator, "GET", f"/v1.0/{PARTNERS}/p1", token)
    assert alone.status_code == 503
    batched, _order = run_batch(emulator, token, [get("1", PARTNERS + "/p1")])
    assert batched["1"]["status"] == 503
    fired = {fault["scope"]: fault["fired"] for fault in control.faults()}
    assert fired == {"any": 2, "single": 0, "batched": 0}  # the first matching fault wins, alone or batched

    control.clear_faults()
    control.add_fault(method="GET", path=f"{PARTNERS}/p1$", kind="status", status=429, scope="batched")
    assert graph(emulator, "GET", f"/v1.0/{PARTNERS}/p1", token).status_code == 200
    assert run_batch(emulator, token, [get("1", PARTNERS + "/p1")])[0]["1"]["status"] == 429
    control.clear_faults()
    control.add_fault(method="GET", path=f"{PARTNERS}/p1$", kind="status", status=429, scope="single")
    assert graph(emulator, "GET", f"/v1.0/{PARTNERS}/p1", token).status_code == 429
    assert run_batch(emulator, token, [get("1", PARTNERS + "/p1")])[0]["1"]["status"] == 200
    control.add_fault(method="POST", path=r"/\$batch$", kind="status", status=503, scope="single", times=1)
    assert post_batch(emulator, token, {"requests": [get("1", PARTNERS)]}).status_code == 503  # the outer POST
    response = emulator.session.post(
        emulator.info["control_url"] + "/faults",
        json={"kind": "status", "scope": "everywhere"},
        verify=emulator.ca_path,
    )
    assert response.status_code == 400


@pytest.mark.usefixtures("seeded")
def test_sub_request_latency_delays_the_batch_by_the_largest_one(emulator, token):
    for path, latency in ((VPP + "$", 0.25), (APNS + "$", 0.5), (PARTNERS + "$", 0.5)):
        emulator.control.add_fault(method="GET", path=path, kind="latency", latency=latency, times=1)
    started = time.monotonic()
    by_id, _order = run_batch(emulator, token, [get("1", VPP), get("2", APNS), get("3", PARTNERS)])
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.25  # side by side: the largest latency, not their sum
    assert {sub["status"] for sub in by_id.values()} == {200}
    assert [entry["fault"] for entry in graph_entries(emulator)] == ["latency"] * 3


@pytest.mark.usefixtures("seeded")
def test_drop_faults_never_match_a_sub_request(emulator, token):
    emulator.control.add_fault(method="GET", path="vppTokens$", kind="drop_before", times=1)
    emulator.control.add_fault(method="GET", path="vppTokens$", kind="drop_after", times=1)
    by_id, _order = run_batch(emulator, token, [get("1", VPP)])
    assert by_id["1"]["status"] == 200
    assert [fault["fired"] for fault in emulator.control.faults()] == [0, 0]
    with pytest.raises(requests.ConnectionError):
        graph(emulator, "GET", "/v1.0/" + VPP, token)  # the same fault still fires on a request sent alone


@pytest.mark.usefixtures("seeded")
def test_faults_on_the_outer_post(emulator, token):
    control = emulator.control
    control.add_fault(method="POST", path=r"^/v1\.0/\$batch$", kind="status", status=429, retry_after=1.5, times=1)
    response = post_batch(emulator, token, {"requests": [get("1", PARTNERS)]})
    assert_graph_error(response, 429, "TooManyRequests")
    assert response.headers["Retry-After"] == "1.5"
    assert graph_entries(emulator) == []

    control.add_fault(method="POST", path=r"\$batch$", kind="drop_before", times=1)
    write = {"id": "w", "method": "POST", "url": PARTNERS, "body": {"displayName": "lost?"}, "headers": JSON_HEADERS}
    with pytest.raises(requests.ConnectionError):
        post_batch(emulator, token, {"requests": [write]})
    assert len(control.state()[emulator.info["tenant_id"]]) == 2  # not applied

    control.add_fault(method="POST", path=r"\$batch$", kind="drop_after", times=1)
    with pytest.raises(requests.ConnectionError):
        post_batch(emulator, token, {"requests": [write]})
    assert [p["displayName"] for p in control.state()[emulator.info["tenant_id"]]][-1] == "lost?"  # applied
    batches = [entry for entry in control.log() if entry["kind"] == "batch"]
    assert [(entry["status"], entry["fault"]) for entry in batches] == [
        (429, "status"),
        (None, "drop_before"),
        (None, "drop_after"),
    ]
    (applied,) = control.writes()
    assert applied["batch_seq"] == batches[2]["seq"]

    control.add_fault(method="POST", path=r"\$batch$", kind="latency", latency=0.25, times=1)
    started = time.monotonic()
    run_batch(emulator, token, [get("1", PARTNERS)])
    assert time.monotonic() - started >= 0.25


@pytest.mark.usefixtures("seeded")
def test_a_mutation_matched_by_a_sub_request_applies_after_its_response(emulator, token):
    emulator.control.add_mutation(
        method="GET", path=f"{PARTNERS}/p1$", tenant=emulator.info["tenant_id"], id="p1", set={"displayName": "changed"}
    )
    by_id, _order = run_batch(
        emulator, token, [get("1", PARTNERS + "/p1"), get("2", PARTNERS + "/p1", dependsOn=["1"])]
    )
    assert (by_id["1"]["body"]["displayName"], by_id["2"]["body"]["displayName"]) == ("one", "changed")


# --------------------------------------------------------------------------------------------------------------------
# An endpoint that does not serve $batch
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "status", "code"),
    [
        (404, 404, "ResourceNotFound"),
        (False, 404, "ResourceNotFound"),
        (405, 405, "MethodNotAllowed"),
        (501, 501, "NotImplemented"),
    ],
)
def test_the_batch_switch_makes_batch_answer_like_an_endpoint_without_it(emulator, token, setting, status, code):
    assert emulator.control.config(batch=setting)["batch"] == setting
    for version in ("v1.0", "beta"):
        response = post_batch(emulator, token, {"requests": [get("1", PARTNERS)]}, version=version)
        assert_graph_error(response, status, code)
    assert graph_entries(emulator) == []
    entries = emulator.control.log()
    assert [(entry["kind"], entry["path"], entry["status"], entry["size"]) for entry in entries[-2:]] == [
        ("batch", "/v1.0/$batch", status, None),
        ("batch", "/beta/$batch", status, None),
    ]
    assert graph(emulator, "GET", "/v1.0/" + PARTNERS, token).status_code == 200  # single requests still work
    emulator.control.config(batch=True)
    run_batch(emulator, token, [get("1", PARTNERS)])


@pytest.mark.parametrize("value", [1, 0, 500, 200, "no", None, [404]])
def test_the_batch_switch_refuses_other_values(emulator, value):
    response = emulator.session.post(
        emulator.info["control_url"] + "/config", json={"batch": value}, verify=emulator.ca_path
    )
    assert response.status_code == 400, response.text
    assert emulator.control.get_config()["batch"] is True


def test_the_shuffle_seed_must_be_an_integer_or_null(emulator):
    for value in ("7", 1.5, True):
        response = emulator.session.post(
            emulator.info["control_url"] + "/config", json={"batch_shuffle_seed": value}, verify=emulator.ca_path
        )
        assert response.status_code == 400
    assert emulator.control.config(batch_shuffle_seed=None)["batch_shuffle_seed"] is None


# --------------------------------------------------------------------------------------------------------------------
# Log and stats
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
def test_the_log_links_sub_requests_to_their_batch(emulator, token):
    emulator.control.clear_log()
    graph(emulator, "GET", "/v1.0/" + PARTNERS, token)
    outer_id = str(uuid.uuid4())
    run_batch(
        emulator,
        token,
        [
            get("1", VPP + "?$select=state"),
            {"id": "2", "method": "POST", "url": PARTNERS, "body": {"displayName": "n"}, "headers": JSON_HEADERS},
        ],
        headers={"client-request-id": outer_id},
    )
    alone, batch, *subs = emulator.control.log()
    tenant = emulator.info["tenant_id"]
    assert (alone["kind"], alone["batch_seq"], "size" in alone) == ("graph", None, False)
    assert {
        key: batch[key]
        for key in (
            "kind",
            "method",
            "path",
            "query",
            "tenant",
            "status",
            "fault",
            "body",
            "client_request_id",
            "batch_seq",
            "size",
        )
    } == {
        "kind": "batch",
        "method": "POST",
        "path": "/v1.0/$batch",
        "query": {},
        "tenant": tenant,
        "status": 200,
        "fault": None,
        "body": None,
        "client_request_id": outer_id,
        "batch_seq": None,
        "size": 2,
    }
    assert [
        (
            entry["kind"],
            entry["method"],
            entry["path"],
            entry["query"],
            entry["tenant"],
            entry["status"],
            entry["fault"],
            entry["body"],
            entry["client_request_id"],
            entry["batch_seq"],
        )
        for entry in subs
    ] == [
        ("graph", "GET", "/v1.0/" + VPP, {"$select": "state"}, tenant, 200, None, None, outer_id, batch["seq"]),
        ("graph", "POST", "/v1.0/" + PARTNERS, {}, tenant, 201, None, {"displayName": "n"}, outer_id, batch["seq"]),
    ]
    assert batch["seq"] < subs[0]["seq"] < subs[1]["seq"]
    graph_requests = [entry for entry in emulator.control.log() if entry["kind"] == "graph"]
    round_trips = [
        e for e in emulator.control.log() if e["kind"] == "batch" or (e["kind"] == "graph" and e["batch_seq"] is None)
    ]
    assert (len(graph_requests), len(round_trips)) == (3, 2)


@pytest.mark.usefixtures("seeded")
def test_stats_count_batches_and_their_sub_requests(emulator, token):
    before = emulator.control.stats()
    run_batch(emulator, token, [get("1", PARTNERS), get("2", VPP), get("3", PARTNERS + "/nope")])
    run_batch(emulator, token, [get("1", APNS)])
    post_batch(emulator, token, {"requests": []})
    stats = emulator.control.stats()
    assert stats["batches"] - before["batches"] == 3
    assert stats["batched_requests"] - before["batched_requests"] == 4
    assert stats["by_kind"]["batch"] == 3
    assert stats["by_kind_method"]["graph"]["GET"] == 4
    assert stats["requests"] - before["requests"] == 7
    assert stats["by_status"]["404"] == 1
