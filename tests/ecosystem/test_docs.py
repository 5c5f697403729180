"""The user docs agree with the code: every module renders with ansible-doc and is wired up (action plugin, action
group, README), every auth method, environment variable and cloud is documented, the AWX credential types inject
only variables the collection reads, and relative links resolve."""

from __future__ import annotations

import glob
import importlib
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.ecosystem.conftest import REPO_ROOT

# The collection is imported as ansible_collections.msgraph.intune through `.collections/` (made by `make venv`).
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".collections")
if os.path.isdir(COLLECTIONS_PATH) and COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

# pylint: disable-next=wrong-import-position  # needs the sys.path entry above
from ansible_collections.msgraph.intune.plugins.module_utils import _graph_settings as settings

from tests.integration.conftest import ansible_env

DOCS = os.path.join(REPO_ROOT, "docs")
MODULES = sorted(
    name[: -len(".py")]
    for name in os.listdir(os.path.join(REPO_ROOT, "plugins", "modules"))
    if name.endswith(".py") and not name.startswith("_")
)
FORCE_MODULE_ENV = "MSGRAPH_INTUNE_FORCE_MODULE"
ENV_READ_BY_COLLECTION = {variable for variables in settings.ENV_FALLBACKS.values() for variable in variables} | {
    settings.CLOUD_ENV,
    settings.FEDERATED_TOKEN_ENV,
    settings.VALIDATE_CERTS_ENV,
    settings.VALIDATE_CERTS_STRICT_ENV,
    FORCE_MODULE_ENV,
}
CREDENTIAL_TYPES = sorted(glob.glob(os.path.join(DOCS, "awx", "credential_type_*.yml")))


# ansible-doc's header line for each module: "> MODULE <name> (<path>)" from ansible-core 2.17 on, and
# "> <NAME IN CAPITALS>    (<path>)" in 2.16.
ANSIBLE_DOC_HEADER_RE = re.compile(r"^> (?:MODULE (\S+) \(|([A-Z0-9_.]+) +\()", re.MULTILINE)


def _read(name):
    with open(os.path.join(DOCS, name), encoding="utf-8") as handle:
        return handle.read()


def test_every_module_has_its_action_plugin_action_group_and_readme_entry():
    assert len(MODULES) == 10, MODULES  # positive control: the listing found the modules
    with open(os.path.join(REPO_ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        group = yaml.safe_load(handle)["action_groups"]["graph"]
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert sorted(group) == MODULES
    missing = [
        name for name in MODULES if not os.path.isfile(os.path.join(REPO_ROOT, "plugins", "action", name + ".py"))
    ]
    missing += [f"README: {name}" for name in MODULES if f"`msgraph.intune.{name}`" not in readme]
    assert missing == []


def test_ansible_doc_renders_every_module_with_its_options_and_return_values(tmp_path):
    fqcns = [f"msgraph.intune.{name}" for name in MODULES]
    completed = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-doc"), *fqcns],
        cwd=tmp_path,
        env=ansible_env(tmp_path, {"ANSIBLE_DEPRECATION_WARNINGS": "1"}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stderr == "", completed.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", completed.stdout)
    assert "[WARNING]" not in text, text
    headers = list(ANSIBLE_DOC_HEADER_RE.finditer(text))
    assert [header.group(1) or header.group(2).lower() for header in headers] == fqcns, text[:500]
    ends = [header.start() for header in headers[1:]] + [len(text)]
    missing = []
    for name, header, end in zip(MODULES, headers, ends):
        section = text[header.start() : end]
        module = importlib.import_module(f"ansible_collections.msgraph.intune.plugins.modules.{name}")
        # Every option (the shared connection options come from the doc fragment), every return value and the
        # action group.
        expected = [*module.TASK.argument_spec, *yaml.safe_load(module.RETURN), "group/msgraph.intune.graph"]
        missing += [f"{name}: {word}" for word in expected if word not in section]
    assert missing == []


def test_authentication_doc_covers_every_method_and_variable():
    text = _read("authentication.md")
    missing = [f"`{method}`" for method in settings.AUTH_METHODS if f"`{method}`" not in text]
    missing += [f"`{variable}`" for variable in sorted(ENV_READ_BY_COLLECTION) if f"`{variable}`" not in text]
    for permission in ("DeviceManagementServiceConfig.ReadWrite.All", "DeviceManagementServiceConfig.Read.All"):
        if permission not in text:
            missing.append(permission)
    assert missing == [], f"docs/authentication.md does not mention {missing}"


def test_clouds_doc_matches_the_cloud_table():
    text = _read("clouds.md")
    lowered = text.lower()
    missing = []
    for name, cloud in settings.CLOUDS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{name}`")), "")
        for expected in (cloud.graph_endpoint, cloud.authority_host, cloud.scope):
            if f"`{expected}`" not in row:
                missing.append(f"{name}: {expected}")
    missing += [alias for alias in settings.CLOUD_ALIASES if f"`{alias}`" not in lowered]
    for option, variable in (("graph_endpoint", "MSGRAPH_GRAPH_ENDPOINT"), ("authority_host", "AZURE_AUTHORITY_HOST")):
        if f"`{option}`" not in text or f"`{variable}`" not in text:
            missing.append(option)
    assert missing == [], f"docs/clouds.md is missing {missing}"


def test_there_are_credential_types_to_check():
    assert [os.path.basename(path) for path in CREDENTIAL_TYPES] == [
        "credential_type_intune_graph.yml",
        "credential_type_intune_graph_certificate.yml",
    ]


@pytest.mark.parametrize("path", CREDENTIAL_TYPES, ids=os.path.basename)
def test_credential_type_injects_only_what_the_collection_reads(path):
    with open(path, encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    assert definition["kind"] == "cloud"
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    assert all(field["type"] == "string" and field["label"] for field in fields.values())
    assert set(definition["inputs"]["required"]) <= set(fields)
    for field_id, field in fields.items():
        if re.search("secret|password|certificate", field_id):
            assert field.get("secret") is True, f"{field_id} must be a secret field"

    env = definition["injectors"]["env"]
    assert set(env) <= ENV_READ_BY_COLLECTION, set(env) - ENV_READ_BY_COLLECTION
    assert not any(name.startswith("ANSIBLE_") for name in env), "AWX refuses injected ANSIBLE_* variables"
    templates = list(env.values()) + list(definition["injectors"].get("file", {}).values())
    referenced = {name for template in templates for name in re.findall(r"{{\s*([\w.]+)\s*}}", template)}
    # tower.filename (a single file injector) or tower.filename.<label> (file injector template.<label>)
    files = {name for name in referenced if name.startswith("tower.filename")}
    labels = {label.partition(".")[2] for label in definition["injectors"].get("file", {}) if "." in label}
    assert files <= {"tower.filename"} | {f"tower.filename.{label}" for label in labels}, files
    referenced -= files
    assert referenced <= set(fields), referenced - set(fields)
    # Every input reaches the job (an input nothing injects would be a silently ignored setting).
    assert set(fields) <= referenced


def _slug(heading):
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize(
    "name",
    [
        "installation.md",
        "authentication.md",
        "awx.md",
        "clouds.md",
        "network.md",
        "health.md",
        "report.md",
        "baseline.md",
        "connectors.md",
        "assignment-targets.md",
    ],
)
def test_relative_links_resolve(name):
    text = _read(name)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # an external URL
        path, _sep, anchor = target.partition("#")
        file_path = os.path.normpath(os.path.join(DOCS, path)) if path else os.path.join(DOCS, name)
        if not os.path.isfile(file_path):
            broken.append(target)
            continue
        if anchor and file_path.endswith(".md"):
            with open(file_path, encoding="utf-8") as handle:
                headings = re.findall(r"^#+ (.+)$", handle.read(), re.MULTILINE)
            if anchor not in {_slug(heading) for heading in headings}:
                broken.append(target)
    assert broken == [], f"broken links in docs/{name}: {broken}"
