"""Concurrent edits: someone else changes a partner right after our read; our PATCH must not undo it.

The emulator applies a mutation just after it answered the task's read (GET by id, or the list read that finds a
partner by name), so the task decides on stale data. It must still PATCH only what it manages: the final state keeps
the other writer's values and no PATCH body carries their keys. The in-process run has Graph answer PATCH with 204,
the module run with 200 and the updated object.
"""

from __future__ import annotations

from tests.reliability.checks import MODULE, graph_writes, partner_id_of

BY_ID = "concurrent-by-id"
BY_NAME = "concurrent-by-name"
NAME = "Concurrent by name"
SEED = {
    "partnerState": "unknown",
    "partnerAppType": "unknown",
    "isConfigured": False,
    "singleTenantAppId": "app-original",
    "whenPartnerDevicesWillBeRemovedDateTime": "2030-01-01T00:00:00Z",
}
# What the other writer sets (never an option of the task that reads right before it).
OTHER_WRITER = {
    BY_ID: {"isConfigured": True, "singleTenantAppId": "app-set-by-someone-else"},
    BY_NAME: {"partnerAppType": "singleTenantApp", "whenPartnerDevicesWillBeRemovedDateTime": "2031-02-03T04:05:06Z"},
}
TASK_OPTIONS = {
    BY_ID: {"id": BY_ID, "partner_state": "enabled", "partner_app_type": "multiTenantApp"},
    BY_NAME: {"display_name": NAME, "partner_state": "enabled", "is_configured": True},
}
TASK_BODIES = {
    BY_ID: {"partnerState": "enabled", "partnerAppType": "multiTenantApp"},
    BY_NAME: {"partnerState": "enabled", "isConfigured": True},
}
EXPECTED = {
    BY_ID: {"partnerState": "enabled", "partnerAppType": "multiTenantApp", **OTHER_WRITER[BY_ID]},
    BY_NAME: {
        "partnerState": "enabled",
        "isConfigured": True,
        "partnerAppType": "singleTenantApp",
        "whenPartnerDevicesWillBeRemovedDateTime": "2031-02-03T04:05:06.0000000Z",
    },
}


def test_patch_keeps_concurrent_edit(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    tenant = info["tenant_id"]
    control.seed({tenant: [dict(SEED, id=BY_ID), dict(SEED, id=BY_NAME, displayName=NAME)]})
    control.config(patch_status=200 if execution_path == "module" else 204)
    control.add_mutation(
        method="GET", path=f"deviceManagementPartners/{BY_ID}$", tenant=tenant, id=BY_ID, set=OTHER_WRITER[BY_ID]
    )
    control.add_mutation(
        method="GET", path="deviceManagementPartners$", tenant=tenant, id=BY_NAME, set=OTHER_WRITER[BY_NAME]
    )
    tasks = [{"name": key, MODULE: options} for key, options in TASK_OPTIONS.items()]
    play = {
        "name": "concurrent edits",
        "hosts": "all",
        "gather_facts": False,
        "module_defaults": {"group/msgraph.intune.graph": playbooks.connection(info)},
        "tasks": tasks,
    }
    run = playbooks.run([play])
    state = {partner["id"]: partner for partner in control.state()[tenant]}
    patches = {partner_id_of(entry): entry["body"] for entry in graph_writes(control.log())}

    reverted = [
        (key, name, state[key][name], value)
        for key, expected in EXPECTED.items()
        for name, value in expected.items()
        if state[key][name] != value
    ]
    foreign = [(key, body) for key, body in patches.items() if body != TASK_BODIES.get(key)]
    tally.add("runs", len(TASK_OPTIONS))
    tally.add("converged", sum(1 for key in TASK_OPTIONS if run.result(key).get("changed") is True))
    tally.add("lost_or_foreign_writes", len(reverted) + len(foreign))

    leaks = playbooks.scan()
    assert run.rc == 0, run.output[-3000:]
    assert sorted(patches) == sorted(TASK_OPTIONS), patches
    assert not foreign, foreign
    assert not reverted, reverted
    assert not leaks, [str(hit) for hit in leaks]
