"""Token expiry in the middle of a run.

Task 1 loops over three partners; just before the second item every issued token is expired (a control call from
the item's ``when:``). On the in-process path the loop shares one Graph client, so the second item's first request
gets 401, the client refreshes exactly once and the request succeeds. A module process signs in afresh for every
item, so there the expiry costs nothing: no 401 at all.

Task 2 signs in by itself (token_cache: false; the run's token cache would hand it task 1's token, still valid)
while the emulator issues tokens that are already expired: the first 401 triggers one refresh, the second 401 ends
the task with a clear error (no refresh loop). Task 3 uses an access_token that has expired: it
cannot be refreshed, so one Graph request, no token request, and a clear error.
"""

from __future__ import annotations

from tests.reliability.checks import MODULE, is_clean_failure, item_outcomes, partner_id_of

LOOP_IDS = ("tok-1", "tok-2", "tok-3")
WHEN_CTL = "(lookup('ansible.builtin.pipe', item.ctl) if item.ctl else 'ok') == 'ok'"


def _requests_for(log, partner_ids):
    return [entry for entry in log if entry["kind"] == "graph" and partner_id_of(entry) in partner_ids]


def test_token_expiry_mid_run(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    tenant = info["tenant_id"]
    control.seed(
        {tenant: [{"id": partner_id, "partnerState": "unknown"} for partner_id in (*LOOP_IDS, "tok-4", "tok-5")]}
    )
    access_token = emulator.access_token()
    playbooks.add_secret("access token given to the task", access_token)
    control.clear_log()  # that sign-in was the test's, not the run's
    loop_items = [
        {"id": partner_id, "ctl": playbooks.ctl("expire-tokens") if partner_id == "tok-2" else ""}
        for partner_id in LOOP_IDS
    ]
    tasks = [
        {
            "name": "loop across an expiry",
            MODULE: {"id": "{{ item.id }}", "partner_state": "enabled"},
            "loop": loop_items,
            "loop_control": {"label": "{{ item.id }}"},
            "when": WHEN_CTL,
        },
        {
            # Signs in by itself (not from the run's token cache, which holds task 1's token, still valid).
            "name": "tokens born expired",
            MODULE: {"id": "{{ item.id }}", "partner_state": "enabled", "token_cache": False},
            "loop": [{"id": "tok-4", "ctl": playbooks.ctl("config", {"token_lifetime": 0})}],
            "when": WHEN_CTL,
            "failed_when": False,
        },
        {
            "name": "expired access token",
            MODULE: {"id": "{{ item.id }}", "partner_state": "enabled", "access_token": playbooks.secret(access_token)},
            "loop": [{"id": "tok-5", "ctl": playbooks.ctl("expire-tokens")}],
            "when": WHEN_CTL,
            "failed_when": False,
        },
    ]
    play = {
        "name": "token expiry",
        "hosts": "all",
        "gather_facts": False,
        "module_defaults": {"group/msgraph.intune.graph": playbooks.connection(info)},
        "tasks": tasks,
    }
    run = playbooks.run([play])
    log = sorted(control.log(), key=lambda entry: entry["seq"])
    state = {partner["id"]: partner for partner in control.state()[tenant]}

    loop = item_outcomes(run, "loop across an expiry", key="id")
    born_expired = item_outcomes(run, "tokens born expired", key="id")["tok-4"][1]
    expired_token = item_outcomes(run, "expired access token", key="id")["tok-5"][1]
    tally.add("runs", len(loop) + 2)
    converged = [key for key, (status, _result) in loop.items() if status == "ok"]
    tally.add("converged", len(converged))
    for result in (born_expired, expired_token):
        tally.add("failed_cleanly" if is_clean_failure(result) and "partner" not in result else "unclean_failures")

    # Task 1: where the 401s and token requests fell.
    first_task_end = max(entry["seq"] for entry in _requests_for(log, LOOP_IDS))
    task1 = [entry for entry in log if entry["seq"] <= first_task_end]
    unauthorized = [entry for entry in task1 if entry["status"] == 401]
    token_requests = [entry for entry in task1 if entry["kind"] == "token"]
    if execution_path == "in_process":
        assert [partner_id_of(entry) for entry in unauthorized] == ["tok-2"], unauthorized
        assert len(token_requests) == 2, "one sign-in for the loop plus exactly one refresh"
        retried = [e for e in task1 if e["client_request_id"] == unauthorized[0]["client_request_id"]]
        refresh = token_requests[1]
        assert [e["status"] for e in retried] == [401, 200]
        assert retried[0]["seq"] < refresh["seq"] < retried[1]["seq"], "the refresh comes between 401 and re-send"
    else:
        assert unauthorized == [], "a module process signs in afresh; the expiry cannot touch it"
        assert len(token_requests) == len(LOOP_IDS)
    assert sorted(converged) == list(LOOP_IDS), loop
    assert all(state[partner_id]["partnerState"] == "enabled" for partner_id in LOOP_IDS)

    # Task 2: one refresh, then a clear failure.
    task2 = [entry for entry in log if first_task_end < entry["seq"] and partner_id_of(entry) != "tok-5"]
    task2 = [entry for entry in task2 if entry["kind"] in ("token", "graph")]
    assert [(entry["kind"], entry["status"]) for entry in task2] == [
        ("token", 200),
        ("graph", 401),
        ("token", 200),
        ("graph", 401),
    ], task2
    assert "401" in born_expired["msg"] and "partner" not in born_expired, born_expired
    assert state["tok-4"]["partnerState"] == "unknown"

    # Task 3: the access token is used once and never "refreshed".
    task3 = [entry for entry in log if partner_id_of(entry) == "tok-5"]
    assert [(entry["method"], entry["status"]) for entry in task3] == [("GET", 401)], task3
    assert not [entry for entry in log if entry["kind"] == "token" and entry["seq"] > task3[0]["seq"]]
    assert "401" in expired_token["msg"] and "partner" not in expired_token, expired_token

    leaks = playbooks.scan()
    assert not leaks, [str(hit) for hit in leaks]
