"""Tests of the emulator's Intune connector collections, assignment targets, Entra groups and the control API that
seeds and inspects them.  Plain requests against 127.0.0.1, ``verify=<emulator CA>`` on every call."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.emulator.harness import start_emulator
from tests.emulator.test_emulator import assert_graph_error, graph

DM = "/v1.0/deviceManagement/"
PARTNERS = DM + "deviceManagementPartners"
COMPLIANCE = DM + "complianceManagementPartners"
REMOTE = DM + "remoteAssistancePartners"
MTD = DM + "mobileThreatDefenseConnectors"
GROUPS = "/v1.0/groups"
UNSET = "0001-01-01T00:00:00Z"
ALL_COLLECTIONS = ("deviceManagementPartners", "complianceManagementPartners", "remoteAssistancePartners")
MTD_BOOLEANS = (
    "allowPartnerToCollectIOSApplicationMetadata",
    "allowPartnerToCollectIOSPersonalApplicationMetadata",
    "androidDeviceBlockedOnMissingPartnerData",
    "androidEnabled",
    "androidMobileApplicationManagementEnabled",
    "iosDeviceBlockedOnMissingPartnerData",
    "iosEnabled",
    "iosMobileApplicationManagementEnabled",
    "microsoftDefenderForEndpointAttachEnabled",
    "partnerUnsupportedOsVersionBlocked",
    "windowsDeviceBlockedOnMissingPartnerData",
    "windowsEnabled",
)
# What a POST with only displayName (or, for MTD, nothing) creates, without id and annotations.
DEFAULTS = {
    "complianceManagementPartners": {
        "lastHeartbeatDateTime": UNSET,
        "partnerState": "unknown",
        "displayName": "new",
        "macOsOnboarded": False,
        "androidOnboarded": False,
        "iosOnboarded": False,
        "macOsEnrollmentAssignments": [],
        "androidEnrollmentAssignments": [],
        "iosEnrollmentAssignments": [],
    },
    "remoteAssistancePartners": {
        "displayName": "new",
        "onboardingUrl": None,
        "onboardingStatus": "notOnboarded",
        "lastConnectionDateTime": UNSET,
    },
    "mobileThreatDefenseConnectors": dict(
        {name: False for name in MTD_BOOLEANS},
        lastHeartbeatDateTime=UNSET,
        partnerState="unavailable",
        partnerUnresponsivenessThresholdInDays=0,
    ),
}
# One valid change per collection, and how it reads back.
CHANGES = {
    "complianceManagementPartners": ({"partnerState": "enabled", "iosOnboarded": True}, {}),
    "remoteAssistancePartners": (
        {"onboardingUrl": "https://rap.example/onboard", "lastConnectionDateTime": "2027-01-01T02:00:00+02:00"},
        {"lastConnectionDateTime": "2027-01-01T00:00:00.0000000Z"},
    ),
    "mobileThreatDefenseConnectors": ({"androidEnabled": True, "partnerUnresponsivenessThresholdInDays": 7}, {}),
}
GROUP_TARGET = "#microsoft.graph.groupAssignmentTarget"


@pytest.fixture
def token(emulator):
    return emulator.access_token()


def seed(emu, index=0, **collections):
    emu.control.seed_collections(emu.tenant(index)["tenant_id"], **collections)


def body_without_annotations(body):
    return {key: value for key, value in body.items() if not key.startswith("@") and key != "id"}


def target(odata_type="microsoft.graph.groupAssignmentTarget", **properties):
    return dict({"@odata.type": odata_type}, **properties)


def rendered_target(odata_type, filter_id=None, filter_type="none", **properties):
    return dict(
        {
            "@odata.type": "#" + odata_type.removeprefix("#"),
            "deviceAndAppManagementAssignmentFilterId": filter_id,
            "deviceAndAppManagementAssignmentFilterType": filter_type,
        },
        **properties,
    )


# --------------------------------------------------------------------------------------------------------------------
# CRUD on every new collection
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("collection", sorted(DEFAULTS))
def test_create_get_patch_delete(emulator, token, collection):
    path = DM + collection
    entity_type = "#microsoft.graph." + collection[0].lower() + collection[1:-1]
    create = {} if collection == "mobileThreatDefenseConnectors" else {"displayName": "new"}
    response = graph(emulator, "POST", path, token, json=dict(create, **{"@odata.type": entity_type}))
    assert response.status_code == 201, response.text
    created = response.json()
    object_id = created["id"]
    uuid.UUID(object_id)
    assert response.headers["Location"] == f"{emulator.info['graph_endpoint']}{path}/{object_id}"
    assert created["@odata.type"] == entity_type
    assert created["@odata.context"].endswith(f"/v1.0/$metadata#deviceManagement/{collection}/$entity")
    assert body_without_annotations(created) == DEFAULTS[collection]

    fetched = graph(emulator, "GET", f"{path}/{object_id}", token).json()
    assert {k: v for k, v in fetched.items() if k != "@odata.context"} == {
        k: v for k, v in created.items() if k != "@odata.context"
    }
    listed = graph(emulator, "GET", path, token).json()
    assert listed["@odata.context"].endswith(f"$metadata#deviceManagement/{collection}")
    assert [item["id"] for item in listed["value"]] == [object_id]

    change, read_back = CHANGES[collection]
    response = graph(emulator, "PATCH", f"{path}/{object_id}", token, json=change)
    assert response.status_code == 204, response.text
    expected = {**DEFAULTS[collection], **change, **read_back}
    assert body_without_annotations(graph(emulator, "GET", f"{path}/{object_id}", token).json()) == expected
    assert body_without_annotations(emulator.control.state(collection)[emulator.info["tenant_id"]][0]) == expected

    emulator.control.config(patch_status=200)
    response = graph(emulator, "PATCH", f"{path}/{object_id}", token, json={})
    assert response.status_code == 200
    assert body_without_annotations(response.json()) == expected

    assert graph(emulator, "DELETE", f"{path}/{object_id}", token).status_code == 204
    assert_graph_error(graph(emulator, "GET", f"{path}/{object_id}", token), 404, "ResourceNotFound")
    assert_graph_error(graph(emulator, "PATCH", f"{path}/{object_id}", token, json={}), 404, "ResourceNotFound")
    assert_graph_error(graph(emulator, "DELETE", f"{path}/{object_id}", token), 404, "ResourceNotFound")
    assert_graph_error(graph(emulator, "PUT", path, token, json={}), 405, "MethodNotAllowed")
    assert_graph_error(graph(emulator, "POST", f"{path}/{object_id}", token, json={}), 405, "MethodNotAllowed")
    assert emulator.control.state(collection)[emulator.info["tenant_id"]] == []
    # The device management partners are untouched by all this.
    assert emulator.control.state()[emulator.info["tenant_id"]] == []


@pytest.mark.parametrize(
    ("collection", "body", "message"),
    [
        ("complianceManagementPartners", {"partnerState": "onboarded"}, "deviceManagementPartnerTenantState"),
        ("complianceManagementPartners", {"macOsOnboarded": None}, "does not allow null"),
        ("complianceManagementPartners", {"isConfigured": True}, "does not exist on type"),
        ("complianceManagementPartners", {"iosEnrollmentAssignments": None}, "does not allow null"),
        ("remoteAssistancePartners", {"onboardingStatus": "enabled"}, "remoteAssistanceOnboardingStatus"),
        ("remoteAssistancePartners", {"onboardingUrl": 5}, "Edm.String"),
        ("remoteAssistancePartners", {"lastConnectionDateTime": None}, "does not allow null"),
        ("remoteAssistancePartners", {"lastConnectionDateTime": "soon"}, "Edm.DateTimeOffset"),
        ("mobileThreatDefenseConnectors", {"partnerState": "unknown"}, "mobileThreatPartnerTenantState"),
        ("mobileThreatDefenseConnectors", {"displayName": "x"}, "does not exist on type"),
        ("mobileThreatDefenseConnectors", {"iosEnabled": "true"}, "Edm.Boolean"),
        ("mobileThreatDefenseConnectors", {"@odata.type": "#microsoft.graph.remoteAssistancePartner"}, "type"),
    ],
)
def test_invalid_writes_are_400_and_change_nothing(emulator, token, collection, body, message):
    seed(emulator, **{collection: [{"id": "x1"}]})
    before = emulator.control.state(collection)
    error = assert_graph_error(graph(emulator, "PATCH", f"{DM}{collection}/x1", token, json=body), 400, "BadRequest")
    assert message in error["message"]
    assert_graph_error(graph(emulator, "POST", DM + collection, token, json=body), 400, "BadRequest")
    assert emulator.control.state(collection) == before


def test_mtd_partner_states_are_all_accepted(emulator, token):
    states = ("unavailable", "available", "enabled", "unresponsive", "notSetUp", "error", "unknownFutureValue")
    for state in states:
        response = graph(emulator, "POST", MTD, token, json={"partnerState": state})
        assert response.json()["partnerState"] == state


def test_each_tenant_sees_only_its_own_objects(emulator, token):
    created = graph(emulator, "POST", COMPLIANCE, token, json={"displayName": "tenant 0"}).json()
    other = emulator.access_token(1)
    assert graph(emulator, "GET", COMPLIANCE, other).json()["value"] == []
    assert_graph_error(graph(emulator, "GET", f"{COMPLIANCE}/{created['id']}", other), 404, "ResourceNotFound")


def test_beta_and_case_insensitive_segments_serve_the_same_collection(emulator, token):
    seed(emulator, remoteAssistancePartners=[{"id": "r1", "displayName": "both"}])
    beta = graph(emulator, "GET", "/beta/deviceManagement/remoteAssistancePartners/r1", token).json()
    assert beta["displayName"] == "both"
    assert "/beta/$metadata#deviceManagement/remoteAssistancePartners/$entity" in beta["@odata.context"]
    lower = graph(emulator, "GET", "/v1.0/devicemanagement/remoteassistancepartners", token).json()
    assert [item["id"] for item in lower["value"]] == ["r1"]


# --------------------------------------------------------------------------------------------------------------------
# Listing: paging, $top, $count, $filter, $select
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("collection", [*ALL_COLLECTIONS, "mobileThreatDefenseConnectors", "groups"])
def test_paging_with_page_size_one(emulator, token, collection):
    objects = [{"id": f"o{i}", "displayName": f"name {i}"} for i in range(3)]
    if collection == "mobileThreatDefenseConnectors":
        objects = [{"id": f"o{i}"} for i in range(3)]
    seed(emulator, **{collection: objects})
    emulator.control.config(page_size=1)
    path = GROUPS if collection == "groups" else DM + collection
    pages, url = [], path + "?$count=true"
    while url:
        response = graph(emulator, "GET", url, token)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = pages[-1].get("@odata.nextLink")
        if url:
            assert url.startswith(emulator.info["graph_endpoint"] + path + "?")
            assert "%24skiptoken=" in url or "$skiptoken=" in url
    assert [[item["id"] for item in page["value"]] for page in pages] == [["o0"], ["o1"], ["o2"]]
    assert [page["@odata.count"] for page in pages] == [3, 3, 3]

    emulator.control.config(page_size=100)
    first = graph(emulator, "GET", path + "?$top=2", token).json()
    assert [item["id"] for item in first["value"]] == ["o0", "o1"]
    assert [item["id"] for item in graph(emulator, "GET", first["@odata.nextLink"], token).json()["value"]] == ["o2"]


def test_a_skip_token_is_bound_to_its_collection(emulator, token):
    seed(emulator, complianceManagementPartners=[{}, {}], remoteAssistancePartners=[{}, {}])
    emulator.control.config(page_size=1)
    next_link = graph(emulator, "GET", COMPLIANCE, token).json()["@odata.nextLink"]
    stolen = next_link.replace("complianceManagementPartners", "remoteAssistancePartners")
    assert_graph_error(graph(emulator, "GET", stolen, token), 400, "BadRequest")


@pytest.mark.parametrize("collection", ALL_COLLECTIONS)
def test_filter_by_display_name_unquotes_and_ignores_case(emulator, token, collection):
    names = ["O'Brien", "o'brien", "OBrien", None]
    seed(emulator, **{collection: [{"id": f"n{i}", "displayName": name} for i, name in enumerate(names)]})
    response = graph(emulator, "GET", DM + collection, token, params={"$filter": "displayName eq 'O''Brien'"})
    assert [item["displayName"] for item in response.json()["value"]] == ["O'Brien", "o'brien"]
    response = graph(emulator, "GET", DM + collection, token, params={"$filter": "displayName eq 'nobody'"})
    assert response.json()["value"] == []
    unsupported = graph(emulator, "GET", DM + collection, token, params={"$filter": "startswith(displayName,'O')"})
    assert_graph_error(unsupported, 400, "BadRequest")


def test_filter_on_a_type_without_display_name_is_400(emulator, token):
    seed(emulator, mobileThreatDefenseConnectors=[{"id": "m1"}])
    response = graph(emulator, "GET", MTD, token, params={"$filter": "displayName eq 'm1'"})
    error = assert_graph_error(response, 400, "BadRequest")
    assert "'displayName'" in error["message"]
    assert "microsoft.graph.mobileThreatDefenseConnector" in error["message"]


def test_select_on_the_new_collections(emulator, token):
    seed(
        emulator,
        complianceManagementPartners=[{"id": "c1", "displayName": "c", "iosOnboarded": True}],
        mobileThreatDefenseConnectors=[{"id": "m1", "partnerUnresponsivenessThresholdInDays": 3}],
    )
    listed = graph(emulator, "GET", COMPLIANCE, token, params={"$select": "iosOnboarded,DISPLAYNAME"}).json()
    assert listed["value"] == [
        {
            "@odata.type": "#microsoft.graph.complianceManagementPartner",
            "id": "c1",
            "displayName": "c",
            "iosOnboarded": True,
        }
    ]
    assert listed["@odata.context"].endswith("#deviceManagement/complianceManagementPartners(iosOnboarded,displayName)")
    single = graph(
        emulator, "GET", MTD + "/m1", token, params={"$select": "partnerUnresponsivenessThresholdInDays"}
    ).json()
    assert body_without_annotations(single) == {"partnerUnresponsivenessThresholdInDays": 3}
    assert single["id"] == "m1"
    bad = graph(emulator, "GET", MTD, token, params={"$select": "displayName"})
    assert_graph_error(bad, 400, "BadRequest")


# --------------------------------------------------------------------------------------------------------------------
# Remote assistance actions
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        ("notOnboarded", "beginOnboarding", "onboarding"),
        ("onboarding", "beginOnboarding", "onboarding"),
        ("onboarded", "beginOnboarding", "onboarded"),
        ("notOnboarded", "microsoft.graph.beginOnboarding", "onboarding"),
        ("onboarded", "disconnect", "notOnboarded"),
        ("onboarding", "microsoft.graph.disconnect", "notOnboarded"),
        ("notOnboarded", "disconnect", "notOnboarded"),
    ],
)
def test_remote_assistance_actions(emulator, token, start, action, end):
    seed(emulator, remoteAssistancePartners=[{"id": "r1", "displayName": "RAP", "onboardingStatus": start}])
    response = graph(emulator, "POST", f"{REMOTE}/r1/{action}", token)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert graph(emulator, "GET", f"{REMOTE}/r1", token).json()["onboardingStatus"] == end
    assert emulator.control.state("remoteAssistancePartners")[emulator.info["tenant_id"]][0]["onboardingStatus"] == end


def test_remote_assistance_action_errors(emulator, token):
    seed(emulator, remoteAssistancePartners=[{"id": "r1"}])
    assert_graph_error(graph(emulator, "POST", f"{REMOTE}/nope/beginOnboarding", token), 404, "ResourceNotFound")
    assert_graph_error(graph(emulator, "POST", f"{REMOTE}/nope/disconnect", token), 404, "ResourceNotFound")
    not_allowed = graph(emulator, "GET", f"{REMOTE}/r1/beginOnboarding", token)
    assert_graph_error(not_allowed, 405, "MethodNotAllowed")
    assert not_allowed.headers["Allow"] == "POST"
    assert_graph_error(graph(emulator, "PATCH", f"{REMOTE}/r1/disconnect", token, json={}), 405, "MethodNotAllowed")
    # Actions belong to their own type only.
    assert_graph_error(graph(emulator, "POST", f"{REMOTE}/r1/terminate", token), 404, "ResourceNotFound")
    seed(emulator, complianceManagementPartners=[{"id": "c1"}])
    assert_graph_error(graph(emulator, "POST", f"{COMPLIANCE}/c1/beginOnboarding", token), 404, "ResourceNotFound")
    assert emulator.control.state("remoteAssistancePartners")[emulator.info["tenant_id"]][0]["onboardingStatus"] == (
        "notOnboarded"
    )


# --------------------------------------------------------------------------------------------------------------------
# Assignment targets
# --------------------------------------------------------------------------------------------------------------------

VALID_TARGETS = [
    (target(groupId="g1"), rendered_target(GROUP_TARGET, groupId="g1")),
    (
        target("microsoft.graph.exclusionGroupAssignmentTarget", groupId="g2"),
        rendered_target("microsoft.graph.exclusionGroupAssignmentTarget", groupId="g2"),
    ),
    (
        target("#microsoft.graph.allLicensedUsersAssignmentTarget"),
        rendered_target("microsoft.graph.allLicensedUsersAssignmentTarget"),
    ),
    (
        target("microsoft.graph.allDevicesAssignmentTarget"),
        rendered_target("microsoft.graph.allDevicesAssignmentTarget"),
    ),
    (
        target("#microsoft.graph.configurationManagerCollectionAssignmentTarget", collectionId="SMS00001"),
        rendered_target("microsoft.graph.configurationManagerCollectionAssignmentTarget", collectionId="SMS00001"),
    ),
    (
        target(
            groupId="g3",
            deviceAndAppManagementAssignmentFilterId="f1",
            deviceAndAppManagementAssignmentFilterType="include",
        ),
        rendered_target(GROUP_TARGET, filter_id="f1", filter_type="include", groupId="g3"),
    ),
    (
        target(
            "microsoft.graph.allDevicesAssignmentTarget",
            deviceAndAppManagementAssignmentFilterId=None,
            deviceAndAppManagementAssignmentFilterType="exclude",
        ),
        rendered_target("microsoft.graph.allDevicesAssignmentTarget", filter_type="exclude"),
    ),
]


@pytest.mark.parametrize(("written", "returned"), VALID_TARGETS, ids=lambda value: value["@odata.type"])
@pytest.mark.parametrize(
    ("collection", "prop", "item_type"),
    [
        ("deviceManagementPartners", "groupsRequiringPartnerEnrollment", "deviceManagementPartnerAssignment"),
        ("complianceManagementPartners", "macOsEnrollmentAssignments", "complianceManagementPartnerAssignment"),
        ("complianceManagementPartners", "androidEnrollmentAssignments", "complianceManagementPartnerAssignment"),
        ("complianceManagementPartners", "iosEnrollmentAssignments", "complianceManagementPartnerAssignment"),
    ],
)
def test_every_valid_target_type_is_accepted_and_returned_normalised(
    emulator, token, collection, prop, item_type, written, returned
):
    item_with_type = {"@odata.type": "#microsoft.graph." + item_type, "target": written}
    item_without_hash = {"@odata.type": "microsoft.graph." + item_type, "target": written}
    for item in ({"target": written}, item_with_type, item_without_hash):
        created = graph(emulator, "POST", DM + collection, token, json={prop: [item]})
        assert created.status_code == 201, created.text
        assert created.json()[prop] == [{"target": returned}]
        fetched = graph(emulator, "GET", f"{DM}{collection}/{created.json()['id']}", token).json()
        assert fetched[prop] == [{"target": returned}]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"target": target("microsoft.graph.fooTarget")},
            (
                "A type named 'microsoft.graph.fooTarget' could not be resolved by the model. When a model is "
                "available, each type name must resolve to a valid type."
            ),
        ),
        (
            {"target": target("#microsoft.graph.fooTarget")},
            "A type named 'microsoft.graph.fooTarget' could not be resolved by the model.",
        ),
        ({"target": target("microsoft.graph.allDevicesAssignmentTarget", groupId="g1")}, "'groupId' does not exist"),
        ({"target": target(collectionId="c1", groupId="g1")}, "'collectionId' does not exist"),
        ({"target": target()}, "'groupId' is required"),
        ({"target": target(groupId=None)}, "null value"),
        ({"target": target(groupId=7)}, "Edm.String"),
        ({"target": target("microsoft.graph.exclusionGroupAssignmentTarget")}, "'groupId' is required"),
        ({"target": target("microsoft.graph.configurationManagerCollectionAssignmentTarget")}, "'collectionId'"),
        ({"target": target(groupId="g", deviceAndAppManagementAssignmentFilterType="all")}, "FilterType"),
        ({"target": target(groupId="g", deviceAndAppManagementAssignmentFilterType=None)}, "null value"),
        ({"target": target(groupId="g", deviceAndAppManagementAssignmentFilterId=5)}, "Edm.String"),
        ({"target": {"groupId": "g1"}}, "'@odata.type'"),
        ({"target": target(5)}, "'@odata.type'"),
        ({"target": None}, "null value"),
        ({"target": "g1"}, "deviceAndAppManagementAssignmentTarget"),
        ({}, "'target' is required"),
        ({"groupId": "g1", "enrollmentType": "all"}, "'groupId' does not exist"),
        ({"target": target(groupId="g"), "id": "x"}, "'id' does not exist"),
        ({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "target": target(groupId="g")}, "not compatible"),
        ({"@odata.type": "microsoft.graph.somethingElse", "target": target(groupId="g")}, "could not be resolved"),
        ("g1", "deviceManagementPartnerAssignment"),
    ],
)
def test_invalid_assignments_are_400(emulator, token, item, message):
    seed(emulator, deviceManagementPartners=[{"id": "p1"}])
    body = {"groupsRequiringPartnerEnrollment": [item]}
    error = assert_graph_error(graph(emulator, "PATCH", PARTNERS + "/p1", token, json=body), 400, "BadRequest")
    assert message in error["message"]
    assert_graph_error(graph(emulator, "POST", PARTNERS, token, json=body), 400, "BadRequest")
    assert emulator.control.state()[emulator.info["tenant_id"]][0]["groupsRequiringPartnerEnrollment"] == []


def test_compliance_item_type_must_match_its_collection(emulator, token):
    item = {"@odata.type": "#microsoft.graph.deviceManagementPartnerAssignment", "target": target(groupId="g")}
    response = graph(emulator, "POST", COMPLIANCE, token, json={"iosEnrollmentAssignments": [item]})
    assert "not compatible" in assert_graph_error(response, 400, "BadRequest")["message"]


def test_assignments_come_back_in_a_deterministic_order_that_is_not_the_written_one(emulator, token):
    written = [
        {"target": target("microsoft.graph.allDevicesAssignmentTarget")},
        {"target": target(groupId="a")},
        {"target": target(groupId="b")},
        {"target": target("microsoft.graph.exclusionGroupAssignmentTarget", groupId="c")},
    ]
    created = graph(emulator, "POST", COMPLIANCE, token, json={"iosEnrollmentAssignments": written}).json()
    returned = created["iosEnrollmentAssignments"]
    returned_keys = [json.dumps(item["target"], sort_keys=True) for item in returned]
    assert returned_keys == sorted(returned_keys, reverse=True)
    assert [item["target"].get("groupId") for item in returned] != [item["target"].get("groupId") for item in written]
    # Same set, whatever order it is written in.
    reversed_write = graph(
        emulator, "PATCH", f"{COMPLIANCE}/{created['id']}", token, json={"iosEnrollmentAssignments": written[::-1]}
    )
    assert reversed_write.status_code == 204
    again = graph(emulator, "GET", f"{COMPLIANCE}/{created['id']}", token).json()["iosEnrollmentAssignments"]
    assert again == returned
    # Stored as written: the state shows them the way Graph renders them too.
    state = emulator.control.state("complianceManagementPartners")[emulator.info["tenant_id"]][0]
    assert state["iosEnrollmentAssignments"] == returned
    assert state["androidEnrollmentAssignments"] == []


# --------------------------------------------------------------------------------------------------------------------
# Mobile threat defense connectors: client-chosen ids, Int32
# --------------------------------------------------------------------------------------------------------------------


def test_mtd_create_uses_the_body_id_and_a_duplicate_is_409(emulator, token):
    partner_id = str(uuid.uuid4())
    response = graph(emulator, "POST", MTD, token, json={"id": partner_id, "androidEnabled": True})
    assert response.status_code == 201, response.text
    assert response.json()["id"] == partner_id
    assert response.headers["Location"] == f"{emulator.info['graph_endpoint']}{MTD}/{partner_id}"
    assert graph(emulator, "GET", f"{MTD}/{partner_id}", token).json()["androidEnabled"] is True

    duplicate = graph(emulator, "POST", MTD, token, json={"id": partner_id, "iosEnabled": True})
    error = assert_graph_error(duplicate, 409, "Conflict")
    assert partner_id in error["message"]
    assert graph(emulator, "GET", f"{MTD}/{partner_id}", token).json()["iosEnabled"] is False

    generated = graph(emulator, "POST", MTD, token, json={}).json()["id"]
    uuid.UUID(generated)
    assert generated != partner_id
    assert_graph_error(graph(emulator, "POST", MTD, token, json={"id": "bad id"}), 400, "BadRequest")
    assert_graph_error(graph(emulator, "POST", MTD, token, json={"id": 5}), 400, "BadRequest")
    # Other collections keep generating their ids.
    compliance = graph(emulator, "POST", COMPLIANCE, token, json={"id": "chosen"}).json()
    assert compliance["id"] != "chosen"


@pytest.mark.parametrize("value", [0, 1, -1, 2147483647, -2147483648])
def test_int32_accepts_its_range(emulator, token, value):
    body = {"partnerUnresponsivenessThresholdInDays": value}
    assert graph(emulator, "POST", MTD, token, json=body).json()["partnerUnresponsivenessThresholdInDays"] == value


@pytest.mark.parametrize("value", [2147483648, -2147483649, 1.5, 7.0, True, "7", [7]])
def test_int32_rejects_everything_else(emulator, token, value):
    body = {"partnerUnresponsivenessThresholdInDays": value}
    error = assert_graph_error(graph(emulator, "POST", MTD, token, json=body), 400, "BadRequest")
    assert error["message"].startswith("Cannot convert the literal '")
    assert error["message"].endswith("' to the expected type 'Edm.Int32'.")
    assert emulator.control.state("mobileThreatDefenseConnectors")[emulator.info["tenant_id"]] == []


def test_int32_is_not_nullable(emulator, token):
    body = {"partnerUnresponsivenessThresholdInDays": None}
    error = assert_graph_error(graph(emulator, "POST", MTD, token, json=body), 400, "BadRequest")
    assert "null value" in error["message"]


# --------------------------------------------------------------------------------------------------------------------
# Entra groups
# --------------------------------------------------------------------------------------------------------------------

SEEDED_GROUPS = [
    {"id": "g1", "displayName": "O'Brien Team", "description": "first"},
    {"id": "g2", "displayName": "o'brien team", "mailEnabled": True, "groupTypes": ["Unified"]},
    {"id": "g3", "displayName": "Other", "mailNickname": "other-nick", "securityEnabled": False},
]


def test_groups_render_with_defaults_and_no_type_annotation(emulator, token):
    seed(emulator, groups=SEEDED_GROUPS)
    listed = graph(emulator, "GET", GROUPS, token).json()
    assert listed["@odata.context"].endswith("/v1.0/$metadata#groups")
    assert listed["value"] == [
        {
            "id": "g1",
            "displayName": "O'Brien Team",
            "description": "first",
            "mailNickname": "OBrienTeam",
            "securityEnabled": True,
            "mailEnabled": False,
            "groupTypes": [],
        },
        {
            "id": "g2",
            "displayName": "o'brien team",
            "description": None,
            "mailNickname": "obrienteam",
            "securityEnabled": True,
            "mailEnabled": True,
            "groupTypes": ["Unified"],
        },
        {
            "id": "g3",
            "displayName": "Other",
            "description": None,
            "mailNickname": "other-nick",
            "securityEnabled": False,
            "mailEnabled": False,
            "groupTypes": [],
        },
    ]
    single = graph(emulator, "GET", GROUPS + "/g3", token).json()
    assert single["@odata.context"].endswith("/v1.0/$metadata#groups/$entity")
    assert {k: v for k, v in single.items() if k != "@odata.context"} == listed["value"][2]
    assert emulator.control.state("groups")[emulator.info["tenant_id"]] == listed["value"]


def test_groups_filter_ignores_case_and_unquotes(emulator, token):
    seed(emulator, groups=SEEDED_GROUPS)
    response = graph(emulator, "GET", GROUPS, token, params={"$filter": "displayName eq 'O''BRIEN TEAM'"})
    assert [group["id"] for group in response.json()["value"]] == ["g1", "g2"]
    response = graph(emulator, "GET", GROUPS, token, params={"$filter": "displayName eq 'nobody'", "$count": "true"})
    assert (response.json()["value"], response.json()["@odata.count"]) == ([], 0)
    unsupported = graph(emulator, "GET", GROUPS, token, params={"$filter": "startswith(displayName,'O')"})
    assert_graph_error(unsupported, 400, "Request_BadRequest")


def test_groups_select(emulator, token):
    seed(emulator, groups=SEEDED_GROUPS)
    listed = graph(emulator, "GET", GROUPS, token, params={"$select": "displayName,id", "$top": "1"}).json()
    assert listed["value"] == [{"id": "g1", "displayName": "O'Brien Team"}]
    assert listed["@odata.context"].endswith("$metadata#groups(displayName,id)")
    names_only = graph(emulator, "GET", GROUPS, token, params={"$select": "displayName"}).json()["value"]
    assert names_only == [{"displayName": "O'Brien Team"}, {"displayName": "o'brien team"}, {"displayName": "Other"}]
    single = graph(emulator, "GET", GROUPS + "/g2", token, params={"$select": "groupTypes,mailEnabled"}).json()
    assert {k: v for k, v in single.items() if k != "@odata.context"} == {
        "mailEnabled": True,
        "groupTypes": ["Unified"],
    }
    bad = graph(emulator, "GET", GROUPS, token, params={"$select": "members"})
    assert "'members'" in assert_graph_error(bad, 400, "Request_BadRequest")["message"]


def test_groups_not_found_and_read_only(emulator, token):
    seed(emulator, groups=SEEDED_GROUPS)
    missing_id = str(uuid.uuid4())
    error = assert_graph_error(graph(emulator, "GET", f"{GROUPS}/{missing_id}", token), 404, "Request_ResourceNotFound")
    assert error["message"] == (
        f"Resource '{missing_id}' does not exist or one of its queried reference-property objects are not present."
    )
    for method, path in (("POST", GROUPS), ("PATCH", GROUPS + "/g1"), ("DELETE", GROUPS + "/g1"), ("PUT", GROUPS)):
        response = graph(emulator, method, path, token, json={"displayName": "x"})
        assert_graph_error(response, 405, "MethodNotAllowed")
        assert response.headers["Allow"] == "GET"
    assert len(emulator.control.state("groups")[emulator.info["tenant_id"]]) == 3
    assert_graph_error(graph(emulator, "GET", GROUPS + "/g1/members", token), 404, "ResourceNotFound")
    broken = graph(emulator, "GET", GROUPS + "?$skiptoken=forged", token)
    assert_graph_error(broken, 400, "Request_BadRequest")
    assert_graph_error(graph(emulator, "GET", GROUPS), 401, "InvalidAuthenticationToken")


# --------------------------------------------------------------------------------------------------------------------
# Control API: seeding, state, mutations, faults, log
# --------------------------------------------------------------------------------------------------------------------


def test_seed_by_collection_replaces_only_the_named_collections(emulator, token):
    tenant_id = emulator.info["tenant_id"]
    emulator.control.seed({tenant_id: [{"id": "p1", "displayName": "partner"}]})  # the list shape: partners
    result = emulator.control.seed(
        {
            tenant_id: {
                "complianceManagementPartners": [{"id": "c1", "displayName": "compliance"}, {"displayName": "c2"}],
                "groups": [{"id": "g1", "displayName": "Group"}],
            }
        }
    )
    assert result["seeded"] == {tenant_id: {"complianceManagementPartners": 2, "groups": 1}}
    assert [p["id"] for p in emulator.control.state()[tenant_id]] == ["p1"]  # untouched
    compliance = emulator.control.state("complianceManagementPartners")[tenant_id]
    assert compliance[0]["id"] == "c1"
    uuid.UUID(compliance[1]["id"])  # generated
    assert [g["displayName"] for g in emulator.control.state("groups")[tenant_id]] == ["Group"]

    result = emulator.control.seed({tenant_id: {"deviceManagementPartners": []}})
    assert emulator.control.state()[tenant_id] == []
    assert len(emulator.control.state("complianceManagementPartners")[tenant_id]) == 2
    result = emulator.control.seed({tenant_id: [{"displayName": "again"}]})
    assert result["seeded"] == {tenant_id: 1}  # the list shape answers as it always did
    assert len(emulator.control.state("groups")[tenant_id]) == 1


def test_seed_creates_tenants_with_every_collection(emulator):
    new_tenant = str(uuid.uuid4())
    emulator.control.seed({new_tenant: {"remoteAssistancePartners": [{"displayName": "RAP"}]}})
    for collection in (*ALL_COLLECTIONS, "mobileThreatDefenseConnectors", "groups"):
        assert new_tenant in emulator.control.state(collection)
    assert [r["displayName"] for r in emulator.control.state("remoteAssistancePartners")[new_tenant]] == ["RAP"]
    assert emulator.control.state()[new_tenant] == []


@pytest.mark.parametrize(
    "seed_value",
    [
        {"unknownCollection": []},
        {"groups": [{"id": "g1"}]},  # a group needs a displayName
        {"groups": [{"displayName": "a", "id": "same"}, {"displayName": "b", "id": "same"}]},
        {"mobileThreatDefenseConnectors": [{"partnerUnresponsivenessThresholdInDays": 2**31}]},
        {"complianceManagementPartners": [{"iosEnrollmentAssignments": [{"target": target("x.y")}]}]},
        {"remoteAssistancePartners": {"displayName": "not a list"}},
        {"deviceManagementPartners": [{"id": "bad id"}]},
        "neither a list nor an object",
    ],
)
def test_invalid_seeds_are_refused_whole(emulator, seed_value):
    tenant_id = emulator.info["tenant_id"]
    before = {c: emulator.control.state(c) for c in (*ALL_COLLECTIONS, "mobileThreatDefenseConnectors", "groups")}
    response = emulator.session.post(
        emulator.info["control_url"] + "/seed", json={tenant_id: seed_value}, verify=emulator.ca_path
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert {c: emulator.control.state(c) for c in before} == before


def test_seed_file_by_collection_and_reset(emulator_factory, tmp_path):
    tenant_id = str(uuid.uuid4())
    seed_file = {
        tenant_id: {
            "mobileThreatDefenseConnectors": [{"id": "mtd-1", "partnerState": "enabled"}],
            "groups": [{"id": "g1", "displayName": "Seeded group"}],
        }
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed_file), encoding="utf-8")
    emu = emulator_factory("--seed", str(path), "--tenants", "0")
    assert emu.info["tenant_id"] == tenant_id
    token = emu.access_token()
    assert graph(emu, "GET", MTD + "/mtd-1", token).json()["partnerState"] == "enabled"
    assert graph(emu, "DELETE", MTD + "/mtd-1", token).status_code == 204
    assert emu.control.state("mobileThreatDefenseConnectors")[tenant_id] == []
    emu.control.reset()
    assert [m["id"] for m in emu.control.state("mobileThreatDefenseConnectors")[tenant_id]] == ["mtd-1"]
    assert [g["id"] for g in emu.control.state("groups")[tenant_id]] == ["g1"]
    assert emu.control.state()[tenant_id] == []


def test_bad_seed_file_stops_the_emulator_with_status_2(tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"t1": {"groups": [{"description": "no name"}]}}), encoding="utf-8")
    with pytest.raises(RuntimeError, match="exited with 2"):
        start_emulator("--seed", str(path), "--tenants", "0")


def test_state_routes(emulator):
    control = emulator.info["control_url"]
    plain = emulator.session.get(control + "/state", verify=emulator.ca_path).json()
    by_name = emulator.session.get(control + "/state/deviceManagementPartners", verify=emulator.ca_path).json()
    assert plain == by_name
    assert set(plain) == {"tenants"}
    assert set(plain["tenants"]) == {tenant["tenant_id"] for tenant in emulator.info["tenants"]}
    assert emulator.session.get(control + "/state/nothing", verify=emulator.ca_path).status_code == 404
    assert emulator.session.post(control + "/state/groups", verify=emulator.ca_path).status_code == 405


def test_mutation_on_another_collection(emulator, token):
    seed(emulator, remoteAssistancePartners=[{"id": "r1", "displayName": "RAP"}])
    emulator.control.add_mutation(
        method="GET",
        path="remoteAssistancePartners/r1$",
        tenant=emulator.info["tenant_id"],
        collection="remoteAssistancePartners",
        id="r1",
        set={"onboardingStatus": "onboarded", "lastConnectionDateTime": "2027-01-01T00:00:00Z"},
    )
    (mutation,) = emulator.control._call("GET", "mutations")["mutations"]  # pylint: disable=protected-access
    assert mutation["collection"] == "remoteAssistancePartners"
    assert graph(emulator, "GET", f"{REMOTE}/r1", token).json()["onboardingStatus"] == "notOnboarded"
    after = graph(emulator, "GET", f"{REMOTE}/r1", token).json()
    assert (after["onboardingStatus"], after["lastConnectionDateTime"]) == ("onboarded", "2027-01-01T00:00:00.0000000Z")


@pytest.mark.parametrize(
    "spec",
    [
        {"collection": "nothing", "set": {}},
        {"collection": "remoteAssistancePartners", "set": {"partnerState": "enabled"}},  # a partner property
        {"collection": "mobileThreatDefenseConnectors", "set": {"partnerUnresponsivenessThresholdInDays": "1"}},
        {"collection": "groups", "set": {"displayName": None}},
    ],
)
def test_invalid_mutations_are_refused(emulator, spec):
    spec = dict(spec, tenant=emulator.info["tenant_id"], id="x1", path="")
    response = emulator.session.post(emulator.info["control_url"] + "/mutations", json=spec, verify=emulator.ca_path)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("method", "path", "pattern"),
    [
        ("GET", COMPLIANCE, "complianceManagementPartners$"),
        ("POST", MTD, "mobileThreatDefenseConnectors$"),
        ("POST", REMOTE + "/r1/beginOnboarding", "/beginOnboarding$"),
        ("POST", REMOTE + "/r1/microsoft.graph.disconnect", "disconnect$"),
        ("GET", GROUPS, "/groups$"),
        ("GET", GROUPS + "/g1", "/groups/"),
    ],
)
def test_faults_fire_on_the_new_paths(emulator, token, method, path, pattern):
    seed(emulator, remoteAssistancePartners=[{"id": "r1"}], groups=[{"id": "g1", "displayName": "G"}])
    emulator.control.add_fault(method=method, path=pattern, kind="status", status=429, retry_after=3, times=1)
    body = {} if method == "POST" else None
    response = graph(emulator, method, path, token, json=body)
    assert_graph_error(response, 429, "TooManyRequests")
    assert response.headers["Retry-After"] == "3"
    assert graph(emulator, method, path, token, json=body).status_code < 300
    entries = [entry for entry in emulator.control.log() if entry["path"] == path]
    assert [(e["kind"], e["tenant"], e["status"], e["fault"]) for e in entries] == [
        ("graph", emulator.info["tenant_id"], 429, "status"),
        ("graph", emulator.info["tenant_id"], entries[1]["status"], None),
    ]
    # The throttled request changed nothing: the second one is the only one that did.
    assert emulator.control.state("remoteAssistancePartners")[emulator.info["tenant_id"]][0]["onboardingStatus"] == (
        "onboarding" if path.endswith("beginOnboarding") else "notOnboarded"
    )
    assert len(emulator.control.state("mobileThreatDefenseConnectors")[emulator.info["tenant_id"]]) == (
        1 if path == MTD else 0
    )


def test_drop_before_on_an_action_leaves_the_status(emulator, token):
    seed(emulator, remoteAssistancePartners=[{"id": "r1"}])
    emulator.control.add_fault(method="POST", path="beginOnboarding$", kind="drop_before", times=1)
    with pytest.raises(requests.ConnectionError):
        graph(emulator, "POST", REMOTE + "/r1/beginOnboarding", token)
    assert emulator.control.state("remoteAssistancePartners")[emulator.info["tenant_id"]][0]["onboardingStatus"] == (
        "notOnboarded"
    )


def test_every_graph_request_is_logged_with_its_tenant(emulator, token):
    seed(emulator, remoteAssistancePartners=[{"id": "r1"}], groups=[{"id": "g1", "displayName": "G"}])
    emulator.control.clear_log()
    graph(emulator, "GET", GROUPS + "?$filter=displayName eq 'G'", token)
    graph(emulator, "POST", REMOTE + "/r1/beginOnboarding", token)
    graph(emulator, "POST", MTD, token, json={"id": "m1"})
    log = emulator.control.log()
    assert [(e["kind"], e["method"], e["path"], e["tenant"], e["status"]) for e in log] == [
        ("graph", "GET", GROUPS, emulator.info["tenant_id"], 200),
        ("graph", "POST", REMOTE + "/r1/beginOnboarding", emulator.info["tenant_id"], 204),
        ("graph", "POST", MTD, emulator.info["tenant_id"], 201),
    ]
    assert log[0]["query"] == {"$filter": "displayName eq 'G'"}
    assert log[2]["body"] == {"id": "m1"}
    assert [e["method"] for e in emulator.control.writes()] == ["POST", "POST"]
