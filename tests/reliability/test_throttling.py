"""Throttling storms: 429 (with a fractional Retry-After and without one), 503 and 504 on every request a module
makes, N times in a row, for every object type: GET, PATCH, POST (create), DELETE, the remote assistance partner's
bound action, and the token endpoint.

With N <= max_retries the task converges; with N = max_retries + 1 it fails with a "throttled" message. Read from
the emulator's log: no logical request is attempted more than max_retries + 1 times, and no retry comes sooner
after a throttled answer than its Retry-After.

The cases are data (SUBJECT_TARGETS x a plan of (kind, outcome) pairs): the device management partner meets every
pair on each target; the connector family meets a covering plan (every kind and both outcomes on each target) so
that the run stays short. One playbook run holds every case: one host per subject and target (they run in
parallel, each at its own pace: the free strategy), one loop item per case. GET, PATCH, DELETE, action and token faults are aimed at the item's own object
id or tenant, so they can be set up front; every create POSTs to its collection's path, so each POST case installs
its fault from its own item (``when:`` + a control call) just before it runs.
"""

from __future__ import annotations

from tests.reliability.checks import (
    SUBJECTS,
    attempt_groups,
    budget_violations,
    graph_writes,
    is_clean_failure,
    item_outcomes,
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
PLANS = {
    "full": [(kind, outcome) for kind in KINDS for outcome in OUTCOMES],
    # Retry-After honoured and exponential backoff on the way to converging; both status codes on the way out.
    "covering": [("429-ra", "converge"), ("504", "converge"), ("429", "exhaust"), ("503-ra", "exhaust")],
}
# Subject -> (case key prefix, plan, targets).
SUBJECT_TARGETS = {
    "device_management_partner": ("dmp", "full", ("get", "patch", "delete", "post", "token")),
    "compliance_management_partner": ("cmp", "covering", ("get", "patch", "delete", "post")),
    "remote_assistance_partner": ("rap", "covering", ("get", "patch", "action", "post")),
    "mobile_threat_defense_connector": ("mtd", "covering", ("get", "patch", "delete", "post")),
}
# Subject -> (seeded Graph properties, the option a case sets, its new value as the task and Graph write it).
CHANGES = {
    "device_management_partner": (
        {"displayName": None, "partnerState": "unavailable", "partnerAppType": "multiTenantApp", "isConfigured": True},
        "partner_state",
        "enabled",
    ),
    "compliance_management_partner": ({"displayName": None, "partnerState": "unavailable"}, "partner_state", "enabled"),
    "remote_assistance_partner": (
        {"displayName": None, "onboardingUrl": "https://assist.example/old"},
        "onboarding_url",
        "https://assist.example/new",
    ),
    "mobile_threat_defense_connector": ({"iosEnabled": False}, "ios_enabled", True),
}


def _cases():
    cases = []
    for name, (prefix, plan, targets) in SUBJECT_TARGETS.items():
        for target in targets:
            for kind, outcome in PLANS[plan]:
                key = f"{prefix}-{target}-{kind}-{outcome}"
                times = OUTCOMES[outcome]
                cases.append(
                    {"key": key, "subject": name, "target": target, "kind": kind, "outcome": outcome, "times": times}
                )
    return cases


def _host(case):
    return f"{SUBJECT_TARGETS[case['subject']][0]}-{case['target']}"


def _fault_spec(case, tenant_id=None):
    subject = SUBJECTS[case["subject"]]
    spec = dict(KINDS[case["kind"]], times=case["times"])
    if case["target"] == "post":
        spec.update(method="POST", path=f"/{subject.collection}$")
    elif case["target"] == "token":
        spec.update(method="POST", path=f"^/{tenant_id}/oauth2/v2.0/token$")
    elif case["target"] == "action":
        spec.update(method="POST", path=f"/{subject.collection}/{case['key']}/beginOnboarding$")
    else:
        spec.update(method=case["target"].upper(), path=f"/{subject.collection}/{case['key']}$")
    return spec


def _item(case, tenant_id, playbooks):
    """The loop item of a case: what the task asks for."""
    subject = SUBJECTS[case["subject"]]
    seeded, option, new_value = CHANGES[case["subject"]]
    item = {"key": case["key"], "tenant": tenant_id, "ctl": "", "option": option}
    if case["target"] == "post":
        if subject.by_name:
            item["display_name"] = f"Storm {case['key']}"
        else:
            item["id"] = case["key"]  # not in the tenant: a create with that id
        item["value"] = new_value
        item["ctl"] = playbooks.ctl("add-fault", _fault_spec(case))
        return item
    item["id"] = case["key"]
    if case["target"] == "patch":
        item["value"] = new_value
    elif case["target"] == "action":
        item["onboarding"] = "started"
    elif case["target"] == "delete":
        item["state"] = "absent"
    else:  # get, token: what the object already holds, so a read is all it takes
        item["value"] = seeded.get(subject.type.options[option])
    return item


def _task(name):
    subject = SUBJECTS[name]
    args = {
        "tenant_id": "{{ item.tenant }}",
        "client_id": "{{ tenants[item.tenant].client_id }}",
        "client_secret": "{{ lookup('ansible.builtin.env', tenants[item.tenant].secret_variable) }}",
        "id": "{{ item.id | default(omit) }}",
        CHANGES[name][1]: "{{ item.value | default(omit) }}",
        "state": "{{ item.state | default('present') }}",
        "timeout": 1,
        "max_retries": MAX_RETRIES,
    }
    if subject.by_name:
        args["display_name"] = "{{ item.display_name | default(omit) }}"
    if subject.action_option:
        args[subject.action_option] = f"{{{{ item.{subject.action_option} | default(omit) }}}}"
    return {
        "name": f"storm {name}",
        subject.module: args,
        "loop": f"{{{{ items_by_host[inventory_hostname]['{name}'] }}}}",
        "loop_control": {"label": "{{ item.key }}"},
        "when": "(lookup('ansible.builtin.pipe', item.ctl) if item.ctl else 'ok') == 'ok'",
    }


def _expected_body(case, entry):
    """The body a write of this case must carry (None: no body), or False when the case must not write this."""
    subject = SUBJECTS[case["subject"]]
    _seeded, option, new_value = CHANGES[case["subject"]]
    change = {subject.type.options[option]: new_value}
    if subject.is_create(entry):
        names = {"displayName": f"Storm {case['key']}"} if subject.by_name else {"id": case["key"]}
        return dict(names, **change) if case["target"] == "post" else False
    action = subject.action_of(entry)
    if action is not None:
        return None if case["target"] == "action" and action == "beginOnboarding" else False
    return {
        "PATCH": change if case["target"] == "patch" else False,
        "DELETE": None if case["target"] == "delete" else False,
    }.get(entry["method"], False)


def test_throttling_storms(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    cases = _cases()
    main_tenant = info["tenant_id"]
    token_cases = [case for case in cases if case["target"] == "token"]
    # Objects for every case that reads, writes or acts on an existing one; every token case signs in to a tenant
    # of its own, so its fault hits only its own token request.
    collections = {}
    for case in cases:
        if case["target"] in ("get", "patch", "delete", "action"):
            subject = SUBJECTS[case["subject"]]
            seeded = dict(CHANGES[case["subject"]][0], id=case["key"])
            collections.setdefault(subject.collection, []).append(seeded)
    dmp = SUBJECTS["device_management_partner"]
    seeded = control.seed(
        {
            main_tenant: collections,
            **{
                f"storm-{case['key']}": {dmp.collection: [dict(CHANGES[case["subject"]][0], id=case["key"])]}
                for case in token_cases
            },
        }
    )
    tenants = {}
    for tenant in seeded["tenants"]:
        playbooks.add_secret(f"client secret of tenant {tenant['tenant_id']}", tenant["client_secret"])
        tenants[tenant["tenant_id"]] = {
            "client_id": tenant["client_id"],
            "secret_variable": playbooks.secret_variable(tenant["client_secret"]),
        }

    items_by_host = {}
    for case in cases:
        tenant_id = f"storm-{case['key']}" if case["target"] == "token" else main_tenant
        if case["target"] != "post":
            control.add_fault(**_fault_spec(case, tenant_id))
        host = items_by_host.setdefault(_host(case), {name: [] for name in SUBJECT_TARGETS})
        host[case["subject"]].append(_item(case, tenant_id, playbooks))

    play = {
        "name": "throttling storms",
        "hosts": "all",
        "gather_facts": False,
        "strategy": "free",  # each host runs its own subject's task without waiting for the others'
        "vars": {"items_by_host": items_by_host, "tenants": tenants},
        "module_defaults": {
            "group/msgraph.intune.graph": {
                "graph_endpoint": info["graph_endpoint"],
                "authority_host": info["authority_host"],
                "ca_path": info["ca_path"],
            }
        },
        "tasks": [_task(name) for name in SUBJECT_TARGETS],
    }
    run = playbooks.run([play], hosts=tuple(items_by_host), forks=len(items_by_host))

    log = control.log()
    state = {subject.name: control.state(subject.collection) for subject in SUBJECTS.values()}
    faults = control.faults()
    outcomes = {}
    for name in SUBJECT_TARGETS:
        outcomes.update(item_outcomes(run, f"storm {name}"))
    tally.add("runs", len(outcomes))
    tally.add_faults(faults)
    case_by_key = {case["key"]: case for case in cases}

    # Which case each logged request belongs to: by object id, by tenant (token), by the create's name or id.
    def case_of(entry):
        if entry["kind"] == "token":
            return case_by_key.get(entry["tenant"][len("storm-") :]) if entry["tenant"].startswith("storm-") else None
        for subject in SUBJECTS.values():
            if subject.is_create(entry) and entry["body"]:
                key = entry["body"].get("displayName" if subject.by_name else "id") or ""
                return case_by_key.get(key[len("Storm ") :] if subject.by_name else key)
            object_id = subject.object_id_of(entry)
            if object_id is not None:
                return case_by_key.get(object_id)
        return None

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

    # Every write belongs to its case, with exactly the body the case asks for; a create never happens twice.
    foreign = []
    for entry in graph_writes(log):
        case = case_of(entry)
        if case is None or _expected_body(case, entry) is False or entry["body"] != _expected_body(case, entry):
            foreign.append((entry["method"], entry["path"], entry["body"]))
    tally.add("lost_or_foreign_writes", len(foreign))
    duplicates = 0
    for subject in SUBJECTS.values():
        objects = state[subject.name].get(main_tenant, [])
        keys = [obj.get("displayName" if subject.by_name else "id") for obj in objects]
        keys = [key for key in keys if key is not None]
        duplicates += sum(count - 1 for count in map(keys.count, set(keys)) if count > 1)
        duplicates += sum(1 for entry in log if subject.is_create(entry) and entry["status"] == 409)
    tally.add("duplicate_creates", duplicates)

    # Graph state: converged writes applied once, exhausted ones not at all (a status fault never applies).
    for case in cases:
        if case["target"] == "token":
            continue
        subject = SUBJECTS[case["subject"]]
        seeded, option, new_value = CHANGES[case["subject"]]
        graph_name = subject.type.options[option]
        objects = {obj["id"]: obj for obj in state[subject.name].get(main_tenant, [])}
        converged = case["outcome"] == "converge"
        found = objects.get(case["key"])
        if case["target"] == "patch":
            want = new_value if converged else seeded[graph_name]
            if found[graph_name] != want:
                problems.append((case["key"], graph_name, found[graph_name], want))
        elif case["target"] == "delete" and (found is not None) == converged:
            problems.append((case["key"], "present after delete" if converged else "deleted although exhausted"))
        elif case["target"] == "post":
            key = f"Storm {case['key']}" if subject.by_name else case["key"]
            copies = [obj for obj in objects.values() if obj.get("displayName" if subject.by_name else "id") == key]
            if len(copies) != (1 if converged else 0) or (copies and copies[0][graph_name] != new_value):
                problems.append((case["key"], "objects created", copies))
        elif case["target"] == "action":
            want = "onboarding" if converged else "notOnboarded"
            if found["onboardingStatus"] != want:
                problems.append((case["key"], "onboardingStatus", found["onboardingStatus"], want))
        elif case["target"] == "get" and any(found[key] != value for key, value in seeded.items()):
            problems.append((case["key"], "changed by a read", found))
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
