"""Tests of the emulator's connector and token health kinds: the APNs certificate, VPP and ADE tokens, certificate
(NDES) and Exchange connectors, Managed Google Play and Windows Autopilot.  Plain requests against 127.0.0.1,
``verify=<emulator CA>`` on every call.

The expected property names below are written out from Microsoft's SDK models (msgraph-sdk for v1.0,
msgraph-beta-sdk for beta), not taken from the emulator's schema, so that a drift in either shows here.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.emulator.test_emulator import assert_graph_error, graph

UNSET = "0001-01-01T00:00:00Z"
TOKEN_MARKER = "vpp-token-marker-6f1c"
CERTIFICATE_MARKER = "apns-certificate-marker-91ab"

APNS_PROPERTIES = {
    "appleIdentifier",
    "topicIdentifier",
    "lastModifiedDateTime",
    "expirationDateTime",
    "certificateUploadStatus",
    "certificateUploadFailureReason",
    "certificateSerialNumber",
    "certificate",
}
VPP_V1_PROPERTIES = {
    "organizationName",
    "vppTokenAccountType",
    "appleId",
    "expirationDateTime",
    "lastSyncDateTime",
    "token",
    "lastModifiedDateTime",
    "state",
    "lastSyncStatus",
    "automaticallyUpdateApps",
    "countryOrRegion",
}
VPP_BETA_PROPERTIES = VPP_V1_PROPERTIES | {
    "dataSharingConsentGranted",
    "displayName",
    "locationName",
    "claimTokenManagementFromExternalMdm",
    "roleScopeTagIds",
    "appleDeviceAppDeliveryProtocolType",
}
DEP_PROPERTIES = {
    "appleIdentifier",
    "lastModifiedDateTime",
    "lastSuccessfulSyncDateTime",
    "lastSyncTriggeredDateTime",
    "shareTokenWithSchoolDataSyncService",
    "lastSyncErrorCode",
    "tokenType",
    "tokenExpirationDateTime",
    "syncedDeviceCount",
    "tokenName",
    "dataSharingConsentGranted",
    "roleScopeTagIds",
}
NDES_PROPERTIES = {
    "lastConnectionDateTime",
    "state",
    "displayName",
    "machineName",
    "enrolledDateTime",
    "roleScopeTagIds",
    "connectorVersion",
    "healthStatus",
}
EXCHANGE_PROPERTIES = {
    "lastSyncDateTime",
    "status",
    "primarySmtpAddress",
    "serverName",
    "connectorServerName",
    "exchangeConnectorType",
    "version",
    "exchangeAlias",
    "exchangeOrganization",
}
GOOGLE_PLAY_PROPERTIES = {
    "bindStatus",
    "lastAppSyncDateTime",
    "lastAppSyncStatus",
    "ownerUserPrincipalName",
    "ownerOrganizationName",
    "lastModifiedDateTime",
    "enrollmentTarget",
    "targetGroupIds",
    "deviceOwnerManagementEnabled",
    "androidDeviceOwnerFullyManagedEnrollmentEnabled",
    "managedGooglePlayEnterpriseType",
    "managedGooglePlayInitialScopeTagIds",
}
AUTOPILOT_PROPERTIES = {"lastSyncDateTime", "lastManualSyncTriggerDateTime", "syncStatus"}


class Kind:
    """One health kind as a client sees it: where it lives, in which versions, its shape and its properties."""

    def __init__(self, key, parent, entity, versions, singleton, properties, example, beta_properties=None):
        self.key = key
        self.parent = parent
        self.entity = entity
        self.versions = versions
        self.singleton = singleton
        self.properties = properties
        self.beta_properties = beta_properties or properties
        self.example = example  # a valid seed object with a few non-default values

    def path(self, version):
        return f"/{version}/{self.parent}/{self.key}"

    def properties_in(self, version):
        return self.properties if version == "v1.0" else self.beta_properties

    def __repr__(self):
        return self.key


KINDS = [
    Kind(
        "applePushNotificationCertificate",
        "deviceManagement",
        "applePushNotificationCertificate",
        ("v1.0", "beta"),
        True,
        APNS_PROPERTIES,
        {
            "appleIdentifier": "mdm@example.com",
            "expirationDateTime": "2027-03-01T12:00:00+02:00",
            "certificateUploadStatus": "success",
            "certificate": CERTIFICATE_MARKER,
        },
    ),
    Kind(
        "vppTokens",
        "deviceAppManagement",
        "vppToken",
        ("v1.0", "beta"),
        False,
        VPP_V1_PROPERTIES,
        {
            "organizationName": "Contoso",
            "appleId": "vpp@example.com",
            "state": "valid",
            "lastSyncStatus": "completed",
            "expirationDateTime": "2027-03-01T12:00:00+02:00",
            "token": TOKEN_MARKER,
            "displayName": "Contoso VPP",
        },
        VPP_BETA_PROPERTIES,
    ),
    Kind(
        "depOnboardingSettings",
        "deviceManagement",
        "depOnboardingSetting",
        ("beta",),
        False,
        DEP_PROPERTIES,
        {"tokenName": "ADE token", "lastSyncErrorCode": 3, "tokenType": "dep", "roleScopeTagIds": ["0"]},
    ),
    Kind(
        "ndesConnectors",
        "deviceManagement",
        "ndesConnector",
        ("beta",),
        False,
        NDES_PROPERTIES,
        {
            "displayName": "NDES 1",
            "state": "inactive",
            "connectorVersion": "6.2301.1.0",
            "healthStatus": "disconnected",
        },
    ),
    Kind(
        "exchangeConnectors",
        "deviceManagement",
        "deviceManagementExchangeConnector",
        ("v1.0", "beta"),
        False,
        EXCHANGE_PROPERTIES,
        {"serverName": "exch01", "status": "disconnected", "exchangeConnectorType": "hosted"},
    ),
    Kind(
        "androidManagedStoreAccountEnterpriseSettings",
        "deviceManagement",
        "androidManagedStoreAccountEnterpriseSettings",
        ("beta",),
        True,
        GOOGLE_PLAY_PROPERTIES,
        {"bindStatus": "boundAndValidated", "lastAppSyncStatus": "credentialsNotValid", "targetGroupIds": ["g1"]},
    ),
    Kind(
        "windowsAutopilotSettings",
        "deviceManagement",
        "windowsAutopilotSettings",
        ("beta",),
        True,
        AUTOPILOT_PROPERTIES,
        {"syncStatus": "failed", "lastSyncDateTime": "2026-01-02T03:04:05.1234567Z"},
    ),
]
SINGLETONS = [kind for kind in KINDS if kind.singleton]
COLLECTIONS = [kind for kind in KINDS if not kind.singleton]
BETA_ONLY = [kind for kind in KINDS if kind.versions == ("beta",)]
SERVED = [(kind, version) for kind in KINDS for version in kind.versions]


@pytest.fixture
def token(emulator):
    return emulator.access_token()


def seed(emu, index=0, **kinds):
    return emu.control.seed_collections(emu.tenant(index)["tenant_id"], **kinds)


def seed_example(emu, kind, index=0, **changes):
    """Seed one object of the kind (id "k1" for a collection); returns it as seeded."""
    obj = dict(kind.example, **changes)
    if not kind.singleton:
        obj.setdefault("id", "k1")
    seed(emu, index, **{kind.key: obj if kind.singleton else [obj]})
    return obj


def read_one(emu, kind, version, token, **params):
    """The kind's object (or the collection's first one) as Graph returns it, with ``@odata.context``."""
    path = kind.path(version) if kind.singleton else kind.path(version) + "/k1"
    response = graph(emu, "GET", path, token, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def data_keys(body):
    return {key for key in body if not key.startswith("@") and key != "id"}


# --------------------------------------------------------------------------------------------------------------------
# Shapes: every property of the models, in each version, with Graph's context and type annotations
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "version"), SERVED, ids=[f"{kind.key}-{version}" for kind, version in SERVED])
def test_every_model_property_is_served_in_its_version(emulator, token, kind, version):
    seed_example(emulator, kind)
    body = read_one(emulator, kind, version, token)
    assert data_keys(body) == kind.properties_in(version)
    assert body["@odata.type"] == f"#microsoft.graph.{kind.entity}"
    assert body["@odata.context"] == (
        f"{emulator.info['graph_endpoint']}/{version}/$metadata#{kind.parent}/{kind.key}/$entity"
    )
    for name, value in kind.example.items():
        if name in kind.properties_in(version) and not name.endswith("DateTime"):
            assert body[name] == value, name
    if not kind.singleton:
        listed = graph(emulator, "GET", kind.path(version), token).json()
        assert (
            listed["@odata.context"]
            == f"{emulator.info['graph_endpoint']}/{version}/$metadata#{kind.parent}/{kind.key}"
        )
        assert [data_keys(item) for item in listed["value"]] == [kind.properties_in(version)]
        assert listed["value"][0]["id"] == "k1"


def test_defaults_and_dates_render_as_graph_does(emulator, token):
    seed(emulator, vppTokens=[{"id": "k1", "expirationDateTime": "2027-03-01T12:00:00.5+02:00"}])
    body = read_one(emulator, KINDS[1], "beta", token)
    assert body["expirationDateTime"] == "2027-03-01T10:00:00.5000000Z"
    assert (body["lastSyncDateTime"], body["lastModifiedDateTime"]) == (UNSET, UNSET)
    expected = {
        "organizationName": None,
        "vppTokenAccountType": "business",
        "state": "unknown",
        "lastSyncStatus": "none",
        "automaticallyUpdateApps": False,
        "roleScopeTagIds": [],
        "appleDeviceAppDeliveryProtocolType": "default",
        "token": None,
    }
    assert {name: body[name] for name in expected} == expected
    seed(emulator, depOnboardingSettings=[{"id": "k1"}], windowsAutopilotSettings={})
    dep = read_one(emulator, KINDS[2], "beta", token)
    assert (dep["lastSyncErrorCode"], dep["syncedDeviceCount"], dep["tokenType"]) == (0, 0, "none")
    autopilot = read_one(emulator, KINDS[6], "beta", token)
    assert (autopilot["syncStatus"], autopilot["lastSyncDateTime"]) == ("unknown", UNSET)


def test_v1_leaves_out_and_refuses_what_only_beta_has(emulator, token):
    vpp = KINDS[1]
    seed_example(emulator, vpp)
    v1 = read_one(emulator, vpp, "v1.0", token)
    assert "displayName" not in v1
    response = graph(emulator, "GET", vpp.path("v1.0"), token, params={"$select": "displayName"})
    assert "'displayName'" in assert_graph_error(response, 400, "BadRequest")["message"]
    response = graph(emulator, "GET", vpp.path("v1.0"), token, params={"$filter": "displayName eq 'Contoso VPP'"})
    assert_graph_error(response, 400, "BadRequest")
    beta = graph(emulator, "GET", vpp.path("beta"), token, params={"$filter": "displayName eq 'CONTOSO vpp'"})
    assert [item["id"] for item in beta.json()["value"]] == ["k1"]


# --------------------------------------------------------------------------------------------------------------------
# Singletons, beta-only kinds, read-only kinds
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SINGLETONS, ids=repr)
def test_a_singleton_is_404_until_it_is_seeded(emulator, token, kind):
    version = kind.versions[-1]
    error = assert_graph_error(graph(emulator, "GET", kind.path(version), token), 404, "ResourceNotFound")
    assert kind.key in error["message"]
    seed(emulator, **{kind.key: kind.example})
    first = read_one(emulator, kind, version, token)
    uuid.UUID(first["id"])  # a fixed GUID-ish id when seeded without one
    seed(emulator, **{kind.key: dict(kind.example)})
    assert read_one(emulator, kind, version, token)["id"] == first["id"]  # stable for the tenant
    seed(emulator, index=1, **{kind.key: kind.example})
    assert read_one(emulator, kind, version, emulator.access_token(1))["id"] != first["id"]
    seed(emulator, **{kind.key: dict(kind.example, id="chosen-id")})
    assert read_one(emulator, kind, version, token)["id"] == "chosen-id"

    seed(emulator, **{kind.key: None})
    assert_graph_error(graph(emulator, "GET", kind.path(version), token), 404, "ResourceNotFound")
    state = emulator.control.state(kind.key)
    assert state[emulator.info["tenant_id"]] is None
    assert state[emulator.tenant(1)["tenant_id"]]["id"] != first["id"]


@pytest.mark.parametrize("kind", SINGLETONS, ids=repr)
def test_a_singleton_takes_select_and_nothing_else(emulator, token, kind):
    version = kind.versions[-1]
    seed(emulator, **{kind.key: kind.example})
    assert_graph_error(graph(emulator, "GET", kind.path(version), token, params={"$top": "1"}), 400, "BadRequest")
    assert_graph_error(graph(emulator, "GET", kind.path(version) + "/some-id", token), 404, "ResourceNotFound")


@pytest.mark.parametrize("kind", BETA_ONLY, ids=repr)
def test_a_beta_only_kind_under_v1_is_graphs_400(emulator, token, kind):
    seed_example(emulator, kind)
    assert read_one(emulator, kind, "beta", token)
    odd_case = kind.key[0].upper() + kind.key[1:]
    for path in (kind.path("v1.0"), f"/v1.0/deviceManagement/{odd_case}", kind.path("v1.0") + "/k1"):
        error = assert_graph_error(graph(emulator, "GET", path, token), 400, "BadRequest")
        segment = path.split("/")[3]
        assert error["message"] == f"Resource not found for the segment '{segment}'."
    # Authentication still comes first.
    assert_graph_error(graph(emulator, "GET", kind.path("v1.0")), 401, "InvalidAuthenticationToken")


@pytest.mark.parametrize(("kind", "version"), SERVED, ids=[f"{kind.key}-{version}" for kind, version in SERVED])
def test_the_health_kinds_are_read_only(emulator, token, kind, version):
    seed_example(emulator, kind)
    before = emulator.control.state(kind.key)
    item = kind.path(version) if kind.singleton else kind.path(version) + "/k1"
    attempts = [("PATCH", item), ("DELETE", item), ("PUT", item), ("POST", kind.path(version))]
    for method, path in attempts:
        response = graph(emulator, method, path, token, json={"state": "valid"})
        assert_graph_error(response, 405, "MethodNotAllowed")
        assert response.headers["Allow"] == "GET"
    assert emulator.control.state(kind.key) == before


# --------------------------------------------------------------------------------------------------------------------
# $select: only what is asked, never the secrets unless asked
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "version"), SERVED, ids=[f"{kind.key}-{version}" for kind, version in SERVED])
def test_select_returns_only_the_selected_properties(emulator, token, kind, version):
    seed_example(emulator, kind)
    wanted = sorted(kind.example)[:2]
    wanted = [name for name in wanted if name in kind.properties_in(version)] or [min(kind.properties)]
    upper = ",".join(name.upper() for name in wanted)
    body = read_one(emulator, kind, version, token, **{"$select": upper})
    assert data_keys(body) == set(wanted)
    assert "id" in body  # Intune returns the id even when it is not selected, as for the partner collections
    assert body["@odata.context"].endswith(f"#{kind.parent}/{kind.key}({','.join(wanted)})/$entity")
    if not kind.singleton:
        listed = graph(emulator, "GET", kind.path(version), token, params={"$select": upper}).json()
        assert [data_keys(item) for item in listed["value"]] == [set(wanted)]
    unknown = graph(emulator, "GET", kind.path(version), token, params={"$select": "notAProperty"})
    assert "'notAProperty'" in assert_graph_error(unknown, 400, "BadRequest")["message"]


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_secrets_come_back_only_without_select_or_when_selected(emulator, token, version):
    apns, vpp = KINDS[0], KINDS[1]
    seed_example(emulator, apns)
    seed_example(emulator, vpp)
    whole = [read_one(emulator, apns, version, token), graph(emulator, "GET", vpp.path(version), token).json()]
    assert CERTIFICATE_MARKER in json.dumps(whole[0]) and TOKEN_MARKER in json.dumps(whole[1])  # Graph leaks them too

    apns_read = ",".join(sorted(APNS_PROPERTIES - {"certificate"}))
    vpp_read = ",".join(sorted(VPP_V1_PROPERTIES - {"token"}))
    selected = [
        read_one(emulator, apns, version, token, **{"$select": apns_read}),
        graph(emulator, "GET", vpp.path(version), token, params={"$select": vpp_read}).json(),
        read_one(emulator, vpp, version, token, **{"$select": vpp_read}),
    ]
    text = json.dumps(selected)
    assert CERTIFICATE_MARKER not in text and TOKEN_MARKER not in text
    assert "certificate" not in selected[0] and all("token" not in item for item in selected[1]["value"])
    asked = read_one(emulator, vpp, version, token, **{"$select": "token"})
    assert asked["token"] == TOKEN_MARKER


# --------------------------------------------------------------------------------------------------------------------
# Paging and filtering of the collection kinds
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", COLLECTIONS, ids=repr)
def test_collections_page_with_absolute_signed_next_links(emulator, token, kind):
    version = kind.versions[0]
    seed(emulator, **{kind.key: [dict(kind.example, id=f"o{i}") for i in range(3)]})
    emulator.control.config(page_size=1)
    pages, url = [], kind.path(version) + "?$count=true&$select=" + min(kind.example)
    while url:
        response = graph(emulator, "GET", url, token)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1].get("@odata.nextLink")
        if url:
            assert url.startswith(emulator.info["graph_endpoint"] + kind.path(version) + "?")
            assert "%24skiptoken=" in url or "$skiptoken=" in url
    assert [[item["id"] for item in page["value"]] for page in pages] == [["o0"], ["o1"], ["o2"]]
    assert [page["@odata.count"] for page in pages] == [3, 3, 3]
    skiptoken = pages[0]["@odata.nextLink"].rsplit("skiptoken=", 1)[1]
    forged = graph(emulator, "GET", "/v1.0/deviceManagement/deviceManagementPartners?$skiptoken=" + skiptoken, token)
    assert "$skiptoken" in assert_graph_error(forged, 400, "BadRequest")["message"]  # bound to its collection


def test_filter_on_a_kind_with_a_display_name(emulator, token):
    seed(emulator, ndesConnectors=[{"id": "n1", "displayName": "NDES O'Brien"}, {"id": "n2", "displayName": "Other"}])
    path = KINDS[3].path("beta")
    response = graph(emulator, "GET", path, token, params={"$filter": "displayName eq 'ndes o''brien'"})
    assert [item["id"] for item in response.json()["value"]] == ["n1"]
    assert_graph_error(
        graph(emulator, "GET", KINDS[4].path("v1.0"), token, params={"$filter": "displayName eq 'x'"}),
        400,
        "BadRequest",
    )


def test_each_tenant_sees_only_its_own_health_objects(emulator, token):
    seed_example(emulator, KINDS[1])
    seed_example(emulator, KINDS[0])
    other = emulator.access_token(1)
    assert graph(emulator, "GET", KINDS[1].path("v1.0"), other).json()["value"] == []
    assert_graph_error(graph(emulator, "GET", KINDS[0].path("v1.0"), other), 404, "ResourceNotFound")


# --------------------------------------------------------------------------------------------------------------------
# Seeding: validated like writes, per shape
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed_value",
    [
        {"vppTokens": [{"state": "sleepy"}]},
        {"vppTokens": [{"expirationDateTime": "next year"}]},
        {"vppTokens": [{"automaticallyUpdateApps": "yes"}]},
        {"vppTokens": [{"tokenActionResults": []}]},  # complex properties are not served
        {"vppTokens": {"state": "valid"}},  # a collection takes a list
        {"depOnboardingSettings": [{"lastSyncErrorCode": "3"}]},
        {"depOnboardingSettings": [{"syncedDeviceCount": 2**31}]},
        {"ndesConnectors": [{"state": "broken"}]},
        {"ndesConnectors": [{"roleScopeTagIds": "0"}]},
        {"exchangeConnectors": [{"status": "connected", "id": "same"}, {"id": "same"}]},
        {"applePushNotificationCertificate": [{"appleIdentifier": "a"}]},  # a singleton takes one object
        {"applePushNotificationCertificate": {"expirationDateTime": None}},
        {"androidManagedStoreAccountEnterpriseSettings": {"bindStatus": "Bound"}},
        {"windowsAutopilotSettings": {"syncStatus": "failed", "unknownProperty": 1}},
    ],
)
def test_invalid_health_seeds_are_refused_whole(emulator, seed_value):
    tenant_id = emulator.info["tenant_id"]
    seed_example(emulator, KINDS[1])
    before = {kind.key: emulator.control.state(kind.key) for kind in KINDS}
    response = emulator.session.post(
        emulator.info["control_url"] + "/seed",
        json={tenant_id: dict(seed_value, vppTokens=seed_value.get("vppTokens", []))},
        verify=emulator.ca_path,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert {kind.key: emulator.control.state(kind.key) for kind in KINDS} == before


def test_seed_answers_and_state_routes_per_shape(emulator):
    tenant_id = emulator.info["tenant_id"]
    result = seed(
        emulator,
        vppTokens=[KINDS[1].example, {"organizationName": "Second"}],
        applePushNotificationCertificate=KINDS[0].example,
        windowsAutopilotSettings=None,
    )
    assert result["seeded"] == {
        tenant_id: {"vppTokens": 2, "applePushNotificationCertificate": 1, "windowsAutopilotSettings": 0}
    }
    vpp = emulator.control.state("vppTokens")[tenant_id]
    assert [item["organizationName"] for item in vpp] == ["Contoso", "Second"]
    assert vpp[0]["displayName"] == "Contoso VPP"  # the state shows beta's properties too
    assert emulator.control.state("applePushNotificationCertificate")[tenant_id]["certificate"] == CERTIFICATE_MARKER
    assert emulator.control.state("windowsAutopilotSettings")[tenant_id] is None
    new_tenant = str(uuid.uuid4())
    seed_result = emulator.control.seed({new_tenant: {"exchangeConnectors": [{"serverName": "x"}]}})
    assert new_tenant in [tenant["tenant_id"] for tenant in seed_result["tenants"]]
    for kind in KINDS:
        assert new_tenant in emulator.control.state(kind.key)


def test_health_kinds_from_the_seed_file_come_back_on_reset(emulator_factory, tmp_path):
    tenant_id = str(uuid.uuid4())
    seed_file = {
        tenant_id: {
            "applePushNotificationCertificate": KINDS[0].example,
            "depOnboardingSettings": [dict(KINDS[2].example, id="dep-1")],
        }
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed_file), encoding="utf-8")
    emu = emulator_factory("--seed", str(path), "--tenants", "0")
    token = emu.access_token()
    assert graph(emu, "GET", KINDS[2].path("beta") + "/dep-1", token).json()["tokenName"] == "ADE token"
    emu.control.seed({tenant_id: {"applePushNotificationCertificate": None}})
    assert graph(emu, "GET", KINDS[0].path("v1.0"), token).status_code == 404
    emu.control.reset()
    assert graph(emu, "GET", KINDS[0].path("v1.0"), token).json()["appleIdentifier"] == "mdm@example.com"


# --------------------------------------------------------------------------------------------------------------------
# Faults and mutations on the new paths
# --------------------------------------------------------------------------------------------------------------------

FAULT_CASES = [(403, None), (404, None), (429, 0.249), (429, None), (500, None), (503, 2)]


@pytest.mark.parametrize("kind", KINDS, ids=repr)
@pytest.mark.parametrize(("status", "retry_after"), FAULT_CASES, ids=[f"{s}-{r}" for s, r in FAULT_CASES])
def test_status_faults_fire_on_every_health_path(emulator, token, kind, status, retry_after):
    seed_example(emulator, kind)
    version = kind.versions[-1]
    emulator.control.add_fault(
        method="GET", path=kind.key + "$", kind="status", status=status, retry_after=retry_after, times=1
    )
    response = graph(emulator, "GET", kind.path(version), token)
    error = assert_graph_error(
        response,
        status,
        {
            403: "Forbidden",
            404: "ResourceNotFound",
            429: "TooManyRequests",
            500: "InternalServerError",
            503: "ServiceUnavailable",
        }[status],
    )
    assert error["message"]
    if retry_after is None:
        assert "Retry-After" not in response.headers
    else:
        assert response.headers["Retry-After"] == str(retry_after)
    assert graph(emulator, "GET", kind.path(version), token).status_code == 200
    entries = [entry for entry in emulator.control.log() if entry["path"] == kind.path(version)]
    assert [(entry["status"], entry["fault"], entry["tenant"]) for entry in entries] == [
        (status, "status", emulator.info["tenant_id"]),
        (200, None, emulator.info["tenant_id"]),
    ]


@pytest.mark.parametrize("kind", [KINDS[0], KINDS[3]], ids=repr)
def test_latency_and_drops_on_health_paths(emulator, token, kind):
    seed_example(emulator, kind)
    path = kind.path(kind.versions[-1])
    emulator.control.add_fault(method="GET", path=kind.key, kind="latency", latency=0.25, times=1)
    started = time.monotonic()
    assert graph(emulator, "GET", path, token).status_code == 200
    assert time.monotonic() - started >= 0.25
    emulator.control.add_fault(method="GET", path=kind.key, kind="drop_before", times=1)
    with pytest.raises(requests.ConnectionError):
        graph(emulator, "GET", path, token)
    assert [entry["fault"] for entry in emulator.control.log() if entry["path"] == path] == ["latency", "drop_before"]


def test_a_mutation_on_a_singleton_needs_no_id(emulator, token):
    apns = KINDS[0]
    seed_example(emulator, apns)
    emulator.control.add_mutation(
        method="GET",
        path="applePushNotificationCertificate$",
        tenant=emulator.info["tenant_id"],
        collection=apns.key,
        set={"expirationDateTime": "2030-01-01T00:00:00Z"},
    )
    assert read_one(emulator, apns, "v1.0", token)["expirationDateTime"] == "2027-03-01T10:00:00.0000000Z"
    assert read_one(emulator, apns, "v1.0", token)["expirationDateTime"] == "2030-01-01T00:00:00.0000000Z"
    bad = {"collection": "vppTokens", "tenant": emulator.info["tenant_id"], "set": {}, "path": ""}
    response = emulator.session.post(emulator.info["control_url"] + "/mutations", json=bad, verify=emulator.ca_path)
    assert response.status_code == 400  # a collection member still needs its id
