"""The baseline role as an AWX job: ansible-runner, the installed tarball, the credential only in the environment.

The job audits one tenant that drifts; the drift must reach the job's artifacts through set_stats (what an AWX
workflow branches on), the report files must be written, nothing may be written to Graph, and no artifact but
ansible-runner's own `command` record may hold the secret.
"""

from __future__ import annotations

import json
import os

import yaml

from tests.ecosystem.conftest import VENV_BIN, clean_env, run
from tests.ecosystem.test_awx_runner import azure_rm_injection, scan

JOB_IDENT = "baseline"
PLAYBOOK = [
    {
        "name": "Intune baseline audit from an AWX job",
        "hosts": "intune_tenants",
        "gather_facts": False,
        # Not secrets: where the emulator is and the CA that signed its certificate.
        "module_defaults": {"group/msgraph.intune.graph": {"ca_path": "{{ emulator_ca_path }}"}},
        "roles": [{"role": "msgraph.intune.baseline"}],
    }
]
BASELINE = {
    "device_management_partners": [{"display_name": "Jamf Pro", "partner_state": "enabled"}],
    "mobile_threat_defense_connectors": [{"id": "fc780465-2017-40d4-a0c5-307022471b92", "ios_enabled": True}],
}


def test_baseline_audit_job_publishes_drift_in_the_artifacts(emulator, collection_artifact, tmp_path):
    tenant = emulator.tenant(0)
    emulator.control.seed(
        {
            tenant["tenant_id"]: {
                "deviceManagementPartners": [{"displayName": "Jamf Pro", "partnerState": "unresponsive"}],
                "mobileThreatDefenseConnectors": [],
            }
        }
    )
    emulator.control.clear_log()
    private_data_dir = tmp_path / "private_data_dir"
    for folder in ("inventory", "project", "env"):
        (private_data_dir / folder).mkdir(parents=True)
    python = os.path.join(VENV_BIN, "python")
    (private_data_dir / "inventory" / "hosts").write_text(
        f"[intune_tenants]\ncontoso ansible_connection=local ansible_python_interpreter={python}\n"
    )
    (private_data_dir / "project" / "playbook.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    reports = tmp_path / "reports"
    extravars = {
        "emulator_ca_path": emulator.info["ca_path"],
        "baseline_mode": "audit",
        "baseline_desired": BASELINE,
        "baseline_report_dir": str(reports),
    }
    (private_data_dir / "env" / "extravars").write_text(json.dumps(extravars))
    injected = azure_rm_injection(
        {"client": tenant["client_id"], "secret": tenant["client_secret"], "tenant": tenant["tenant_id"]}
    )
    injected.update(
        {
            "MSGRAPH_GRAPH_ENDPOINT": emulator.info["graph_endpoint"],
            "AZURE_AUTHORITY_HOST": emulator.info["authority_host"],
        }
    )
    envvars = {"ANSIBLE_COLLECTIONS_PATH": collection_artifact.collections_path, **injected}
    (private_data_dir / "env" / "envvars").write_text(json.dumps(envvars))
    runner = [os.path.join(VENV_BIN, "ansible-runner"), "run", str(private_data_dir), "-p", "playbook.yml"]
    completed = run([*runner, "--ident", JOB_IDENT, "-vv"], tmp_path, clean_env(tmp_path))
    artifacts = private_data_dir / "artifacts" / JOB_IDENT
    assert (artifacts / "status").read_text() == "successful", completed.stdout

    events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]
    stats = [event for event in events if event["event"] == "playbook_on_stats"]
    assert len(stats) == 1
    drift = stats[0]["event_data"]["artifact_data"]["baseline_drift"]
    assert drift["contoso"]["counts"] == {"drift": 1, "missing": 1, "unmanaged": 0, "error": 0}
    assert [(row["property"], row["current"], row["desired"]) for row in drift["contoso"]["entries"]] == [
        ("partner_state", "unresponsive", "enabled"),
        ("state", "absent", "present"),
    ]
    assert json.loads((reports / "drift.json").read_text())["tenants"]["contoso"]["counts"]["drift"] == 1
    assert emulator.control.writes() == []
    # Positive control: the audit read the tenant, one list per managed kind, beside the health kinds.
    reads = {
        (entry["tenant"], entry["method"], entry["path"])
        for entry in emulator.control.log()
        if entry["kind"] == "graph"
    }
    assert {
        (tenant["tenant_id"], "GET", "/v1.0/deviceManagement/deviceManagementPartners"),
        (tenant["tenant_id"], "GET", "/v1.0/deviceManagement/mobileThreatDefenseConnectors"),
        (tenant["tenant_id"], "GET", "/v1.0/deviceAppManagement/vppTokens"),
    } <= reads
    assert {method for _tenant, method, _path in reads} == {"GET"}

    secrets = {"client secret": tenant["client_secret"]}
    assert set(scan(secrets, artifacts)) == {"command"}
    assert scan(secrets, reports) == {}
