# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's token cache: private files and directory, keys without secrets, bad files replaced, locks, discovery."""

from __future__ import annotations

import json
import os
import stat

import msal
import pytest
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


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def warnings():
    return []


@pytest.fixture
def new_store(cache_dir, warnings):
    """new_store() -> a TokenCacheStore on cache_dir, as another task (worker) of the run would open it."""
    return lambda: TokenCacheStore(str(cache_dir), warnings.append)


def save_token(store, token, identity=None):
    cache = store.for_identity(identity or IDENTITY)
    with cache.session() as msal_cache:
        add_access_token(msal_cache, token)
    return cache


def token_files(cache_dir):
    return sorted(path for path in cache_dir.iterdir() if path.name.startswith("token-") and path.suffix == ".json")


class TestFiles:
    def test_private_directory_files_and_no_secret_in_names(self, cache_dir, new_store, warnings):
        save_token(new_store(), "tok-1")
        assert mode(cache_dir) == 0o700
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

    def test_another_task_finds_the_token_and_another_secret_does_not(self, new_store, cache_dir):
        save_token(new_store(), "tok-1")
        with new_store().for_identity(list(IDENTITY)).session() as msal_cache:
            assert tokens_in(msal_cache) == ["tok-1"]
        with new_store().for_identity(IDENTITY[:-1] + ["wrong secret"]).session() as msal_cache:
            assert tokens_in(msal_cache) == []
        assert len(token_files(cache_dir)) == 1  # nothing was obtained for the wrong secret: nothing written

    def test_the_salt_keys_the_names(self, new_store, cache_dir):
        first = new_store().for_identity(IDENTITY).name
        (cache_dir / "salt").unlink()
        assert new_store().for_identity(IDENTITY).name != first

    def test_unchanged_cache_is_not_written(self, new_store, cache_dir):
        save_token(new_store(), "tok-1")
        (token_file,) = token_files(cache_dir)
        before = os.stat(token_file)
        with new_store().for_identity(IDENTITY).session() as msal_cache:
            assert tokens_in(msal_cache) == ["tok-1"]
        after = os.stat(token_file)
        assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)

    def test_a_drop_is_saved_even_when_the_sign_in_fails(self, new_store):
        save_token(new_store(), "tok-1")
        with pytest.raises(RuntimeError), new_store().for_identity(IDENTITY).session() as msal_cache:
            msal_cache.remove_at(next(msal_cache.search(msal_cache.CredentialType.ACCESS_TOKEN)))
            raise RuntimeError("the token request failed")
        with new_store().for_identity(IDENTITY).session() as msal_cache:
            assert tokens_in(msal_cache) == []

    def test_stale_files_are_removed_when_the_directory_is_opened(self, new_store, cache_dir):
        save_token(new_store(), "tok-1")
        (token_file,) = token_files(cache_dir)
        lock_file = token_file.with_suffix(".lock")
        old = os.stat(token_file).st_mtime - _token_cache.STALE_AFTER - 10
        for path in (token_file, lock_file):
            os.utime(path, (old, old))
        new_store().for_identity(IDENTITY)
        assert not token_file.exists() and lock_file.exists()


class TestBadFiles:
    def reload(self, new_store):
        with new_store().for_identity(IDENTITY).session() as msal_cache:
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
        ],
    )
    def test_corrupt_file_is_ignored_and_replaced(self, new_store, cache_dir, warnings, content, reason):
        save_token(new_store(), "tok-1")
        (token_file,) = token_files(cache_dir)
        token_file.write_bytes(content)
        assert self.reload(new_store) == []
        assert [w for w in warnings if reason in w and "it was ignored and is replaced" in w], warnings
        assert mode(token_file) == 0o600
        assert json.loads(token_file.read_text())["msal"]["AccessToken"]

    def test_file_readable_by_others_is_ignored_and_replaced(self, new_store, cache_dir, warnings):
        save_token(new_store(), "tok-1")
        (token_file,) = token_files(cache_dir)
        token_file.chmod(0o644)
        assert self.reload(new_store) == []
        assert warnings == [
            f"msgraph.intune token cache: {token_file} has mode 0644 instead of 0600; it was ignored and is replaced"
        ]
        assert mode(token_file) == 0o600 and "tok-2" in token_file.read_text()

    def test_symbolic_link_is_never_followed(self, new_store, cache_dir, tmp_path, warnings):
        save_token(new_store(), "tok-1")
        (token_file,) = token_files(cache_dir)
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_bytes(token_file.read_bytes())
        elsewhere.chmod(0o600)
        token_file.unlink()
        token_file.symlink_to(elsewhere)
        assert self.reload(new_store) == []
        assert any("is a symbolic link" in warning for warning in warnings), warnings
        assert not token_file.is_symlink() and "tok-1" in elsewhere.read_text()

    @pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
    def test_file_of_another_user_is_ignored_and_replaced(self, new_store, cache_dir, warnings):
        save_token(new_store(), "tok-1")
        (token_file,) = token_files(cache_dir)
        os.chown(token_file, 65534, 65534)
        assert self.reload(new_store) == []
        assert any("is owned by uid 65534, not by this user (uid 0)" in warning for warning in warnings), warnings
        assert os.stat(token_file).st_uid == 0

    def test_wrong_salt_is_replaced(self, new_store, cache_dir, warnings):
        save_token(new_store(), "tok-1")
        (cache_dir / "salt").write_bytes(b"short")
        assert self.reload(new_store) == []  # another salt: other names
        assert any("holds 5 bytes instead of 32; it was replaced" in warning for warning in warnings), warnings
        assert len((cache_dir / "salt").read_bytes()) == 32


class TestDirectory:
    def test_directory_of_another_user_is_never_used(self, monkeypatch, new_store, cache_dir, warnings):
        cache_dir.mkdir(mode=0o700)
        monkeypatch.setattr(_token_cache.os, "geteuid", lambda: 4242)
        store = new_store()
        assert store.for_identity(IDENTITY) is None
        assert store.discovery_cache(True).get(
            "https://x/.well-known/openid-configuration", None, lambda: "fetched"
        ) == ("fetched")
        assert warnings == [
            (
                f"msgraph.intune token cache: {cache_dir} is owned by uid {os.getuid()}, not by this user (uid 4242); "
                "the cache is off for this task, which signs in by itself"
            )
        ]
        assert list(cache_dir.iterdir()) == []

    def test_directory_open_to_others_is_closed(self, new_store, cache_dir, warnings):
        cache_dir.mkdir()
        cache_dir.chmod(0o755)
        save_token(new_store(), "tok-1")
        assert mode(cache_dir) == 0o700
        assert warnings == [f"msgraph.intune token cache: {cache_dir} had mode 0755; it was set to 0700"]

    def test_directory_that_is_a_symbolic_link(self, new_store, cache_dir, tmp_path, warnings):
        target = tmp_path / "target"
        target.mkdir(mode=0o700)
        cache_dir.symlink_to(target)
        assert new_store().for_identity(IDENTITY) is None
        assert warnings and "is a symbolic link" in warnings[0]

    def test_a_held_lock_is_waited_for_then_given_up(self, monkeypatch, new_store, warnings):
        monkeypatch.setattr(_token_cache, "LOCK_WAIT", 0.1)
        holder = new_store().for_identity(IDENTITY)
        with holder.session(), new_store().for_identity(IDENTITY).session() as msal_cache:
            add_access_token(msal_cache, "tok-in-memory")
        assert any("stayed locked for 0 seconds; this sign-in does not use the cache" in w for w in warnings), warnings
        with new_store().for_identity(IDENTITY).session() as msal_cache:
            assert tokens_in(msal_cache) == []  # what was obtained without the lock was not saved


class TestDiscovery:
    URL = "https://login.example.test/tenant-1/v2.0/.well-known/openid-configuration"

    def fetcher(self, *answers):
        calls = []

        def fetch():
            calls.append(1)
            status, body, headers = answers[len(calls) - 1]
            return build_response("GET", self.URL, {}, status, body, headers)

        return fetch, calls

    def test_stored_until_max_age_and_per_trust(self, monkeypatch, new_store, cache_dir):
        document = {"token_endpoint": "https://login.example.test/tenant-1/oauth2/v2.0/token"}
        ok = (200, document, {"Cache-Control": "max-age=600, private"})
        fetch, calls = self.fetcher(ok, ok, ok)
        first = new_store().discovery_cache(True).get(self.URL, None, fetch)
        again = new_store().discovery_cache(True).get(self.URL, None, fetch)
        assert first.json() == again.json() == document and calls == [1]
        assert again.status_code == 200 and again.headers["Content-Type"] == "application/json"
        again.raise_for_status()
        new_store().discovery_cache("/other/ca.pem").get(self.URL, None, fetch)
        new_store().discovery_cache(True).get(self.URL, {"api-version": "1.1"}, fetch)
        assert calls == [1, 1, 1]
        assert all(mode(path) == 0o600 for path in cache_dir.iterdir())
        now = _token_cache.time.time()
        monkeypatch.setattr(_token_cache.time, "time", lambda: now + 601)
        fetch_late, late_calls = self.fetcher(ok)
        new_store().discovery_cache(True).get(self.URL, None, fetch_late)
        assert late_calls == [1]

    @pytest.mark.parametrize(
        "answer",
        [
            (200, {"a": 1}, {"Cache-Control": "no-store"}),
            (200, {"a": 1}, {"Cache-Control": "max-age=0"}),
            (200, [1, 2], {}),
            (200, "not json", {}),
            (400, {"error": "invalid_tenant"}, {}),
        ],
    )
    def test_not_stored(self, new_store, answer):
        fetch, calls = self.fetcher(answer, answer)
        new_store().discovery_cache(True).get(self.URL, None, fetch)
        new_store().discovery_cache(True).get(self.URL, None, fetch)
        assert calls == [1, 1]

    def test_unverified_answers_are_never_stored(self, new_store):
        assert new_store().discovery_cache(False) is None

    def test_corrupt_entry_is_replaced(self, new_store, cache_dir, warnings):
        ok = (200, {"issuer": "x"}, {})
        fetch, calls = self.fetcher(ok, ok)
        new_store().discovery_cache(True).get(self.URL, None, fetch)
        (entry,) = [path for path in cache_dir.iterdir() if path.suffix == ".json"]
        entry.write_text('{"format": "msgraph.intune discovery cache", "version": 1, "url": 1}')
        assert new_store().discovery_cache(True).get(self.URL, None, fetch).json() == {"issuer": "x"}
        assert calls == [1, 1]
        assert any("is not a usable discovery cache (malformed entry)" in warning for warning in warnings), warnings

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


class TestLocation:
    def test_environment_names_the_directory(self, monkeypatch, tmp_path):
        monkeypatch.setenv("MSGRAPH_TOKEN_CACHE_DIR", str(tmp_path / "mine"))
        assert task_token_cache().path == str(tmp_path / "mine")
        assert task_token_cache() is task_token_cache()

    def test_default_is_inside_the_runs_temporary_directory(self, monkeypatch, tmp_path):
        from ansible import constants

        monkeypatch.delenv("MSGRAPH_TOKEN_CACHE_DIR", raising=False)
        monkeypatch.setattr(constants, "DEFAULT_LOCAL_TMP", str(tmp_path / "ansible-local-123abc"))
        assert task_token_cache().path == str(tmp_path / "ansible-local-123abc" / DIRECTORY_NAME)


def test_real_msal_state_round_trips(new_store):
    """What msal serializes for a client credentials token passes the file checks (no field is missing)."""
    cache = msal.SerializableTokenCache()
    add_access_token(cache, "tok-1")
    state = json.loads(cache.serialize())
    document = {"format": "msgraph.intune token cache", "version": 1, "msal": state}
    assert _token_cache.parse_token_state(json.dumps(document).encode()) == state
