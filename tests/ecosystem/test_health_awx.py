"""Connector health as an AWX job: ansible-runner, the installed tarball, the baseline role in health mode.

Two tenants, one healthy and one whose push certificate is about to expire and whose VPP token has expired. The
job's set_stats artifact (what an AWX workflow branches on, and what AWX keeps in its database) must hold each
tenant's counts and worst severity and no finding's text; no artifact may hold a client secret, a VPP token or a
push certificate; nothing may be written to Graph.
"""

from __future__ import annotations

import datetime
import json
import os

import yaml

from tests.ecosystem.conftest import VENV_BIN, clean_env, run
from tests.ecosystem.test_awx_runner import scan
from tests.integration.test_health_role import B_CRITICAL, FINDINGS_PER_TENANT, healthy_tenant, troubled_tenant

JOB_IDENT = "health"
HOSTS = ("contoso", "fabrikam")
PLAYBOOK = [
    {
        "name": "Intune connector health from an AWX job",
        "hosts": "intune_tenants",
        "gather_facts": False,
        "module_defaults": {
            "group/msgraph.intune.graph": {
                "tenant_id": "{{ intune_tenant_id }}",
                "client_id": "{{ intune_client_id }}",
                "client_secret": "{{ intune_client_secret }}",
                # Not secrets: where the emulator is and the CA that signed its certificate.
                "graph_endpoint": "{{ emulator_graph_endpoint }}",
                "authority_host": "{{ emulator_authority_host }}",
                "ca_path": "{{ emulator_ca_path }}",
            }
        },
        "roles": [{"role": "msgraph.intune.baseline"}],
    }
]


def test_health_job_publishes_counts_per_tenant_and_no_finding_text(emulator, collection_artifact, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    states = [healthy_tenant(0, now), troubled_tenant(1, now)]
    emulator.control.seed({emulator.tenant(index)["tenant_id"]: state for index, state in enumerate(states)})
    emulator.control.clear_log()

    private_data_dir = tmp_path / "private_data_dir"
    for folder in ("inventory", "project", "env"):
        (private_data_dir / folder).mkdir(parents=True)
    python = os.path.join(VENV_BIN, "python")
    hosts = {}
    for index, host in enumerate(HOSTS):
        tenant = emulator.tenant(index)
        hosts[host] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": python,
            "intune_tenant_id": tenant["tenant_id"],
            "intune_client_id": tenant["client_id"],
            "intune_client_secret": tenant["client_secret"],
        }
    inventory = {"intune_tenants": {"hosts": hosts}}
    (private_data_dir / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (private_data_dir / "project" / "playbook.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    reports = tmp_path / "reports"
    extravars = {
        "emulator_graph_endpoint": emulator.info["graph_endpoint"],
        "emulator_authority_host": emulator.info["authority_host"],
        "emulator_ca_path": emulator.info["ca_path"],
        "baseline_mode": "health",
        "baseline_report_dir": str(reports),
    }
    (private_data_dir / "env" / "extravars").write_text(json.dumps(extravars))
    envvars = {"ANSIBLE_COLLECTIONS_PATH": collection_artifact.collections_path}
    (private_data_dir / "env" / "envvars").write_text(json.dumps(envvars))
    runner = [os.path.join(VENV_BIN, "ansible-runner"), "run", str(private_data_dir), "-p", "playbook.yml"]
    completed = run([*runner, "--ident", JOB_IDENT, "-vv"], tmp_path, clean_env(tmp_path))
    artifacts = private_data_dir / "artifacts" / JOB_IDENT
    assert (artifacts / "status").read_text() == "successful", completed.stdout

    events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]
    (stats,) = [event for event in events if event["event"] == "playbook_on_stats"]
    artifact_data = stats["event_data"]["artifact_data"]
    assert artifact_data == {
        "msgraph_intune_health": {
            "contoso": {
                "reachable": True,
                "worst": "ok",
                "counts": {"ok": FINDINGS_PER_TENANT, "warning": 0, "critical": 0},
            },
            "fabrikam": {
                "reachable": True,
                "worst": "critical",
                "counts": {"ok": FINDINGS_PER_TENANT - B_CRITICAL, "warning": 0, "critical": B_CRITICAL},
            },
        }
    }
    # The findings' text is in the report the job wrote, never in what AWX keeps as the job's artifacts.
    health = json.loads((reports / "health.json").read_text())
    messages = [finding["message"] for part in health["tenants"].values() for finding in part["findings"]]
    assert len(messages) == 2 * FINDINGS_PER_TENANT
    stored = json.dumps(artifact_data)
    assert [message for message in messages if message in stored] == []
    assert emulator.control.writes() == []

    secrets = {f"client secret of {host}": emulator.tenant(index)["client_secret"] for index, host in enumerate(HOSTS)}
    for index in range(len(HOSTS)):
        secrets[f"VPP token {index}"] = states[index]["vppTokens"][0]["token"]
        secrets[f"APNs certificate {index}"] = states[index]["applePushNotificationCertificate"]["certificate"]
    assert scan(secrets, artifacts) == {}
    assert scan(secrets, reports) == {}
    # Positive control: the job's inventory holds the client secrets, and the scan finds them there.
    assert sorted(scan(secrets, private_data_dir / "inventory")) == ["hosts.yml"]
