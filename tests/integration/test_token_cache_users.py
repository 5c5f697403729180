"""Another local user cannot make the token cache touch what it did not create (issue 24, item 1).

MSGRAPH_TOKEN_CACHE_DIR names a parent; the cache makes a directory of its own in it (``msgraph_intune_tokens-<uid>``,
0700). A symbolic link at the configured path is followed only when the user running the playbook (or root) owns it;
the cache never changes the mode of, nor removes anything from, a directory it did not create. Each case runs real
ansible-playbook runs, as root and as a second local user:

* a link planted at the configured path by another user, to the victim's own directory or dangling: the cache is off
  for the run, a warning says why at the default verbosity, the victim's directory (mode, files, times) is unchanged
  and a dangling target is not created;
* the configured path is a shared sticky directory (1777, like /tmp) holding another user's files, among them files
  named like cache files and a day old, and that user's own cache: its mode (sticky bit included) and every file of
  the other user stay as they were, and the cache works in a directory of its own;
* another user's directory at the cache's own name: refused, nothing written into it.

How the second user runs ansible-playbook: the test (root) creates the user with useradd (a unique name, no home,
no login shell) and removes it with userdel when the module's tests end, also when they fail. The user needs a
Python and the collection readable by them, which a fresh clone under /root does not give (/root is 0700, and the
venv's interpreter usually lives under /root/.pyenv). So the collection (plugins, meta, galaxy.yml) and the test's
result callback are copied to a world-readable temporary directory under /tmp; the venv's site-packages is used in
place when the user can read it, else its distributions are copied there too; the interpreter is the first of the
venv's own, /usr/bin/pythonX.Y and pythonX.Y on PATH (same X.Y as the venv, so that compiled packages load) that the
user can run with those packages. The run itself is ``python -s -m ansible playbook`` started with the user's uid and
gid (subprocess's user/group, no supplementary groups), with HOME, ANSIBLE_HOME and ANSIBLE_LOCAL_TEMP in a directory
of the user's, and the emulator's CA copied where the user can read it. Without root, useradd or such a Python the
tests are skipped, with a reason that says so.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import site
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import CALLBACK_DIR, CLOSED_PROXY, REPO_ROOT, PlaybookRun, connection_options
from tests.integration.test_token_cache import CACHE_DIR_ENV, flat, info_task, requests_of, statuses

NOBODY = "nobody"
# What the second user's Python must import to run the collection's tasks in-process.
REQUIREMENTS = "import ansible, jinja2, yaml, msal, requests, cryptography"


class User:
    def __init__(self, name):
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, entry.pw_uid, entry.pw_gid

    def run(self, command, **kwargs):
        """`command` as this user (uid, gid, no supplementary groups)."""
        return subprocess.run(
            command,
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )


@pytest.fixture(scope="module")
def second_user():
    """A local user of its own for this module's tests, removed at the end whatever happens."""
    if os.geteuid() != 0:
        pytest.skip(f"not root (uid {os.geteuid()}): creating a second local user needs root")
    missing = [tool for tool in ("useradd", "userdel") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no {' or '.join(missing)} on this machine: cannot create a second local user")
    name = f"msgtc{secrets.token_hex(4)}"
    created = subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--user-group",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if created.returncode != 0:
        pytest.skip(f"useradd failed, so there is no second local user: {created.stderr.strip()}")
    try:
        yield User(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)
        with_group = subprocess.run(["getent", "group", name], capture_output=True, check=False)
        if with_group.returncode == 0:
            subprocess.run(["groupdel", name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def nobody():
    try:
        return User(NOBODY)
    except KeyError:
        pytest.skip(f"no user {NOBODY!r} on this machine to stand for a third local user")


@pytest.fixture(scope="module")
def area():
    """A directory under /tmp that every user can enter (the tests' temporary directories are root's, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="msgraph-intune-users-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _copy_tree(source, target):
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=False)


@pytest.fixture(scope="module")
def runtime(second_user, area):
    """What the second user needs to run ansible-playbook: readable collection, callback, packages and a Python."""
    base = area / "runtime"
    collection = base / "collections" / "ansible_collections" / "msgraph" / "intune"
    for name in ("plugins", "meta"):
        _copy_tree(Path(REPO_ROOT) / name, collection / name)
    shutil.copy2(Path(REPO_ROOT) / "galaxy.yml", collection / "galaxy.yml")
    _copy_tree(CALLBACK_DIR, base / "callbacks")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [os.path.realpath(sys.executable), f"/usr/bin/python{version}", shutil.which(f"python{version}")]
    candidates = list(dict.fromkeys(path for path in candidates if path))
    packages = site.getsitepackages()
    check = f"import sys; assert sys.version_info[:2] == ({version.replace('.', ', ')}); {REQUIREMENTS}"

    def usable_python(package_path):
        for python in candidates:
            try:
                result = second_user.run([python, "-s", "-c", check], env={"PYTHONPATH": package_path})
            except OSError:  # the user may not even execute it (under /root)
                continue
            if result.returncode == 0:
                return python
        return None

    package_path = os.pathsep.join(packages)
    python = usable_python(package_path)
    if python is None:  # the venv is not readable by the user (a clone under /root): copy its packages
        copied = base / "site-packages"
        for directory in packages:
            shutil.copytree(directory, copied, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        package_path = str(copied)
        python = usable_python(package_path)
    if python is None:
        pytest.skip(
            f"no Python {version} that user {second_user.name} can run with ansible-core and msal (tried "
            f"{', '.join(candidates)}): cannot run ansible-playbook as a second user"
        )
    for path in [base, *base.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (0o555 if path.is_dir() else 0))
    return {"python": python, "pythonpath": package_path, "base": base}


class Runner:
    """Runs ansible-playbook as root (the test's own user) or as another user, and keeps count of the runs."""

    def __init__(self, emulator, area, runtime=None):
        self.emulator = emulator
        self.area = area
        self.runtime = runtime
        self.count = 0
        self.ca_path = area / "emulator-ca.pem"
        shutil.copy2(emulator.info["ca_path"], self.ca_path)
        self.ca_path.chmod(0o644)

    def __call__(self, user, tasks, env):
        self.count += 1
        workdir = self.area / f"run-{secrets.token_hex(4)}"
        workdir.mkdir(mode=0o700)
        if user is not None:
            os.chown(workdir, user.uid, user.gid)
        info = dict(self.emulator.info, ca_path=str(self.ca_path))
        play = {
            "name": "test",
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/msgraph.intune.graph": connection_options(info)},
            "tasks": tasks,
        }
        python = sys.executable if user is None else self.runtime["python"]
        files = {
            "playbook.yml": yaml.safe_dump([play], sort_keys=False),
            "inventory": f"localhost ansible_connection=local ansible_python_interpreter={python}\n",
        }
        for name, text in files.items():
            (workdir / name).write_text(text)
            if user is not None:
                os.chown(workdir / name, user.uid, user.gid)
        environment = self._environment(user, workdir)
        environment.update(env)
        if user is None:
            command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook")]
            completed = subprocess.run(
                [*command, "-i", "inventory", "playbook.yml"],
                cwd=workdir,
                env=environment,
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
        else:
            command = [python, "-s", "-m", "ansible", "playbook", "-i", "inventory", "playbook.yml"]
            completed = user.run(command, cwd=workdir, env=environment, timeout=300)
        results_path = workdir / "results.jsonl"
        results = [json.loads(line) for line in results_path.read_text().splitlines()] if results_path.exists() else []
        return PlaybookRun(completed.returncode, completed.stdout, completed.stderr, results, workdir)

    def _environment(self, user, workdir):
        environment = {
            "ANSIBLE_CALLBACKS_ENABLED": "result_log",
            "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
            "ANSIBLE_HOME": str(workdir / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "RESULT_LOG_PATH": str(workdir / "results.jsonl"),
            "HTTPS_PROXY": CLOSED_PROXY,
            "HTTP_PROXY": CLOSED_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
            "LANG": "C.UTF-8",
        }
        if user is None:
            environment.update(
                PATH=os.environ["PATH"],
                HOME=os.environ.get("HOME", "/root"),
                ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, ".collections"),
                ANSIBLE_CALLBACK_PLUGINS=CALLBACK_DIR,
            )
        else:
            base = self.runtime["base"]
            environment.update(
                PATH="/usr/bin:/bin",
                HOME=str(workdir),
                PYTHONPATH=self.runtime["pythonpath"],
                PYTHONNOUSERSITE="1",
                ANSIBLE_COLLECTIONS_PATH=str(base / "collections"),
                ANSIBLE_CALLBACK_PLUGINS=str(base / "callbacks"),
            )
        return environment


@pytest.fixture
def run_as(emulator, area, request):
    """run_as(user or None for root, tasks, env) -> PlaybookRun; the second user's runtime is prepared on demand."""
    runner = Runner(emulator, area)

    def run(user, tasks, env):
        if user is not None and runner.runtime is None:
            runner.runtime = request.getfixturevalue("runtime")
        return runner(user, tasks, env)

    return run


def snapshot(directory, leave_out=()):
    """Mode, owner, times and content of everything under `directory` (names in `leave_out` aside), and the mode and
    owner of `directory` itself (whose time changes when the cache makes its own directory in it)."""
    seen = {".": _describe(Path(directory))[:3]}
    for path in sorted(Path(directory).rglob("*")):
        relative = path.relative_to(directory)
        if relative.parts[0] not in leave_out:
            seen[str(relative)] = _describe(path)
    return seen


def _describe(path):
    info = os.lstat(path)
    content = path.read_bytes() if stat.S_ISREG(info.st_mode) else os.readlink(path) if path.is_symlink() else None
    return (info.st_mode, info.st_uid, info.st_gid, info.st_mtime_ns, content)


def make_old(path, days=2):
    old = time.time() - days * 86400
    os.utime(path, (old, old), follow_symlinks=False)


def cache_like_files(directory, owner):
    """Files of `owner` named as the cache names its own, a day old: what a careless cleanup would remove."""
    names = [f"token-{'a' * 64}.json", f"discovery-{'b' * 64}.json", f"token-{'c' * 64}.lock", "salt", "notes.txt"]
    for name in names:
        path = directory / name
        path.write_text(f"{owner.name}'s own file")
        os.chown(path, owner.uid, owner.gid)
        make_old(path)


def victim_and_attacker(victim_name, second_user, nobody):
    """(victim or None for root, attacker): root's attacker is the second user, the second user's is nobody."""
    return (None, second_user) if victim_name == "root" else (second_user, nobody)


def victim_uid(victim):
    return 0 if victim is None else victim.uid


def own_directory(user):
    return f"msgraph_intune_tokens-{victim_uid(user)}"


@pytest.fixture
def shared(area):
    """A sticky directory that everybody may write to, like /tmp."""
    path = area / f"shared-{secrets.token_hex(4)}"
    path.mkdir()
    path.chmod(0o1777)
    return path


@pytest.mark.parametrize("dangling", [False, True], ids=["to-own-directory", "dangling"])
@pytest.mark.parametrize("victim_name", ["root", "second-user"])
def test_a_link_planted_by_another_user_is_never_followed(
    emulator, run_as, second_user, nobody, shared, area, victim_name, dangling
):
    victim, attacker = victim_and_attacker(victim_name, second_user, nobody)
    target = area / f"victim-work-{secrets.token_hex(4)}"
    if not dangling:
        target.mkdir()
        target.chmod(0o755)
        owner = victim or User("root")
        os.chown(target, owner.uid, owner.gid)
        cache_like_files(target, owner)
    before = snapshot(target) if not dangling else None
    before_time = os.stat(target).st_mtime_ns if not dangling else None
    link = shared / "msg-cache"
    if attacker is second_user:
        planted = attacker.run(["ln", "-s", str(target), str(link)])  # the attacker plants it, as themselves
        assert planted.returncode == 0, planted.stderr
    else:
        link.symlink_to(target)
        os.lchown(link, attacker.uid, attacker.gid)
    assert os.lstat(link).st_uid == attacker.uid
    emulator.control.clear_log()
    run = run_as(victim, [info_task("one"), info_task("two")], {CACHE_DIR_ENV: str(link)})
    if dangling:
        assert not target.exists()
    else:
        assert snapshot(target) == before  # mode, every file and its time: untouched
        assert os.stat(target).st_mtime_ns == before_time  # and nothing was made in it
    assert run.rc == 0, run.output
    assert statuses(run, "one") == statuses(run, "two") == ["ok"]
    message = (
        f"{link} is a symbolic link of uid {attacker.uid}: only links of this user (uid {victim_uid(victim)}) or of "
        "root are followed; the cache is off for this run"
    )
    assert flat(message) in flat(run.output), run.output
    assert len(requests_of(emulator.control.log(), "token")) == 2


@pytest.mark.parametrize("victim_name", ["root", "second-user"])
def test_a_shared_sticky_directory_is_a_safe_parent(emulator, run_as, second_user, nobody, shared, victim_name):
    victim, other = victim_and_attacker(victim_name, second_user, nobody)
    if other is second_user:
        # The other user uses the same parent for a cache of their own, with a real run.
        assert run_as(other, [info_task("other user's run")], {CACHE_DIR_ENV: str(shared)}).rc == 0
        assert (shared / own_directory(other)).is_dir()
    else:
        foreign = shared / own_directory(other)
        foreign.mkdir(mode=0o700)
        os.chown(foreign, other.uid, other.gid)
    cache_like_files(shared, other)
    mine = own_directory(victim)
    before = snapshot(shared, leave_out=(mine,))
    tokens = []
    for name in ("first", "second"):
        emulator.control.clear_log()
        run = run_as(victim, [info_task(name)], {CACHE_DIR_ENV: str(shared)})
        assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777  # the sticky bit too
        assert snapshot(shared, leave_out=(mine,)) == before  # the other user's files and cache, untouched
        assert run.rc == 0, run.output
        assert "token cache" not in run.output, run.output  # nothing to warn about
        tokens.append(len(requests_of(emulator.control.log(), "token")))
    assert tokens == [1, 0]  # the second run found the first one's token: the cache works
    info = os.lstat(shared / mine)
    assert (stat.S_ISDIR(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid) == (True, 0o700, victim_uid(victim))


def test_another_users_directory_at_the_caches_name_is_refused(emulator, run_as, second_user, shared):
    squatted = shared / own_directory(None)
    made = second_user.run(["mkdir", "-m", "0777", str(squatted)])
    assert made.returncode == 0, made.stderr
    emulator.control.clear_log()
    run = run_as(None, [info_task("one"), info_task("two")], {CACHE_DIR_ENV: str(shared)})
    assert list(squatted.iterdir()) == [] and stat.S_IMODE(os.stat(squatted).st_mode) == 0o777
    assert run.rc == 0, run.output
    message = f"{squatted} belongs to uid {second_user.uid}, not to this user (uid 0); the cache is off for this run"
    assert flat(message) in flat(run.output), run.output
    assert len(requests_of(emulator.control.log(), "token")) == 2
