"""One token per identity per run: the tasks of an ansible-playbook run share tokens and discovery documents.

On the in-process path (the action plugin), tasks that sign in with the same identity (authority, tenant, client and
credential) take their token from the run's token cache: the emulator's log shows how many token and discovery
requests a whole run made. Another or a wrong credential signs in by itself; a token that Graph rejects is replaced
once for every task; a token is never used in its last 5 minutes (msal's margin); cache files that are corrupt or
open to others are replaced; ``token_cache: false`` and the module path sign in per task.

The attacks on the cache (its directory, locks, discovery documents, leftovers, other users) have files of their own:
test_token_cache_users.py, test_token_cache_failures.py and test_token_cache_discovery.py.
"""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from tests.integration.conftest import connection_options

MODULE = "msgraph.intune.device_management_partner"
INFO_MODULE = "msgraph.intune.device_management_partner_info"
CACHE_DIR_ENV = "MSGRAPH_TOKEN_CACHE_DIR"
# The directory that the cache makes for itself in the parent that MSGRAPH_TOKEN_CACHE_DIR names.
OWN_DIRECTORY = f"msgraph_intune_tokens-{os.geteuid()}"


# --------------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------------


def requests_of(log, kind, tenant_id=None):
    return [entry for entry in log if entry["kind"] == kind and (tenant_id is None or entry["tenant"] == tenant_id)]


def tenant_id_of(emulator, index):
    return emulator.info["tenants"][index]["tenant_id"]


def info_task(name, **options):
    return {"name": name, INFO_MODULE: options}


def partner_task(name, **options):
    return {"name": name, MODULE: dict({"display_name": name, "partner_state": "enabled"}, **options)}


def mixed_tasks(count, prefix="task"):
    """`count` separate tasks, alternating the info module and the partner module (creates, then an update)."""
    tasks = []
    for number in range(count):
        name = f"{prefix} {number:02d}"
        if number % 2:
            tasks.append(info_task(name))
        elif number % 4 == 0:
            tasks.append(partner_task(name))
        else:
            tasks.append(partner_task(f"{prefix} {number - 2:02d}", partner_state="unavailable"))
            tasks[-1]["name"] = name
    return tasks


def control_task(name, info, route, body=None):
    """A task that calls the emulator's control API (once per run), verifying TLS against the emulator CA."""
    return {
        "name": name,
        "ansible.builtin.uri": {
            "url": f"{info['control_url']}/{route}",
            "method": "POST",
            "ca_path": info["ca_path"],
            "body_format": "json",
            "body": body or {},
        },
        "run_once": True,
    }


def local_inventory(hosts, **host_vars):
    lines = []
    for host in hosts:
        variables = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        variables.update(host_vars.get(host, {}))
        lines.append(host + " " + " ".join(f"{key}={value}" for key, value in variables.items()))
    return "\n".join(lines) + "\n"


def hosts_play(info, tasks, tenant_var=None):
    """A play on every inventory host; with tenant_var, each host signs in to the tenant its variable names."""
    options = connection_options(info)
    if tenant_var:
        for key in ("tenant_id", "client_id", "client_secret"):
            options[key] = f"{{{{ emulator_tenants[{tenant_var} | int].{key} }}}}"
    return [
        {
            "name": "hosts",
            "hosts": "all",
            "gather_facts": False,
            "vars": {"emulator_tenants": info["tenants"]},
            "module_defaults": {"group/msgraph.intune.graph": options},
            "tasks": tasks,
        }
    ]


def statuses(run, task_name):
    return [entry["status"] for entry in run.results_of(task_name)]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def token_files(directory):
    return sorted(directory.glob("token-*.json"))


# --------------------------------------------------------------------------------------------------------------------
# One token per identity per run
# --------------------------------------------------------------------------------------------------------------------


def test_twenty_separate_tasks_make_one_token_and_one_discovery_request(emulator, run_playbook):
    tasks = mixed_tasks(20)
    emulator.control.clear_log()
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert [statuses(run, task["name"]) for task in tasks] == [["ok"]] * 20, run.results
    log = emulator.control.log()
    assert len(requests_of(log, "token")) == 1, requests_of(log, "token")
    assert len(requests_of(log, "discovery")) == 1, requests_of(log, "discovery")
    graph = requests_of(log, "graph")
    assert len(graph) >= 20 and all(entry["status"] < 400 for entry in graph), graph
    assert sorted(partner["displayName"] for partner in emulator.control.state()[tenant_id_of(emulator, 0)]) == [
        f"task {number:02d}" for number in range(0, 20, 4)
    ]


def test_three_tenants_with_five_tasks_each_on_three_forks(emulator, run_playbook):
    hosts = ("tenant-a", "tenant-b", "tenant-c")
    inventory = local_inventory(hosts, **{host: {"tenant_index": index} for index, host in enumerate(hosts)})
    tasks = [info_task(f"read {number}") for number in range(5)]
    emulator.control.clear_log()
    run = run_playbook(
        hosts_play(emulator.info, tasks, tenant_var="tenant_index"),
        play=False,
        inventory=inventory,
        extra_args=("--forks", "3"),
    )
    assert run.rc == 0, run.output
    log = emulator.control.log()
    for index in range(3):
        tenant_id = tenant_id_of(emulator, index)
        assert len(requests_of(log, "token", tenant_id)) == 1, (index, requests_of(log, "token"))
        assert len(requests_of(log, "discovery", tenant_id)) == 1, (index, requests_of(log, "discovery"))
        assert len(requests_of(log, "graph", tenant_id)) == 5
    assert len(requests_of(log, "token")) == 3


def test_ten_workers_starting_together_make_one_token_request(emulator, run_playbook):
    """forks=10 workers of one identity start at once: the identity's lock lets one sign in, the others wait."""
    hosts = [f"worker-{number}" for number in range(10)]
    emulator.control.clear_log()
    run = run_playbook(
        hosts_play(emulator.info, [info_task("read")]),
        play=False,
        inventory=local_inventory(hosts),
        extra_args=("--forks", "10"),
    )
    assert run.rc == 0, run.output
    log = emulator.control.log()
    assert (len(requests_of(log, "token")), len(requests_of(log, "discovery"))) == (1, 1), log
    assert len(requests_of(log, "graph")) == 10


def test_another_or_wrong_secret_signs_in_by_itself(emulator, run_playbook, execution_path):
    other_tenant = emulator.info["tenants"][1]
    tasks = [
        info_task("right secret"),
        dict(info_task("wrong secret", client_secret="wrong-secret-value-1"), ignore_errors=True),
        info_task("right secret again"),
        info_task("other tenant", **{key: other_tenant[key] for key in ("tenant_id", "client_id", "client_secret")}),
    ]
    emulator.control.clear_log()
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert statuses(run, "right secret") == statuses(run, "right secret again") == ["ok"]
    assert statuses(run, "other tenant") == ["ok"]
    assert statuses(run, "wrong secret") == ["failed"]
    failure = run.result("wrong secret")
    assert failure["error_code"] == "invalid_client" and failure["status"] == 401, failure
    assert "AADSTS7000215" in failure["msg"] and "wrong-secret-value-1" not in json.dumps(failure)
    tokens = [(entry["tenant"], entry["status"]) for entry in requests_of(emulator.control.log(), "token")]
    first, other = tenant_id_of(emulator, 0), tenant_id_of(emulator, 1)
    if execution_path == "in_process":
        # The wrong secret was not answered from the cache, and did not spoil the cache for the right one.
        assert tokens == [(first, 200), (first, 401), (other, 200)], tokens
    else:
        assert tokens == [(first, 200), (first, 401), (first, 200), (other, 200)], tokens


# --------------------------------------------------------------------------------------------------------------------
# Expiry and revocation
# --------------------------------------------------------------------------------------------------------------------


def test_a_revoked_token_is_replaced_once_for_every_task(emulator, run_playbook):
    """Three workers hold the cached token when the service revokes it: one new token serves them all."""
    info = emulator.info
    tasks = [
        info_task("before"),
        control_task("revoke every token", info, "expire-tokens"),
        info_task("after"),
        info_task("later"),
    ]
    emulator.control.clear_log()
    run = run_playbook(
        hosts_play(info, tasks),
        play=False,
        inventory=local_inventory(("one", "two", "three")),
        extra_args=("--forks", "3"),
    )
    assert run.rc == 0, run.output
    log = sorted(emulator.control.log(), key=lambda entry: entry["seq"])
    calls = [entry for entry in log if entry["kind"] in ("token", "graph")]
    summary = [(entry["kind"], entry["status"]) for entry in calls]
    # before: one token for three workers.
    assert summary[:4] == [("token", 200)] + [("graph", 200)] * 3, summary
    # after: whichever workers sent the revoked token were refused (they may have read it from the cache before or
    # after another worker renewed it); one new token in all; every refused request was sent again (same
    # client-request-id) and succeeded.
    after, later = calls[4:-3], calls[-3:]
    assert [entry["kind"] for entry in after].count("token") == 1, summary
    refused = [entry for entry in after if entry["status"] == 401]
    succeeded = [entry for entry in after if entry["kind"] == "graph" and entry["status"] == 200]
    assert 1 <= len(refused) <= 3 and len(succeeded) == 3, summary
    for entry in refused:
        again = [other for other in succeeded if other["client_request_id"] == entry["client_request_id"]]
        assert len(again) == 1 and again[0]["seq"] > entry["seq"], summary
    # later: from the cache.
    assert [(entry["kind"], entry["status"]) for entry in later] == [("graph", 200)] * 3, summary
    assert statuses(run, "after") == ["ok"] * 3


@pytest.mark.parametrize("lifetime, token_requests", [(299, 4), (600, 1)])
def test_a_token_is_not_reused_in_its_last_five_minutes(emulator, run_playbook, lifetime, token_requests):
    emulator.control.config(token_lifetime=lifetime)
    emulator.control.clear_log()
    run = run_playbook([info_task(f"read {number}") for number in range(4)], info=emulator.info)
    assert run.rc == 0, run.output
    log = emulator.control.log()
    assert len(requests_of(log, "token")) == token_requests, requests_of(log, "token")
    assert [entry["status"] for entry in requests_of(log, "graph")] == [200] * 4


def test_an_expired_token_is_never_sent(emulator, run_playbook):
    """Tokens that live 4 seconds, over tasks and loop items that take longer: no request ever gets a 401."""
    emulator.control.config(token_lifetime=4)
    tasks = [partner_task(f"short {number}") for number in range(3)]
    tasks.append(
        {
            "name": "loop",
            MODULE: {"display_name": "short {{ item }}", "partner_state": "unavailable"},
            "loop": [0, 1, 2],
        }
    )
    tasks.append(info_task("read"))
    emulator.control.clear_log()
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    log = emulator.control.log()
    assert [entry for entry in log if entry["status"] == 401] == []
    assert len(requests_of(log, "token")) >= 5  # at least one per task: none is reused from the cache


# --------------------------------------------------------------------------------------------------------------------
# The cache's files
# --------------------------------------------------------------------------------------------------------------------


def test_cache_files_are_private_and_removed_with_the_run(emulator, run_playbook, tmp_path):
    """The default cache is a 0700 directory of 0600 files in Ansible's temporary directory of the run."""
    tasks = [
        info_task("read"),
        partner_task("private"),
        {
            "name": "look at the run's temporary directory",
            "ansible.builtin.find": {
                "paths": "{{ lookup('ansible.builtin.env', 'ANSIBLE_LOCAL_TEMP') }}",
                "recurse": True,
                "file_type": "any",
                "hidden": True,
            },
            "register": "found",
        },
    ]
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    found = {
        os.path.relpath(item["path"], run.files_dir / "ansible-tmp"): item
        for item in run.result("look at the run's temporary directory")["files"]
    }
    (directory,) = [path for path in found if os.path.basename(path) == "msgraph_intune_tokens"]
    assert os.path.dirname(directory).startswith("ansible-local-"), directory
    assert found[directory]["mode"] == "0700" and found[directory]["isdir"], found[directory]
    cache_files = {os.path.basename(path): item for path, item in found.items() if path.startswith(directory + "/")}
    assert len([name for name in cache_files if name.startswith("token-") and name.endswith(".json")]) == 1
    assert len([name for name in cache_files if name.startswith("discovery-") and name.endswith(".json")]) == 1
    assert "salt" in cache_files
    assert {item["mode"] for item in cache_files.values()} == {"0600"}, cache_files
    # ansible-playbook removed its temporary directory, and the cache with it.
    assert not (run.files_dir / "ansible-tmp").exists() or list((run.files_dir / "ansible-tmp").iterdir()) == []


def flat(text):
    """Text without whitespace: ansible-core 2.16 wraps warnings at the terminal width, also at hyphens in paths."""
    return "".join(text.split())


def test_corrupt_or_open_cache_files_are_replaced(emulator, run_playbook, tmp_path):
    """A cache directory that outlives runs (MSGRAPH_TOKEN_CACHE_DIR): bad files are ignored, said so, replaced."""
    parent = tmp_path / "token-cache"
    cache = parent / OWN_DIRECTORY
    env = {CACHE_DIR_ENV: str(parent)}

    def run_once(name):
        emulator.control.clear_log()
        run = run_playbook([info_task(name)], info=emulator.info, env=env)
        assert run.rc == 0, run.output
        return run, len(requests_of(emulator.control.log(), "token"))

    _run, tokens = run_once("first")
    (token_file,) = token_files(cache)
    assert (tokens, mode(parent), mode(cache), mode(token_file)) == (1, 0o700, 0o700, 0o600)
    _run, tokens = run_once("second")
    assert tokens == 0  # the directory outlives the run: the next run finds the token

    token_file.write_text('{"format": "msgraph.intune token cache", "version": 1, "msal": {"AccessToken": [')
    run, tokens = run_once("after corruption")
    assert tokens == 1
    assert flat(f"msgraph.intune token cache: {token_file} is not a usable token cache") in flat(run.output), run.output
    assert mode(token_file) == 0o600 and json.loads(token_file.read_text())["msal"]["AccessToken"]

    token_file.chmod(0o644)
    run, tokens = run_once("after chmod")
    assert tokens == 1
    assert flat(f"{token_file} has mode 0644 instead of 0600; it was ignored and is replaced") in flat(run.output)
    assert mode(token_file) == 0o600

    run = run_playbook([info_task("quiet")], info=emulator.info, env=env, verbosity=1)
    assert "token cache" not in run.output  # nothing to say


@pytest.mark.skipif(os.geteuid() != 0, reason="a directory of another user needs root to make")
def test_a_directory_of_another_user_is_never_used(emulator, run_playbook, tmp_path):
    """Another user's directory at the cache's own name: refused, said at the default verbosity, left untouched."""
    parent = tmp_path / "parent"
    cache = parent / OWN_DIRECTORY
    cache.mkdir(parents=True, mode=0o700)
    os.chown(cache, 65534, 65534)
    emulator.control.clear_log()
    run = run_playbook([info_task("one"), info_task("two")], info=emulator.info, env={CACHE_DIR_ENV: str(parent)})
    assert run.rc == 0, run.output
    message = f"{cache} belongs to uid 65534, not to this user (uid 0); the cache is off for this run"
    assert flat(message) in flat(run.output), run.output
    assert len(requests_of(emulator.control.log(), "token")) == 2
    assert list(cache.iterdir()) == [] and os.stat(cache).st_uid == 65534 and mode(cache) == 0o700


# --------------------------------------------------------------------------------------------------------------------
# Opting out, and the module path
# --------------------------------------------------------------------------------------------------------------------


def test_token_cache_false_signs_in_per_task(emulator, run_playbook):
    tasks = [info_task("option off 1", token_cache=False), info_task("option off 2", token_cache=False)]
    emulator.control.clear_log()
    run = run_playbook(tasks, info=emulator.info)
    assert run.rc == 0, run.output
    assert len(requests_of(emulator.control.log(), "token")) == 2

    tasks = [info_task("environment off 1"), info_task("environment off 2"), info_task("option on", token_cache=True)]
    emulator.control.clear_log()
    run = run_playbook(tasks, info=emulator.info, env={"MSGRAPH_TOKEN_CACHE": "false"})
    assert run.rc == 0, run.output
    # The environment turns it off; an option in the task wins over the environment (and finds an empty cache).
    assert len(requests_of(emulator.control.log(), "token")) == 3

    run = run_playbook([info_task("bad value")], info=emulator.info, env={"MSGRAPH_TOKEN_CACHE": "sometimes"})
    assert run.rc == 2 and "MSGRAPH_TOKEN_CACHE='sometimes' is not a boolean" in run.result("bad value")["msg"]


def test_the_module_path_signs_in_per_task(emulator, run_playbook):
    emulator.control.clear_log()
    run = run_playbook(
        [info_task("module 1"), info_task("module 2")], info=emulator.info, env={"MSGRAPH_INTUNE_FORCE_MODULE": "1"}
    )
    assert run.rc == 0, run.output
    log = emulator.control.log()
    assert (len(requests_of(log, "token")), len(requests_of(log, "discovery"))) == (2, 2)
