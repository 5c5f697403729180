"""Seed ansible-test's offline stand-in for pip's get-pip.py bootstrap script.

`ansible-test sanity --venv` creates each test venv without pip, then bootstraps pip by running
~/.ansible/test/cache/get_pip_<pip version with _>.py, downloading it from the internet when missing. This machine
has no internet, only package registries, so this writes a stand-in that installs pip from the registry instead.

Run it with the Python of the venv that holds ansible-test: it reads the pip version(s) from that ansible-test.
An existing file is left alone (it may be the real get-pip script).
"""

from __future__ import annotations

import os
import pathlib
import re
import sys

import ansible_test

STAND_IN = '''\
"""Offline stand-in for get-pip.py, written by msgraph.intune's tools/seed_get_pip.py."""

import subprocess
import sys

# ensurepip runs in a child process: run in-process it clears the PIP_* variables and pip's config files for the
# rest of this process, and with them the registry settings (index, certificate) that the install below needs.
ensurepip = subprocess.run(
    [sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
    check=False,
)
if ensurepip.returncode:
    sys.stdout.write(ensurepip.stdout.decode("utf-8", "replace"))
    sys.exit(ensurepip.returncode)

# get-pip.py takes pip install's arguments; --no-setuptools/--no-wheel are get-pip's own flags.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
'''


def pip_versions(ansible_test_dir: pathlib.Path) -> list[str]:
    """Return the pip versions ansible-test bootstraps, read from its source."""
    source = (ansible_test_dir / "_internal" / "python_requirements.py").read_text(encoding="utf-8")
    versions = sorted(set(re.findall(r"""\bpip\s*=\s*['"]([0-9][0-9.]*)['"]""", source)))
    if not versions:
        raise SystemExit(f"seed_get_pip: no pip version found in {ansible_test_dir}; ansible-test changed, update me")
    return versions


def cache_name_template(ansible_test_dir: pathlib.Path) -> str:
    """Return the cache file name pattern ansible-test uses, failing loudly if it is not the known one."""
    source = (ansible_test_dir / "_util" / "target" / "setup" / "requirements.py").read_text(encoding="utf-8")
    template = "~/.ansible/test/cache/get_pip_%s.py"
    if template not in source:
        raise SystemExit("seed_get_pip: ansible-test no longer caches get-pip as get_pip_<version>.py; update me")
    return template


def main() -> None:
    """Write the stand-in for every pip version that is missing one."""
    ansible_test_dir = pathlib.Path(ansible_test.__file__).parent
    template = cache_name_template(ansible_test_dir)
    for version in pip_versions(ansible_test_dir):
        path = pathlib.Path(os.path.expanduser(template % version.replace(".", "_")))
        if path.exists():
            sys.stdout.write(f"[seed-get-pip] pip {version}: using existing {path}\n")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so an interrupted run never leaves a half-written script behind.
        partial = path.with_name(path.name + ".partial")
        partial.write_text(STAND_IN, encoding="utf-8")
        os.replace(partial, path)
        sys.stdout.write(f"[seed-get-pip] pip {version}: wrote stand-in {path}\n")


if __name__ == "__main__":
    main()
