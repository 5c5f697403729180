# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token cache that the tasks of one ansible-playbook run share (the in-process path).

Where: a directory that this code creates itself, inside a parent. By default the parent is Ansible's controller
temporary directory of the run (DEFAULT_LOCAL_TMP, ``~/.ansible/tmp/ansible-local-<pid><random>``), which
ansible-playbook creates with mode 0700 and deletes when it ends, and the directory is ``msgraph_intune_tokens``.
MSGRAPH_TOKEN_CACHE_DIR names another parent, which outlives the run (it may be shared, like /tmp); the directory
in it is ``msgraph_intune_tokens-<uid>``. On the way to the parent a symbolic link is followed only when it belongs
to this user or to root; missing directories of a configured parent are created (0700).

The directory is used only when it is a real directory of this user with mode 0700 (one just created is made so);
anything else at its name (a link, another user's directory, wider permissions) turns the cache off, with a warning.
This code never changes the mode of, nor removes anything from, a directory that it did not create, and in its own
directory it removes only names of its own (OWN_NAME), never following a link.

What: ``salt``, 32 random bytes. Per identity, ``token-<digest>.json``: msal's token cache of that identity (access
tokens with their expiry; never a client secret, password, key or federated token), and the last sign-in failure
(when, and for a failure that would repeat, such as a wrong secret, what Entra said). Per discovery URL,
``discovery-<digest>.json``: the OIDC discovery document, until its Cache-Control max-age (at most a day), only when
it came over a verified TLS connection and passed the sign-in's checks (see _graph_signin.discovery_problem). Each
has a ``.lock`` beside it. A digest is an HMAC-SHA256 under the salt of the identity (authority, tenant, client,
credential) or of the URL, so a name says nothing about a credential. A run's own directory holds ``run.json``: the
pid (and start time) of its ansible-playbook process.

How: files are opened relative to the directory, never through a link, and used only if they are regular files of
this user with no access for others; they are written as a temporary file (0600) that then replaces them. Loading
an identity's tokens, signing in and saving happen under an exclusive lock (flock) of its lock file, so that workers
that start together for one identity make one token request. A lock is waited for LOCK_WAIT seconds at most,
counted from when its holder took it (the holder stamps the lock file's mtime), so a stopped holder delays one task
by LOCK_WAIT at most, and the tasks after it not at all; who does not get the lock signs in without the cache. A
waiter that finds that the sign-in it waited for failed does not repeat it under the lock: a failure that would
repeat (HTTP 4xx from Entra other than 429) is reused, any other one lets the waiter sign in by itself at once.

Anything that cannot be used (a link, a directory or other non-file, unreadable, nested too deeply, malformed) is a
warning and a replacement, never a task failure. Warnings go to the task's result (the client's Notices), at the
default verbosity; they hold paths and modes, never a secret.

Leftovers: in a configured parent, files not written for a day and lock files not used for a day are removed when
the directory is opened. When a run creates its own directory, the directories of this user's earlier runs whose
ansible-playbook process is gone (killed) are removed with what they hold, from the same parent directory of
Ansible's run directories; Ansible's own ``ansible-local-*`` directories are left as they are.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphAuthError, GraphError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_signin import DISCOVERY_MAX_DEPTH, json_object

try:
    import fcntl
except ImportError:  # not a POSIX controller: no shared cache
    fcntl = None

CACHE_DIR_ENV = "MSGRAPH_TOKEN_CACHE_DIR"
DIRECTORY_NAME = "msgraph_intune_tokens"
RUN_DIRECTORY_PREFIX = "ansible-local-"  # what Ansible names its run directories (DEFAULT_LOCAL_TMP)
SALT_FILE = "salt"
RUN_FILE = "run.json"
# Every name that this code creates in its directory; nothing else there is ever removed.
OWN_NAME = re.compile(
    r"(?:(?:token|discovery)-[0-9a-f]{64}\.(?:json|lock)|\.tmp-[0-9a-f]{16}|salt(?:\.lock)?|run\.json)"
)
KEPT_NAMES = frozenset((SALT_FILE, SALT_FILE + ".lock", RUN_FILE))
SALT_BYTES = 32
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 8  # msal's state nests 3 levels, our document 1 more: anything deeper was not written here
# Seconds a lock is waited for, counted from when its holder took it: a sign-in at Entra (discovery and token
# request) takes well under a second, a slow one a few; past that the holder is stopped or hung, and waiting on
# only delays the task, which can sign in by itself.
LOCK_WAIT = 10.0
# Seconds every waiter gives a holder at least: the holder stamps the lock file just after it took the lock.
LOCK_MIN_WAIT = 1.0
LOCK_POLL = 0.02
STALE_AFTER = 86400.0  # seconds without a write (or use, for lock files); longer than any token lives
DISCOVERY_DEFAULT_TTL = 3600
DISCOVERY_MAX_TTL = 86400
TOKEN_FORMAT = "msgraph.intune token cache"
DISCOVERY_FORMAT = "msgraph.intune discovery cache"
RUN_FORMAT = "msgraph.intune run"
FORMAT_VERSION = 1
# What msal reads of every cached access token.
ACCESS_TOKEN_FIELDS = ("credential_type", "secret", "expires_on", "client_id", "environment", "realm", "target")
# The GraphError fields kept with a failure that a waiting task reuses.
FAILURE_FIELDS = ("status", "code", "graph_message", "request_id", "client_request_id", "method", "path", "url")
# Directories are walked with O_PATH where there is one: it needs no read permission on the way.
WALK_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_LINKS = 40


class Unusable(Exception):
    """A file or a directory must not be used; the message says why (paths and modes, never a secret)."""


def _owner_text(uid):
    return f"belongs to uid {uid}, not to this user (uid {os.geteuid()})"


def open_parent(path, create):
    """A descriptor of the directory at `path`, for *at calls.

    The path is walked one name at a time: a symbolic link on the way is followed only when this user or root owns
    it (another user could point it anywhere); with `create`, missing directories are made (0700).
    """
    if not os.path.isabs(path):
        path = os.path.join(os.getcwd(), path)
    parts = [part for part in path.split("/") if part not in ("", ".")]
    walked = here = "/"
    fd = os.open("/", WALK_FLAGS)
    links = 0
    try:
        while parts:
            name = parts.pop(0)
            here = os.path.join(walked, name)
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    raise Unusable(f"{here} does not exist") from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=fd)
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                if info.st_uid not in (os.geteuid(), 0):
                    raise Unusable(
                        f"{here} is a symbolic link of uid {info.st_uid}: only links of this user (uid "
                        f"{os.geteuid()}) or of root are followed"
                    )
                links += 1
                if links > MAX_LINKS:
                    raise Unusable(f"{here}: too many levels of symbolic links")
                target = os.readlink(name, dir_fd=fd)
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", WALK_FLAGS)
                    walked = "/"
                parts[:0] = [part for part in target.split("/") if part not in ("", ".")]
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise Unusable(f"{here} is not a directory")
            next_fd = os.open(name, WALK_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
            walked = os.path.normpath(here)
        return fd
    except OSError as exc:
        os.close(fd)
        raise Unusable(f"{here} cannot be used: {exc.strerror}") from None
    except BaseException:
        os.close(fd)
        raise


def _open_own_directory(parent_fd, parent_path, name):
    """(descriptor, created) of this code's directory `name` in the parent, made if missing; Unusable unless it is
    a real directory of this user with mode 0700."""
    path = os.path.join(parent_path, name)
    created = False
    refused = None
    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
        created = True
    except FileExistsError:
        pass
    except OSError as exc:
        refused = exc  # the parent may be closed to writes and still hold the directory
    try:
        fd = os.open(name, DIRECTORY_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            link = stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
            raise Unusable(f"{path} is {'a symbolic link' if link else 'not a directory'}") from None
        if refused is not None:
            raise Unusable(f"{path} cannot be created: {refused.strerror}") from None
        raise Unusable(f"{path} cannot be opened: {exc.strerror}") from None
    try:
        _check_own_directory(path, os.fstat(fd), created)
        if created:
            os.fchmod(fd, 0o700)  # made just now; the umask may have narrowed it
    except BaseException:
        os.close(fd)
        raise
    return fd, created


def _check_own_directory(path, info, created=False):
    if info.st_uid != os.geteuid():
        raise Unusable(f"{path} {_owner_text(info.st_uid)}")
    mode = info.st_mode & 0o777
    if mode != 0o700 and not created:
        raise Unusable(f"{path} has mode {mode:04o} instead of 0700")


class CacheDirectory:
    """This code's own directory: private to this user; its files are reached through its descriptor."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd
        self.salt = None

    def close(self):
        os.close(self.fd)

    def where(self, name):
        return os.path.join(self.path, name)

    def name_for(self, prefix, parts):
        """``prefix-<HMAC-SHA256 of parts under the salt>``; parts (strings and lists) may hold a secret."""
        data = json.dumps(parts, separators=(",", ":")).encode("ascii")
        return f"{prefix}-{hmac.new(self.salt, data, hashlib.sha256).hexdigest()}"

    # -- files -----------------------------------------------------------------------------------------------------

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
            raise Unusable("is a directory" if stat.S_ISDIR(info.st_mode) else "is not a regular file")
        if info.st_uid != os.geteuid():
            raise Unusable(_owner_text(info.st_uid))
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
        """Remove the entry `name` (a link itself, a directory only when empty); False when it is still there."""
        try:
            os.unlink(name, dir_fd=self.fd)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            pass
        try:
            os.rmdir(name, dir_fd=self.fd)
            return True
        except FileNotFoundError:
            return True
        except OSError:
            return False

    def load(self, file, what, parse, warn):
        """`parse(bytes)` of the file, or None when there is none; a file that is unusable, or that `parse` refuses
        (ValueError), is removed with a warning and gives None too."""
        try:
            data = self.read(file)
            return None if data is None else parse(data)
        except Unusable as exc:
            reason = str(exc)
        except ValueError as exc:
            reason = f"is not a usable {what} ({exc})"
        if self.remove(file):
            warn(f"{self.where(file)} {reason}; it was ignored and is replaced")
        else:
            warn(f"{self.where(file)} {reason}; it was ignored and cannot be removed")
        return None

    def save(self, file, document_format, fields, warn):
        """Write `fields` as a JSON document of `document_format`; a failure is a warning, never an error."""
        document = {"format": document_format, "version": FORMAT_VERSION, **fields}
        try:
            self.write(file, json.dumps(document).encode("utf-8"))
        except OSError as exc:
            warn(f"{self.where(file)} cannot be written: {exc.strerror}")

    # -- locks -----------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, name, warn):
        """Hold the exclusive lock of `name` (on ``name.lock``). Yields None when it was free at once, else the time
        (time.time()) since when this worker waited for it; Unusable when it was not had in time (see LOCK_WAIT)."""
        lock_name = name + ".lock"
        for _attempt in range(3):
            fd = self._open_lock(lock_name, warn)
            try:
                waited_since = self._wait_for(fd, lock_name)
                if self._is_linked(fd, lock_name):
                    break
                # Removed (as unused) before this worker had it: lock the file that is there now instead.
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        else:
            raise Unusable(f"{self.where(lock_name)} keeps being replaced")
        try:
            with contextlib.suppress(OSError):
                os.utime(fd)  # when it was taken: waiters count their deadline from it; the sweep its last use
            yield waited_since
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _wait_for(self, fd, lock_name):
        if _try_lock(fd):
            return None
        waited_since = time.time()
        started = time.monotonic()
        while True:
            time.sleep(LOCK_POLL)  # another worker signs in with this identity; it takes a round trip or two
            if _try_lock(fd):
                return waited_since
            waited = time.monotonic() - started
            held = time.time() - os.fstat(fd).st_mtime
            if waited >= LOCK_MIN_WAIT and max(waited, held) >= LOCK_WAIT:
                raise Unusable(
                    f"{self.where(lock_name)} has been held by another task for {max(waited, held):.0f} seconds, "
                    "longer than a sign-in takes"
                )

    def _is_linked(self, fd, lock_name):
        try:
            named = os.stat(lock_name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        opened = os.fstat(fd)
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def _open_lock(self, lock_name, warn, create=True):
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        for _attempt in range(2):
            try:
                fd = os.open(lock_name, flags, 0o600, dir_fd=self.fd)
            except FileNotFoundError:
                raise
            except OSError as exc:
                reason = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be opened: {exc.strerror}"
            else:
                try:
                    self._check(os.fstat(fd))
                    return fd
                except Unusable as exc:
                    os.close(fd)
                    reason = str(exc)
            if not self.remove(lock_name):
                raise Unusable(f"{self.where(lock_name)} {reason} and cannot be removed")
            warn(f"{self.where(lock_name)} {reason}; it was removed")
        raise Unusable(f"{self.where(lock_name)} cannot be created")

    # -- the salt, the run, leftovers ------------------------------------------------------------------------------

    def load_salt(self, warn):
        with self.locked(SALT_FILE, warn):
            for _attempt in range(2):
                try:
                    salt = self.read(SALT_FILE)
                    if salt is not None and len(salt) != SALT_BYTES:
                        raise Unusable(f"holds {len(salt)} bytes instead of {SALT_BYTES}")
                except Unusable as exc:
                    warn(f"{self.where(SALT_FILE)} {exc}; it was replaced")
                    self.remove(SALT_FILE)
                    salt = None
                if salt is not None:
                    self.salt = salt
                    return
                self.create(SALT_FILE, secrets.token_bytes(SALT_BYTES))
        raise Unusable(f"{self.where(SALT_FILE)} cannot be created")

    def mark_run(self, pid, warn):
        """Say which ansible-playbook process this directory belongs to, for the sweep of a later run."""
        self.save(RUN_FILE, RUN_FORMAT, {"pid": pid, "started": process_start(pid)}, warn)

    def run_is_over(self):
        """Whether the run of this (per-run) directory has ended: its process is gone, or (without a usable run file)
        nothing here was written for STALE_AFTER seconds."""
        with contextlib.suppress(Unusable, ValueError):
            data = self.read(RUN_FILE)
            document = _document(data, RUN_FORMAT, "run file") if data is not None else {}
            pid, started = document.get("pid"), document.get("started")
            if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0:
                return not process_is_running(pid, started if isinstance(started, str) else None)
        entries = self._own_entries()
        return bool(entries) and all(age > STALE_AFTER for _name, age in entries)  # empty: a run just making it

    def _own_entries(self):
        """(name, seconds since it was written) of the entries of this code's naming."""
        now = time.time()
        entries = []
        for name in os.listdir(self.fd):
            if OWN_NAME.fullmatch(name):
                with contextlib.suppress(OSError):
                    entries.append((name, now - os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mtime))
        return entries

    def remove_stale(self):
        """Files not written, and lock files not used, for STALE_AFTER seconds (in a directory that outlives runs)."""
        for name, age in self._own_entries():
            if age <= STALE_AFTER or name in KEPT_NAMES:
                continue
            if name.endswith(".lock"):
                self._remove_unused_lock(name)
            else:
                self.remove(name)

    def _remove_unused_lock(self, lock_name):
        """Remove a lock file while holding it, so that nobody holds it then (a locker checks that its file is
        still the one linked at the name)."""
        try:
            fd = self._open_lock(lock_name, lambda _message: None, create=False)
        except (Unusable, OSError):
            return
        try:
            if not _try_lock(fd):
                return
            with contextlib.suppress(OSError):
                if self._is_linked(fd, lock_name) and time.time() - os.fstat(fd).st_mtime > STALE_AFTER:
                    os.unlink(lock_name, dir_fd=self.fd)
        finally:
            os.close(fd)

    def remove_everything(self):
        """Every entry of this code's naming (the run of this directory is over)."""
        for name, _age in self._own_entries():
            self.remove(name)


def _try_lock(fd):
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def process_start(pid):
    """The process's start time as the kernel tells it (Linux /proc), or None: a pid alone may be reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[19].decode("ascii")
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def process_is_running(pid, started):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # a process of another user: the pid was reused, the run (of this user) is gone
    return started is None or process_start(pid) in (None, started)


def run_pid(run_directory):
    """The pid of the ansible-playbook process whose run directory this is: the parent of this worker, which Ansible
    forked (its pid starts the directory's name); this process itself outside a worker; else None."""
    name = os.path.basename(run_directory)
    for pid in (os.getppid(), os.getpid()):
        if name.startswith(f"{RUN_DIRECTORY_PREFIX}{pid}"):
            return pid
    return None


def remove_finished_runs(run_directory):
    """The directories of this user's earlier runs whose process is gone, in the parent of this run's directory."""
    parent = os.path.dirname(run_directory)
    try:
        parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        for entry in os.listdir(parent_fd):
            if entry.startswith(RUN_DIRECTORY_PREFIX) and entry != os.path.basename(run_directory):
                with contextlib.suppress(OSError, Unusable):
                    _remove_finished_run(parent_fd, os.path.join(parent, entry), entry)
    finally:
        os.close(parent_fd)


def _remove_finished_run(parent_fd, path, entry):
    run_fd = os.open(entry, WALK_FLAGS, dir_fd=parent_fd)
    try:
        if os.fstat(run_fd).st_uid != os.geteuid():
            return
        fd = os.open(DIRECTORY_NAME, DIRECTORY_FLAGS, dir_fd=run_fd)
        directory = CacheDirectory(os.path.join(path, DIRECTORY_NAME), fd)
        try:
            _check_own_directory(directory.path, os.fstat(fd))
            if not directory.run_is_over():
                return
            directory.remove_everything()
        finally:
            directory.close()
        os.rmdir(DIRECTORY_NAME, dir_fd=run_fd)  # fails, and leaves it, when something not of ours is in it
    finally:
        os.close(run_fd)


# -- documents ---------------------------------------------------------------------------------------------------


def _document(data, document_format, what):
    """The JSON object of a file that this code wrote in `document_format`; ValueError for anything else."""
    document = json_object(data, MAX_DEPTH)
    if (document.get("format"), document.get("version")) != (document_format, FORMAT_VERSION):
        raise ValueError(f"not a {what} of this collection")
    return document


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_token_document(data):
    """(msal's cache state, last failure or None) from a token file; ValueError when it is not one this code wrote."""
    document = _document(data, TOKEN_FORMAT, "token cache")
    state = document.get("msal")
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
    failure = document.get("failure")
    if failure is not None and not (
        isinstance(failure, dict)
        and _is_number(failure.get("at"))
        and _is_reusable_error(failure.get("error"), allow_none=True)
    ):
        raise ValueError("malformed failure")
    return state, failure


def _is_reusable_error(error, allow_none=False):
    if error is None:
        return allow_none
    return (
        isinstance(error, dict)
        and isinstance(error.get("message"), str)
        and all(error.get(field) is None or isinstance(error.get(field), (str, int)) for field in FAILURE_FIELDS)
    )


def failure_record(exc):
    """What a waiting task learns of a failed sign-in: when, and what Entra said when asking again would not help."""
    record = {"at": time.time()}
    status = exc.status
    if isinstance(exc, GraphAuthError) and isinstance(status, int) and 400 <= status < 500 and status != 429:
        record["error"] = {"message": str(exc), **{field: getattr(exc, field) for field in FAILURE_FIELDS}}
    return record


def reused_failure(error):
    fields = {field: error.get(field) for field in FAILURE_FIELDS}
    return GraphAuthError(
        f"{error['message']} (the same sign-in of another task failed so just before; it was not sent again)", **fields
    )


class IdentityTokenCache:
    """msal's token cache of one identity, loaded before and saved after each sign-in, under the identity's lock."""

    def __init__(self, directory, name, warn):
        self.directory = directory
        self.name = name
        self.file = name + ".json"
        self.warn = warn
        self.msal_cache = None

    @contextlib.contextmanager
    def session(self):
        """Yield msal's cache for one sign-in. A GraphError raised in it is kept as the identity's last failure."""
        if self.msal_cache is None:
            import msal  # pylint: disable=import-outside-toplevel  # the auth method has imported it already

            self.msal_cache = msal.SerializableTokenCache()
        with contextlib.ExitStack() as lock:
            waited_since = _enter_lock(lock, self.directory, self.name, self.warn)
            if waited_since is False:
                yield self.msal_cache  # this sign-in alone: in memory
                return
            state, failure = self._load()
            self.msal_cache.deserialize(json.dumps(state) if state is not None else "")
            if waited_since is not None and failure is not None and failure["at"] >= waited_since:
                # The sign-in that this task waited for failed: never repeat it in a queue, one task after another.
                if failure.get("error") is not None:
                    raise reused_failure(failure["error"])
                lock.close()  # a passing failure: try by itself, beside the other waiters
                yield self.msal_cache
                return
            failed = None
            try:
                yield self.msal_cache
            except GraphError as exc:
                failed = failure_record(exc)
                raise
            finally:
                # Also after a failed sign-in: a token that Graph rejected stays dropped.
                if failed is not None or failure is not None or self.msal_cache.has_state_changed:
                    self._save(failed)

    def _load(self):
        loaded = self.directory.load(self.file, "token cache", parse_token_document, self.warn)
        return loaded if loaded is not None else (None, None)

    def _save(self, failure):
        fields = {"msal": json.loads(self.msal_cache.serialize())}
        if failure is not None:
            fields["failure"] = failure
        self.directory.save(self.file, TOKEN_FORMAT, fields, self.warn)


def _enter_lock(stack, directory, name, warn):
    """Take the lock of `name` on `stack`: what locked() yields, or False (after a warning) when it cannot be had."""
    try:
        return stack.enter_context(directory.locked(name, warn))
    except (Unusable, OSError) as exc:
        warn(f"{directory.where(name)}: {exc}; this sign-in does not use the cache")
        return False


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

    def __init__(self, store, trust, warn):
        self.store = store
        self.trust = trust
        self.warn = warn

    def get(self, url, params, fetch, problem_of=None):
        """The stored answer for the URL, or `fetch()`'s, stored if it may be. One fetch at a time per URL.

        `problem_of(response)` says what makes an answer unusable (None when it is usable): such a stored answer is
        removed and fetched again, such a fetched one is never stored.
        """
        directory = self.store.directory(self.warn)
        if directory is None:
            return fetch()
        query = sorted([str(key), str(value)] for key, value in (params or {}).items())
        name = directory.name_for("discovery", ["discovery", url, query, self.trust])
        file = name + ".json"
        with contextlib.ExitStack() as lock:
            if _enter_lock(lock, directory, name, self.warn) is False:
                return fetch()
            stored = self._load(directory, file, url)
            problem = problem_of(stored) if stored is not None and problem_of else None
            if problem is not None:
                directory.remove(file)
                self.warn(f"{directory.where(file)} holds a discovery document that {problem}; it was removed")
            elif stored is not None:
                return stored
            response = fetch()
            if response.status_code == 200 and not (problem_of and problem_of(response)):
                self._save(directory, file, url, response)
            return response

    def _load(self, directory, file, url):
        def parse(data):
            document = _document(data, DISCOVERY_FORMAT, "discovery cache")
            text, expires_at, headers = document.get("text"), document.get("expires_at"), document.get("headers")
            if (
                document.get("url") != url
                or not isinstance(text, str)
                or not _is_number(expires_at)
                or not isinstance(headers, dict)
                or not all(isinstance(value, str) for value in headers.values())
            ):
                raise ValueError("malformed entry")
            return CachedResponse(text, headers) if expires_at > time.time() else None

        return directory.load(file, "discovery cache", parse, self.warn)

    def _save(self, directory, file, url, response):
        ttl = discovery_ttl(response.headers)
        try:
            if ttl <= 0:
                return
            json_object(response.text, DISCOVERY_MAX_DEPTH)
        except ValueError:
            return
        fields = {
            "url": url,
            "expires_at": time.time() + ttl,
            "headers": {"Content-Type": response.headers.get("Content-Type") or "application/json"},
            "text": response.text,
        }
        directory.save(file, DISCOVERY_FORMAT, fields, self.warn)


class TokenCacheStore:
    """The cache directory of a run, opened (and checked) when a sign-in first needs it.

    `parent` holds the directory `name`; `per_run` says that the parent is Ansible's directory of this run (else it
    was configured, outlives runs, and is created if missing).
    """

    def __init__(self, parent, name, per_run=False):
        self.parent = parent
        self.name = name
        self.per_run = per_run
        self.path = os.path.join(parent, name)
        self._directory = None
        self._refusal = None

    def directory(self, warn):
        """The open CacheDirectory, or None (with a warning, for every caller) when it cannot be used."""
        if self._directory is None and self._refusal is None:
            try:
                self._directory = self._open(warn)
            except (Unusable, OSError) as exc:
                reason = str(exc) if isinstance(exc, Unusable) else f"{self.path} cannot be used: {exc.strerror}"
                self._refusal = f"{reason}; the cache is off for this run"
        if self._refusal is not None:
            warn(self._refusal)
        return self._directory

    def _open(self, warn):
        if fcntl is None:
            raise Unusable(f"{self.path} cannot be locked: file locks (fcntl) are not available here")
        parent_fd = open_parent(self.parent, create=not self.per_run)
        try:
            fd, created = _open_own_directory(parent_fd, self.parent, self.name)
        finally:
            os.close(parent_fd)
        directory = CacheDirectory(self.path, fd)
        try:
            directory.load_salt(warn)
            if not self.per_run:
                directory.remove_stale()
            elif created:
                pid = run_pid(self.parent)
                if pid is not None:
                    directory.mark_run(pid, warn)
                remove_finished_runs(self.parent)
        except BaseException:
            directory.close()
            raise
        return directory

    def for_identity(self, identity, warn):
        """The token cache of this identity (a list of strings that may hold its credential), or None.

        `warn(message)` tells the task what went wrong with the cache (Notices.warn of its client)."""
        warn = _prefixed(warn)
        directory = self.directory(warn)
        if directory is None:
            return None
        return IdentityTokenCache(directory, directory.name_for("token", identity), warn)

    def discovery_cache(self, verify, warn):
        """Discovery answers for this TLS setting; none for answers that came over an unverified connection."""
        return None if verify is False else DiscoveryCache(self, str(verify), _prefixed(warn))


def _prefixed(warn):
    return lambda message: warn(f"msgraph.intune token cache: {message}")


_STORES = {}


def task_token_cache():
    """The run's TokenCacheStore (one per directory in this worker); None when Ansible has no temporary directory."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        # A parent that may be shared: the directory in it is this user's, by name too.
        key = (os.path.expanduser(configured), f"{DIRECTORY_NAME}-{os.geteuid()}", False)
    else:
        from ansible import constants as C  # pylint: disable=import-outside-toplevel  # controller only

        base = getattr(C, "DEFAULT_LOCAL_TMP", None)
        if not base:
            return None
        key = (base, DIRECTORY_NAME, True)
    if key not in _STORES:
        _STORES[key] = TokenCacheStore(*key)
    return _STORES[key]
