"""The playbook fixture itself: both execution paths reach the emulator and report results."""

from __future__ import annotations


def test_create_then_idempotent(emulator, run_playbook, execution_path):
    task = {
        "name": "ensure",
        "msgraph.intune.device_management_partner": {"display_name": "Smoke", "partner_state": "enabled"},
    }
    first = run_playbook([task], info=emulator.info)
    assert first.rc == 0, first.output
    assert first.result("ensure")["changed"] is True
    emulator.control.clear_log()
    second = run_playbook([task], info=emulator.info)
    assert second.rc == 0, second.output
    assert second.result("ensure")["changed"] is False
    assert emulator.control.writes() == []
    assert any(entry["method"] == "GET" and entry["kind"] == "graph" for entry in emulator.control.log())
