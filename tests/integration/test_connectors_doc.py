"""The playbooks of docs/connectors.md, run as the page writes them against the Graph emulator.

Every ```yaml block of the page whose first line is ``# <path>`` is a file of the documented project; this test
writes them out (its own inventory in place of the sample one), points the collection at the emulator through the
environment variables the modules read, and runs the page's story: apply, apply again, audit, drift, export, apply
the export back. The modules' behaviour is tested on both execution paths elsewhere; this runs the default one.
"""

from __future__ import annotations

import os
import pathlib
import sys

import yaml

from tests.integration.conftest import (
    COMPLIANCE_PARTNER,
    MTD_CONNECTOR,
    REMOTE_ASSISTANCE_PARTNER,
    REPO_ROOT,
    ansible_playbook,
    graph_target,
)
from tools.lint_examples import doc_files

DOC = os.path.join(REPO_ROOT, "docs", "connectors.md")
DOC_FILES = {
    "inventory/hosts.yml",
    "inventory/group_vars/intune_tenants/connectors.yml",
    "tasks/compliance_partners.yml",
    "tasks/remote_assistance_partners.yml",
    "tasks/mtd_connectors.yml",
    "compliance_partners.yml",
    "remote_assistance_partners.yml",
    "mtd_connectors.yml",
    "connectors_audit.yml",
    "connectors_export.yml",
}
APPLY = ["compliance_partners.yml", "remote_assistance_partners.yml", "mtd_connectors.yml"]
CONNECTOR_ID = "0d0d0d0d-1111-4222-8333-444444444444"  # made up: the page names no partner's id
IOS_USERS = "10500000-0000-4000-8000-000000000001"
MAC_USERS = "3ac00000-0000-4000-8000-000000000003"
MAC_LAB = "1ab00000-0000-4000-8000-000000000002"
GROUPS = [
    {"id": IOS_USERS, "displayName": "iOS users"},
    {"id": MAC_USERS, "displayName": "Mac users"},
    {"id": MAC_LAB, "displayName": "Mac lab"},
]


def write_project(directory, info):
    files = doc_files(pathlib.Path(DOC))  # the convention `make lint` lints them by, too
    assert set(files) == DOC_FILES
    for path, text in files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    assert yaml.safe_load(files["inventory/hosts.yml"])["intune_tenants"]["hosts"]  # the sample parses
    # The test's own inventory: the emulator's first tenant, with this venv's Python.
    tenant = info["tenants"][0]
    (directory / "inventory" / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "intune_tenants": {
                    "hosts": {"contoso": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
                }
            }
        )
    )
    (directory / "inventory" / "host_vars").mkdir()
    (directory / "inventory" / "host_vars" / "contoso.yml").write_text(
        yaml.safe_dump(
            {
                "intune_tenant_id": tenant["tenant_id"],
                "intune_client_id": tenant["client_id"],
                "intune_client_secret": tenant["client_secret"],
            }
        )
    )


def test_the_pages_playbooks_apply_audit_and_export(emulator, tmp_path):
    info = emulator.info
    project = tmp_path / "connectors"
    write_project(project, info)
    COMPLIANCE_PARTNER.seed(emulator, [{"id": "cmp-legacy", "displayName": "Legacy compliance partner"}], groups=GROUPS)
    REMOTE_ASSISTANCE_PARTNER.seed(emulator, [{"id": "ra-teamviewer", "displayName": "TeamViewer"}])
    MTD_CONNECTOR.seed(emulator, [])
    environment = {
        "MSGRAPH_GRAPH_ENDPOINT": info["graph_endpoint"],
        "AZURE_AUTHORITY_HOST": info["authority_host"],
        "REQUESTS_CA_BUNDLE": info["ca_path"],
    }
    runs = iter(range(1, 100))

    def playbook(*args):
        workdir = tmp_path / f"run{next(runs)}"
        workdir.mkdir()
        return ansible_playbook(
            workdir, args[0], project / "inventory", [*args[1:]], extra_env=environment, timeout=300
        )

    def play(*playbooks, extra=()):
        first, *others = [str(project / name) for name in playbooks]
        return playbook(first, *others, *extra)

    with_id = ["-e", f"mtd_partner_connector_id={CONNECTOR_ID}"]

    # 1. Apply the three playbooks: a create, a delete, an onboarding, a connector created with the partner's id.
    emulator.control.clear_log()
    applied = play(*APPLY, extra=with_id)
    assert applied.rc == 0, applied.output
    assert "[WARNING]" not in applied.output, applied.output
    writes = emulator.control.writes()
    assert [(entry["method"], entry["path"]) for entry in writes] == [
        ("POST", COMPLIANCE_PARTNER.path),
        ("DELETE", COMPLIANCE_PARTNER.item_path("cmp-legacy")),
        ("POST", REMOTE_ASSISTANCE_PARTNER.item_path("ra-teamviewer") + "/beginOnboarding"),
        ("POST", MTD_CONNECTOR.path),
    ]
    assert writes[0]["body"] == {
        "displayName": "Fabrikam Device Compliance",
        "partnerState": "enabled",
        "androidOnboarded": False,
        "iosOnboarded": True,
        "macOsOnboarded": True,
        "androidEnrollmentAssignments": [],
        "iosEnrollmentAssignments": [graph_target("#microsoft.graph.groupAssignmentTarget", groupId=IOS_USERS)],
        "macOsEnrollmentAssignments": [
            graph_target("#microsoft.graph.groupAssignmentTarget", groupId=MAC_USERS),
            graph_target("#microsoft.graph.exclusionGroupAssignmentTarget", groupId=MAC_LAB),
        ],
    }
    assert writes[3]["body"] == {
        "id": CONNECTOR_ID,
        "iosEnabled": True,
        "androidEnabled": True,
        "iosDeviceBlockedOnMissingPartnerData": True,
        "androidDeviceBlockedOnMissingPartnerData": True,
        "partnerUnsupportedOsVersionBlocked": True,
        "partnerUnresponsivenessThresholdInDays": 7,
    }
    assert "TeamViewer is onboarding; complete it in the partner's portal" in applied.stdout

    # 2. Again: nothing to write.
    emulator.control.clear_log()
    again = play(*APPLY, extra=with_id)
    assert again.rc == 0, again.output
    assert emulator.control.writes() == []
    assert not [entry for entry in again.results if entry["result"].get("changed")], again.results

    # 3. The audit: no drift, no write, and it did read every collection.
    emulator.control.clear_log()
    audit = play("connectors_audit.yml", extra=with_id)
    assert audit.rc == 0, audit.output
    assert emulator.control.writes() == []
    read = {entry["path"].split("/")[3] for entry in emulator.control.log() if "/deviceManagement/" in entry["path"]}
    assert {"complianceManagementPartners", "remoteAssistancePartners", "mobileThreatDefenseConnectors"} <= read
    assert audit.result("Fail for a tenant whose connectors drifted")["msg"] == "No drift"

    # 4. Someone changes the connector in the portal: the audit reports it, fails, and still writes nothing.
    drifted = dict(MTD_CONNECTOR.state(emulator)[CONNECTOR_ID], iosEnabled=False)
    MTD_CONNECTOR.seed(emulator, [drifted])
    emulator.control.clear_log()
    audit = play("connectors_audit.yml", extra=with_id)
    assert audit.rc != 0
    assert emulator.control.writes() == []
    assert f"{CONNECTOR_ID}: ios_enabled" in audit.stdout, audit.stdout
    assert "1 connector objects differ from the desired state" in audit.output, audit.output

    # 5. Export: the file has the desired state's shape; applied back, it writes nothing.
    export_dir = tmp_path / "baseline"
    exported = play("connectors_export.yml", extra=["-e", f"connectors_export_dir={export_dir}"])
    assert exported.rc == 0, exported.output
    baseline = yaml.safe_load((export_dir / "contoso.yml").read_text())
    assert list(baseline) == [
        "intune_compliance_partners",
        "intune_remote_assistance_partners",
        "intune_mtd_connectors",
    ]
    assert baseline["intune_compliance_partners"] == [
        {
            "display_name": "Fabrikam Device Compliance",
            "partner_state": "enabled",
            "android_onboarded": False,
            "ios_onboarded": True,
            "mac_os_onboarded": True,
            "android_enrollment_assignments": [],
            "ios_enrollment_assignments": [{"type": "group", "group_display_name": "iOS users"}],
            "mac_os_enrollment_assignments": [
                {"type": "exclusion_group", "group_display_name": "Mac lab"},
                {"type": "group", "group_display_name": "Mac users"},
            ],
        }
    ]
    # portable: no tenant-specific id, so the file applies to another tenant too.
    assert baseline["intune_remote_assistance_partners"] == [{"display_name": "TeamViewer", "onboarding": "started"}]
    assert [connector["id"] for connector in baseline["intune_mtd_connectors"]] == [CONNECTOR_ID]
    assert baseline["intune_mtd_connectors"][0]["ios_enabled"] is False  # the tenant as it is now

    emulator.control.clear_log()
    restored = play(*APPLY, extra=["-e", f"@{export_dir / 'contoso.yml'}"])
    assert restored.rc == 0, restored.output
    assert emulator.control.writes() == []
    assert {entry["result"].get("changed") for entry in restored.results if "changed" in entry["result"]} == {False}

    # 6. The same file applies to another tenant, where the groups have other ids, and then changes nothing there.
    other = info["tenants"][1]
    other_groups = [dict(group, id=group["id"][:-1] + "9") for group in GROUPS]
    COMPLIANCE_PARTNER.seed(emulator, [], tenant=1, groups=other_groups)
    REMOTE_ASSISTANCE_PARTNER.seed(emulator, [{"id": "ra-other", "displayName": "TeamViewer"}], tenant=1)
    MTD_CONNECTOR.seed(emulator, [], tenant=1)
    (project / "inventory" / "host_vars" / "contoso.yml").write_text(
        yaml.safe_dump(
            {
                "intune_tenant_id": other["tenant_id"],
                "intune_client_id": other["client_id"],
                "intune_client_secret": other["client_secret"],
            }
        )
    )
    emulator.control.clear_log()
    elsewhere = play(*APPLY, extra=["-e", f"@{export_dir / 'contoso.yml'}"])
    assert elsewhere.rc == 0, elsewhere.output
    assert {entry["tenant"] for entry in emulator.control.writes()} == {other["tenant_id"]}
    created = COMPLIANCE_PARTNER.state(emulator, tenant=1)
    assert [partner["displayName"] for partner in created.values()] == ["Fabrikam Device Compliance"]
    assert REMOTE_ASSISTANCE_PARTNER.state(emulator, tenant=1)["ra-other"]["onboardingStatus"] == "onboarding"
    emulator.control.clear_log()
    settled = play(*APPLY, extra=["-e", f"@{export_dir / 'contoso.yml'}"])
    assert settled.rc == 0, settled.output
    assert emulator.control.writes() == []
