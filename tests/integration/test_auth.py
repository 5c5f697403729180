"""Authentication through real ansible-playbook runs against the Graph emulator.

Each auth method gets its token from the endpoint it should (the emulator's log ``kind``: ``token`` for Entra ID,
``managed_identity`` for App Service and IMDS) and the module then works with it. Credentials also come from the
environment the way AWX and AKS inject them, contradictory options fail before any request, and a token that expires
during a task is refreshed exactly once.

The in-process path shares tokens between the tasks of a run (tests/integration/test_token_cache.py). The tests here
are about each task's own sign-in, so they turn that off (MSGRAPH_TOKEN_CACHE=false, ``PER_TASK_SIGN_IN``): then
neither execution path keeps a token beyond its task (a module process per task item; the action plugin's client
lives in the task's worker process), so tokens expired between two tasks never cause a 401: the next task fetches
its own. A 401 on a token kept in memory therefore needs the expiry *during* a task: between two loop items (the
in-process path keeps its client across items), or while a request is held back by a latency fault.

The process environment is scrubbed of Azure/identity variables for every test (see ``clean_environment``), so only
what a test sets explicitly can reach the modules, and proxies point at a closed loopback port so that a request
meant for a real Microsoft host or for 169.254.169.254 fails at once instead of leaving the machine.
"""

from __future__ import annotations

import concurrent.futures
import sys
import time

MODULE = "msgraph.intune.device_management_partner"
INFO_MODULE = "msgraph.intune.device_management_partner_info"
PARTNERS_PATH = "/v1.0/deviceManagement/deviceManagementPartners"
TOKEN_KINDS = ("token", "managed_identity")
# Every task signs in by itself, so that its own token request shows which credentials and endpoint it used.
PER_TASK_SIGN_IN = {"MSGRAPH_TOKEN_CACHE": "false"}
# Variables through which credentials or an identity endpoint could reach a module from the test's own environment.


# --------------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------------


def endpoints(info):
    """Where the emulator is, without any credential."""
    return {
        "graph_endpoint": info["graph_endpoint"],
        "authority_host": info["authority_host"],
        "ca_path": info["ca_path"],
    }


def create_task(name, options, environment=None):
    """A task creating the partner ``name``: its POST in the emulator log marks the end of this task's requests."""
    task = {"name": name, MODULE: dict(options, display_name=name, partner_state="enabled")}
    if environment:
        task["environment"] = environment
    return task


def segments_by_created_name(log):
    """Split the request log into the requests of each task, keyed by the display name that task POSTed.

    Tasks run one after the other, so a task's requests are those after the previous task's POST up to its own.
    """
    segments = {}
    current = []
    for entry in log:
        current.append(entry)
        if entry["kind"] == "graph" and entry["method"] == "POST" and entry["path"] == PARTNERS_PATH:
            segments[(entry["body"] or {}).get("displayName")] = current
            current = []
    return segments


def token_requests(entries):
    return [entry for entry in entries if entry["kind"] in TOKEN_KINDS]


def status_of(run, task_name):
    """The result_log status of the (last) task with that name: ok, failed, ..."""
    entries = run.results_of(task_name)
    assert entries, f"no result for task {task_name!r}"
    return entries[-1]["status"]


def partner_names(emulator, tenant=0):
    tenant_id = emulator.info["tenants"][tenant]["tenant_id"]
    return sorted(partner["displayName"] for partner in emulator.control.state().get(tenant_id, []))


def uri_control_task(name, info, route, body=None):
    """A task that calls the emulator's control API, verifying TLS against the emulator CA."""
    return {
        "name": name,
        "ansible.builtin.uri": {
            "url": f"{info['control_url']}/{route}",
            "method": "POST",
            "ca_path": info["ca_path"],
            "body_format": "json",
            "body": body or {},
            "status_code": 200,
        },
    }


def wait_for(condition, what, timeout=120.0):
    """Poll `condition` until it returns a true value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)  # polling the emulator's control API; the deadline above bounds the wait


# --------------------------------------------------------------------------------------------------------------------
# Every auth method
# --------------------------------------------------------------------------------------------------------------------


def auth_cases(emulator, tmp_path):
    """(name, task options, task environment, expected token request) for every auth method.

    The expected token request is None (no token request at all) or (kind, path, client_id query or None).
    """
    info = emulator.info
    tenant = info["tenants"][0]
    token_path = f"/{tenant['tenant_id']}/oauth2/v2.0/token"
    credentials = {"tenant_id": tenant["tenant_id"], "client_id": tenant["client_id"]}
    app_service = {
        "IDENTITY_ENDPOINT": info["managed_identity_endpoint"],
        "IDENTITY_HEADER": info["managed_identity_header"],
    }
    imds = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": info["imds_host"]}
    user_identity = info["managed_identity_client_id"]
    federated_token_file = tmp_path / "federated-token"
    federated_token_file.write_text(emulator.control.federated_token(tenant["tenant_id"], tenant["client_id"]))
    workload_environment = {
        "AZURE_FEDERATED_TOKEN_FILE": str(federated_token_file),
        "AZURE_CLIENT_ID": tenant["client_id"],
        "AZURE_TENANT_ID": tenant["tenant_id"],
        "AZURE_AUTHORITY_HOST": info["authority_host"],
    }
    graph_only = {"graph_endpoint": info["graph_endpoint"], "ca_path": info["ca_path"]}
    managed = dict(graph_only, auth_method="managed_identity")
    return [
        (
            "auth secret",
            dict(endpoints(info), client_secret=tenant["client_secret"], **credentials),
            None,
            ("token", token_path, None),
        ),
        (
            "auth pem",
            dict(endpoints(info), client_certificate_path=info["client_certificate_pem_path"], **credentials),
            None,
            ("token", token_path, None),
        ),
        (
            "auth pfx",
            dict(
                endpoints(info),
                client_certificate_path=info["client_certificate_pfx_path"],
                client_certificate_password=info["client_certificate_password"],
                **credentials,
            ),
            None,
            ("token", token_path, None),
        ),
        ("auth mi app service system", managed, app_service, ("managed_identity", "/msi/token", None)),
        (
            "auth mi app service user",
            dict(managed, managed_identity_client_id=user_identity),
            app_service,
            ("managed_identity", "/msi/token", user_identity),
        ),
        ("auth mi imds system", managed, imds, ("managed_identity", "/metadata/identity/oauth2/token", None)),
        (
            "auth mi imds user",
            dict(managed, managed_identity_client_id=user_identity),
            imds,
            ("managed_identity", "/metadata/identity/oauth2/token", user_identity),
        ),
        (
            "auth workload identity",
            dict(graph_only, auth_method="workload_identity"),
            workload_environment,
            ("token", token_path, None),
        ),
        ("auth access token", dict(graph_only, access_token=emulator.access_token(0)), None, None),
    ]


def test_every_auth_method_gets_a_token_and_the_module_works(emulator, run_playbook, execution_path, tmp_path):
    cases = auth_cases(emulator, tmp_path)
    emulator.control.clear_log()  # drop the harness's own token request for the access token case
    run = run_playbook(
        [create_task(name, options, environment) for name, options, environment, _expected in cases],
        env=PER_TASK_SIGN_IN,
    )
    assert run.rc == 0, run.output

    segments = segments_by_created_name(emulator.control.log())
    tenant_id = emulator.info["tenants"][0]["tenant_id"]
    for name, _options, _environment, expected in cases:
        result = run.result(name)
        assert result["changed"] is True, (name, result)
        assert result["partner"]["display_name"] == name
        entries = segments[name]
        graph = [entry for entry in entries if entry["kind"] == "graph"]
        assert graph and all(entry["status"] < 400 and entry["tenant"] == tenant_id for entry in graph), (name, graph)
        tokens = token_requests(entries)
        if expected is None:
            # The given access token is used as it is: nothing asks any endpoint for a token.
            assert [entry for entry in entries if entry["kind"] != "graph"] == [], (name, entries)
            continue
        kind, path, identity_client_id = expected
        assert [(entry["kind"], entry["path"], entry["status"]) for entry in tokens] == [(kind, path, 200)], (
            name,
            tokens,
        )
        if kind == "managed_identity":
            assert tokens[0]["query"].get("client_id") == identity_client_id, (name, tokens[0]["query"])
            assert "resource" in tokens[0]["query"], tokens[0]
        else:
            assert tokens[0]["body"]["client_id"] == emulator.info["tenants"][0]["client_id"], (name, tokens[0])
    assert partner_names(emulator) == sorted(case[0] for case in cases)


# --------------------------------------------------------------------------------------------------------------------
# Credentials from the environment
# --------------------------------------------------------------------------------------------------------------------


def test_environment_credentials_as_awx_injects_them_and_task_options_win(emulator, run_playbook, execution_path):
    info = emulator.info
    tenants = info["tenants"]
    awx_environment = {
        # What AWX's "Microsoft Azure Resource Manager" credential injects ...
        "AZURE_CLIENT_ID": tenants[0]["client_id"],
        "AZURE_SECRET": tenants[0]["client_secret"],
        "AZURE_TENANT": tenants[0]["tenant_id"],
        "AZURE_CLOUD_ENVIRONMENT": "AzureCloud",
        # ... plus where the emulator stands in for Entra ID and Graph.
        "AZURE_AUTHORITY_HOST": info["authority_host"],
        "MSGRAPH_GRAPH_ENDPOINT": info["graph_endpoint"],
    }
    tenant1 = {
        "tenant_id": tenants[1]["tenant_id"],
        "client_id": tenants[1]["client_id"],
        "client_secret": tenants[1]["client_secret"],
    }
    tasks = [
        create_task("env only", {"ca_path": info["ca_path"]}),
        # Every credential option conflicts with the environment: the task's own values must be used.
        create_task("task beats env", dict(tenant1, ca_path=info["ca_path"])),
        # auth_method auto: a client secret in the task beats an access token from the environment.
        create_task(
            "task secret beats env token",
            dict(tenant1, ca_path=info["ca_path"]),
            environment={"MSGRAPH_ACCESS_TOKEN": emulator.access_token(2)},
        ),
    ]
    emulator.control.clear_log()
    run = run_playbook(tasks, env=dict(awx_environment, **PER_TASK_SIGN_IN))
    assert run.rc == 0, run.output

    segments = segments_by_created_name(emulator.control.log())
    expected_tenant = {"env only": 0, "task beats env": 1, "task secret beats env token": 1}
    for name, index in expected_tenant.items():
        assert run.result(name)["changed"] is True, run.result(name)
        tokens = token_requests(segments[name])
        assert [(entry["kind"], entry["tenant"], entry["status"]) for entry in tokens] == [
            ("token", tenants[index]["tenant_id"], 200)
        ], (name, tokens)
        assert tokens[0]["body"]["client_id"] == tenants[index]["client_id"]
        # AzureCloud: the token is for the public cloud's Graph, whatever endpoint serves the requests.
        assert "https://graph.microsoft.com/.default" in tokens[0]["body"]["scope"]
        graph = [entry for entry in segments[name] if entry["kind"] == "graph"]
        assert {entry["tenant"] for entry in graph} == {tenants[index]["tenant_id"]}, (name, graph)
    assert partner_names(emulator, 0) == ["env only"]
    assert partner_names(emulator, 1) == ["task beats env", "task secret beats env token"]
    assert partner_names(emulator, 2) == []


# --------------------------------------------------------------------------------------------------------------------
# Options that cannot work fail before any request
# --------------------------------------------------------------------------------------------------------------------


def test_missing_or_contradictory_credentials_fail_before_any_request(emulator, run_playbook, execution_path, tmp_path):
    info = emulator.info
    tenant = info["tenants"][0]
    ids = {"tenant_id": tenant["tenant_id"], "client_id": tenant["client_id"]}
    missing_file = str(tmp_path / "no-such-certificate.pem")
    # (task name, options, words the message must contain)
    cases = [
        (
            "secret method without secret",
            dict(
                endpoints(info),
                auth_method="client_secret",
                client_certificate_path=info["client_certificate_pem_path"],
                **ids,
            ),
            ["auth_method=client_secret", "client_secret", "AZURE_CLIENT_SECRET"],
        ),
        (
            "certificate method without path",
            dict(endpoints(info), auth_method="client_certificate", client_secret=tenant["client_secret"], **ids),
            ["auth_method=client_certificate", "client_certificate_path"],
        ),
        (
            "certificate file missing",
            dict(endpoints(info), client_certificate_path=missing_file, **ids),
            ["client_certificate_path", missing_file, "does not exist"],
        ),
        (
            "access token method without token",
            dict(endpoints(info), auth_method="access_token"),
            ["auth_method=access_token", "access_token", "MSGRAPH_ACCESS_TOKEN"],
        ),
        (
            "workload identity without token file",
            dict(endpoints(info), auth_method="workload_identity", **ids),
            ["auth_method=workload_identity", "AZURE_FEDERATED_TOKEN_FILE"],
        ),
        (
            "auto with nothing",
            endpoints(info),
            ["no credentials found", "access_token", "client_certificate_path", "client_secret"],
        ),
    ]
    tasks = [{"name": name, INFO_MODULE: options, "ignore_errors": True} for name, options, _words in cases]
    emulator.control.clear_log()
    run = run_playbook(tasks)
    assert run.rc == 0, run.output  # every failure is ignored, so the play itself completes
    for name, _options, words in cases:
        result = run.result(name)
        assert status_of(run, name) == "failed", (name, result)
        for word in words:
            assert word in result["msg"], (name, word, result["msg"])
        assert "Traceback" not in result["msg"], (name, result)
    assert emulator.control.log() == []


# --------------------------------------------------------------------------------------------------------------------
# A token that expires is refreshed once
# --------------------------------------------------------------------------------------------------------------------


def test_expired_token_is_refreshed_once_and_a_second_expiry_fails(emulator, run_playbook, execution_path):
    """Token expiry between tasks, during a task (between its GET and its PATCH), and on every token.

    1. info; 2. expire every token (control API, via uri); 3. update a partner, whose PATCH is held back by a latency
    fault while the test expires every token again: the PATCH gets 401, the module fetches one new token and the
    PATCH succeeds; 4. make every new token expire at once; 5. info: 401, one refresh, 401 again -> a clear failure.
    """
    info = emulator.info
    tenant_id = info["tenants"][0]["tenant_id"]
    emulator.control.seed({tenant_id: [{"id": "refresh-me", "displayName": "Refresh me", "partnerState": "unknown"}]})
    latency_fault = emulator.control.add_fault(
        method="PATCH", path="deviceManagementPartners", kind="latency", latency=3, times=1
    )
    tasks = [
        {"name": "before expiry", INFO_MODULE: {}},
        uri_control_task("expire tokens", info, "expire-tokens"),
        {"name": "update", MODULE: {"display_name": "Refresh me", "partner_state": "enabled"}},
        uri_control_task("tokens expire at once", info, "config", {"token_lifetime": 0}),
        {"name": "always expired", INFO_MODULE: {}, "ignore_errors": True},
    ]
    emulator.control.clear_log()

    def latency_fault_fired():
        return any(fault["id"] == latency_fault and fault["fired"] for fault in emulator.control.faults())

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run_playbook, tasks, info=emulator.info, env=PER_TASK_SIGN_IN)
        # The PATCH is now waiting in the emulator, after its token was issued and before it is checked.
        wait_for(lambda: latency_fault_fired() or running.done(), "the PATCH to reach the emulator")
        emulator.control.expire_tokens()
        run = running.result(timeout=300)
    assert run.rc == 0, run.output
    assert run.result("before expiry")["partners"], run.result("before expiry")
    update = run.result("update")
    assert update["changed"] is True and update["partner"]["partner_state"] == "enabled", update
    assert emulator.control.state()[tenant_id][0]["partnerState"] == "enabled"

    log = emulator.control.log()
    calls = [(entry["kind"], entry["method"], entry["status"]) for entry in log if entry["kind"] != "discovery"]
    expected_calls = [
        # task 1
        ("token", "POST", 200),
        ("graph", "GET", 200),
        # task 3: a token of its own (nothing stale is carried over from task 1) ...
        ("token", "POST", 200),
        ("graph", "GET", 200),
        # ... the held-back PATCH finds its token expired, one new token, the same PATCH again
        ("graph", "PATCH", 401),
        ("token", "POST", 200),
        ("graph", "PATCH", 204),
        # task 5: expired on arrival, refreshed once, expired again: no third token request
        ("token", "POST", 200),
        ("graph", "GET", 401),
        ("token", "POST", 200),
        ("graph", "GET", 401),
    ]
    assert calls == expected_calls, calls
    patches = [entry for entry in log if entry["method"] == "PATCH"]
    assert patches[0]["client_request_id"] == patches[1]["client_request_id"]  # one logical request, sent again

    failure = run.result("always expired")
    assert status_of(run, "always expired") == "failed", failure
    assert failure["status"] == 401 and failure["error_code"] == "InvalidAuthenticationToken", failure
    assert "Lifetime validation failed" in failure["msg"] and failure["request_id"], failure


def test_in_process_loop_keeps_its_token_and_refreshes_it_once(emulator, run_playbook, tmp_path):
    """The action plugin keeps one client for all items of a loop: one token, renewed only when Graph rejects it.

    The second item's arguments are templated (in the worker, before that item runs) through a pipe lookup that
    expires every token, so the token cached by the first item is expired when the second item uses it.
    """
    info = emulator.info
    script = tmp_path / "expire_tokens.py"
    script.write_text(
        "import ssl, sys, urllib.request\n"
        "context = ssl.create_default_context(cafile=sys.argv[2])\n"
        "opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), "
        "urllib.request.HTTPSHandler(context=context))\n"
        "request = urllib.request.Request(sys.argv[1] + '/expire-tokens', data=b'{}', method='POST')\n"
        "opener.open(request, timeout=30).read()\n"
    )
    expire_command = f"{sys.executable} {script} {info['control_url']} {info['ca_path']}"
    task = {
        "name": "loop",
        MODULE: {
            "display_name": "Loop {{ item }}{{ lookup('ansible.builtin.pipe', expire_command) if item == 2 else '' }}",
            "partner_state": "enabled",
        },
        "loop": [1, 2, 3],
        "vars": {"expire_command": expire_command},
    }
    emulator.control.clear_log()
    run = run_playbook([task], info=info)
    assert run.rc == 0, run.output
    assert [entry["status"] for entry in run.results_of("loop")] == ["item_ok"] * 3 + ["ok"], run.results
    assert partner_names(emulator) == ["Loop 1", "Loop 2", "Loop 3"]

    calls = [
        (entry["kind"], entry["method"], entry["status"])
        for entry in emulator.control.log()
        if entry["kind"] != "discovery"
    ]
    assert calls == [
        ("token", "POST", 200),
        ("graph", "GET", 200),  # item 1: lookup by name ...
        ("graph", "POST", 201),  # ... and create
        ("graph", "GET", 401),  # item 2: the cached token was expired by the lookup
        ("token", "POST", 200),  # exactly one new token
        ("graph", "GET", 200),
        ("graph", "POST", 201),
        ("graph", "GET", 200),  # item 3: the renewed token, no further token request
        ("graph", "POST", 201),
    ], calls


def test_loop_items_with_another_identity_environment_do_not_share_a_token(emulator, run_playbook, execution_path):
    """A loop whose items carry different managed identity settings in `environment:` gets a token per setting.

    The second item names the App Service identity endpoint with a wrong secret header: it must fail there, not
    reuse the token that the first item's (valid) header obtained.
    """
    info = emulator.info
    valid = {"IDENTITY_ENDPOINT": info["managed_identity_endpoint"], "IDENTITY_HEADER": info["managed_identity_header"]}
    task = {
        "name": "identities",
        INFO_MODULE: {
            "auth_method": "managed_identity",
            "graph_endpoint": info["graph_endpoint"],
            "ca_path": info["ca_path"],
        },
        "loop": [valid, dict(valid, IDENTITY_HEADER="not-the-identity-header")],
        "loop_control": {"label": "{{ item.IDENTITY_HEADER == valid_header }}"},
        "environment": "{{ item }}",
        "vars": {"valid_header": info["managed_identity_header"]},
        "ignore_errors": True,
    }
    emulator.control.clear_log()
    run = run_playbook([task])
    assert [entry["status"] for entry in run.results_of("identities")][:2] == ["item_ok", "item_failed"], run.results
    identity_requests = [
        (entry["path"], entry["status"]) for entry in emulator.control.log() if entry["kind"] == "managed_identity"
    ]
    assert identity_requests == [("/msi/token", 200), ("/msi/token", 401)], identity_requests
