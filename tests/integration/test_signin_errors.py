"""Sign-in failures say that they are sign-in failures, through both execution paths.

A wrong secret, an unknown tenant or client, a token endpoint that keeps answering 429 or 500, a discovery endpoint
that keeps answering 503, and an authority nobody answers for: each task fails with a message that names the request
(OIDC discovery or token request), the tenant, the client and the authority host, Entra's error with its AADSTS code,
and the trace and correlation ids, and returns status, method, url and path. What the messages claim is checked
against the emulator's own request log, and no secret appears in a result or in the output.
"""

from __future__ import annotations

import json
import re

import pytest

INFO_MODULE = "msgraph.intune.device_management_partner_info"
WRONG_SECRET = "wrong-secret-Q8~value-0123456789"


@pytest.fixture
def sign_in_cases(emulator):
    """(task name, task options, expectation) for every kind of failed sign-in."""
    info = emulator.info
    tenant = info["tenants"][0]
    # Tenants of their own for the faulted endpoints, so that a fault hits only its case.
    extra = {"throttled-token": [], "failing-token": [], "throttled-discovery": []}
    credentials = {item["tenant_id"]: item for item in emulator.control.seed(extra)["tenants"]}
    emulator.control.add_fault(
        method="POST", path="^/throttled-token/oauth2/v2.0/token$", kind="status", status=429, retry_after=0.1
    )
    emulator.control.add_fault(method="POST", path="^/failing-token/oauth2/v2.0/token$", kind="status", status=500)
    emulator.control.add_fault(
        method="GET",
        path="^/throttled-discovery/v2.0/.well-known/openid-configuration$",
        kind="status",
        status=503,
        retry_after=0.1,
    )

    def login(tenant_id, **overrides):
        options = {
            "tenant_id": tenant_id,
            "client_id": credentials.get(tenant_id, tenant)["client_id"],
            "client_secret": credentials.get(tenant_id, tenant)["client_secret"],
            "graph_endpoint": info["graph_endpoint"],
            "authority_host": info["authority_host"],
            "ca_path": info["ca_path"],
            "max_retries": 1,
        }
        options.update(overrides)
        return options

    token_path = "/{}/oauth2/v2.0/token"
    discovery_path = "/{}/v2.0/.well-known/openid-configuration"
    authority = info["authority_host"]
    return [
        (
            "wrong secret",
            login(tenant["tenant_id"], client_secret=WRONG_SECRET),
            (
                "token request",
                authority,
                401,
                "POST",
                token_path.format(tenant["tenant_id"]),
                "invalid_client",
                7000215,
            ),
        ),
        (
            "unknown tenant",
            login("no-such-tenant", client_id=tenant["client_id"], client_secret=tenant["client_secret"]),
            ("OIDC discovery", authority, 400, "GET", discovery_path.format("no-such-tenant"), "invalid_tenant", 90002),
        ),
        (
            "unknown client",
            login(tenant["tenant_id"], client_id="00000000-0000-4000-8000-000000000000"),
            (
                "token request",
                authority,
                400,
                "POST",
                token_path.format(tenant["tenant_id"]),
                "unauthorized_client",
                700016,
            ),
        ),
        (
            "throttled token endpoint",
            login("throttled-token"),
            (
                "token request",
                authority,
                429,
                "POST",
                token_path.format("throttled-token"),
                "temporarily_unavailable",
                90033,
            ),
        ),
        (
            "failing token endpoint",
            login("failing-token"),
            (
                "token request",
                authority,
                500,
                "POST",
                token_path.format("failing-token"),
                "temporarily_unavailable",
                90033,
            ),
        ),
        (
            "throttled discovery",
            login("throttled-discovery"),
            (
                "OIDC discovery",
                authority,
                503,
                "GET",
                discovery_path.format("throttled-discovery"),
                "temporarily_unavailable",
                90033,
            ),
        ),
        (
            "unreachable authority",
            login(tenant["tenant_id"], authority_host="https://127.0.0.1:1", max_retries=0),
            (
                "OIDC discovery",
                "https://127.0.0.1:1",
                None,
                "GET",
                discovery_path.format(tenant["tenant_id"]),
                None,
                None,
            ),
        ),
    ]


def test_sign_in_failures_name_the_request_the_authority_and_entras_fields(
    emulator, run_playbook, execution_path, sign_in_cases
):
    tasks = [{"name": name, INFO_MODULE: options, "ignore_errors": True} for name, options, _expected in sign_in_cases]
    emulator.control.clear_log()
    run = run_playbook(tasks, verbosity=4)
    assert run.rc == 0, run.output
    log = emulator.control.log()
    secrets = [WRONG_SECRET] + [tenant["client_secret"] for tenant in emulator.control.seed({})["tenants"]]
    for name, options, (kind, authority, status, method, path, error, aadsts) in sign_in_cases:
        entries = run.results_of(name)
        assert [entry["status"] for entry in entries] == ["failed"], (name, entries)
        result = entries[0]["result"]
        message = result["msg"]
        who = f"tenant {options['tenant_id']}, client {options['client_id']} at {authority}"
        assert message.startswith(f"{kind} failed for {who}: {method} {path} "), (name, message)
        assert (result["status"], result["method"], result["path"], result["url"]) == (
            status,
            method,
            path,
            authority + path,
        ), (name, result)
        if kind == "OIDC discovery":
            assert "token request" not in message, (name, message)
        if aadsts is None:  # nobody answered: no HTTP status, nothing from Entra
            assert "Connection refused" in message and "(after 1 attempts)" in message, (name, message)
            continue
        assert result["error_code"] == error and f"AADSTS{aadsts}: " in message, (name, result)
        assert result["graph_message"].startswith(f"AADSTS{aadsts}: "), (name, result)
        # Entra's trace and correlation ids, as the emulator issued them for this very request.
        assert message.endswith(
            f" (trace_id: {result['request_id']}, correlation_id: {result['client_request_id']})"
        ), (name, message)
        answered = [entry for entry in log if entry["path"] == path and entry["status"] == status]
        assert answered and answered[-1]["client_request_id"] == result["client_request_id"], (name, answered)
        if status >= 429:  # retried: max_retries 1 means two attempts
            assert len(answered) == 2 and re.search(r"after 2 attempts: temporarily_unavailable: AADSTS90033", message)
    for secret in secrets:
        assert secret not in run.output and secret not in json.dumps(run.results), "a secret reached the output"
