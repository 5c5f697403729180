"""TLS trust, compactly (tests/integration/test_tls.py covers it in depth).

REQUESTS_CA_BUNDLE points at an unrelated, valid bundle (certifi's), which requests would otherwise prefer over any
session setting. validate_certs=true without ca_path must refuse the emulator's unknown CA with a message that says
what to do (ca_path), before any HTTP request is answered; ca_path must make the same task work.
"""

from __future__ import annotations

import certifi

from tests.reliability.checks import MODULE, is_clean_failure


def test_unknown_ca_refused_and_ca_path_accepted(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    control.seed({info["tenant_id"]: [{"id": "tls-1", "partnerState": "unknown"}]})
    trusted = playbooks.connection(info)
    untrusted = {key: value for key, value in trusted.items() if key != "ca_path"}
    tasks = [
        {"name": "unknown CA", MODULE: dict(untrusted, id="tls-1", partner_state="enabled"), "failed_when": False},
        {"name": "ca_path", MODULE: dict(trusted, id="tls-1", partner_state="enabled")},
    ]
    play = {"name": "tls", "hosts": "all", "gather_facts": False, "tasks": tasks}
    run = playbooks.run([play], env={"REQUESTS_CA_BUNDLE": certifi.where(), "CURL_CA_BUNDLE": certifi.where()})
    refused = run.result("unknown CA")
    accepted = run.result("ca_path")
    log = control.log()
    tally.add("runs", 2)
    tally.add("failed_cleanly" if is_clean_failure(refused) else "unclean_failures")
    tally.add("converged" if accepted.get("changed") is True else "unclean_failures")

    leaks = playbooks.scan()
    message = refused.get("msg") or ""
    assert "partner" not in refused and "certificate" in message.lower() and "ca_path" in message, refused
    assert accepted.get("changed") is True, accepted
    assert control.state()[info["tenant_id"]][0]["partnerState"] == "enabled"
    # Nothing of the refused task was answered: the first logged request is the accepted task's sign-in.
    assert [entry["kind"] for entry in log[:2]] == ["discovery", "token"], log[:2]
    assert sum(1 for entry in log if entry["kind"] == "discovery") == 1, log
    assert not leaks, [str(hit) for hit in leaks]
