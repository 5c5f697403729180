"""An AWX-style job through ansible-runner: credentials reach the collection only as injected environment variables.

Each job runs the installed tarball at verbosity 4 against the emulator, once per way AWX injects credentials:

* ``azure_rm``: AWX's built-in "Microsoft Azure Resource Manager" credential (AZURE_CLIENT_ID, AZURE_SECRET,
  AZURE_TENANT, AZURE_SUBSCRIPTION_ID, AZURE_CLOUD_ENVIRONMENT), as awx/main/models/credential/injectors.py does;
* ``intune_graph`` and ``intune_graph_certificate``: the custom credential types in docs/awx/, rendered the way
  AWX renders injectors (a Jinja2 ImmutableSandboxedEnvironment; empty optional inputs left undefined; file
  injectors written below the private data dir's env/);
* ``intune_graph_inspecting_proxy``: the Intune Graph type in front of a TLS-inspecting proxy (the TLS front of
  tests/integration/tls_front.py, whose CA and certificate lack the Authority Key Identifier), with its CA in the
  credential's CA field and the strict X.509 checks switched off there.

The CA that verifies the emulator comes from the job's extra variables (``module_defaults``), from AWX's extra
environment variables (``MSGRAPH_CA_PATH``, with the built-in Azure credential) or from the credential's CA field.

The playbook runs the partner module in process and again through the module process (``delegate_to`` takes the
module path), then the info module. Afterwards every file of the job's artifacts is scanned for the secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile

import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tests.ecosystem.conftest import REPO_ROOT, VENV_BIN, clean_env, run
from tests.integration.secret_scan import find_secrets, secret_forms
from tests.integration.tls_front import inspecting_proxy

JOB_IDENT = "job"
PARTNER = "AWX partner"
PLAYBOOK = [
    {
        "name": "Intune partners from an AWX job",
        "hosts": "all",
        "gather_facts": False,
        # Not secrets: the CA that signed the emulator's certificate, when the job's variables name it.
        "module_defaults": {"group/msgraph.intune.graph": {"ca_path": "{{ emulator_ca_path | default(omit) }}"}},
        "tasks": [
            {
                "name": "Ensure the partner",
                "msgraph.intune.device_management_partner": {
                    "display_name": PARTNER,
                    "partner_state": "enabled",
                    "is_configured": True,
                },
                "register": "created",
            },
            {
                "name": "Ensure it again through the module process",
                "msgraph.intune.device_management_partner": {
                    "display_name": PARTNER,
                    "partner_state": "enabled",
                    "is_configured": True,
                },
                "delegate_to": "localhost",
                "register": "again",
            },
            {"name": "Read the partners", "msgraph.intune.device_management_partner_info": {}, "register": "info"},
            {
                "name": "Check convergence",
                "ansible.builtin.assert": {
                    "that": [
                        "created is changed",
                        "again is not changed",
                        f"info.partners | selectattr('display_name', 'equalto', '{PARTNER}') | list | length == 1",
                    ]
                },
            },
        ],
    }
]


# -- what AWX does before it starts ansible-runner ------------------------------------------------------------------


def azure_rm_injection(inputs):
    """awx/main/models/credential/injectors.py:azure_rm, for a service principal (client + tenant given)."""
    env = {"AZURE_SUBSCRIPTION_ID": inputs.get("subscription", "")}
    env.update(
        {"AZURE_CLIENT_ID": inputs["client"], "AZURE_TENANT": inputs["tenant"], "AZURE_SECRET": inputs["secret"]}
    )
    if "cloud_environment" in inputs:
        env["AZURE_CLOUD_ENVIRONMENT"] = inputs["cloud_environment"]
    return env


class TowerNamespace:  # pylint: disable=too-few-public-methods  # AWX's `tower` template namespace
    """An attribute bag, as in awx/main/models/credential/__init__.py."""


def custom_credential_injection(credential_type, inputs, private_data_dir):
    """CredentialType.inject_credential for a custom type: render ``file`` then ``env`` injectors.

    A file is written for every file injector, also when its input is empty. ``template`` makes
    ``{{ tower.filename }}``; ``template.<name>`` makes ``{{ tower.filename.<name> }}``.
    """
    sandbox = ImmutableSandboxedEnvironment()
    namespace = {name: value for name, value in inputs.items() if value != ""}  # AWX leaves empty inputs out
    tower = namespace["tower"] = TowerNamespace()
    for label, template in credential_type["injectors"].get("file", {}).items():
        handle, path = tempfile.mkstemp(dir=os.path.join(private_data_dir, "env"))
        with os.fdopen(handle, "w") as file:
            file.write(sandbox.from_string(template).render(**namespace))
        if "." not in label:
            tower.filename = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = TowerNamespace()
            setattr(tower.filename, label.split(".", 1)[1], path)
    return {
        name: sandbox.from_string(template).render(**namespace)
        for name, template in credential_type["injectors"]["env"].items()
    }


def load_credential_type(name):
    with open(os.path.join(REPO_ROOT, "docs", "awx", f"credential_type_{name}.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# Shapes of secrets whose values the test does not know: tokens the emulator issued ("emu" + token_urlsafe(48)
# in tests/emulator/emulator_signin.py) and any PEM private key.
SECRET_PATTERNS = {"issued access token": r"emu[A-Za-z0-9_-]{64}", "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----"}


def scan(secrets, path):
    """{file relative to path: sorted labels/forms found} for every file below path that holds a secret."""
    hits = {}
    for hit in find_secrets(secrets, paths=[path], patterns=SECRET_PATTERNS):
        hits.setdefault(os.path.relpath(hit.source, path), set()).add(f"{hit.label} ({hit.form})")
    return {name: sorted(found) for name, found in hits.items()}


# -- the job ------------------------------------------------------------------------------------------------------


def read(path):
    with open(path, encoding="ascii") as handle:
        return handle.read()


def credential_env(style, emulator, private_data_dir, front=None):
    """(environment variables AWX would inject, the secret strings among them)."""
    tenant = emulator.tenant(0)
    info = emulator.info
    if style == "azure_rm":
        env = azure_rm_injection(
            {
                "subscription": "00000000-0000-0000-0000-000000000000",
                "client": tenant["client_id"],
                "secret": tenant["client_secret"],
                "tenant": tenant["tenant_id"],
                "cloud_environment": "AzureCloud",
            }
        )
        # The built-in type has no endpoint or CA fields: they come as plain job environment (AWX's "Extra
        # Environment Variables").
        env.update(
            {
                "MSGRAPH_GRAPH_ENDPOINT": info["graph_endpoint"],
                "AZURE_AUTHORITY_HOST": info["authority_host"],
                "MSGRAPH_CA_PATH": info["ca_path"],
            }
        )
        return env, {"client secret": tenant["client_secret"]}
    if style in ("intune_graph", "intune_graph_inspecting_proxy"):
        inputs = {
            "tenant_id": tenant["tenant_id"],
            "client_id": tenant["client_id"],
            "client_secret": tenant["client_secret"],
            "cloud": "",
            "graph_endpoint": info["graph_endpoint"],
            "authority_host": info["authority_host"],
            "ca_bundle": "",
            "validate_certs_strict": "",
        }
        if front is not None:
            inputs.update(
                graph_endpoint=front.origin,
                authority_host=front.origin,
                ca_bundle=read(front.ca_path),
                validate_certs_strict="false",
            )
        env = custom_credential_injection(load_credential_type("intune_graph"), inputs, private_data_dir)
        return env, {"client secret": tenant["client_secret"]}
    pem = read(info["client_certificate_pem_path"])
    inputs = {
        "tenant_id": tenant["tenant_id"],
        "client_id": tenant["client_id"],
        "client_certificate": pem,
        "cloud": "AzureCloud",
        "ca_bundle": read(info["ca_path"]),
    }
    env = custom_credential_injection(load_credential_type(style), inputs, private_data_dir)
    env.update({"MSGRAPH_GRAPH_ENDPOINT": info["graph_endpoint"], "AZURE_AUTHORITY_HOST": info["authority_host"]})
    key = pem[pem.index("-----BEGIN PRIVATE KEY-----") : pem.index("-----END PRIVATE KEY-----")]
    # The whole PEM, and each line of the key's body (a leak of any part of the key is a leak).
    body = [line for line in key.splitlines()[1:] if len(line) >= 32]
    return env, {"certificate and key": pem, **{f"key line {number}": line for number, line in enumerate(body, 1)}}


# The styles whose CA comes from the job's extra variables; the others get it from the environment.
CA_FROM_EXTRA_VARS = ("intune_graph",)


def run_job(style, emulator, collection_artifact, tmp_path, front=None):
    private_data_dir = tmp_path / "private_data_dir"
    for folder in ("inventory", "project", "env"):
        (private_data_dir / folder).mkdir(parents=True)
    (private_data_dir / "inventory" / "hosts").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={os.path.join(VENV_BIN, 'python')}\n"
    )
    (private_data_dir / "project" / "playbook.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    extravars = {"emulator_ca_path": emulator.info["ca_path"]} if style in CA_FROM_EXTRA_VARS else {}
    (private_data_dir / "env" / "extravars").write_text(json.dumps(extravars))
    injected, secrets = credential_env(style, emulator, str(private_data_dir), front)
    # AWX points Ansible at the collections it installed for the job; here, the installed tarball.
    envvars = {"ANSIBLE_COLLECTIONS_PATH": collection_artifact.collections_path, **injected}
    (private_data_dir / "env" / "envvars").write_text(json.dumps(envvars))
    runner = [
        os.path.join(VENV_BIN, "ansible-runner"),
        "run",
        str(private_data_dir),
        "-p",
        "playbook.yml",
        "--ident",
        JOB_IDENT,
        "-vvvv",
    ]
    completed = run(runner, tmp_path, clean_env(tmp_path))
    return private_data_dir, private_data_dir / "artifacts" / JOB_IDENT, secrets, completed, injected


def task_sections(stdout):
    """{task name: its part of the job's stdout}."""
    parts = re.split(r"^TASK \[(.+?)\] \**$", stdout, flags=re.MULTILINE)
    return {parts[index]: parts[index + 1] for index in range(1, len(parts) - 1, 2)}


@pytest.mark.parametrize(
    "style", ["azure_rm", "intune_graph", "intune_graph_certificate", "intune_graph_inspecting_proxy"]
)
def test_awx_job_converges_and_its_artifacts_hold_no_secret(style, emulator, collection_artifact, tmp_path):
    proxied = style == "intune_graph_inspecting_proxy"
    with inspecting_proxy(emulator.info, tmp_path / "proxy") if proxied else contextlib.nullcontext() as front:
        private_data_dir, artifacts, secrets, completed, injected = run_job(
            style, emulator, collection_artifact, tmp_path, front
        )
    assert (artifacts / "status").read_text() == "successful", completed.stdout
    assert (artifacts / "rc").read_text() == "0"

    events = [json.loads(path.read_text()) for path in sorted((artifacts / "job_events").glob("*.json"))]
    results = {e["event_data"]["task"]: e["event_data"]["res"] for e in events if e["event"] == "runner_on_ok"}
    assert results["Ensure the partner"]["changed"] is True
    assert results["Ensure it again through the module process"]["changed"] is False
    partners = [p for p in emulator.control.state()[emulator.tenant(0)["tenant_id"]] if p["displayName"] == PARTNER]
    assert [(p["partnerState"], p["isConfigured"]) for p in partners] == [("enabled", True)]

    # Where the CA came from: the extra variables, the job's environment, or the credential's CA field, which AWX
    # writes to a file in the private data directory (an empty field leaves MSGRAPH_CA_PATH empty: unset).
    ca_path = injected.get("MSGRAPH_CA_PATH")
    if style == "intune_graph":
        assert ca_path == "" and injected["MSGRAPH_VALIDATE_CERTS_STRICT"] == "", injected
    elif style == "azure_rm":
        assert ca_path == emulator.info["ca_path"]
    else:
        assert os.path.dirname(ca_path) == str(private_data_dir / "env"), injected
        expected_ca = front.ca_path if front is not None else emulator.info["ca_path"]
        assert read(ca_path) == read(expected_ca)
    if front is not None:
        # Through the proxy, verified against its CA (whose certificates fail Python 3.13's strict checks).
        assert injected["MSGRAPH_VALIDATE_CERTS_STRICT"] == "false"
        assert front.relayed >= 4, front.relayed  # discovery, token, and the Graph requests of the tasks

    # Both execution paths ran, from the installed tarball (not from this repository).
    stdout = (artifacts / "stdout").read_text()
    sections = task_sections(stdout)
    module_file = os.path.join(collection_artifact.collection_dir, "plugins", "modules", "device_management_partner.py")
    assert f"Using module file {module_file}" in sections["Ensure it again through the module process"], stdout
    assert "Using module file" not in sections["Ensure the partner"]
    for repo_path in (".collections", "plugins"):
        assert os.path.join(REPO_ROOT, repo_path) not in stdout

    # ansible-runner itself records the job's environment (credentials included) in artifacts/<ident>/command;
    # AWX deletes the private data dir after the job. Nothing else may hold a secret, in any form.
    assert len(events) > 10 and any(e["event"] == "verbose" for e in events), "expected a verbose (-vvvv) job"
    hits = scan(secrets, artifacts)
    expected = {"command"} if style != "intune_graph_certificate" else set()
    assert set(hits) == expected, hits
    if expected:
        command = json.loads((artifacts / "command").read_text())
        assert set(secrets.values()) & set(command["env"].values()), "the secret reached the job as a variable"
        del command["env"]
        assert find_secrets(secrets, texts=[json.dumps(command)], patterns=SECRET_PATTERNS) == []

    # Positive control: the scan finds the secret planted into a copy of a job event, in each form it looks for.
    control = tmp_path / "control"
    control.mkdir()
    event_text = (artifacts / "job_events" / max(os.listdir(artifacts / "job_events"))).read_text()
    assert '"stdout": "' in event_text
    forms = secret_forms(next(iter(secrets.values())))
    for index, form in enumerate(forms.values()):
        planted = event_text.replace('"stdout": "', '"stdout": "leaked: ' + form, 1)
        (control / f"event-{index}.json").write_text(planted)
    assert sorted(scan(secrets, control)) == sorted(f"event-{index}.json" for index in range(len(forms)))
