"""The installed tarball works on its own: a playbook outside the repository, with only ANSIBLE_COLLECTIONS_PATH."""

from __future__ import annotations

import json
import os
import sys

import yaml

from tests.ecosystem.conftest import REPO_ROOT, VENV_BIN, clean_env, run
from tests.integration.conftest import connection_options

PARTNER = "Outside the repo"


def _playbook(info, results_path):
    ensure = {"display_name": PARTNER, "partner_state": "enabled", "partner_app_type": "multiTenantApp"}
    return [
        {
            "name": "Installed collection",
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/msgraph.intune.graph": connection_options(info)},
            "tasks": [
                {
                    "name": "Ensure the partner",
                    "msgraph.intune.device_management_partner": ensure,
                    "register": "created",
                },
                {
                    # delegate_to takes the module-process path instead of the in-process action plugin
                    "name": "Ensure it through the module process",
                    "msgraph.intune.device_management_partner": ensure,
                    "delegate_to": "localhost",
                    "register": "again",
                },
                {"name": "Read the partners", "msgraph.intune.device_management_partner_info": {}, "register": "info"},
                {
                    "name": "Keep the results",
                    "ansible.builtin.copy": {
                        "content": "{{ {'created': created, 'again': again, 'info': info} | to_json }}",
                        "dest": results_path,
                        "mode": "0600",
                    },
                },
            ],
        }
    ]


def test_installed_tarball_converges_outside_the_repository(emulator, collection_artifact, tmp_path):
    workdir = tmp_path / "outside"
    workdir.mkdir()
    assert not str(workdir).startswith(REPO_ROOT + os.sep), "the run must not see the repo's ansible.cfg"
    results_path = workdir / "results.json"
    (workdir / "playbook.yml").write_text(yaml.safe_dump(_playbook(emulator.info, str(results_path)), sort_keys=False))
    (workdir / "inventory").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    env = clean_env(tmp_path, {"ANSIBLE_COLLECTIONS_PATH": collection_artifact.collections_path})
    playbook = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "inventory", "playbook.yml", "-vvv"]

    first = run(playbook, workdir, env)
    assert "No config file found; using defaults" in first.stdout
    results = json.loads(results_path.read_text())
    assert results["created"]["changed"] is True
    assert results["again"]["changed"] is False
    assert [p["display_name"] for p in results["info"]["partners"] if p["display_name"] == PARTNER] == [PARTNER]
    module_file = os.path.join(collection_artifact.collection_dir, "plugins", "modules", "device_management_partner.py")
    assert f"Using module file {module_file}" in first.stdout
    for repo_path in (".collections", "plugins"):
        assert os.path.join(REPO_ROOT, repo_path) not in first.stdout + first.stderr

    emulator.control.clear_log()
    run(playbook, workdir, env)
    again = json.loads(results_path.read_text())
    assert (again["created"]["changed"], again["again"]["changed"]) == (False, False)
    assert emulator.control.writes() == []
    partners = emulator.control.state()[emulator.tenant(0)["tenant_id"]]
    assert [(p["partnerState"], p["partnerAppType"]) for p in partners if p["displayName"] == PARTNER] == [
        ("enabled", "multiTenantApp")
    ]
