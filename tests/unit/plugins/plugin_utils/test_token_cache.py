# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's token cache: a directory of its own that it never takes from anyone, private files, keys without
secrets, broken entries replaced, bounded lock waits, failures not repeated in a queue, discovery, leftovers."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import msal
import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphAuthError, GraphThrottledError
from ansible_collections.msgraph.intune.plugins.plugin_utils import _token_cache
from ansible_collections.msgraph.intune.plugins.plugin_utils._token_cache import (
    DIRECTORY_NAME,
    TokenCacheStore,
    discovery_ttl,
    task_token_cache,
)

from tests.unit.conftest import build_response

SECRET = "s3cret-never-in-a-file-name"
IDENTITY = ["client_secret", "https://login.example.test", "tenant-1", "client-1", SECRET]
SCOPE = "https://graph.microsoft.com/.default"
OWN = f"{DIRECTORY_NAME}-{os.geteuid()}"
PREFIX = "msgraph.intune token cache: "
ROOT = os.geteuid() == 0


def add_access_token(cache, token, expires_in=3600):
    cache.add(
        {
            "client_id": "client-1",
            "scope": [SCOPE],
            "token_endpoint": "https://login.example.test/tenant-1/oauth2/v2.0/token",
            "response": {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"},
            "grant_type": "client_credentials",
        }
    )


def tokens_in(cache):
    return [entry["secret"] for entry in cache.search(cache.CredentialType.ACCESS_TOKEN)]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def snapshot(directory):
    """Every entry under `directory` with its mode, owner, mtime and content: what must stay as it was."""
    seen = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            content = Path(path).read_bytes() if stat.S_ISREG(info.st_mode) else None
            seen[os.path.relpath(path, directory)] = (info.st_mode, info.st_uid, info.st_mtime_ns, content)
    top = os.lstat(directory)
    seen["."] = (top.st_mode, top.st_uid)
    return seen


@pytest.fixture
def parent(tmp_path):
    """The configured parent (MSGRAPH_TOKEN_CACHE_DIR); it does not exist yet."""
    return tmp_path / "parent"


@pytest.fixture
def cache_dir(parent):
    """The directory that the cache makes for itself in the parent."""
    return parent / OWN


@pytest.fixture
def warnings():
    return []


@pytest.fixture
def new_store(parent):
    """new_store() -> a TokenCacheStore on the configured parent, as another task (worker) of the run opens it."""
    return lambda: TokenCacheStore(str(parent), OWN)


@pytest.fixture
def identity_cache(new_store, warnings):
    """identity_cache(identity=IDENTITY) -> the IdentityTokenCache of a new store; warnings land in `warnings`."""
    return lambda identity=None: new_store().for_identity(identity or IDENTITY, warnings.append)


def save_token(cache, token):
    with cache.session() as msal_cache:
        add_access_token(msal_cache, token)
    return cache


def token_files(cache_dir):
    return sorted(path for path in cache_dir.iterdir() if path.name.startswith("token-") and path.suffix == ".json")


def make_old(*paths, days=2):
    old = time.time() - days * 86400
    for path in paths:
        os.utime(path, (old, old), follow_symlinks=False)


class TestFiles:
    def test_private_directory_files_and_no_secret_in_names(self, parent, cache_dir, identity_cache, warnings):
        save_token(identity_cache(), "tok-1")
        assert mode(parent) == 0o700 and mode(cache_dir) == 0o700  # the missing parent was made, for this user
        names = sorted(path.name for path in cache_dir.iterdir())
        (token_file,) = token_files(cache_dir)
        assert names == sorted(["salt", "salt.lock", token_file.name, token_file.stem + ".lock"])
        for path in cache_dir.iterdir():
            assert mode(path) == 0o600, path
        assert len((cache_dir / "salt").read_bytes()) == 32
        assert SECRET not in token_file.name and len(token_file.stem) == len("token-") + 64
        content = token_file.read_text()
        assert SECRET not in content and "tok-1" in content
        document = json.loads(content)
        assert (document["format"], document["version"]) == ("msgraph.intune token cache", 1)
        assert warnings == []

    def test_another_task_finds_the_token_and_another_secret_does_not(self, identity_cache, cache_dir):
        save_token(identity_cache(), "tok-1")
        with identity_cache(list(IDENTITY)).session() as msal_cache:
            assert tokens_in(msal_cache) == ["tok-1"]
        with identity_cache(IDENTITY[:-1] + ["wrong secret"]).session() as msal_cache:
            assert tokens_in(msal_cache) == []
        assert len(token_files(cache_dir)) == 1  # nothing was obtained for the wrong secret: nothing written

    def test_the_salt_keys_the_names(self, identity_cache, cache_dir):
        first = identity_cache().name
        (cache_dir / "salt").unlink()
        assert identity_cache().name != first

    def test_unchanged_cache_is_not_written(self, identity_cache, cache_dir):
        save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        before = os.stat(token_file)
        with identity_cache().session() as msal_cache:
            assert tokens_in(msal_cache) == ["tok-1"]
        after = os.stat(token_file)
        assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)

    def test_a_drop_is_saved_even_when_the_sign_in_fails(self, identity_cache):
        save_token(identity_cache(), "tok-1")
        with pytest.raises(RuntimeError), identity_cache().session() as msal_cache:
            msal_cache.remove_at(next(msal_cache.search(msal_cache.CredentialType.ACCESS_TOKEN)))
            raise RuntimeError("the token request failed")
        with identity_cache().session() as msal_cache:
            assert tokens_in(msal_cache) == []

    def test_stale_files_and_unused_locks_are_removed_when_the_directory_is_opened(self, identity_cache, cache_dir):
        save_token(identity_cache(), "tok-1")
        save_token(identity_cache(IDENTITY[:-1] + ["other"]), "tok-2")
        old_file, new_file = token_files(cache_dir)
        make_old(old_file, old_file.with_suffix(".lock"))
        leftover = cache_dir / ".tmp-0123456789abcdef"
        leftover.write_bytes(b"x")
        make_old(leftover)
        identity_cache()
        assert not old_file.exists() and not old_file.with_suffix(".lock").exists() and not leftover.exists()
        assert new_file.exists() and new_file.with_suffix(".lock").exists()
        assert (cache_dir / "salt").exists() and (cache_dir / "salt.lock").exists()

    def test_a_lock_in_use_is_never_removed(self, identity_cache, cache_dir, warnings):
        cache = save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        lock_file = token_file.with_suffix(".lock")
        with cache.session():
            make_old(lock_file)  # held for longer than a day, say: the holder has it, so it stays
            identity_cache()
            assert lock_file.exists()
        with cache.session():
            pass  # taking it stamps it as used
        assert time.time() - os.stat(lock_file).st_mtime < 3600

    def test_names_not_of_its_own_are_never_removed(self, identity_cache, cache_dir):
        identity_cache()
        strangers = [cache_dir / "notes.txt", cache_dir / "token-abc.json", cache_dir / "discovery-x.lock"]
        for path in strangers:
            path.write_text("mine")
            make_old(path)
        identity_cache()
        assert all(path.read_text() == "mine" for path in strangers)


class TestBadEntries:
    def reload(self, identity_cache):
        with identity_cache().session() as msal_cache:
            found = tokens_in(msal_cache)
            add_access_token(msal_cache, "tok-2")
        return found

    @pytest.mark.parametrize(
        "content, reason",
        [
            (b"{not json", "is not a usable token cache"),
            (b"\xff\xfe", "is not a usable token cache"),
            (b'{"format": "something else", "version": 1, "msal": {}}', "not a token cache of this collection"),
            (
                b'{"format": "msgraph.intune token cache", "version": 1, "msal": {"AccessToken": {"k": {"secret": 1}}}}',
                "malformed access token entry",
            ),
            (b'{"format": "msgraph.intune token cache", "version": 1, "msal": []}', "malformed msal state"),
            (b"[" * 200000 + b"]" * 200000, "(nested too deeply)"),  # json.loads alone: RecursionError
            (b'{"msal": ' + b'{"a": ' * 40 + b"{}" + b"}" * 41, "(nested too deeply)"),
            (
                b'{"format": "msgraph.intune token cache", "version": 1, "msal": {}, "failure": {"at": "x"}}',
                "malformed failure",
            ),
        ],
    )
    def test_corrupt_file_is_ignored_and_replaced(self, identity_cache, cache_dir, warnings, content, reason):
        save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        token_file.write_bytes(content)
        assert self.reload(identity_cache) == []
        assert [w for w in warnings if reason in w and "it was ignored and is replaced" in w], warnings
        assert mode(token_file) == 0o600
        assert json.loads(token_file.read_text())["msal"]["AccessToken"]

    def test_file_readable_by_others_is_ignored_and_replaced(self, identity_cache, cache_dir, warnings):
        save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        token_file.chmod(0o644)
        assert self.reload(identity_cache) == []
        assert warnings == [f"{PREFIX}{token_file} has mode 0644 instead of 0600; it was ignored and is replaced"]
        assert mode(token_file) == 0o600 and "tok-2" in token_file.read_text()

    def test_symbolic_link_is_never_followed(self, identity_cache, cache_dir, tmp_path, warnings):
        save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_bytes(token_file.read_bytes())
        elsewhere.chmod(0o600)
        token_file.unlink()
        token_file.symlink_to(elsewhere)
        assert self.reload(identity_cache) == []
        assert any("is a symbolic link" in warning for warning in warnings), warnings
        assert not token_file.is_symlink() and "tok-1" in elsewhere.read_text()

    def test_a_directory_at_the_token_file_is_replaced(self, identity_cache, cache_dir, warnings):
        save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        token_file.unlink()
        token_file.mkdir()
        assert self.reload(identity_cache) == []
        assert warnings == [f"{PREFIX}{token_file} is a directory; it was ignored and is replaced"]
        assert "tok-2" in token_file.read_text()

    def test_a_directory_that_cannot_be_removed_only_costs_the_cache(self, identity_cache, cache_dir, warnings):
        save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        token_file.unlink()
        token_file.mkdir()
        (token_file / "inside").write_text("not ours")
        for _attempt in range(2):
            assert self.reload(identity_cache) == []
        assert f"{PREFIX}{token_file} is a directory; it was ignored and cannot be removed" in warnings
        assert any(w.startswith(f"{PREFIX}{token_file} cannot be written: ") for w in warnings), warnings
        assert (token_file / "inside").read_text() == "not ours"

    @pytest.mark.parametrize("kind", ["directory", "link", "fifo"])
    def test_a_broken_lock_file_is_replaced(self, identity_cache, cache_dir, tmp_path, warnings, kind):
        cache = save_token(identity_cache(), "tok-1")
        lock_file = cache_dir / (cache.name + ".lock")
        lock_file.unlink()
        if kind == "directory":
            lock_file.mkdir()
        elif kind == "link":
            lock_file.symlink_to(tmp_path / "elsewhere")
        else:
            os.mkfifo(lock_file, 0o600)
        assert self.reload(identity_cache) == ["tok-1"]
        assert len(warnings) == 1 and warnings[0].startswith(f"{PREFIX}{lock_file} ") and "removed" in warnings[0]
        assert stat.S_ISREG(os.lstat(lock_file).st_mode) and not (tmp_path / "elsewhere").exists()

    @pytest.mark.skipif(not ROOT, reason="changing a file's owner needs root")
    def test_file_of_another_user_is_ignored_and_replaced(self, identity_cache, cache_dir, warnings):
        save_token(identity_cache(), "tok-1")
        (token_file,) = token_files(cache_dir)
        os.chown(token_file, 65534, 65534)
        assert self.reload(identity_cache) == []
        assert any("belongs to uid 65534, not to this user (uid 0)" in warning for warning in warnings), warnings
        assert os.stat(token_file).st_uid == 0

    def test_wrong_salt_is_replaced(self, identity_cache, cache_dir, warnings):
        save_token(identity_cache(), "tok-1")
        (cache_dir / "salt").write_bytes(b"short")
        assert self.reload(identity_cache) == []  # another salt: other names
        assert any("holds 5 bytes instead of 32; it was replaced" in warning for warning in warnings), warnings
        assert len((cache_dir / "salt").read_bytes()) == 32


class TestOwnDirectory:
    """The configured path is a parent; the cache's directory in it is made here, or refused."""

    def refused(self, store, warnings, reason):
        assert store.for_identity(IDENTITY, warnings.append) is None
        assert store.discovery_cache(True, warnings.append).get("https://x/y", None, lambda: "fetched") == "fetched"
        expected = f"{PREFIX}{reason}; the cache is off for this run"
        assert warnings == [expected, expected], warnings  # every task that would use it is told

    @pytest.mark.parametrize("parent_mode", [0o755, 0o1777, 0o700])
    def test_the_parent_is_left_as_it_is(self, parent, cache_dir, identity_cache, parent_mode):
        parent.mkdir()
        parent.chmod(parent_mode)
        (parent / f"token-{'0' * 64}.json").write_text("someone's")
        make_old(parent / f"token-{'0' * 64}.json")
        before = snapshot(parent)
        save_token(identity_cache(), "tok-1")
        after = snapshot(parent)
        assert {name: value for name, value in after.items() if not name.startswith(OWN)} == before
        assert mode(parent) == parent_mode and mode(cache_dir) == 0o700

    def test_a_directory_made_under_a_narrow_umask_is_made_0700(self, cache_dir, identity_cache):
        previous = os.umask(0o277)
        try:
            identity_cache()
        finally:
            os.umask(previous)
        assert mode(cache_dir) == 0o700

    @pytest.mark.parametrize("wide", [0o755, 0o711, 0o770, 0o500])
    def test_an_existing_directory_with_another_mode_is_refused_not_changed(
        self, parent, cache_dir, new_store, warnings, wide
    ):
        cache_dir.mkdir(parents=True)
        cache_dir.chmod(wide)
        self.refused(new_store(), warnings, f"{cache_dir} has mode {wide:04o} instead of 0700")
        assert mode(cache_dir) == wide and list(cache_dir.iterdir()) == []

    def test_a_directory_of_another_user_is_refused(self, monkeypatch, cache_dir, new_store, warnings):
        cache_dir.mkdir(parents=True, mode=0o700)
        monkeypatch.setattr(_token_cache.os, "geteuid", lambda: 4242)
        self.refused(new_store(), warnings, f"{cache_dir} belongs to uid {os.getuid()}, not to this user (uid 4242)")
        assert list(cache_dir.iterdir()) == []

    @pytest.mark.parametrize("dangling", [False, True])
    def test_a_link_at_its_own_name_is_refused(self, parent, cache_dir, tmp_path, new_store, warnings, dangling):
        target = tmp_path / "target"
        if not dangling:
            target.mkdir(mode=0o700)
        parent.mkdir()
        cache_dir.symlink_to(target)
        self.refused(new_store(), warnings, f"{cache_dir} is a symbolic link")
        assert target.exists() is not dangling and (dangling or list(target.iterdir()) == [])

    def test_a_file_at_its_own_name_is_refused(self, parent, cache_dir, new_store, warnings):
        parent.mkdir()
        cache_dir.write_text("x")
        self.refused(new_store(), warnings, f"{cache_dir} is not a directory")

    def test_a_link_of_this_user_to_the_parent_is_followed(self, tmp_path, identity_cache, new_store, parent):
        real = tmp_path / "real"
        real.mkdir()
        real.chmod(0o755)
        parent.symlink_to(real)
        save_token(identity_cache(), "tok-1")
        assert (real / OWN).is_dir() and mode(real) == 0o755

    def test_a_dangling_link_of_this_user_leads_to_a_new_parent(self, tmp_path, identity_cache, parent):
        parent.symlink_to(tmp_path / "made" / "here")
        save_token(identity_cache(), "tok-1")
        assert (tmp_path / "made" / "here" / OWN).is_dir()

    @pytest.mark.skipif(not ROOT, reason="a link of another user needs root to make")
    @pytest.mark.parametrize("dangling", [False, True])
    def test_a_link_of_another_user_is_never_followed(self, tmp_path, new_store, parent, warnings, dangling):
        victim = tmp_path / "victim"
        if not dangling:
            victim.mkdir()
            victim.chmod(0o755)
            (victim / "work.txt").write_text("keep")
            make_old(victim / "work.txt")
        before = snapshot(victim) if not dangling else None
        parent.symlink_to(victim)
        os.lchown(parent, 65534, 65534)
        self.refused(
            new_store(),
            warnings,
            f"{parent} is a symbolic link of uid 65534: only links of this user (uid 0) or of root are followed",
        )
        assert (snapshot(victim) == before) if not dangling else not victim.exists()

    @pytest.mark.skipif(not ROOT, reason="a link of another user needs root to make")
    def test_a_link_of_another_user_on_the_way_is_never_followed(self, tmp_path, warnings):
        (tmp_path / "real").mkdir()
        way = tmp_path / "way"
        way.symlink_to(tmp_path / "real")
        os.lchown(way, 65534, 65534)
        store = TokenCacheStore(str(way / "deeper"), OWN)
        assert store.for_identity(IDENTITY, warnings.append) is None
        assert f"{way} is a symbolic link of uid 65534" in warnings[0]
        assert list((tmp_path / "real").iterdir()) == []

    def test_a_file_on_the_way_is_refused(self, tmp_path, warnings):
        (tmp_path / "file").write_text("x")
        store = TokenCacheStore(str(tmp_path / "file" / "deeper"), OWN)
        assert store.for_identity(IDENTITY, warnings.append) is None
        assert warnings[0].startswith(f"{PREFIX}{tmp_path / 'file'} is not a directory")

    def test_a_missing_run_directory_is_not_made(self, tmp_path, warnings):
        store = TokenCacheStore(str(tmp_path / "ansible-local-1abc"), DIRECTORY_NAME, per_run=True)
        assert store.for_identity(IDENTITY, warnings.append) is None
        assert warnings[0].startswith(f"{PREFIX}{tmp_path / 'ansible-local-1abc'} does not exist")
        assert not (tmp_path / "ansible-local-1abc").exists()


class FakeClock:
    """time for the lock waits: moves only when the code sleeps; starts at the real time (lock files' mtimes)."""

    def __init__(self):
        self.now = time.time()
        self.start = self.now

    def sleep(self, seconds):
        self.now += seconds

    def time(self):
        return self.now

    def monotonic(self):
        return self.now

    @property
    def waited(self):
        return self.now - self.start


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(
        _token_cache, "time", types.SimpleNamespace(time=fake.time, monotonic=fake.monotonic, sleep=fake.sleep)
    )
    return fake


class TestLocks:
    def test_a_held_lock_is_waited_for_then_given_up(self, clock, identity_cache, warnings):
        holder = identity_cache()
        with holder.session(), identity_cache().session() as msal_cache:
            add_access_token(msal_cache, "tok-in-memory")
        assert _token_cache.LOCK_WAIT <= clock.waited < _token_cache.LOCK_WAIT + 1
        lock = f"{holder.directory.where(holder.name)}.lock"
        assert warnings == [
            (
                f"{PREFIX}{holder.directory.where(holder.name)}: {lock} has been held by another task for 10 "
                "seconds, longer than a sign-in takes; this sign-in does not use the cache"
            )
        ]
        with identity_cache().session() as msal_cache:
            assert tokens_in(msal_cache) == []  # what was obtained without the lock was not saved

    def test_a_lock_held_for_long_already_is_waited_for_briefly(self, clock, identity_cache, cache_dir, warnings):
        """A stopped holder costs the first waiter LOCK_WAIT, every later one only LOCK_MIN_WAIT."""
        holder = identity_cache()
        with holder.session():
            lock_file = cache_dir / (holder.name + ".lock")
            stamp = clock.now - _token_cache.LOCK_WAIT - 5
            os.utime(lock_file, (stamp, stamp))
            with identity_cache().session():
                pass
        assert _token_cache.LOCK_MIN_WAIT <= clock.waited < _token_cache.LOCK_MIN_WAIT + 0.1
        assert "has been held by another task for 16 seconds" in warnings[0]  # 15 before it came, 1 waiting

    def test_a_lock_stamped_long_ago_by_an_earlier_holder_is_still_waited_for_its_new_holder(
        self, clock, identity_cache, cache_dir, monkeypatch
    ):
        """The holder stamps the lock file just after it took it: a waiter in between sees the old stamp and must
        not give up before LOCK_MIN_WAIT, by when the new stamp is there."""
        holder = identity_cache()
        with holder.session():
            pass
        lock_file = cache_dir / (holder.name + ".lock")
        make_old(lock_file)
        holder_fd = os.open(lock_file, os.O_RDWR)
        _token_cache.fcntl.flock(holder_fd, _token_cache.fcntl.LOCK_EX)  # taken; not stamped yet
        moments = {"stamped": False, "released": False}

        def sleep(seconds):
            clock.now += seconds
            if clock.waited > 0.5 and not moments["stamped"]:
                moments["stamped"] = True
                os.utime(lock_file, (clock.now, clock.now))  # the holder's stamp lands
            if clock.waited > 3 and not moments["released"]:
                moments["released"] = True
                os.close(holder_fd)  # the holder is done

        monkeypatch.setattr(_token_cache.time, "sleep", sleep)
        with identity_cache().session() as msal_cache:
            assert msal_cache is not None
        assert moments["released"] and 3 < clock.waited < _token_cache.LOCK_WAIT  # it waited until the holder let go

    def test_a_lock_file_removed_while_waited_for_is_taken_anew(self, identity_cache, cache_dir, monkeypatch):
        cache = identity_cache()
        lock_file = cache_dir / (cache.name + ".lock")
        real_wait = _token_cache.CacheDirectory._wait_for
        swept = []

        def wait_then_swept(self, fd, lock_name):
            waited = real_wait(self, fd, lock_name)
            if not swept:
                swept.append(lock_name)
                os.unlink(lock_name, dir_fd=self.fd)  # the sweep of unused locks took it away in between
            return waited

        monkeypatch.setattr(_token_cache.CacheDirectory, "_wait_for", wait_then_swept)
        with cache.session():
            assert len(swept) == 1 and lock_file.exists()
            other = os.open(lock_file, os.O_RDWR)
            try:
                assert not _token_cache._try_lock(other)  # the file at the name is the one held
            finally:
                os.close(other)


class Waiter(threading.Thread):
    """A task that starts waiting for the identity's lock while the test holds it; `outcome` says what it got."""

    def __init__(self, cache, started_waiting):
        super().__init__(daemon=True)
        self.cache = cache
        self.started_waiting = started_waiting
        self.outcome = None
        self.lock_free_inside = None

    def run(self):
        try:
            with self.cache.session() as msal_cache:
                self.lock_free_inside = _lock_is_free(self.cache)
                self.outcome = ("signed in", tokens_in(msal_cache))
        except GraphAuthError as exc:
            self.outcome = ("failed", exc)


def _lock_is_free(cache):
    fd = os.open(cache.directory.where(cache.name + ".lock"), os.O_RDWR)
    try:
        if _token_cache._try_lock(fd):
            _token_cache.fcntl.flock(fd, _token_cache.fcntl.LOCK_UN)
            return True
        return False
    finally:
        os.close(fd)


@pytest.fixture
def waiting(monkeypatch):
    """waiting(cache) -> a started Waiter, returned once it is waiting for the lock (its first try failed)."""
    real_try = _token_cache._try_lock
    events = {}

    def try_lock(fd):
        got = real_try(fd)
        event = events.get(threading.get_ident())
        if not got and event is not None:
            event.set()
        return got

    monkeypatch.setattr(_token_cache, "_try_lock", try_lock)

    def start(cache):
        started = threading.Event()
        waiter = Waiter(cache, started)
        original_run = waiter.run

        def run():
            events[threading.get_ident()] = started
            original_run()

        waiter.run = run
        waiter.start()
        assert started.wait(10), "the waiter never waited for the lock"
        return waiter

    return start


def entra_failure(status=401):
    return GraphAuthError(
        "token request failed for tenant t, client c at https://login.example.test: POST /t/oauth2/v2.0/token "
        f"returned HTTP {status} invalid_client: AADSTS7000215: Invalid client secret provided.",
        status=status,
        code="invalid_client",
        graph_message="AADSTS7000215: Invalid client secret provided.",
        request_id="trace-1",
        client_request_id="corr-1",
        method="POST",
        path="/t/oauth2/v2.0/token",
        url="https://login.example.test/t/oauth2/v2.0/token",
    )


class TestFailedSignIns:
    """A sign-in that fails lets go of the lock at once; the tasks that queued behind it never repeat it there."""

    def test_a_failure_that_would_repeat_is_reused_by_the_waiting_tasks(self, identity_cache, waiting, cache_dir):
        holder = identity_cache()
        failure = entra_failure()
        with pytest.raises(GraphAuthError), holder.session():
            waiters = [waiting(identity_cache()) for _index in range(3)]
            raise failure
        for waiter in waiters:
            waiter.join(10)
            kind, error = waiter.outcome
            assert kind == "failed" and str(error) == (
                f"{failure} (the same sign-in of another task failed so just before; it was not sent again)"
            )
            assert (error.status, error.code, error.request_id, error.url) == (
                401,
                "invalid_client",
                "trace-1",
                failure.url,
            )
        (token_file,) = token_files(cache_dir)
        assert SECRET not in token_file.read_text()

    @pytest.mark.parametrize(
        "failure",
        [
            GraphThrottledError("token request failed: throttled after 6 attempts", status=429, code="throttled"),
            GraphAuthError("token request failed: no token in the answer"),
            entra_failure(status=429),
            GraphAuthError("OIDC discovery failed: a document that has no token_endpoint, twice", status=200),
        ],
    )
    def test_a_passing_failure_lets_each_waiter_sign_in_by_itself_at_once(self, identity_cache, waiting, failure):
        save_token(identity_cache(), "tok-old")
        with pytest.raises(type(failure)), identity_cache().session():
            waiters = [waiting(identity_cache()) for _index in range(2)]
            raise failure
        for waiter in waiters:
            waiter.join(10)
            assert waiter.outcome == ("signed in", ["tok-old"])
            assert waiter.lock_free_inside  # nobody queues behind its sign-in

    def test_an_earlier_failure_is_not_reused_by_a_later_task(self, identity_cache, cache_dir):
        with pytest.raises(GraphAuthError), identity_cache().session():
            raise entra_failure()
        (token_file,) = token_files(cache_dir)
        assert json.loads(token_file.read_text())["failure"]["error"]["code"] == "invalid_client"
        save_token(identity_cache(), "tok-1")  # no waiting, no reuse: it signs in, and the failure is forgotten
        assert "failure" not in json.loads(token_file.read_text())
        with identity_cache().session() as msal_cache:
            assert tokens_in(msal_cache) == ["tok-1"]


class TestDiscovery:
    URL = "https://login.example.test/tenant-1/v2.0/.well-known/openid-configuration"

    def fetcher(self, *answers):
        calls = []

        def fetch():
            calls.append(1)
            status, body, headers = answers[len(calls) - 1]
            return build_response("GET", self.URL, {}, status, body, headers)

        return fetch, calls

    @pytest.fixture
    def discovery(self, new_store, warnings):
        return lambda trust=True: new_store().discovery_cache(trust, warnings.append)

    def test_stored_until_max_age_and_per_trust(self, monkeypatch, discovery, cache_dir):
        document = {"token_endpoint": "https://login.example.test/tenant-1/oauth2/v2.0/token"}
        ok = (200, document, {"Cache-Control": "max-age=600, private"})
        fetch, calls = self.fetcher(ok, ok, ok)
        first = discovery().get(self.URL, None, fetch)
        again = discovery().get(self.URL, None, fetch)
        assert first.json() == again.json() == document and calls == [1]
        assert again.status_code == 200 and again.headers["Content-Type"] == "application/json"
        again.raise_for_status()
        discovery("/other/ca.pem").get(self.URL, None, fetch)
        discovery().get(self.URL, {"api-version": "1.1"}, fetch)
        assert calls == [1, 1, 1]
        assert all(mode(path) == 0o600 for path in cache_dir.iterdir())
        now = time.time()
        monkeypatch.setattr(_token_cache.time, "time", lambda: now + 601)
        fetch_late, late_calls = self.fetcher(ok)
        discovery().get(self.URL, None, fetch_late)
        assert late_calls == [1]

    @pytest.mark.parametrize(
        "answer",
        [
            (200, {"a": 1}, {"Cache-Control": "no-store"}),
            (200, {"a": 1}, {"Cache-Control": "max-age=0"}),
            (200, [1, 2], {}),
            (200, "not json", {}),
            (200, "[" * 100000 + "]" * 100000, {}),
            (400, {"error": "invalid_tenant"}, {}),
        ],
    )
    def test_not_stored(self, discovery, answer):
        fetch, calls = self.fetcher(answer, answer)
        discovery().get(self.URL, None, fetch)
        discovery().get(self.URL, None, fetch)
        assert calls == [1, 1]

    def test_an_answer_that_fails_the_check_is_never_stored(self, discovery):
        ok = (200, {"issuer": "x"}, {})
        fetch, calls = self.fetcher(ok, ok)
        discovery().get(self.URL, None, fetch, lambda response: "has no token_endpoint")
        discovery().get(self.URL, None, fetch, lambda response: "has no token_endpoint")
        assert calls == [1, 1]

    def test_a_stored_answer_that_fails_the_check_is_removed_and_fetched_again(self, discovery, cache_dir, warnings):
        ok = (200, {"token_endpoint": "https://login.example.test/t/token"}, {})
        fetch, calls = self.fetcher(ok, ok)
        discovery().get(self.URL, None, fetch)
        (entry,) = [
            path for path in cache_dir.iterdir() if path.name.startswith("discovery-") and path.suffix == ".json"
        ]

        def check(response):
            return (
                "names host evil.example.test:443 in its token_endpoint" if "token_endpoint" in response.text else None
            )

        stored = json.loads(entry.read_text())
        stored["text"] = json.dumps({"token_endpoint": "https://evil.example.test/t/token"})
        entry.write_text(json.dumps(stored))
        assert discovery().get(self.URL, None, fetch, check).json() == ok[1]
        assert calls == [1, 1]
        assert warnings == [
            (
                f"{PREFIX}{entry} holds a discovery document that names host evil.example.test:443 in its "
                "token_endpoint; it was removed"
            )
        ]
        assert not entry.exists()  # the fresh answer failed the (test's) check too: it was not stored

    def test_unverified_answers_are_never_stored(self, discovery):
        assert discovery(False) is None

    @pytest.mark.parametrize("breakage", ["corrupt", "directory", "deep"])
    def test_a_broken_entry_is_replaced(self, discovery, cache_dir, warnings, breakage):
        ok = (200, {"issuer": "x"}, {})
        fetch, calls = self.fetcher(ok, ok)
        discovery().get(self.URL, None, fetch)
        (entry,) = [
            path for path in cache_dir.iterdir() if path.name.startswith("discovery-") and path.suffix == ".json"
        ]
        if breakage == "corrupt":
            entry.write_text('{"format": "msgraph.intune discovery cache", "version": 1, "url": 1}')
        elif breakage == "directory":
            entry.unlink()
            entry.mkdir()
        else:
            entry.write_text("{" * 100000)
        assert discovery().get(self.URL, None, fetch).json() == {"issuer": "x"}
        assert calls == [1, 1]
        reason = {"corrupt": "(malformed entry)", "directory": "is a directory", "deep": "is not a usable"}[breakage]
        assert any(reason in warning and "is replaced" in warning for warning in warnings), warnings
        assert entry.is_file()

    @pytest.mark.parametrize(
        "value, seconds",
        [
            (None, 3600),
            ("max-age=86400, private", 86400),
            ("private, max-age=100000", 86400),
            ("max-age=nope", 0),
            ("no-cache", 0),
        ],
    )
    def test_ttl(self, value, seconds):
        assert discovery_ttl({"Cache-Control": value} if value else {}) == seconds


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


class TestLeftovers:
    """A run's own directory holds run.json; the next run removes those of runs that are gone."""

    @pytest.fixture
    def runs(self, tmp_path):
        """The parent of Ansible's run directories (~/.ansible/tmp)."""
        path = tmp_path / "ansible-tmp"
        path.mkdir(mode=0o700)
        return path

    def earlier_run(self, runs, name, pid=None, started=None):
        """An earlier run's directory with a token in its cache; run.json only when `pid` is given."""
        run_directory = runs / name
        run_directory.mkdir(mode=0o700)
        store = TokenCacheStore(str(run_directory), DIRECTORY_NAME, per_run=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_token_cache, "remove_finished_runs", lambda _path: None)  # made here, swept in the test
            save_token(store.for_identity(IDENTITY, [].append), "tok-old")
        own = run_directory / DIRECTORY_NAME
        run_file = own / "run.json"
        if pid is None:
            run_file.unlink(missing_ok=True)
        else:
            run_file.write_text(
                json.dumps({"format": "msgraph.intune run", "version": 1, "pid": pid, "started": started})
            )
            run_file.chmod(0o600)
        return own

    def this_run(self, runs, name="ansible-local-999new"):
        run_directory = runs / name
        run_directory.mkdir(mode=0o700)
        TokenCacheStore(str(run_directory), DIRECTORY_NAME, per_run=True).for_identity(IDENTITY, [].append)
        return run_directory / DIRECTORY_NAME

    def test_a_run_directory_says_whose_it_is(self, runs):
        own = self.this_run(runs, f"ansible-local-{os.getpid()}xyz")
        document = json.loads((own / "run.json").read_text())
        assert (document["pid"], document["started"]) == (os.getpid(), _token_cache.process_start(os.getpid()))
        assert mode(own / "run.json") == 0o600

    def test_the_directory_of_a_killed_run_is_removed_by_the_next_run(self, runs):
        killed = self.earlier_run(runs, "ansible-local-1a", pid=dead_pid())
        alive = self.earlier_run(
            runs, "ansible-local-2b", pid=os.getpid(), started=_token_cache.process_start(os.getpid())
        )
        reused = self.earlier_run(runs, "ansible-local-3c", pid=os.getpid(), started="1")  # same pid, another process
        self.this_run(runs)
        assert not killed.exists() and killed.parent.is_dir()  # Ansible's own directory is left as it is
        assert not reused.exists()
        assert (alive / "run.json").exists() and token_files(alive)

    def test_without_a_run_file_only_a_day_old_directory_is_removed(self, runs):
        recent = self.earlier_run(runs, "ansible-local-4d")
        old = self.earlier_run(runs, "ansible-local-5e")
        make_old(*old.iterdir())
        being_made = runs / "ansible-local-6x" / DIRECTORY_NAME  # another run, between its mkdir and its salt
        being_made.mkdir(parents=True, mode=0o700)
        self.this_run(runs)
        assert recent.exists() and not old.exists() and being_made.exists()

    def test_only_names_of_its_own_are_removed(self, runs):
        killed = self.earlier_run(runs, "ansible-local-6f", pid=dead_pid())
        (killed / "notes.txt").write_text("not ours")
        (killed.parent / "other.txt").write_text("Ansible's")
        self.this_run(runs)
        assert sorted(path.name for path in killed.iterdir()) == ["notes.txt"]
        assert (killed.parent / "other.txt").read_text() == "Ansible's"

    def test_a_directory_that_is_not_of_its_making_is_left_alone(self, runs, tmp_path):
        wide = self.earlier_run(runs, "ansible-local-7g", pid=dead_pid())
        wide.chmod(0o755)
        linked = runs / "ansible-local-8h"
        linked.mkdir(mode=0o700)
        target = self.earlier_run(runs, "ansible-local-kept", pid=dead_pid())
        (linked / DIRECTORY_NAME).symlink_to(target)
        not_a_run = self.earlier_run(runs, "elsewhere-9i", pid=dead_pid())
        self.this_run(runs)
        assert token_files(wide) and (linked / DIRECTORY_NAME).is_symlink() and token_files(not_a_run)
        assert not target.exists()  # a run directory of its own, reached by its real name

    @pytest.mark.skipif(not ROOT, reason="a directory of another user needs root to make")
    def test_another_users_runs_are_left_alone(self, runs):
        foreign = self.earlier_run(runs, "ansible-local-10j", pid=dead_pid())
        for path in (foreign.parent, foreign, *foreign.iterdir()):
            os.lchown(path, 65534, 65534)
        self.this_run(runs)
        assert token_files(foreign)

    def test_a_later_task_of_the_same_run_does_not_sweep(self, runs, monkeypatch):
        self.this_run(runs)
        sweeps = []
        monkeypatch.setattr(_token_cache, "remove_finished_runs", sweeps.append)
        TokenCacheStore(str(runs / "ansible-local-999new"), DIRECTORY_NAME, per_run=True).for_identity(
            IDENTITY, [].append
        )
        assert sweeps == []

    def test_process_checks(self):
        assert _token_cache.process_is_running(os.getpid(), _token_cache.process_start(os.getpid()))
        assert _token_cache.process_is_running(os.getpid(), None)
        assert not _token_cache.process_is_running(os.getpid(), "1")
        assert not _token_cache.process_is_running(dead_pid(), None)
        assert _token_cache.run_pid(f"/x/ansible-local-{os.getppid()}abc") == os.getppid()
        assert _token_cache.run_pid(f"/x/ansible-local-{os.getpid()}abc") == os.getpid()
        assert _token_cache.run_pid("/x/ansible-local-abc") is None


class TestLocation:
    def test_the_environment_names_a_parent(self, monkeypatch, tmp_path):
        monkeypatch.setenv("MSGRAPH_TOKEN_CACHE_DIR", str(tmp_path / "mine"))
        store = task_token_cache()
        assert (store.parent, store.path, store.per_run) == (
            str(tmp_path / "mine"),
            str(tmp_path / "mine" / OWN),
            False,
        )
        assert task_token_cache() is store

    def test_default_is_inside_the_runs_temporary_directory(self, monkeypatch, tmp_path):
        from ansible import constants

        monkeypatch.delenv("MSGRAPH_TOKEN_CACHE_DIR", raising=False)
        monkeypatch.setattr(constants, "DEFAULT_LOCAL_TMP", str(tmp_path / "ansible-local-123abc"))
        store = task_token_cache()
        assert (store.path, store.per_run) == (str(tmp_path / "ansible-local-123abc" / DIRECTORY_NAME), True)


def test_real_msal_state_round_trips(identity_cache):
    """What msal serializes for a client credentials token passes the file checks (no field is missing)."""
    cache = msal.SerializableTokenCache()
    add_access_token(cache, "tok-1")
    state = json.loads(cache.serialize())
    document = {"format": "msgraph.intune token cache", "version": 1, "msal": state}
    assert _token_cache.parse_token_document(json.dumps(document).encode())[0] == state


def test_no_lock_is_waited_for_without_need(identity_cache):
    """The lock of an identity that nobody holds is taken at once (no poll, no minimum wait)."""
    cache = identity_cache()
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        assert _token_cache._enter_lock(stack, cache.directory, cache.name, [].append) is None
    assert time.monotonic() - started < _token_cache.LOCK_MIN_WAIT
