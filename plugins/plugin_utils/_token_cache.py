# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token cache that the tasks of one ansible-playbook run share (the in-process path).

Where: the directory ``msgraph_intune_tokens`` inside Ansible's controller temporary directory of the run
(DEFAULT_LOCAL_TMP, ``~/.ansible/tmp/ansible-local-<pid><random>`` unless ANSIBLE_LOCAL_TEMP or ANSIBLE_HOME say
otherwise), which ansible-playbook creates with mode 0700 when it starts and deletes when it ends. Or the directory
named by MSGRAPH_TOKEN_CACHE_DIR, which outlives the run; there, files not written for a day are removed.

What: ``salt``, 32 random bytes. Per identity, ``token-<digest>.json``: msal's token cache of that identity (access
tokens with their expiry; never a client secret, password, key or federated token). Per discovery URL,
``discovery-<digest>.json``: the OIDC discovery document as the authority sent it, until its Cache-Control max-age
(at most a day), only when it came over a verified TLS connection. Each has a ``.lock`` beside it. A digest is an
HMAC-SHA256 under the salt of the identity (authority, tenant, client, credential) or of the URL, so a file name
says nothing about a credential, and another credential, right or wrong, names another file.

How: the directory must belong to this user; if it is open to others, it is set to 0700. Every file is opened
relative to the directory, never through a symbolic link, and used only if it is a regular file of this user with
no access for others; it is written as a temporary file (0600) that then replaces it (os.replace). Loading an
identity's tokens, signing in and saving happen under an exclusive lock (flock) on its lock file, so that workers
that start together for one identity make one token request: the others wait, then find the token. A file that
cannot be used (unreadable, corrupt, wrong mode or owner) is removed and replaced; a directory that cannot be used
turns the cache off for the task. Either way the sign-in goes on, and a warning (shown at -v) says why.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import secrets
import stat
import time

try:
    import fcntl
except ImportError:  # not a POSIX controller: no shared cache
    fcntl = None

CACHE_DIR_ENV = "MSGRAPH_TOKEN_CACHE_DIR"
DIRECTORY_NAME = "msgraph_intune_tokens"
SALT_FILE = "salt"
SALT_BYTES = 32
MAX_FILE_BYTES = 1024 * 1024
LOCK_WAIT = 300.0  # seconds; longer than one sign-in with all its retries
LOCK_POLL = 0.02
STALE_AFTER = 86400.0  # seconds without a write; longer than any Entra or managed identity token lives
DISCOVERY_DEFAULT_TTL = 3600
DISCOVERY_MAX_TTL = 86400
TOKEN_FORMAT = "msgraph.intune token cache"
DISCOVERY_FORMAT = "msgraph.intune discovery cache"
FORMAT_VERSION = 1
# What msal reads of every cached access token.
ACCESS_TOKEN_FIELDS = ("credential_type", "secret", "expires_on", "client_id", "environment", "realm", "target")


class Unusable(Exception):
    """A file or the directory must not be used; the message says why (paths and modes, never a secret)."""


class CacheDirectory:
    """An open directory of this user that nobody else may enter; its files are reached through its descriptor."""

    def __init__(self, path, fd, warn):
        self.path = path
        self.fd = fd
        self.warn = warn
        self.salt = None

    @classmethod
    def open(cls, path, warn):
        if fcntl is None:
            raise Unusable("cannot be locked: file locks (fcntl) are not available here")
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
                raise Unusable("is a symbolic link") from None
            raise Unusable(f"cannot be used: {exc.strerror}") from None
        directory = cls(path, fd, warn)
        try:
            info = os.fstat(fd)
            if info.st_uid != os.geteuid():
                raise Unusable(f"is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()})")
            mode = stat.S_IMODE(info.st_mode)
            if mode & 0o077:
                os.fchmod(fd, 0o700)
                warn(f"{path} had mode {mode:04o}; it was set to 0700")
            with directory.locked(SALT_FILE):
                directory.salt = directory._load_salt()
            directory._remove_stale()
        except BaseException:
            os.close(fd)
            raise
        return directory

    def where(self, name):
        return os.path.join(self.path, name)

    def name_for(self, prefix, parts):
        """``prefix-<HMAC-SHA256 of parts under the salt>``; parts (strings and lists) may hold a secret."""
        data = json.dumps(parts, separators=(",", ":")).encode("ascii")
        return f"{prefix}-{hmac.new(self.salt, data, hashlib.sha256).hexdigest()}"

    def read(self, name):
        """The file's bytes, or None when there is none; Unusable when it is not a private file of this user."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise Unusable("is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be read: {exc.strerror}")
        try:
            self._check(os.fstat(fd))
            chunks = []
            size = 0
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise Unusable(f"is larger than {MAX_FILE_BYTES} bytes")
                chunks.append(chunk)
        except OSError as exc:
            raise Unusable(f"cannot be read: {exc.strerror}")
        finally:
            os.close(fd)

    @staticmethod
    def _check(info):
        if not stat.S_ISREG(info.st_mode):
            raise Unusable("is not a regular file")
        if info.st_uid != os.geteuid():
            raise Unusable(f"is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()})")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise Unusable(f"has mode {mode:04o} instead of 0600")

    def write(self, name, data):
        """Replace the file atomically with `data`, mode 0600."""
        temporary = self._write_temporary(data)
        try:
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            self.remove(temporary)
            raise

    def create(self, name, data):
        """Create the file with `data` unless it exists (then leave it as it is)."""
        temporary = self._write_temporary(data)
        try:
            os.link(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)
        except FileExistsError:
            pass
        finally:
            self.remove(temporary)

    def _write_temporary(self, data):
        name = f".tmp-{secrets.token_hex(8)}"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=self.fd)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            self.remove(name)
            raise
        os.close(fd)
        return name

    def remove(self, name):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)

    def load(self, file, what, parse):
        """`parse(bytes)` of the file, or None when there is none; a file that is unusable, or that `parse` refuses
        (ValueError), is removed with a warning and gives None too."""
        try:
            data = self.read(file)
            return None if data is None else parse(data)
        except Unusable as exc:
            reason = str(exc)
        except ValueError as exc:
            reason = f"is not a usable {what} ({exc})"
        self.warn(f"{self.where(file)} {reason}; it was ignored and is replaced")
        self.remove(file)
        return None

    def save(self, file, document_format, fields):
        """Write `fields` as a JSON document of `document_format`; a failure is a warning, never an error."""
        document = {"format": document_format, "version": FORMAT_VERSION, **fields}
        try:
            self.write(file, json.dumps(document).encode("utf-8"))
        except OSError as exc:
            self.warn(f"{self.where(file)} cannot be written: {exc.strerror}")

    @contextlib.contextmanager
    def locked(self, name):
        """Hold the exclusive lock of `name` (on ``name.lock``); Unusable when it is not free within LOCK_WAIT."""
        lock_name = name + ".lock"
        fd = self._open_lock(lock_name)
        try:
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Unusable(f"{self.where(lock_name)} stayed locked for {LOCK_WAIT:.0f} seconds") from None
                    time.sleep(LOCK_POLL)  # another worker signs in with this identity; it takes a round trip or two
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _open_lock(self, lock_name):
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        for _attempt in range(2):
            try:
                fd = os.open(lock_name, flags, 0o600, dir_fd=self.fd)
            except OSError as exc:
                reason = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be opened: {exc.strerror}"
                self.warn(f"{self.where(lock_name)} {reason}; it was removed")
                self.remove(lock_name)
                continue
            try:
                self._check(os.fstat(fd))
                return fd
            except Unusable as exc:
                os.close(fd)
                self.warn(f"{self.where(lock_name)} {exc}; it was removed")
                self.remove(lock_name)
        raise Unusable(f"{self.where(lock_name)} cannot be created")

    def _load_salt(self):
        for _attempt in range(2):
            try:
                salt = self.read(SALT_FILE)
                if salt is not None and len(salt) != SALT_BYTES:
                    raise Unusable(f"holds {len(salt)} bytes instead of {SALT_BYTES}")
            except Unusable as exc:
                self.warn(f"{self.where(SALT_FILE)} {exc}; it was replaced")
                self.remove(SALT_FILE)
                salt = None
            if salt is not None:
                return salt
            self.create(SALT_FILE, secrets.token_bytes(SALT_BYTES))
        raise Unusable(f"{self.where(SALT_FILE)} cannot be created")

    def _remove_stale(self):
        """Files not written for STALE_AFTER seconds (in a directory that outlives runs). Lock files stay."""
        now = time.time()
        for name in os.listdir(self.fd):
            if not name.startswith(("token-", "discovery-", ".tmp-")) or name.endswith(".lock"):
                continue
            with contextlib.suppress(OSError):
                if now - os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mtime > STALE_AFTER:
                    os.unlink(name, dir_fd=self.fd)


@contextlib.contextmanager
def _locked_or_none(directory, name):
    """Yield True while holding the lock of `name`, or False (after a warning) when it cannot be had."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(directory.locked(name))
            locked = True
        except (Unusable, OSError) as exc:
            directory.warn(f"{directory.where(name)}: {exc}; this sign-in does not use the cache")
            locked = False
        yield locked


def _document(data, document_format, what):
    """The JSON object of a file that this code wrote in `document_format`; ValueError for anything else."""
    document = json.loads(data.decode("utf-8"))
    if not isinstance(document, dict) or (document.get("format"), document.get("version")) != (
        document_format,
        FORMAT_VERSION,
    ):
        raise ValueError(f"not a {what} of this collection")
    return document


def parse_token_state(data):
    """msal's cache state from a token file; ValueError when it is not one this code wrote."""
    state = _document(data, TOKEN_FORMAT, "token cache").get("msal")
    if not isinstance(state, dict) or not all(
        isinstance(entries, dict) and all(isinstance(entry, dict) for entry in entries.values())
        for entries in state.values()
    ):
        raise ValueError("malformed msal state")
    for entry in state.get("AccessToken", {}).values():
        if not all(isinstance(entry.get(field), str) for field in ACCESS_TOKEN_FIELDS) or not (
            entry["expires_on"].isdigit()
        ):
            raise ValueError("malformed access token entry")
    return state


class IdentityTokenCache:
    """msal's token cache of one identity, loaded before and saved after each sign-in, under the identity's lock."""

    def __init__(self, directory, name):
        self.directory = directory
        self.name = name
        self.file = name + ".json"
        self.msal_cache = None

    @contextlib.contextmanager
    def session(self):
        if self.msal_cache is None:
            import msal  # pylint: disable=import-outside-toplevel  # the auth method has imported it already

            self.msal_cache = msal.SerializableTokenCache()
        with _locked_or_none(self.directory, self.name) as locked:
            if not locked:
                yield self.msal_cache  # this sign-in alone: in memory
                return
            self.msal_cache.deserialize(self._load())
            try:
                yield self.msal_cache
            finally:
                # Also after a failed sign-in: a token that Graph rejected stays dropped.
                if self.msal_cache.has_state_changed:
                    self._save()

    def _load(self):
        state = self.directory.load(self.file, "token cache", parse_token_state)
        return json.dumps(state) if state is not None else ""

    def _save(self):
        self.directory.save(self.file, TOKEN_FORMAT, {"msal": json.loads(self.msal_cache.serialize())})


class CachedResponse:
    """A stored discovery answer, shaped like the requests.Response that msal reads (status_code, text, headers)."""

    status_code = 200

    def __init__(self, text, headers):
        self.text = text
        self.content = text.encode("utf-8")
        self.headers = headers

    def json(self):
        return json.loads(self.text)

    def raise_for_status(self):
        """A stored answer is a 200."""


def discovery_ttl(headers):
    """Seconds to keep a discovery answer: its Cache-Control max-age (at most a day), 0 for no-store or no-cache."""
    directives = [item.strip().lower() for item in (headers.get("Cache-Control") or "").split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for directive in directives:
        if directive.startswith("max-age="):
            try:
                return max(0, min(int(directive[len("max-age=") :]), DISCOVERY_MAX_TTL))
            except ValueError:
                return 0
    return DISCOVERY_DEFAULT_TTL


class DiscoveryCache:
    """Discovery answers (GET) shared by the tasks of a run, for one TLS trust setting."""

    def __init__(self, store, trust):
        self.store = store
        self.trust = trust

    def get(self, url, params, fetch):
        """The stored answer for the URL, or `fetch()`'s, stored if it may be. One fetch at a time per URL."""
        directory = self.store.directory()
        if directory is None:
            return fetch()
        query = sorted([str(key), str(value)] for key, value in (params or {}).items())
        name = directory.name_for("discovery", ["discovery", url, query, self.trust])
        with _locked_or_none(directory, name) as locked:
            if not locked:
                return fetch()
            stored = self._load(directory, name + ".json", url)
            if stored is not None:
                return stored
            response = fetch()
            self._save(directory, name + ".json", url, response)
            return response

    @staticmethod
    def _load(directory, file, url):
        def parse(data):
            document = _document(data, DISCOVERY_FORMAT, "discovery cache")
            text, expires_at, headers = document.get("text"), document.get("expires_at"), document.get("headers")
            if (
                document.get("url") != url
                or not isinstance(text, str)
                or not isinstance(expires_at, (int, float))
                or not isinstance(headers, dict)
                or not all(isinstance(value, str) for value in headers.values())
            ):
                raise ValueError("malformed entry")
            return CachedResponse(text, headers) if expires_at > time.time() else None

        return directory.load(file, "discovery cache", parse)

    @staticmethod
    def _save(directory, file, url, response):
        if response.status_code != 200:
            return
        ttl = discovery_ttl(response.headers)
        try:
            if ttl <= 0 or not isinstance(json.loads(response.text), dict):
                return
        except ValueError:
            return
        fields = {
            "url": url,
            "expires_at": time.time() + ttl,
            "headers": {"Content-Type": response.headers.get("Content-Type") or "application/json"},
            "text": response.text,
        }
        directory.save(file, DISCOVERY_FORMAT, fields)


class TokenCacheStore:
    """The cache directory of a run, opened (and checked) when a sign-in first needs it."""

    def __init__(self, path, warn):
        self.path = path
        self.warn = lambda message: warn(f"msgraph.intune token cache: {message}")
        self._directory = None
        self._unusable = False

    def directory(self):
        if self._directory is None and not self._unusable:
            try:
                self._directory = CacheDirectory.open(self.path, self.warn)
            except (Unusable, OSError) as exc:
                self._unusable = True
                self.warn(f"{self.path} {exc}; the cache is off for this task, which signs in by itself")
        return self._directory

    def for_identity(self, identity):
        """The token cache of this identity (a list of strings that may hold its credential), or None."""
        directory = self.directory()
        return IdentityTokenCache(directory, directory.name_for("token", identity)) if directory else None

    def discovery_cache(self, verify):
        """Discovery answers for this TLS setting; none for answers that came over an unverified connection."""
        return None if verify is False else DiscoveryCache(self, str(verify))


_STORES = {}


def _warn_at_verbose(message):
    from ansible.utils.display import Display  # pylint: disable=import-outside-toplevel  # controller only

    display = Display()
    if display.verbosity >= 1:
        display.warning(message)


def task_token_cache(warn=_warn_at_verbose):
    """The run's TokenCacheStore (one per directory in this worker); None when Ansible has no temporary directory."""
    path = os.environ.get(CACHE_DIR_ENV)
    if path:
        # The user's own choice: links in it are resolved here; the directory itself is checked when opened.
        path = os.path.realpath(os.path.expanduser(path))
    else:
        from ansible import constants as C  # pylint: disable=import-outside-toplevel  # controller only

        base = getattr(C, "DEFAULT_LOCAL_TMP", None)
        if not base:
            return None
        path = os.path.join(base, DIRECTORY_NAME)
    if path not in _STORES:
        _STORES[path] = TokenCacheStore(path, warn)
    return _STORES[path]
