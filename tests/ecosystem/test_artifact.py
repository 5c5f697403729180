"""The Galaxy artifact and the execution environment tooling: what users and ansible-builder get from the tarball."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile

import yaml

from tests.ecosystem.conftest import PLANTED_DEV_FILES, REPO_ROOT, VENV_BIN, clean_env, run

# Paths (relative to the collection root) that must never be in the tarball.
DEV_PATH_RE = re.compile(
    r"""
    (^|/)(\.venv[^/]*|\.collections|\.ansible|\.tmp|\.cache|\.pytest_cache|\.ruff_cache|__pycache__|\.git|\.ci)(/|$)
    | ^(tools|tests/output|benchmarks/results|examples/audit/reports|examples/baseline|examples/msp/baseline)(/|$)
    | ^(Makefile|pyproject\.toml|DEVELOPERS\.md|\.ansible-lint|ansible\.cfg|\.gitignore|changelogs/\.plugin-cache\.yaml)$
    | \.pyc$ | \.tar\.gz$ | (^|/)\.emulator | emulator-state
    """,
    re.VERBOSE,
)
REQUIRED_MEMBERS = (
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "LICENSES/GPL-3.0-or-later.txt",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "requirements.txt",
    "plugins/modules/device_management_partner.py",
    "plugins/modules/device_management_partner_info.py",
    "plugins/action/device_management_partner.py",
    "plugins/action/device_management_partner_info.py",
    "plugins/modules/compliance_management_partner.py",
    "plugins/modules/compliance_management_partner_info.py",
    "plugins/action/compliance_management_partner.py",
    "plugins/action/compliance_management_partner_info.py",
    "plugins/modules/remote_assistance_partner.py",
    "plugins/modules/remote_assistance_partner_info.py",
    "plugins/action/remote_assistance_partner.py",
    "plugins/action/remote_assistance_partner_info.py",
    "plugins/modules/mobile_threat_defense_connector.py",
    "plugins/modules/mobile_threat_defense_connector_info.py",
    "plugins/action/mobile_threat_defense_connector.py",
    "plugins/action/mobile_threat_defense_connector_info.py",
    "plugins/modules/tenant_baseline.py",
    "plugins/action/tenant_baseline.py",
    "roles/baseline/meta/argument_specs.yml",
    "roles/baseline/meta/main.yml",
    "roles/baseline/tasks/main.yml",
    "roles/baseline/templates/drift.json.j2",
    "roles/baseline/templates/drift.md.j2",
    "plugins/doc_fragments/graph.py",
    "plugins/plugin_utils/_graph_action.py",
    "plugins/module_utils/_graph_client.py",
    "changelogs/changelog.yaml",
    "docs/installation.md",
    "docs/authentication.md",
    "docs/awx.md",
    "docs/clouds.md",
    "docs/connectors.md",
    "docs/baseline.md",
    "docs/assignment-targets.md",
)
EXPECTED_PYTHON_DEPS = ["msal", "requests"]
# SHA-256 of the GNU GPL version 3 as the FSF publishes it (https://www.gnu.org/licenses/gpl-3.0.txt).
GPL_3_SHA256 = "3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986"
LICENSE_HEADER_RE = re.compile(r"see (LICENSES/[\w.+-]+)")


def _requirement_names(lines):
    """Package names of requirement lines such as ``'requests  # from collection msgraph.intune'``."""
    return sorted(re.split(r"[\s#;<>=!~\[]", line.strip(), maxsplit=1)[0].lower() for line in lines)


def test_tarball_holds_the_collection_and_no_development_files(collection_artifact):
    members = collection_artifact.members
    leaked = [name for name in members if DEV_PATH_RE.search(name)]
    assert leaked == [], f"development files in {os.path.basename(collection_artifact.tarball)}: {leaked}"
    # The snapshot really had them (tracked or planted), so build_ignore is what kept them out.
    for relative in ("Makefile", "tools", ".ci", "pyproject.toml", "ansible.cfg", *PLANTED_DEV_FILES):
        assert os.path.lexists(os.path.join(collection_artifact.source_dir, relative)), relative
    missing = [name for name in REQUIRED_MEMBERS if name not in members]
    assert missing == [], f"missing from the tarball: {missing}"


def test_tarball_holds_the_full_licence_text_that_file_headers_cite(collection_artifact):
    with tarfile.open(collection_artifact.tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))
        texts = {name: archive.extractfile(name).read() for name in ("LICENSE", "LICENSES/GPL-3.0-or-later.txt")}
        headers = [
            archive.extractfile(name).read().decode("utf-8")[:500]
            for name in collection_artifact.members
            if name.endswith(".py")
        ]
    assert manifest["collection_info"]["license"] == ["GPL-3.0-or-later"]
    # galaxy.yml names the licence by its SPDX id: `license` and `license_file` exclude each other.
    assert manifest["collection_info"]["license_file"] is None
    for name, text in texts.items():
        assert hashlib.sha256(text).hexdigest() == GPL_3_SHA256, f"{name} is not the complete GPL-3.0 text"
    # Every licence file that a file header points at is in the tarball.
    cited = {match for header in headers for match in LICENSE_HEADER_RE.findall(header)}
    assert "LICENSES/GPL-3.0-or-later.txt" in cited
    assert cited <= set(collection_artifact.members), cited - set(collection_artifact.members)


def test_requirements_file_lists_only_requests_and_msal(collection_artifact):
    with open(os.path.join(collection_artifact.collection_dir, "requirements.txt"), encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    # Unpinned, and never ansible or ansible-core (ansible-builder would drop those silently).
    assert [line.strip() for line in sorted(lines)] == EXPECTED_PYTHON_DEPS


def test_builder_introspect_reports_requests_and_msal(collection_artifact, tmp_path):
    installed = os.listdir(os.path.join(collection_artifact.collections_path, "ansible_collections"))
    assert installed == ["msgraph"], "the collections path must hold this collection only"
    introspect = run(
        [os.path.join(VENV_BIN, "ansible-builder"), "introspect", collection_artifact.collections_path],
        tmp_path,
        clean_env(tmp_path),
    )
    data = yaml.safe_load(introspect.stdout)
    assert _requirement_names(data["python"]) == EXPECTED_PYTHON_DEPS, introspect.stdout
    assert all(line.endswith("# from collection msgraph.intune") for line in data["python"]), introspect.stdout
    assert data["system"] == [], "no bindep.txt: the collection needs no system packages"


def test_builder_create_makes_a_build_context_that_installs_the_tarball(collection_artifact, tmp_path):
    """`ansible-builder create` with a v3 definition; then the context's galaxy and introspect steps run locally.

    The image build itself needs podman or docker; the two steps that concern this collection (ansible-galaxy
    install from requirements.yml in /build, then introspect.py writing the pip requirements) run here as the
    Containerfile would run them, with cwd playing /build.
    """
    tarball_name = os.path.basename(collection_artifact.tarball)
    definition_dir = tmp_path / "ee"
    definition_dir.mkdir()
    shutil.copy(collection_artifact.tarball, definition_dir / tarball_name)
    (definition_dir / "requirements.yml").write_text(
        yaml.safe_dump({"collections": [{"name": f"artifacts/{tarball_name}", "type": "file"}]})
    )
    definition = {
        "version": 3,
        "images": {"base_image": {"name": "quay.io/ansible/awx-ee:latest"}},
        "dependencies": {
            "ansible_core": {"package_pip": "ansible-core"},
            "ansible_runner": {"package_pip": "ansible-runner"},
            "galaxy": "requirements.yml",
        },
        "additional_build_files": [{"src": tarball_name, "dest": "artifacts"}],
    }
    (definition_dir / "execution-environment.yml").write_text(yaml.safe_dump(definition, sort_keys=False))
    context = tmp_path / "context"
    env = clean_env(tmp_path)
    run(
        [
            os.path.join(VENV_BIN, "ansible-builder"),
            "create",
            "-f",
            str(definition_dir / "execution-environment.yml"),
            "-c",
            str(context),
            "--output-filename",
            "Containerfile",
        ],
        tmp_path,
        env,
    )
    build = context / "_build"
    for relative in ("Containerfile", "_build/requirements.yml", f"_build/artifacts/{tarball_name}"):
        assert (context / relative).is_file(), relative
    assert (build / "scripts" / "introspect.py").is_file()
    containerfile = (context / "Containerfile").read_text()
    assert "COPY _build /build" in containerfile
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile

    image_collections = tmp_path / "usr-share-ansible-collections"
    run(
        [
            os.path.join(VENV_BIN, "ansible-galaxy"),
            "collection",
            "install",
            "-r",
            "requirements.yml",
            "-p",
            str(image_collections),
        ],
        build,
        env,
    )
    written = tmp_path / "image-requirements.txt"
    run(
        [
            os.path.join(VENV_BIN, "python"),
            str(build / "scripts" / "introspect.py"),
            "introspect",
            f"--write-pip={written}",
            f"--write-bindep={tmp_path / 'image-bindep.txt'}",
            str(image_collections),
        ],
        build,
        env,
    )
    pip_lines = [line for line in written.read_text().splitlines() if line.strip()]
    assert _requirement_names(pip_lines) == EXPECTED_PYTHON_DEPS, pip_lines


def _named_yaml_blocks(markdown):
    """Fenced YAML blocks of a Markdown text, keyed by their first line when it is a comment (``# name``)."""
    blocks = {}
    for block in re.findall(r"^```ya?ml\n(.*?)^```", markdown, re.DOTALL | re.MULTILINE):
        first = block.splitlines()[0]
        if first.startswith("# "):
            blocks[first[2:].strip()] = block
    return blocks


def test_documented_execution_environment_example_is_valid(tmp_path):
    """The definition shown in docs/installation.md passes ansible-builder's schema and yields a build context."""
    with open(os.path.join(REPO_ROOT, "docs", "installation.md"), encoding="utf-8") as handle:
        markdown = handle.read()
    blocks = _named_yaml_blocks(markdown)
    definition = yaml.safe_load(blocks["execution-environment.yml"])
    requirements = yaml.safe_load(blocks["requirements.yml"])
    assert {"name": "msgraph.intune"}.items() <= requirements["collections"][0].items()
    assert definition["dependencies"]["galaxy"] == "requirements.yml"
    assert "python" not in definition["dependencies"], "the collection's metadata brings requests and msal"
    (tmp_path / "execution-environment.yml").write_text(yaml.safe_dump(definition, sort_keys=False))
    (tmp_path / "requirements.yml").write_text(yaml.safe_dump(requirements, sort_keys=False))
    run(
        [
            os.path.join(VENV_BIN, "ansible-builder"),
            "create",
            "-c",
            str(tmp_path / "context"),
            "--output-filename",
            "Containerfile",
        ],
        tmp_path,
        clean_env(tmp_path),
    )
    assert "ansible-galaxy collection install" in (tmp_path / "context" / "Containerfile").read_text()


def test_collection_metadata_points_at_its_requirements(collection_artifact):
    """ansible-builder finds requirements.txt through meta/execution-environment.yml, not by guessing."""
    with open(
        os.path.join(collection_artifact.collection_dir, "meta", "execution-environment.yml"), encoding="utf-8"
    ) as handle:
        metadata = yaml.safe_load(handle)
    assert metadata["dependencies"] == {"python": "requirements.txt"}
    assert not os.path.exists(os.path.join(collection_artifact.collection_dir, "bindep.txt"))
