"""The token cache never turns its own trouble into a task failure, and never makes a task wait long.

Real ansible-playbook runs against the emulator (issue 24, items 2, 4 and 6, and the tokens of another tenant):

* A stopped lock holder: a helper process takes an identity's lock through the collection's own code and is
  stopped (SIGSTOP); the run's first task gives up on the lock within the deadline and signs in by itself, and the
  second one hardly waits, since the lock file says since when it has been held.
* A slow token endpoint (the emulator's latency fault) with ten forks: a sign-in that fails for good (a wrong secret)
  is made once and its failure reused by the nine tasks that queued behind it; one that fails for a passing reason (a
  timeout) lets each waiting task try by itself at once. Either way the run takes about as long as without the cache,
  not ten failures one after the other.
* A directory and a deeply nested JSON file where cache files belong: warnings, replacements, no failed task.
* A cached token that the token's own claims say belongs to another tenant: dropped unused, never sent to Graph.
* A run killed with SIGKILL leaves its cache directory behind; the next run of the user removes it (and leaves a live
  run's directory alone).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.integration.conftest import REPO_ROOT, VENV_BIN, ansible_env, connection_options
from tests.integration.test_token_cache import (
    CACHE_DIR_ENV,
    OWN_DIRECTORY,
    flat,
    hosts_play,
    info_task,
    local_inventory,
    requests_of,
    statuses,
    token_files,
)

# The lock deadline that docs/authentication.md promises (plugin_utils/_token_cache.py LOCK_WAIT).
LOCK_DEADLINE = 10.0
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".collections")
REUSED = "(the same sign-in of another task failed so just before; it was not sent again)"


def wait_until(condition, timeout, what):
    """Poll `condition` until it holds (True) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling a condition; the deadline above bounds the wait


# --------------------------------------------------------------------------------------------------------------------
# Locks: a stopped holder, a slow token endpoint with ten forks
# --------------------------------------------------------------------------------------------------------------------

HOLDER = r"""
import json, sys
from ansible_collections.msgraph.intune.plugins.module_utils._graph_auth import build_token_provider
from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import resolve_settings
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import Transport
from ansible_collections.msgraph.intune.plugins.plugin_utils._token_cache import task_token_cache

settings = resolve_settings(json.loads(sys.argv[1]), environ={})
provider = build_token_provider(settings, Transport(verify=settings.verify), task_token_cache())
cache = provider.token_store.for_identity(provider._identity(provider._credential()), print)
with cache.session():
    print("holding", flush=True)
    sys.stdin.read()
print("released", flush=True)
"""


@pytest.fixture
def lock_holder(tmp_path):
    """lock_holder(options, parent) -> a process that holds the lock of the options' identity in the cache under
    `parent`, started through the collection's own code; it is stopped and killed at the end whatever happens."""
    started = []

    def start(options, parent):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=COLLECTIONS_PATH, **{CACHE_DIR_ENV: str(parent)}),
        )
        started.append(process)
        assert process.stdout.readline().strip() == "holding", "the helper did not take the lock"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
        process.wait(10)


def test_a_stopped_lock_holder_delays_one_task_by_the_deadline_at_most(emulator, run_playbook, tmp_path, lock_holder):
    parent = tmp_path / "parent"
    holder = lock_holder(connection_options(emulator.info), parent)
    held_at = time.time()
    os.kill(holder.pid, signal.SIGSTOP)  # it holds the lock and will never let go by itself
    emulator.control.clear_log()
    run = run_playbook([info_task("first"), info_task("second")], info=emulator.info, env={CACHE_DIR_ENV: str(parent)})
    assert run.rc == 0, run.output
    assert statuses(run, "first") == statuses(run, "second") == ["ok"]
    assert flat("has been held by another task for") in flat(run.output), run.output
    assert flat("this sign-in does not use the cache") in flat(run.output)
    first, second = (entry["time"] for entry in requests_of(emulator.control.log(), "token"))
    # The first task signed in within the deadline (counted from when the holder took the lock) ...
    assert first - held_at < LOCK_DEADLINE + 5, (first - held_at, run.output)
    # ... and the second did not wait a deadline again: the lock file says since when it is held.
    assert second - first < LOCK_DEADLINE - 1, second - first
    os.kill(holder.pid, signal.SIGCONT)
    holder.stdin.close()
    assert holder.stdout.readline().strip() == "released" and holder.wait(10) == 0


def ten_forks(emulator, run_playbook, tasks, env=None):
    hosts = [f"worker-{number}" for number in range(10)]
    emulator.control.clear_log()
    started = time.monotonic()
    run = run_playbook(
        hosts_play(emulator.info, tasks),
        play=False,
        inventory=local_inventory(hosts),
        extra_args=("--forks", "10"),
        env=env,
    )
    return run, time.monotonic() - started, emulator.control.log()


def slow_token_endpoint(emulator, seconds):
    emulator.control.add_fault(method="POST", path=r"/oauth2/v2\.0/token$", kind="latency", latency=seconds)


def token_requests_settle(emulator, count):
    """Wait until the emulator has logged `count` token requests: it logs one when its delay is over, which may be
    after the client gave up (and must not spill into the next test's log)."""
    wait_until(lambda: len(requests_of(emulator.control.log(), "token")) >= count, 30, f"{count} token requests")


def test_ten_forks_with_a_wrong_secret_and_a_slow_token_endpoint_make_one_request(emulator, run_playbook):
    """The failure is reused by the nine tasks that waited for it: one slow failure instead of ten in a row."""
    latency = 5
    slow_token_endpoint(emulator, latency)
    task = dict(info_task("read", client_secret="wrong-secret-value-3"), ignore_errors=True)
    run, elapsed, log = ten_forks(emulator, run_playbook, [task])
    assert run.rc == 0, run.output
    results = [entry["result"] for entry in run.results_of("read")]
    assert len(results) == 10 and all(result["error_code"] == "invalid_client" for result in results), results
    assert sum(REUSED in result["msg"] for result in results) == 9, [result["msg"] for result in results]
    assert all("wrong-secret-value-3" not in json.dumps(result) for result in results)
    assert [entry["status"] for entry in requests_of(log, "token")] == [401]
    no_cache = dict(info_task("read", client_secret="wrong-secret-value-3", token_cache=False), ignore_errors=True)
    no_cache_run, no_cache_elapsed, no_cache_log = ten_forks(emulator, run_playbook, [no_cache])
    assert len(requests_of(no_cache_log, "token")) == 10 and no_cache_run.rc == 0
    # About as long as ten sign-ins side by side without the cache (they were 10 in a row, 50 s and more, before).
    assert elapsed < no_cache_elapsed + latency, (elapsed, no_cache_elapsed)
    print(
        f"ten forks, wrong secret, {latency} s token endpoint: {elapsed:.1f} s with the cache, "
        f"{no_cache_elapsed:.1f} s without"
    )


def test_ten_forks_with_timeouts_each_try_once_side_by_side(emulator, run_playbook):
    """A passing failure (the token endpoint does not answer in time) is not reused; the tasks that waited for it
    each try by themselves at once instead of one after the other."""
    timeout = 2
    slow_token_endpoint(emulator, timeout + 2)
    options = {"timeout": timeout, "max_retries": 0}
    task = dict(info_task("read", **options), ignore_errors=True)
    run, elapsed, _log = ten_forks(emulator, run_playbook, [task])
    assert run.rc == 0, run.output
    assert statuses(run, "read") == ["failed"] * 10
    results = [entry["result"] for entry in run.results_of("read")]
    assert not any(REUSED in result["msg"] for result in results), [result["msg"] for result in results]
    token_requests_settle(emulator, 10)  # the emulator logs a request once its delay is over
    # The holder's timeout, then nine side by side: about two timeouts, not ten in a row (20 s and more before).
    no_cache = dict(info_task("read", token_cache=False, **options), ignore_errors=True)
    _run, no_cache_elapsed, _log = ten_forks(emulator, run_playbook, [no_cache])
    token_requests_settle(emulator, 10)
    assert elapsed < no_cache_elapsed + 3 * timeout, (elapsed, no_cache_elapsed)
    print(
        f"ten forks, token requests timing out after {timeout} s: {elapsed:.1f} s with the cache, "
        f"{no_cache_elapsed:.1f} s without"
    )


def test_ten_forks_with_a_slow_token_endpoint_still_share_one_token(emulator, run_playbook):
    """A slow sign-in within the deadline is still waited for: one token request serves the ten tasks."""
    slow_token_endpoint(emulator, 3)
    run, _elapsed, log = ten_forks(emulator, run_playbook, [info_task("read")])
    assert run.rc == 0, run.output
    assert statuses(run, "read") == ["ok"] * 10
    assert len(requests_of(log, "token")) == 1


# --------------------------------------------------------------------------------------------------------------------
# Broken entries
# --------------------------------------------------------------------------------------------------------------------


def test_a_directory_and_a_deeply_nested_file_at_cache_paths_fail_no_task(emulator, run_playbook, tmp_path):
    parent = tmp_path / "parent"
    cache = parent / OWN_DIRECTORY
    env = {CACHE_DIR_ENV: str(parent)}
    other = emulator.info["tenants"][1]
    other_options = {key: other[key] for key in ("tenant_id", "client_id", "client_secret")}
    tasks = [info_task("first tenant"), info_task("second tenant", **other_options)]
    run = run_playbook(tasks, info=emulator.info, env=env)
    assert run.rc == 0, run.output
    first_tenant = emulator.info["tenant_id"]
    (first_file,) = [path for path in token_files(cache) if first_tenant in path.read_text()]
    (second_file,) = [path for path in token_files(cache) if path != first_file]
    (discovery,) = [path for path in cache.glob("discovery-*.json") if first_tenant in path.read_text()]
    first_file.unlink()
    first_file.mkdir()  # an empty directory: replaced
    discovery.unlink()
    discovery.mkdir()
    (discovery / "inside").write_text("x")  # a directory with something in it: it stays, the cache does without
    second_file.write_text("[" * 100000 + "]" * 100000)  # json.loads alone would exceed the recursion limit
    for attempt in range(2):
        emulator.control.clear_log()
        run = run_playbook(tasks, info=emulator.info, env=env)
        assert run.rc == 0, run.output
        assert statuses(run, "first tenant") == statuses(run, "second tenant") == ["ok"]
        output = flat(run.output)
        assert flat(f"{discovery} is a directory; it was ignored and cannot be removed") in output, run.output
        if attempt == 0:
            assert flat(f"{first_file} is a directory; it was ignored and is replaced") in output, run.output
            assert flat(f"{second_file} is not a usable token cache (nested too deeply)") in output, run.output
            assert len(requests_of(emulator.control.log(), "token")) == 2
        else:
            assert len(requests_of(emulator.control.log(), "token")) == 0  # both replaced, and found again
    assert first_file.is_file() and json.loads(second_file.read_text())["msal"]["AccessToken"]
    assert (discovery / "inside").read_text() == "x"


def unsigned_jwt(**claims):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_a_cached_token_of_another_tenant_is_never_sent(emulator, run_playbook, tmp_path):
    """A token file edited to hold a token that its claims say was issued to another tenant (the labels msal
    matches on left as they were): dropped unused, a new token is asked for, Graph never sees the planted one."""
    parent = tmp_path / "parent"
    env = {CACHE_DIR_ENV: str(parent)}
    assert run_playbook([info_task("first")], info=emulator.info, env=env).rc == 0
    (token_file,) = token_files(parent / OWN_DIRECTORY)
    document = json.loads(token_file.read_text())
    (entry,) = document["msal"]["AccessToken"].values()
    other = emulator.info["tenants"][1]
    entry["secret"] = unsigned_jwt(tid=other["tenant_id"], appid=entry["client_id"])
    token_file.write_text(json.dumps(document))
    emulator.control.clear_log()
    run = run_playbook([info_task("second")], info=emulator.info, env=env)
    assert run.rc == 0, run.output
    assert flat("a cached access token was dropped unused: its tid claim names another tenant") in flat(run.output)
    log = emulator.control.log()
    assert len(requests_of(log, "token")) == 1
    assert [entry["status"] for entry in requests_of(log, "graph")] == [200]  # never a 401 for the planted token


# --------------------------------------------------------------------------------------------------------------------
# Leftovers of a killed run
# --------------------------------------------------------------------------------------------------------------------


def start_playbook(workdir, tasks, info, env):
    """ansible-playbook in the background (its own process group), as the run_playbook fixture would run it."""
    workdir.mkdir()
    play = {
        "name": "background",
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/msgraph.intune.graph": connection_options(info)},
        "tasks": tasks,
    }
    (workdir / "playbook.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    (workdir / "inventory").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    return subprocess.Popen(
        [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "inventory", "playbook.yml"],
        cwd=workdir,
        env=ansible_env(workdir, env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def cache_directories(local_temp):
    """The cache directories of the runs in this ANSIBLE_LOCAL_TEMP that hold a token."""
    return sorted({path.parent for path in local_temp.glob("ansible-local-*/msgraph_intune_tokens/token-*.json")})


def test_a_killed_runs_cache_is_removed_by_the_next_run(emulator, run_playbook, tmp_path):
    local_temp = tmp_path / "local-temp"
    env = {"ANSIBLE_LOCAL_TEMP": str(local_temp)}
    release = tmp_path / "release"
    hold = {"name": "hold", "ansible.builtin.wait_for": {"path": str(release), "timeout": 300}}
    background = []
    try:
        killed = start_playbook(tmp_path / "killed", [info_task("sign in"), hold], emulator.info, env)
        background.append(killed)
        wait_until(lambda: len(cache_directories(local_temp)) == 1, 120, "the first run's token")
        (leftover,) = cache_directories(local_temp)
        live = start_playbook(tmp_path / "live", [info_task("sign in"), hold], emulator.info, env)
        background.append(live)
        wait_until(lambda: len(cache_directories(local_temp)) == 2, 120, "the live run's token")
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(30)
        (live_directory,) = [path for path in cache_directories(local_temp) if path != leftover]
        assert token_files(leftover), "SIGKILL left the run's cache behind, token and all"

        run = run_playbook([info_task("next run")], info=emulator.info, env=env)
        assert run.rc == 0, run.output
        assert not leftover.exists(), "the killed run's cache directory was not removed"
        assert leftover.parent.is_dir()  # Ansible's own directory of the killed run: not ours to remove
        assert token_files(live_directory), "the cache of a run still going was touched"
        release.write_text("go")
        assert live.wait(120) == 0
    finally:
        for process in background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
