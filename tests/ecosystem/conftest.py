"""Fixtures for the ecosystem tests: the collection as users get it (a Galaxy tarball), installed outside the repo.

``collection_artifact`` builds the tarball once per test session from a snapshot of the working tree (tracked files
plus untracked files that git does not ignore, as a clean checkout would have), with typical development leftovers
planted into the snapshot so that galaxy.yml's ``build_ignore`` really has something to leave out. The tarball is
then installed into an empty collections path. Under xdist, the workers of one session share the build.

``clean_env`` is the environment for ansible commands that must not see this repository: no ``ANSIBLE_*``,
``AZURE_*`` or ``MSGRAPH_*`` variables from the outer environment, the venv's bin/ first on PATH, and a private
ANSIBLE_HOME (so ~/.ansible/collections cannot help either).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
COLLECTION = "msgraph.intune"

# Development leftovers a maintainer's working tree typically holds; git ignores all of them, so a snapshot of the
# tracked files would not have them. Each must stay out of the tarball.
PLANTED_DEV_FILES = (
    ".venv/bin/activate",
    ".venv-latest/pyvenv.cfg",
    ".venv-oldest/bin/python",
    ".ansible/collections/ansible_collections/README",
    ".tmp/sanity/ansible_collections/msgraph/intune/galaxy.yml",
    ".cache/pip/http/entry",
    ".pytest_cache/v/cache/lastfailed",
    ".ruff_cache/0.17.6/123",
    "tests/output/junit/python3.11-units.xml",
    "benchmarks/results/latest.json",
    "examples/audit/reports/drift-contoso.md",
    "examples/baseline/contoso.yml",
    "examples/msp/baseline/drift.json",
    "plugins/module_utils/__pycache__/_partner.cpython-311.pyc",
    "plugins/modules/device_management_partner.pyc",
    ".emulator/state.json",
    "tests/emulator/run.emulator-state.json",
    "msgraph-intune-0.0.9.tar.gz",
    "changelogs/.plugin-cache.yaml",
    ".git/HEAD",
)


class Artifact:
    """The built tarball, its member names, and where it was installed."""

    def __init__(self, root):
        self.root = root
        with open(os.path.join(root, "artifact.json"), encoding="utf-8") as handle:
            data = json.load(handle)
        self.tarball = data["tarball"]
        self.source_dir = data["source_dir"]
        self.collections_path = data["collections_path"]
        self.collection_dir = os.path.join(self.collections_path, "ansible_collections", "msgraph", "intune")
        with tarfile.open(self.tarball) as archive:
            self.members = sorted(member.name.rstrip("/") for member in archive.getmembers())


def clean_env(tmp_dir, extra=None):
    """An environment in which nothing from this repository or the outer shell configures Ansible.

    ``tmp_dir`` (a str or a Path) receives ANSIBLE_HOME and ANSIBLE_LOCAL_TEMP.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ANSIBLE_", "AZURE_", "MSGRAPH_")) and name not in ("PYTHONPATH",)
    }
    env.update(
        {
            "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
            "ANSIBLE_HOME": os.path.join(str(tmp_dir), "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(str(tmp_dir), "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            # The venv's site-packages must not be a source of collections either.
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        }
    )
    env.update(extra or {})
    return env


def run(command, cwd, env, timeout=300):
    """Run a command; fail the test with its output when it exits non-zero."""
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if completed.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, command))} exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
        )
    return completed


def snapshot_repo(dest):
    """Copy the files a clean checkout would have: tracked plus untracked-but-not-ignored, as tools/sanity.sh does."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in (entry.decode() for entry in listed if entry):
        source = os.path.join(REPO_ROOT, name)
        if not os.path.lexists(source):  # tracked but deleted in the working tree
            continue
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)


def plant_dev_files(source_dir):
    for relative in PLANTED_DEV_FILES:
        path = os.path.join(source_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("development leftover\n")
    # The repo's own .collections/ is a symlink farm pointing back at the repo root.
    link = os.path.join(source_dir, ".collections", "ansible_collections", "msgraph", "intune")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink("../../..", link)


def _build_and_install(root):
    source_dir = os.path.join(root, "source")
    output_dir = os.path.join(root, "dist")
    collections_path = os.path.join(root, "collections")
    snapshot_repo(source_dir)
    plant_dev_files(source_dir)
    env = clean_env(root)
    run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path", output_dir], source_dir, env)
    (tarball,) = [os.path.join(output_dir, name) for name in os.listdir(output_dir) if name.endswith(".tar.gz")]
    assert not os.path.exists(collections_path), "the install target must start empty"
    run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", tarball, "-p", collections_path], root, env)
    with open(os.path.join(root, "artifact.json"), "w", encoding="utf-8") as handle:
        json.dump({"tarball": tarball, "source_dir": source_dir, "collections_path": collections_path}, handle)


@pytest.fixture(scope="session")
def collection_artifact(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by this session's workers only (pytest-N/), not by other sessions
    root = os.path.join(str(base), "msgraph-intune-artifact")
    with open(root + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker builds; the others wait for it and reuse the result
        try:
            if not os.path.exists(os.path.join(root, "artifact.json")):
                shutil.rmtree(root, ignore_errors=True)  # an earlier worker's failed attempt: try again, fail alike
                os.makedirs(root)
                _build_and_install(root)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Artifact(root)
