"""Throttling storms: 429 (with a fractional Retry-After and without one), 503 and 504 on every request a module
makes, N times in a row, for every object type: GET, PATCH, POST (create), DELETE, the remote assistance partner's
bound action, and the token endpoint.

With N <= max_retries the task converges; with N = max_retries + 1 it fails with a "throttled" message. Read from
the emulator's log: no logical request is attempted more than max_retries + 1 times, and no retry comes sooner
after a throttled answer than its Retry-After.

The read subjects (checks.READ_SUBJECTS) meet the same storms inside their JSON batch (on one read, the VPP tokens)
and on the batch's outer POST; they always succeed: converging, with the report of a fault-free run; exhausted, with
the throttled read (or every read of the throttled batch) reported unreadable. Their Retry-After gaps and budgets
are those of each sub-request (a read keeps its client-request-id across the batches it is retried in).

The cases are data (SUBJECT_TARGETS x a plan of (kind, outcome) pairs): the device management partner meets every
pair on each target; the connector family meets a covering plan (every kind and both outcomes on each target) so
that the run stays short. One playbook run holds every case: one host per subject and target (they run in
parallel, each at its own pace: the free strategy), one loop item per case. GET, PATCH, DELETE, action and token faults are aimed at the item's own object
id or tenant, so they can be set up front; every create POSTs to its collection's path, so each POST case installs
its fault from its own item (``when:`` + a control call) just before it runs.
"""

from __future__ import annotations

from tests.reliability.checks import (
    HEALTH_KIND_PATHS,
    READ_BASELINE,
    READ_SUBJECTS,
    SUBJECTS,
    TENANT_OF_ITEM,
    attempt_groups,
    batched_writes,
    budget_violations,
    endpoint_defaults,
    graph_writes,
    is_clean_failure,
    item_outcomes,
    read_references,
    read_tenant,
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
    # The covering plan in two halves, one for each read subject on each of its targets.
    "first half": [("429-ra", "converge"), ("429", "exhaust")],
    "second half": [("504", "converge"), ("503-ra", "exhaust")],
}
# Subject -> (case key prefix, plan, targets).
SUBJECT_TARGETS = {
    "device_management_partner": ("dmp", "full", ("get", "patch", "delete", "post", "token")),
    "compliance_management_partner": ("cmp", "covering", ("get", "patch", "delete", "post")),
    "remote_assistance_partner": ("rap", "covering", ("get", "patch", "action", "post")),
    "mobile_threat_defense_connector": ("mtd", "covering", ("get", "patch", "delete", "post")),
}
# Read subject -> (case key prefix, {target: plan}): "read" throttles one read inside the batch (the VPP tokens),
# "batch" the batch's outer POST. The read subjects use API version beta, which no other host of the storm uses, so
# that their faults (on /beta paths) meet their own requests only; their cases run one after the other on one host.
READ_TARGETS = {
    "connector_health": ("hl", {"read": "first half", "batch": "second half"}),
    "baseline_audit": ("ba", {"read": "second half", "batch": "first half"}),
}
READ_HOST = "reads"
READ_OPTIONS = {"api_version": "beta", "timeout": 1, "max_retries": MAX_RETRIES}
# An item's control call (its fault) made just before it runs, when it has one.
INSTALL_FAULT = "(lookup('ansible.builtin.pipe', item.ctl) if item.ctl else 'ok') == 'ok'"
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


def _read_cases():
    cases = []
    for name, (prefix, plans) in READ_TARGETS.items():
        for target, plan in plans.items():
            for kind, outcome in PLANS[plan]:
                key = f"{prefix}-{target}-{kind}-{outcome}"
                times = OUTCOMES[outcome]
                cases.append(
                    {"key": key, "subject": name, "target": target, "kind": kind, "outcome": outcome, "times": times}
                )
    return cases


def _host(case):
    if case["subject"] in READ_SUBJECTS:
        return READ_HOST
    return f"{SUBJECT_TARGETS[case['subject']][0]}-{case['target']}"


def _fault_spec(case, tenant_id=None):
    spec = dict(KINDS[case["kind"]], times=case["times"])
    if case["target"] == "read":
        return dict(spec, method="GET", path=f"^/beta{HEALTH_KIND_PATHS['vpp_tokens']}$", scope="batched")
    if case["target"] == "batch":
        return dict(spec, method="POST", path=r"^/beta/\$batch$", scope="single")
    subject = SUBJECTS[case["subject"]]
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
    if case["subject"] in READ_SUBJECTS:  # a tenant of its own; its fault installed just before it runs
        return {"key": case["key"], "tenant": tenant_id, "ctl": playbooks.ctl("add-fault", _fault_spec(case))}
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
        **TENANT_OF_ITEM,
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
        "when": INSTALL_FAULT,
    }


def _read_task(name):
    subject = READ_SUBJECTS[name]
    task = subject.task(f"{{{{ items_by_host[inventory_hostname]['{name}'] }}}}", **READ_OPTIONS)
    return dict(task, when=INSTALL_FAULT)


def _read_problems(case, status, result, reference):
    """Why a read case's result is not what its storm leaves: it must succeed; converging, exactly as the reference;
    exhausted, with the throttled read (or every read of the throttled batch) reported unreadable, and nothing else."""
    subject = READ_SUBJECTS[case["subject"]]
    if status != "ok":
        return [("expected the task to succeed", status, result.get("msg"))]
    problems = subject.misreports(result, reference)
    expected = (set(), set())
    if case["outcome"] == "exhaust" and case["target"] == "read":
        expected = ({"vpp_tokens"}, set())
    elif case["outcome"] == "exhaust":
        expected = (set(HEALTH_KIND_PATHS), set(READ_BASELINE) if subject.audits else set())
    if subject.unreadable(result) != expected:
        problems.append(("unreadable", subject.unreadable(result), "expected", expected))
    messages = [finding["message"] for finding in subject.findings(result) if finding["status"] == "error"]
    if not all("throttled" in message for message in messages):
        problems.append(("unreadable without being throttled", messages))
    return problems


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
    read_cases = _read_cases()
    cases = _cases() + read_cases
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
    # Every token case and every read case signs in to a tenant of its own, so that its requests can be told apart
    # by their tenant (a token fault then hits only its own token request).
    seeded = control.seed(
        {
            main_tenant: collections,
            **{
                f"storm-{case['key']}": {dmp.collection: [dict(CHANGES[case["subject"]][0], id=case["key"])]}
                for case in token_cases
            },
            **{f"storm-{case['key']}": read_tenant() for case in read_cases},
            "storm-reference": read_tenant(),
        }
    )
    tenants = playbooks.tenant_logins(seeded["tenants"])
    references = read_references(playbooks, tenants, "storm-reference", **READ_OPTIONS)

    items_by_host = {}
    for case in cases:
        tenant_id = f"storm-{case['key']}" if case["target"] == "token" or case in read_cases else main_tenant
        if case["target"] != "post" and case not in read_cases:
            control.add_fault(**_fault_spec(case, tenant_id))
        host = items_by_host.setdefault(_host(case), {name: [] for name in (*SUBJECT_TARGETS, *READ_TARGETS)})
        host[case["subject"]].append(_item(case, tenant_id, playbooks))

    play = {
        "name": "throttling storms",
        "hosts": "all",
        "gather_facts": False,
        "strategy": "free",  # each host runs its own subject's task without waiting for the others'
        "vars": {"items_by_host": items_by_host, "tenants": tenants},
        "module_defaults": endpoint_defaults(info),
        "tasks": [_task(name) for name in SUBJECT_TARGETS] + [_read_task(name) for name in READ_TARGETS],
    }
    run = playbooks.run([play], hosts=tuple(items_by_host), forks=len(items_by_host))

    log = control.log()
    state = {subject.name: control.state(subject.collection) for subject in SUBJECTS.values()}
    faults = control.faults()
    outcomes = {}
    for name in SUBJECT_TARGETS:
        outcomes.update(item_outcomes(run, f"storm {name}"))
    for name, subject in READ_SUBJECTS.items():
        outcomes.update(item_outcomes(run, subject.task_name))
    tally.add("runs", len(outcomes))
    tally.add_faults(faults)
    case_by_key = {case["key"]: case for case in cases}

    # Which case each logged request belongs to: by tenant (token and read cases), by object id, by the create's name
    # or id.
    def case_of(entry):
        if (entry["tenant"] or "").startswith("storm-"):
            return case_by_key.get(entry["tenant"][len("storm-") :])
        if entry["kind"] == "token":
            return None
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
    for case in read_cases:
        status, result = outcomes.get(case["key"], ("missing", {}))
        wrong = _read_problems(case, status, result, references[case["subject"]])
        if wrong:
            problems.append((case["key"], wrong))
            tally.add("wrong_reports" if status == "ok" else "unclean_failures")
        else:
            tally.add("converged")
    for case in cases:
        if case in read_cases:
            continue
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
    foreign = [(entry["method"], entry["path"], "inside a batch") for entry in batched_writes(log)]
    for entry in graph_writes(log):
        case = case_of(entry)
        if (
            case is None
            or case in read_cases
            or _expected_body(case, entry) is False
            or entry["body"] != _expected_body(case, entry)
        ):
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
        if case["target"] == "token" or case in read_cases:
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
