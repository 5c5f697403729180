"""groups_requiring_partner_enrollment of device_management_partner, through ansible-playbook and the emulator.

The emulator returns targets with the fields Graph adds (a null filter id, filter type "none") and in another order
than they were written, and serves Entra groups (`/groups`) with $filter, $select and paging.
"""

from __future__ import annotations

import pytest
import yaml

from tests.integration.conftest import (
    connection_options,
    failed_result,
    graph_requests,
    graph_target,
    module_targets,
)

MODULE = "msgraph.intune.device_management_partner"
INFO_MODULE = "msgraph.intune.device_management_partner_info"
PARTNERS = "/v1.0/deviceManagement/deviceManagementPartners"
GROUP_TARGET = "#microsoft.graph.groupAssignmentTarget"
EXCLUSION_TARGET = "#microsoft.graph.exclusionGroupAssignmentTarget"
ALL_DEVICES = "#microsoft.graph.allDevicesAssignmentTarget"
SALES = "5a1e5000-0000-4000-8000-000000000001"
LAB = "1ab00000-0000-4000-8000-000000000002"
FLEET = "f1ee7000-0000-4000-8000-000000000003"
# The same groups in a second tenant: same names, other ids.
OTHER_SALES = "5a1e5000-0000-4000-8000-00000000b001"
OTHER_LAB = "1ab00000-0000-4000-8000-00000000b002"
OTHER_FLEET = "f1ee7000-0000-4000-8000-00000000b003"


def groups(*pairs):
    return [{"id": group_id, "displayName": name} for group_id, name in pairs]


TENANT_GROUPS = groups(
    (SALES, "Sales"), (LAB, "Lab Macs"), (FLEET, "Mac fleet"), ("c0c0c0c0-0000-4000-8000-00000000000c", "sales")
)


def seed(emulator, partners, tenant=0, group_list=TENANT_GROUPS):
    tenant_id = emulator.info["tenants"][tenant]["tenant_id"]
    emulator.control.seed({tenant_id: {"deviceManagementPartners": partners, "groups": group_list}})


def partner(emulator, partner_id, tenant=0):
    tenant_id = emulator.info["tenants"][tenant]["tenant_id"]
    return next(p for p in emulator.control.state()[tenant_id] if p["id"] == partner_id)


def task(name, **options):
    return {"name": name, MODULE: options, "register": name}


def test_set_targets_on_a_partner_without_any(emulator, run_playbook, execution_path):
    seed(emulator, [{"id": "jamf", "displayName": "Jamf Pro", "partnerState": "enabled"}])
    targets = [
        {"type": "group", "group_id": SALES},
        {"type": "exclusion_group", "group_display_name": "Lab Macs"},
        {"type": "all_devices"},
    ]
    run = run_playbook(
        [task("set", display_name="Jamf Pro", groups_requiring_partner_enrollment=targets)], info=emulator.info
    )
    assert run.rc == 0, run.output
    patches = [entry for entry in emulator.control.writes() if entry["method"] == "PATCH"]
    assert len(emulator.control.writes()) == len(patches) == 1
    assert patches[0]["path"] == f"{PARTNERS}/jamf"
    # The whole list, in the task's order, names resolved to ids, nothing else in the body.
    assert patches[0]["body"] == {
        "groupsRequiringPartnerEnrollment": [
            graph_target(GROUP_TARGET, groupId=SALES),
            graph_target(EXCLUSION_TARGET, groupId=LAB),
            graph_target(ALL_DEVICES),
        ]
    }
    result = run.result("set")
    assert result["changed"] is True and result["changed_properties"] == ["groups_requiring_partner_enrollment"]
    expected = [
        {"type": "all_devices"},
        {"type": "exclusion_group", "group_id": LAB},
        {"type": "group", "group_id": SALES},
    ]
    assert result["partner"]["groups_requiring_partner_enrollment"] == expected
    assert module_targets(partner(emulator, "jamf")["groupsRequiringPartnerEnrollment"]) == expected
    # The name was looked up with an exact-name filter that selects only what is needed.
    lookups = [entry for entry in graph_requests(emulator) if entry["path"] == "/v1.0/groups"]
    assert [entry["query"] for entry in lookups] == [
        {"$filter": "displayName eq 'Lab Macs'", "$select": "id,displayName"}
    ]


def test_same_targets_in_another_order_write_nothing(emulator, run_playbook, execution_path):
    stored = [
        graph_target(ALL_DEVICES),
        graph_target(GROUP_TARGET, groupId=SALES),
        graph_target(EXCLUSION_TARGET, groupId=LAB),
    ]
    seed(emulator, [{"id": "jamf", "displayName": "Jamf Pro", "groupsRequiringPartnerEnrollment": stored}])
    returned = partner(emulator, "jamf")["groupsRequiringPartnerEnrollment"]
    # Positive control: Graph's answer carries fields the task never wrote, in another order than written.
    assert all("deviceAndAppManagementAssignmentFilterType" in item["target"] for item in returned)
    targets = [
        {"type": "exclusion_group", "group_id": LAB.upper()},
        {"type": "group", "group_display_name": "Sales"},
        {"type": "all_devices"},
    ]
    run = run_playbook([task("same", id="jamf", groups_requiring_partner_enrollment=targets)], info=emulator.info)
    assert run.rc == 0, run.output
    assert emulator.control.writes() == []
    assert run.result("same")["changed"] is False


def test_changed_set_sends_the_whole_new_list_and_empty_clears(emulator, run_playbook, execution_path):
    seed(
        emulator,
        [
            {
                "id": "jamf",
                "displayName": "Jamf Pro",
                "groupsRequiringPartnerEnrollment": [
                    graph_target(GROUP_TARGET, groupId=SALES),
                    graph_target(ALL_DEVICES),
                ],
            }
        ],
    )
    tasks = [
        task(
            "change",
            id="jamf",
            groups_requiring_partner_enrollment=[
                {"type": "group", "group_id": SALES},
                {"type": "group", "group_id": FLEET},
            ],
        ),
        task("clear", id="jamf", groups_requiring_partner_enrollment=[]),
        task("again", id="jamf", groups_requiring_partner_enrollment=[]),
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert [entry["body"] for entry in emulator.control.writes()] == [
        {
            "groupsRequiringPartnerEnrollment": [
                graph_target(GROUP_TARGET, groupId=SALES),
                graph_target(GROUP_TARGET, groupId=FLEET),
            ]
        },
        {"groupsRequiringPartnerEnrollment": []},
    ]
    assert [run.result(name)["changed"] for name in ("change", "clear", "again")] == [True, True, False]
    assert partner(emulator, "jamf")["groupsRequiringPartnerEnrollment"] == []


def test_omitted_targets_are_never_touched(emulator, run_playbook, execution_path):
    stored = [graph_target(GROUP_TARGET, groupId=SALES)]
    seed(
        emulator,
        [
            {
                "id": "jamf",
                "displayName": "Jamf Pro",
                "partnerState": "unresponsive",
                "groupsRequiringPartnerEnrollment": stored,
            }
        ],
    )
    run = run_playbook([task("drift", id="jamf", partner_state="enabled")], info=emulator.info)
    assert run.rc == 0, run.output
    assert [entry["body"] for entry in emulator.control.writes()] == [{"partnerState": "enabled"}]
    assert module_targets(partner(emulator, "jamf")["groupsRequiringPartnerEnrollment"]) == [
        {"type": "group", "group_id": SALES}
    ]
    assert not [entry for entry in graph_requests(emulator) if entry["path"].startswith("/v1.0/groups")]


def test_a_name_resolves_across_pages(emulator_factory, run_playbook):
    emulator = emulator_factory("--page-size", "1")
    # Entra's eq ignores case: three groups match the filter, one page each; only the exact name counts.
    seed(
        emulator,
        [{"id": "jamf", "displayName": "Jamf Pro"}],
        group_list=groups(
            ("0a000000-0000-4000-8000-000000000001", "MAC FLEET"),
            ("0b000000-0000-4000-8000-000000000002", "mac fleet"),
            (FLEET, "Mac fleet"),
        ),
    )
    targets = [{"type": "group", "group_display_name": "Mac fleet"}]
    run = run_playbook([task("paged", id="jamf", groups_requiring_partner_enrollment=targets)], info=emulator.info)
    assert run.rc == 0, run.output
    assert [entry["body"] for entry in emulator.control.writes()] == [
        {"groupsRequiringPartnerEnrollment": [graph_target(GROUP_TARGET, groupId=FLEET)]}
    ]
    pages = [entry for entry in graph_requests(emulator) if entry["path"] == "/v1.0/groups"]
    assert len(pages) == 3, pages


@pytest.mark.parametrize(
    "targets, message, requests_allowed",
    [
        ([{"type": "group", "group_display_name": "Nobody"}], "no group is named 'Nobody' in this tenant", True),
        ([{"type": "group", "group_display_name": "Twin"}], "2 groups are named 'Twin' (ids: ", True),
        ([{"type": "all_devices"}, {"type": "all_devices"}], "lists the same target twice", False),
        ([{"type": "all_devices", "group_id": SALES}], "type all_devices does not use group_id", False),
        (
            [{"type": "group", "group_id": SALES, "group_display_name": "Sales"}],
            "needs exactly one of group_id or group_display_name",
            False,
        ),
    ],
    ids=["unknown-name", "ambiguous-name", "duplicate", "unused-key", "id-and-name"],
)
def test_bad_targets_fail_before_any_write(emulator, run_playbook, execution_path, targets, message, requests_allowed):
    twins = groups(("7e000000-0000-4000-8000-000000000001", "Twin"), ("7e000000-0000-4000-8000-000000000002", "Twin"))
    seed(
        emulator,
        [{"id": "jamf", "displayName": "Jamf Pro", "partnerState": "unresponsive"}],
        group_list=TENANT_GROUPS + twins,
    )
    emulator.control.clear_log()
    bad = task("bad", id="jamf", partner_state="enabled", groups_requiring_partner_enrollment=targets)
    run = run_playbook([bad], info=emulator.info)
    assert run.rc != 0
    result = failed_result(run, "bad")
    assert message in result["msg"], result["msg"]
    assert emulator.control.writes() == []
    if requests_allowed:
        assert [entry["path"] for entry in graph_requests(emulator)] != []  # the lookup happened
    else:
        assert graph_requests(emulator) == [], "invalid targets must fail before any request"
    if message.startswith("2 groups"):
        assert sorted(result["matching_ids"]) == [twin["id"] for twin in twins]


def test_check_mode_and_diff(emulator, run_playbook, execution_path):
    seed(
        emulator,
        [
            {
                "id": "jamf",
                "displayName": "Jamf Pro",
                "groupsRequiringPartnerEnrollment": [graph_target(GROUP_TARGET, groupId=SALES)],
            }
        ],
    )
    before = emulator.control.state()
    targets = [{"type": "group", "group_display_name": "Mac fleet"}, {"type": "all_devices"}]
    run = run_playbook(
        [task("audit", id="jamf", groups_requiring_partner_enrollment=targets)],
        info=emulator.info,
        check=True,
        diff=True,
    )
    assert run.rc == 0, run.output
    assert emulator.control.writes() == [] and emulator.control.state() == before
    result = run.result("audit")
    predicted = [{"type": "all_devices"}, {"type": "group", "group_id": FLEET}]
    assert result["changed"] is True
    assert result["changed_properties"] == ["groups_requiring_partner_enrollment"]
    assert result["partner"]["groups_requiring_partner_enrollment"] == predicted
    assert result["diff"]["before"]["groups_requiring_partner_enrollment"] == [{"type": "group", "group_id": SALES}]
    assert result["diff"]["after"]["groups_requiring_partner_enrollment"] == predicted
    assert "groups_requiring_partner_enrollment" in run.stdout  # --diff shows it


def test_portable_export_applies_to_another_tenant(emulator, run_playbook, tmp_path):
    source = [
        {
            "id": "jamf-a",
            "displayName": "Jamf Pro",
            "partnerState": "enabled",
            "partnerAppType": "multiTenantApp",
            "groupsRequiringPartnerEnrollment": [
                graph_target(GROUP_TARGET, groupId=FLEET),
                graph_target(EXCLUSION_TARGET, groupId=LAB),
                graph_target(ALL_DEVICES),
            ],
        },
        {"id": "kandji-a", "displayName": "Kandji", "partnerState": "unavailable"},
    ]
    seed(emulator, source, tenant=0)
    other_groups = groups((OTHER_SALES, "Sales"), (OTHER_LAB, "Lab Macs"), (OTHER_FLEET, "Mac fleet"))
    # Tenant 1 has Jamf with drifted targets and a partner id of its own; Kandji is missing.
    seed(
        emulator,
        [
            {
                "id": "jamf-b",
                "displayName": "Jamf Pro",
                "partnerState": "enabled",
                "partnerAppType": "multiTenantApp",
                "groupsRequiringPartnerEnrollment": [graph_target(GROUP_TARGET, groupId=OTHER_SALES)],
            }
        ],
        tenant=1,
        group_list=other_groups,
    )

    export = run_playbook(
        [{"name": "export", INFO_MODULE: {"portable": True}, "register": "export"}], info=emulator.info, tenant=0
    )
    assert export.rc == 0, export.output
    desired = export.result("export")["desired_state"]
    assert desired == [
        {
            "display_name": "Jamf Pro",
            "partner_state": "enabled",
            "partner_app_type": "multiTenantApp",
            "is_configured": False,
            "groups_requiring_partner_enrollment": [
                {"type": "all_devices"},
                {"type": "exclusion_group", "group_display_name": "Lab Macs"},
                {"type": "group", "group_display_name": "Mac fleet"},
            ],
        },
        {
            "display_name": "Kandji",
            "partner_state": "unavailable",
            "partner_app_type": "unknown",
            "is_configured": False,
            "groups_requiring_partner_enrollment": [],
        },
    ]
    group_reads = [entry["path"] for entry in graph_requests(emulator) if entry["path"].startswith("/v1.0/groups/")]
    assert sorted(group_reads) == sorted(f"/v1.0/groups/{group_id}" for group_id in (FLEET, LAB))
    baseline = tmp_path / "baseline.yml"
    baseline.write_text(yaml.safe_dump({"partners": desired}))

    apply = [{"name": "apply", MODULE: "{{ item }}", "loop": "{{ partners }}", "register": "apply"}]
    play = {"name": "apply", "hosts": "localhost", "gather_facts": False, "vars_files": [str(baseline)], "tasks": apply}
    play["module_defaults"] = {"group/msgraph.intune.graph": connection_options(emulator.info, 1)}
    emulator.control.clear_log()
    first = run_playbook([play], play=False)
    assert first.rc == 0, first.output
    tenant_b = emulator.info["tenants"][1]["tenant_id"]
    state_b = {p["displayName"]: p for p in emulator.control.state()[tenant_b]}
    assert set(state_b) == {"Jamf Pro", "Kandji"}
    assert state_b["Jamf Pro"]["id"] == "jamf-b"  # updated in place, not recreated
    assert module_targets(state_b["Jamf Pro"]["groupsRequiringPartnerEnrollment"]) == [
        {"type": "all_devices"},
        {"type": "exclusion_group", "group_id": OTHER_LAB},
        {"type": "group", "group_id": OTHER_FLEET},
    ]
    assert [entry["method"] for entry in emulator.control.writes()] == ["PATCH", "POST"]

    emulator.control.clear_log()
    second = run_playbook([play], play=False)
    assert second.rc == 0, second.output
    assert emulator.control.writes() == []
    assert [item["changed"] for item in second.result("apply")["results"]] == [False, False]
