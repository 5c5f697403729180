"""Throttling storms: 429 (with a fractional Retry-After and without one), 503 and 504 on GET, PATCH, POST, DELETE
and the token endpoint, N times in a row.

With N <= max_retries the task converges; with N = max_retries + 1 it fails with a "throttled" message. Read from
the emulator's log: no logical request is attempted more than max_retries + 1 times, and no retry comes sooner
after a throttled answer than its Retry-After.

One playbook run holds every case: one host per target (they run in parallel), one loop item per case. GET, PATCH,
DELETE and token faults are aimed at the item's own partner id or tenant, so they can be set up front; every create
POSTs to the same collection path, so each POST case installs its fault from its own item (``when:`` + a control
call) just before it runs.
"""

from __future__ import annotations

from tests.reliability.checks import (
    MODULE,
    attempt_groups,
    budget_violations,
    comparable,
    graph_writes,
    is_clean_failure,
    item_outcomes,
    partner_id_of,
    retry_after_violations,
)

MAX_RETRIES = 2
MAX_ATTEMPTS = MAX_RETRIES + 1
KINDS = {
    "429-ra": {"kind": "status", "status": 429, "retry_after": 0.2},
    "429": {"kind": "status", "status": 429},
    "503-ra": {"kind": "status", "status": 503, "retry_after": 0.1},
    "504": {"kind": "status", "status": 504},
}
OUTCOMES = {"converge": MAX_RETRIES, "exhaust": MAX_ATTEMPTS}  # how many answers in a row are throttled
TARGETS = ("get", "patch", "delete", "post", "token")
SEEDED = {"displayName": None, "partnerState": "unavailable", "partnerAppType": "multiTenantApp", "isConfigured": True}


def _cases():
    cases = []
    for target in TARGETS:
        for kind in KINDS:
            for outcome, times in OUTCOMES.items():
                key = f"{target}-{kind}-{outcome}"
                cases.append({"key": key, "target": target, "kind": kind, "outcome": outcome, "times": times})
    return cases


def _fault_spec(case, tenant_id=None):
    spec = dict(KINDS[case["kind"]], times=case["times"])
    if case["target"] == "post":
        spec.update(method="POST", path="deviceManagementPartners$")
    elif case["target"] == "token":
        spec.update(method="POST", path=f"^/{tenant_id}/oauth2/v2.0/token$")
    else:
        spec.update(method=case["target"].upper(), path=f"deviceManagementPartners/{case['key']}$")
    return spec


def test_throttling_storms(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    cases = _cases()
    main_tenant = info["tenant_id"]
    token_cases = [case for case in cases if case["target"] == "token"]
    # Every token case signs in to a tenant of its own, so its fault hits only its own token request.
    seeded = control.seed(
        {
            main_tenant: [
                dict(SEEDED, id=case["key"]) for case in cases if case["target"] in ("get", "patch", "delete")
            ],
            **{f"storm-{case['key']}": [dict(SEEDED, id=case["key"])] for case in token_cases},
        }
    )
    tenants = {}
    for tenant in seeded["tenants"]:
        playbooks.add_secret(f"client secret of tenant {tenant['tenant_id']}", tenant["client_secret"])
        tenants[tenant["tenant_id"]] = {
            "client_id": tenant["client_id"],
            "secret_variable": playbooks.secret_variable(tenant["client_secret"]),
        }

    items_by_host = {target: [] for target in TARGETS}
    for case in cases:
        tenant_id = f"storm-{case['key']}" if case["target"] == "token" else main_tenant
        item = {"key": case["key"], "tenant": tenant_id, "ctl": ""}
        if case["target"] == "post":
            item.update(display_name=f"Storm {case['key']}", partner_state="enabled")
            item["ctl"] = playbooks.ctl("add-fault", _fault_spec(case))
        else:
            item.update(id=case["key"], partner_state={"patch": "enabled"}.get(case["target"], "unavailable"))
            if case["target"] == "delete":
                item["state"] = "absent"
            control.add_fault(**_fault_spec(case, tenant_id))
        items_by_host[case["target"]].append(item)

    task = {
        "name": "storm",
        MODULE: {
            "tenant_id": "{{ item.tenant }}",
            "client_id": "{{ tenants[item.tenant].client_id }}",
            "client_secret": "{{ lookup('ansible.builtin.env', tenants[item.tenant].secret_variable) }}",
            "id": "{{ item.id | default(omit) }}",
            "display_name": "{{ item.display_name | default(omit) }}",
            "partner_state": "{{ item.partner_state }}",
            "state": "{{ item.state | default('present') }}",
            "timeout": 1,
            "max_retries": MAX_RETRIES,
        },
        "loop": "{{ items_by_host[inventory_hostname] }}",
        "loop_control": {"label": "{{ item.key }}"},
        "when": "(lookup('ansible.builtin.pipe', item.ctl) if item.ctl else 'ok') == 'ok'",
    }
    play = {
        "name": "throttling storms",
        "hosts": "all",
        "gather_facts": False,
        "vars": {"items_by_host": items_by_host, "tenants": tenants},
        "module_defaults": {
            "group/msgraph.intune.graph": {
                "graph_endpoint": info["graph_endpoint"],
                "authority_host": info["authority_host"],
                "ca_path": info["ca_path"],
            }
        },
        "tasks": [task],
    }
    run = playbooks.run([play], hosts=TARGETS, forks=len(TARGETS))

    log = control.log()
    state = control.state()
    faults = control.faults()
    outcomes = item_outcomes(run, "storm")
    tally.add("runs", len(outcomes))
    tally.add_faults(faults)
    case_by_key = {case["key"]: case for case in cases}

    # Which case each logged request belongs to: by partner id, by tenant (token), by the POST body's name.
    def case_of(entry):
        if entry["kind"] == "token":
            return case_by_key.get(entry["tenant"][len("storm-") :]) if entry["tenant"].startswith("storm-") else None
        if entry["method"] == "POST" and entry["body"]:
            return case_by_key.get(str(entry["body"].get("displayName", ""))[len("Storm ") :])
        return case_by_key.get(partner_id_of(entry) or "")

    def retry_after(entry):
        case = case_of(entry)
        if entry["fault"] != "status" or case is None:
            return None
        return KINDS[case["kind"]].get("retry_after")

    groups = attempt_groups(log)
    over_budget = budget_violations(groups, lambda entries: MAX_ATTEMPTS)
    too_soon = retry_after_violations(groups, retry_after)
    tally.add("budget_violations", len(over_budget))
    tally.add("retry_after_violations", len(too_soon))

    problems = []
    for case in cases:
        status, result = outcomes.get(case["key"], ("missing", {}))
        if case["outcome"] == "converge":
            if status == "ok":
                tally.add("converged")
            else:
                problems.append((case["key"], "did not converge", result.get("msg")))
            continue
        clean = status == "failed" and is_clean_failure(result)
        tally.add("failed_cleanly" if clean else "unclean_failures")
        message = result.get("msg") or ""
        if not clean or "throttled" not in message:
            problems.append((case["key"], "expected a clean 'throttled' failure", status, message))

    # The faulted logical request of each case: exactly `times` throttled answers, then (converge) one success.
    for case in cases:
        faulted = [
            entries
            for entries in groups.values()
            if case_of(entries[0]) is case and any(entry["fault"] for entry in entries)
        ]
        attempts = [len(entries) for entries in faulted]
        expected = case["times"] + (1 if case["outcome"] == "converge" else 0)
        if attempts != [expected]:
            problems.append((case["key"], "attempts per faulted request", attempts, "expected", [expected]))

    # Graph state: converged writes applied once, exhausted ones not at all (a status fault never applies).
    partners = {partner["id"]: partner for partner in state[main_tenant]}
    names = [partner["displayName"] for partner in state[main_tenant] if partner["displayName"] is not None]
    duplicates = sum(count - 1 for count in map(names.count, set(names)) if count > 1)
    tally.add("duplicate_creates", duplicates)
    foreign = []
    for entry in graph_writes(log):
        case = case_of(entry)
        expected_body = {
            "PATCH": {"partnerState": "enabled"},
            "POST": {"displayName": f"Storm {case['key']}", "partnerState": "enabled"} if case else None,
            "DELETE": None,
        }[entry["method"]]
        if case is None or case["target"] != entry["method"].lower() or entry["body"] != expected_body:
            foreign.append(entry)
    tally.add("lost_or_foreign_writes", len(foreign))
    for case in cases:
        converged = case["outcome"] == "converge"
        if case["target"] == "patch":
            want = "enabled" if converged else "unavailable"
            if partners[case["key"]]["partnerState"] != want:
                problems.append((case["key"], "partnerState", partners[case["key"]]["partnerState"], want))
        elif case["target"] == "delete" and (case["key"] in partners) == converged:
            problems.append((case["key"], "present after delete" if converged else "deleted although exhausted"))
        elif case["target"] == "post" and names.count(f"Storm {case['key']}") != (1 if converged else 0):
            problems.append((case["key"], "partners with that name", names.count(f"Storm {case['key']}")))
        elif case["target"] == "get" and comparable(partners[case["key"]]) != comparable(
            dict(partners[case["key"]], **SEEDED)
        ):
            problems.append((case["key"], "changed by a read"))
    fired = {fault["id"]: fault["fired"] for fault in faults}
    unfired = [fault for fault in faults if fired[fault["id"]] != fault["times"]]

    leaks = playbooks.scan()
    assert run.rc != 0, "the exhausted cases must fail the task"
    assert not problems, problems
    assert not over_budget, over_budget
    assert not too_soon, too_soon
    assert not foreign, foreign
    assert duplicates == 0
    assert not unfired, unfired
    assert not leaks, [str(hit) for hit in leaks]
