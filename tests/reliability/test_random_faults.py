"""Randomised faults: module runs with a 30 % chance of a fault on every request, for every object type.

Every request (Graph, token endpoint, sign-in discovery) meets six faults, each firing with the same probability
from its own seeded random generator, so that together they fire on about 30 % of requests: 429 and 503 with a short
Retry-After, 504 without one, a connection dropped before the request is applied, one dropped after it is applied
(the answer is lost), and a delay beyond the task's timeout (the client gives up, the server still applies it).

Two runs per execution path (RUNS): 100 device management partners, and the connector family (compliance partners,
remote assistance partners, MTD connectors) with 20 objects each. Each loop item converges one object of its own:
updates of seeded objects (by id or by name, some renaming), creates (by name, or by id for MTD connectors), deletes,
each with its own max_retries; remote assistance items also start or disconnect the onboarding, compliance items
set target lists (some by group name). Afterwards, from the emulator alone: every item that succeeded left exactly
the desired state, every item that failed left the old state, the desired one or the one between its PATCH and its
action; no name exists twice and no create was re-sent after it was applied (MTD: no 409), no write touched
anything an item did not ask for, every write body holds only keys its item set, no logical request exceeded its
retry budget and no retry ignored a Retry-After.

A third run per execution path drives the read subjects (checks.READ_SUBJECTS: connector_health, and
tenant_baseline's audit with health), whose reads travel in JSON batches: the same faults (which also meet every
batch's outer POST, and, but for the drops, its sub-requests), plus 403s and 404s inside batches. Each item reads a
tenant of its own; it must report every part as a fault-free run does or as unreadable on its own (with a failure
the log shows), or fail cleanly because a round trip or its sign-in could not be made, never because of one read.

Items run on four hosts in parallel (forks) to overlap the waits, so the order in which requests draw from the
seeded generators varies a little between runs; the invariants hold for any order.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict

import pytest

from tests.reliability.checks import (
    GROUPS_PATH,
    HEALTH_KIND_PATHS,
    READ_SUBJECTS,
    SINGLETON_KINDS,
    SUBJECTS,
    attempt_groups,
    batched_writes,
    budget_violations,
    endpoint_defaults,
    fails_on_one_read,
    filter_name,
    graph_writes,
    is_clean_failure,
    item_outcomes,
    read_references,
    read_tenant,
    retry_after_violations,
    wait_until_settled,
)

HOSTS = ("h1", "h2", "h3", "h4")
TIMEOUT = 1
RETRY_AFTER = 0.1
FAULT_PROBABILITY = 0.3
FAULT_KINDS = (
    {"kind": "status", "status": 429, "retry_after": RETRY_AFTER},
    {"kind": "status", "status": 503, "retry_after": RETRY_AFTER},
    {"kind": "status", "status": 504},
    {"kind": "drop_before"},
    {"kind": "drop_after"},
    {"kind": "latency", "latency": TIMEOUT + 0.4},
)
# Six independent chances p with 1 - (1 - p)^6 = 0.3: a request meets some fault 30 % of the time.
EACH_PROBABILITY = 1 - (1 - FAULT_PROBABILITY) ** (1 / len(FAULT_KINDS))
# Run name -> {subject name: (loop items, item key prefix)}, and the seed of each run and path.
RUNS = {
    "partners": {"device_management_partner": (100, "i")},
    "connectors": {
        "compliance_management_partner": (20, "c"),
        "remote_assistance_partner": (20, "r"),
        "mobile_threat_defense_connector": (20, "m"),
    },
}
SEEDS = {("partners", "in_process"): 7100, ("partners", "module"): 7200}
SEEDS.update({("connectors", "in_process"): 7300, ("connectors", "module"): 7400})

STATES = ("unknown", "unavailable", "enabled", "terminated", "rejected", "unresponsive")
APP_TYPES = ("unknown", "singleTenantApp", "multiTenantApp")
OFFSETS = ("Z", "+01:30", "-05:00", "+00:00", "+14:00")
ONBOARDING_STATUSES = ("notOnboarded", "onboarding", "onboarded")
MTD_PARTNER_STATES = ("unavailable", "available", "enabled", "unresponsive", "notSetUp", "error")
# Entra groups of the tenant; targets name some of them by id, one by name.
GROUP_IDS = {
    "Fleet A": "f1ee7a00-0000-4000-8000-000000000001",
    "Fleet B": "f1ee7b00-0000-4000-8000-000000000002",
    "Lab": "1ab00000-0000-4000-8000-000000000003",
}
TARGET_POOL = (
    {"type": "all_devices"},
    {"type": "all_licensed_users"},
    {"type": "group", "group_id": GROUP_IDS["Fleet A"]},
    {"type": "group", "group_display_name": "Fleet B"},
    {"type": "exclusion_group", "group_id": GROUP_IDS["Lab"]},
    {"type": "configuration_manager_collection", "collection_id": "SMS00001"},
)


def _date(rng):
    """A valid DateTimeOffset in one of its many spellings: 0 to 7 fractional digits, assorted offsets."""
    digits = "".join(rng.choice("0123456789") for _digit in range(rng.randrange(8)))
    day = f"20{rng.randrange(26, 40)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    clock = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    return f"{day}T{clock}{'.' + digits if digits else ''}{rng.choice(OFFSETS)}"


def _bool(rng):
    return rng.random() < 0.5


def _targets(rng):
    return [dict(target) for target in rng.sample(TARGET_POOL, rng.randrange(4))]


# Subject name -> {option: random value maker}: the options its loop items may set.
VALUE_MAKERS = {
    "device_management_partner": {
        "partner_state": lambda rng: rng.choice(STATES),
        "partner_app_type": lambda rng: rng.choice(APP_TYPES),
        "single_tenant_app_id": lambda rng: f"app-{rng.randrange(10**6)}",
        "is_configured": _bool,
        "when_partner_devices_will_be_removed_date_time": _date,
        "when_partner_devices_will_be_marked_as_non_compliant_date_time": _date,
    },
    "compliance_management_partner": {
        "partner_state": lambda rng: rng.choice(STATES),
        "android_onboarded": _bool,
        "ios_onboarded": _bool,
        "mac_os_onboarded": _bool,
        "android_enrollment_assignments": _targets,
        "ios_enrollment_assignments": _targets,
        "mac_os_enrollment_assignments": _targets,
    },
    "remote_assistance_partner": {
        "onboarding_url": lambda rng: f"https://assist.example/onboard?tenant={rng.randrange(10**6)}&x='y'",
    },
    "mobile_threat_defense_connector": {
        **{option: _bool for option in SUBJECTS["mobile_threat_defense_connector"].type.options},
        "partner_unresponsiveness_threshold_in_days": lambda rng: rng.randrange(0, 400),
    },
}
# What the service sets on seeded objects, which no item may change.
SERVICE_SEEDS = {
    "remote_assistance_partner": lambda rng: {"onboardingStatus": rng.choice(ONBOARDING_STATUSES)},
    "mobile_threat_defense_connector": lambda rng: {"partnerState": rng.choice(MTD_PARTNER_STATES)},
}


def _random_options(rng, makers, low, high):
    chosen = rng.sample(sorted(makers), rng.randint(min(low, len(makers)), min(high, len(makers))))
    return {name: makers[name](rng) for name in chosen}


def _seeded(rng, subject, object_id, name):
    makers = VALUE_MAKERS[subject.name]
    options = {option: make(rng) for option, make in makers.items()}
    seeded = dict(subject.graph_properties(options, GROUP_IDS, wire=True), id=object_id)
    if subject.by_name:
        seeded["displayName"] = name
    seeded.update(SERVICE_SEEDS.get(subject.name, lambda _rng: {})(rng))
    return seeded


def _scenario(rng, subject, count, prefix):
    """(seeded objects, bystander ids, loop items) of one subject."""
    makers = VALUE_MAKERS[subject.name]
    seeded, bystanders, items = [], [], []
    for index in range(count):
        key = f"{prefix}{index:03d}"
        roll = index % 20  # 8 updates, 7 creates, 5 deletes in every 20 items
        item = {"key": key, "max_retries": rng.choice((1, 2, 3, 4)), "props": {}}
        if roll < 8:
            obj = _seeded(rng, subject, f"upd-{key}", f"Seeded {key} O'Neil & Søn")
            seeded.append(obj)
            item.update(kind="update", target=obj["id"], props=_random_options(rng, makers, 1, 3))
            if roll % 2 and subject.by_name:
                item["display_name"] = obj["displayName"]  # found by name
            else:
                item["id"] = obj["id"]
                if roll == 4 and subject.by_name:
                    item["props"]["display_name"] = f"Renamed {key} ✓"
        elif roll < 15:
            item.update(kind="create", props=_random_options(rng, makers, 0, 3))
            if subject.by_name:
                item["display_name"] = f"Created {key} «ünï» 'q' & co"
            else:
                item["id"] = f"new-{key}"  # an id the tenant does not have: a create with that id
        else:
            obj = _seeded(rng, subject, f"del-{key}", f"Doomed {key}")
            seeded.append(obj)
            item.update(kind="delete", target=obj["id"], state="absent")
            if roll % 2 and subject.by_name:
                item["display_name"] = obj["displayName"]
            else:
                item["id"] = obj["id"]
        if subject.action_option and item["kind"] != "delete":
            action = rng.choice((None, *subject.actions))
            if action:
                item[subject.action_option] = action
        items.append(item)
    for index in range(5 if subject.name == "device_management_partner" else 2):
        obj = _seeded(rng, subject, f"bystander-{prefix}{index}", f"Bystander {prefix}{index}")
        seeded.append(obj)
        bystanders.append(obj["id"])
    return seeded, bystanders, items


def _task(subject):
    """One task per subject for all its items: options an item does not set are omitted."""
    args = {
        "id": "{{ item.id | default(omit) }}",
        "state": "{{ item.state | default('present') }}",
        "timeout": TIMEOUT,
        "max_retries": "{{ item.max_retries }}",
    }
    if subject.by_name:
        args["display_name"] = "{{ item.props.display_name | default(item.display_name) | default(omit) }}"
    for option in VALUE_MAKERS[subject.name]:
        args[option] = f"{{{{ item.props.{option} | default(omit) }}}}"
    if subject.action_option:
        args[subject.action_option] = f"{{{{ item.{subject.action_option} | default(omit) }}}}"
    return {
        "name": f"random {subject.name}",
        subject.module: args,
        "loop": f"{{{{ items_by_host[inventory_hostname]['{subject.name}'] }}}}",
        "loop_control": {"label": "{{ item.key }}"},
        "ignore_errors": True,  # a failed item must not keep its host from the next subject's task
    }


def _connection(playbooks, info, execution_path):
    """Client secret on the in-process path, the PFX certificate on the module path: both sign-in flows get faults."""
    if execution_path == "module":
        return playbooks.connection(
            info,
            client_secret=None,
            auth_method="client_certificate",
            client_certificate_path=info["client_certificate_pfx_path"],
            client_certificate_password=playbooks.secret(info["client_certificate_password"]),
        )
    return playbooks.connection(info)


def _expected(subject, item, seeded_by_id):
    """(states a failed item may leave, the state a successful one must leave): canonical Graph objects, None for
    absent. A created object is compared on what the module manages only (the rest is the service's)."""
    props = subject.graph_properties(item["props"], GROUP_IDS)
    if item["kind"] == "create":
        created = dict(subject.new_object, **props)
        if subject.by_name:
            created["displayName"] = item["display_name"]
        desired = subject.after_actions(created, item)
        return [None, created, desired], desired
    old = subject.canonical(seeded_by_id[item["target"]])
    if item["kind"] == "delete":
        return [old, None], None
    patched = dict(old, **props)
    desired = subject.after_actions(patched, item)
    return [old, patched, desired], desired


class Judge:
    """The checks of one subject's items against the emulator's final state and log."""

    def __init__(self, subject, seeded, bystanders, items, state):
        self.subject = subject
        self.items = items
        self.bystanders = bystanders
        self.seeded_by_id = {obj["id"]: obj for obj in seeded}
        self.state = {obj["id"]: obj for obj in state}
        self.by_target = {item["target"]: item for item in items if "target" in item}
        self.by_name = {item["display_name"]: item for item in items if "display_name" in item}
        self.by_id = {item["id"]: item for item in items if "id" in item}
        # Objects the items created, by their new ids (found by name at the end).
        for obj in self.state.values():
            item = self.by_name.get(obj.get("displayName"))
            if item and item["kind"] == "create":
                self.by_target[obj["id"]] = item

    def final(self, item):
        if item["kind"] != "create":
            return self.subject.canonical(self.state.get(item["target"]))
        if self.subject.by_name:
            matches = [obj for obj in self.state.values() if obj.get("displayName") == item["display_name"]]
            # A duplicate is counted on its own; the content of the first copy is judged like any other.
            return self.subject.canonical(matches[0], managed_only=True) if matches else None
        return self.subject.canonical(self.state.get(item["id"]), managed_only=True)

    def duplicates(self, log):
        """Objects created twice: a name held twice, or (ids given by the task) a create answered 409."""
        if self.subject.by_name:
            names = [obj.get("displayName") for obj in self.state.values()]
            return {name: names.count(name) - 1 for name in set(names) if name is not None and names.count(name) > 1}
        conflicts = [entry for entry in log if self.subject.is_create(entry) and entry["status"] == 409]
        return {(entry["body"] or {}).get("id"): 1 for entry in conflicts}

    def item_of_request(self, entry):
        """The item a logged request was made for, or None."""
        if self.subject.is_create(entry) and entry["body"]:
            key = entry["body"].get("displayName" if self.subject.by_name else "id")
            return (self.by_name if self.subject.by_name else self.by_id).get(key)
        object_id = self.subject.object_id_of(entry)
        if object_id is not None:
            return self.by_target.get(object_id) or self.by_id.get(object_id)
        if entry["path"] == self.subject.path:
            return self.by_name.get(filter_name(entry) or "")
        return None

    def write_problem(self, entry):
        """Why a write is not one its item asked for, or None."""
        item = self.item_of_request(entry)
        body = entry["body"] or {}
        action = self.subject.action_of(entry)
        if item is None:
            return "a write for no item"
        allowed = self.subject.graph_properties(item["props"], GROUP_IDS)
        if self.subject.is_create(entry):
            expected_kind = "create"
            if self.subject.by_name:
                allowed["displayName"] = item["display_name"]
            else:
                allowed["id"] = item["id"]
        elif action is not None:
            wanted = self.subject.actions.get(item.get(self.subject.action_option) or "", (None,))[0]
            if entry["method"] != "POST" or action != wanted or body:
                return f"action {action} that the item did not ask for"
            expected_kind = item["kind"] if item["kind"] in ("create", "update") else None
        else:
            expected_kind = {"PATCH": "update", "DELETE": "delete"}.get(entry["method"])
        if item["kind"] != expected_kind:
            return f"a {entry['method']} for a {item['kind']} item"
        values = self.subject.body_values(body)
        if any(key not in allowed or allowed[key] != value for key, value in values.items()):
            return f"keys or values the item did not set: {values} (allowed: {allowed})"
        return None


@pytest.mark.parametrize("run_name", sorted(RUNS))
def test_random_faults(emulator, playbooks, tally, execution_path, run_name):
    control = emulator.control
    info = emulator.info
    tenant = info["tenant_id"]
    rng = random.Random(SEEDS[(run_name, execution_path)])
    subjects = [SUBJECTS[name] for name in RUNS[run_name]]
    scenarios = {}
    collections = {"groups": [{"id": group_id, "displayName": name} for name, group_id in GROUP_IDS.items()]}
    for subject in subjects:
        count, prefix = RUNS[run_name][subject.name]
        seeded, bystanders, items = _scenario(rng, subject, count, prefix)
        collections[subject.collection] = seeded
        scenarios[subject.name] = (bystanders, items)
    control.seed({tenant: collections})
    # As Graph renders them (defaults filled in, dates normalised).
    seeded_state = {subject.name: control.state(subject.collection)[tenant] for subject in subjects}
    for index, spec in enumerate(FAULT_KINDS):
        seed = SEEDS[(run_name, execution_path)] + index
        control.add_fault(method="*", path="", probability=EACH_PROBABILITY, seed=seed, **spec)
    items_by_host = {
        host: {name: items[index :: len(HOSTS)] for name, (_bystanders, items) in scenarios.items()}
        for index, host in enumerate(HOSTS)
    }
    play = {
        "name": f"random faults: {run_name}",
        "hosts": "all",
        "gather_facts": False,
        "vars": {"items_by_host": items_by_host},
        "module_defaults": {"group/msgraph.intune.graph": _connection(playbooks, info, execution_path)},
        "tasks": [_task(subject) for subject in subjects],
    }
    run = playbooks.run([play], hosts=HOSTS, forks=len(HOSTS))
    wait_until_settled(control)

    log = control.log()
    faults = control.faults()
    tally.add_faults(faults)
    judges = []
    problems, wrong, duplicates, missing = [], [], {}, []
    for subject in subjects:
        bystanders, items = scenarios[subject.name]
        judge = Judge(subject, seeded_state[subject.name], bystanders, items, control.state(subject.collection)[tenant])
        judges.append(judge)
        outcomes = item_outcomes(run, f"random {subject.name}")
        tally.add("runs", len(outcomes))
        missing += sorted({item["key"] for item in items} - set(outcomes))
        duplicates.update({(subject.name, key): count for key, count in judge.duplicates(log).items()})

        # Every item: success means the desired state; failure the old, the desired or the in-between one.
        for item in items:
            acceptable, desired = _expected(subject, item, judge.seeded_by_id)
            final = judge.final(item)
            status, result = outcomes.get(item["key"], ("missing", {}))
            if status == "ok":
                if final == desired:
                    tally.add("converged")
                else:
                    wrong.append((item["key"], "succeeded but Graph holds", final, "instead of", desired))
            elif status == "failed" and is_clean_failure(result):
                tally.add("failed_cleanly")
                if final not in acceptable:
                    wrong.append((item["key"], "failed and Graph holds", final, "none of", acceptable))
            else:
                tally.add("unclean_failures")
                problems.append((item["key"], status, result.get("msg"), result.get("exception")))
        for object_id in bystanders:
            if subject.canonical(judge.state.get(object_id)) != subject.canonical(judge.seeded_by_id[object_id]):
                wrong.append((object_id, "bystander changed", judge.state.get(object_id)))
    tally.add("duplicate_creates", sum(duplicates.values()))

    # Every write: aimed at an item's own object, with only keys (and values) that item set.
    def judge_of(entry):
        return next((judge for judge in judges if entry["path"].startswith(judge.subject.path)), None)

    for entry in graph_writes(log):
        judge = judge_of(entry)
        problem = "a write outside the driven collections" if judge is None else judge.write_problem(entry)
        if problem:
            wrong.append((problem, entry["method"], entry["path"], entry["body"]))
    in_batches = batched_writes(log)
    tally.add("lost_or_foreign_writes", len(wrong) + len(in_batches))

    # Retry budget per logical request (its item's max_retries), and Retry-After honoured.
    global_max = max(item["max_retries"] for _bystanders, items in scenarios.values() for item in items) + 1

    def max_attempts(entries):
        judge = judge_of(entries[0])
        item = judge.item_of_request(entries[0]) if judge else None
        return item["max_retries"] + 1 if item else global_max

    groups = attempt_groups(log)
    over_budget = budget_violations(groups, max_attempts)
    too_soon = retry_after_violations(
        groups, lambda entry: RETRY_AFTER if entry["fault"] == "status" and entry["status"] in (429, 503) else None
    )
    tally.add("budget_violations", len(over_budget))
    tally.add("retry_after_violations", len(too_soon))

    leaks = playbooks.scan()
    fired = sum(fault["fired"] for fault in faults)
    assert not missing, missing
    assert fired >= 0.2 * len(log), f"only {fired} faults for {len(log)} requests"
    assert not duplicates, f"created twice: {duplicates}; their POSTs: {_posts_for(log, duplicates)}"
    assert not wrong, wrong
    assert not in_batches, in_batches
    assert not problems, problems
    assert not over_budget, over_budget
    assert not too_soon, too_soon
    assert not leaks, [str(hit) for hit in leaks]


def _posts_for(log, duplicates):
    """(seq, status, fault, client-request-id) of every create that carried a duplicated name or id."""
    keys = {key for _subject, key in duplicates}
    return [
        (entry["seq"], entry["path"], entry["status"], entry["fault"], entry["client_request_id"][:8])
        for entry in log
        if entry["method"] == "POST" and set((entry["body"] or {}).values()) & keys
    ]


# The ways a create's answer can be lost, one at a time: what the random run may or may not happen to hit.
LOST_ANSWERS = {
    "answer dropped after the create": {"kind": "drop_after"},
    "create slower than the timeout": {"kind": "latency", "latency": TIMEOUT + 0.4},
    "504 before the create": {"kind": "status", "status": 504},
    "connection dropped before the create": {"kind": "drop_before"},
}
# One property each create sets, per subject.
LOST_CREATE_OPTIONS = {
    "device_management_partner": {"partner_state": "enabled"},
    "compliance_management_partner": {"ios_onboarded": True},
    "remote_assistance_partner": {"onboarding_url": "https://assist.example/onboard"},
    "mobile_threat_defense_connector": {"ios_enabled": True},
}


def test_lost_create_answer_never_duplicates(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    tasks, items_of, hosts = [], {}, {}
    for subject in (SUBJECTS[name] for name in LOST_CREATE_OPTIONS):
        hosts[f"lost-{subject.name}"] = subject.name
        items = []
        for index, (case, spec) in enumerate(LOST_ANSWERS.items()):
            fault = dict(spec, method="POST", path=f"/{subject.collection}$", times=1)
            item = {"name": f"Lost answer: {case}", "ctl": playbooks.ctl("add-fault", fault)}
            # The name (or, without names, the id) the create gives the object.
            item["key"] = item["name"] if subject.by_name else f"lost-{index}"
            items.append(item)
        items_of[subject.name] = items
        args = {"display_name" if subject.by_name else "id": "{{ item.key }}", "timeout": TIMEOUT, "max_retries": 3}
        tasks.append(
            {
                "name": f"create {subject.name}",
                subject.module: dict(args, **LOST_CREATE_OPTIONS[subject.name]),
                # Each subject on a host of its own: its faults are on its own collection's path.
                "loop": f"{{{{ lost_items[inventory_hostname]['{subject.name}'] | default([]) }}}}",
                "loop_control": {"label": "{{ item.name }}"},
                "when": "lookup('ansible.builtin.pipe', item.ctl) == 'ok'",
            }
        )
    play = {
        "name": "lost create answers",
        "hosts": "all",
        "gather_facts": False,
        "strategy": "free",  # the subjects' hosts run side by side
        "vars": {"lost_items": {host: {name: items_of[name]} for host, name in hosts.items()}},
        "module_defaults": {"group/msgraph.intune.graph": playbooks.connection(info)},
        "tasks": tasks,
    }
    run = playbooks.run([play], hosts=tuple(hosts), forks=len(hosts))
    wait_until_settled(control)
    log = control.log()
    tally.add_faults(control.faults())

    problems = []
    for name, items in items_of.items():
        subject = SUBJECTS[name]
        state = control.state(subject.collection)[info["tenant_id"]]
        keys = [obj.get("displayName" if subject.by_name else "id") for obj in state]
        outcomes = item_outcomes(run, f"create {name}", key="name")
        tally.add("runs", len(items))
        conflicts = [entry for entry in log if subject.is_create(entry) and entry["status"] == 409]
        duplicates = sum(keys.count(item["key"]) - 1 for item in items if keys.count(item["key"]) > 1)
        tally.add("duplicate_creates", duplicates + len(conflicts))
        for item in items:
            status, result = outcomes.get(item["name"], ("missing", {}))
            copies = keys.count(item["key"])
            if status == "ok" and copies == 1:
                tally.add("converged")
            elif status == "failed" and is_clean_failure(result) and copies <= 1:
                tally.add("failed_cleanly")
            else:
                if status == "failed" and not is_clean_failure(result):
                    tally.add("unclean_failures")
                problems.append((name, item["name"], status, result.get("msg"), f"{copies} copies"))
        faulted = [entry["fault"] for entry in log if subject.is_create(entry) and entry["fault"]]
        if faulted != [spec["kind"] for spec in LOST_ANSWERS.values()] or conflicts:
            problems.append((name, "faulted creates", faulted, "409s", len(conflicts)))

    leaks = playbooks.scan()
    assert [fault["fired"] for fault in control.faults()] == [1] * len(LOST_ANSWERS) * len(items_of)
    assert not problems, "\n".join(map(str, problems))
    assert not leaks, [str(hit) for hit in leaks]


# Reads in batches: connector_health and tenant_baseline's audit with health, each item on a tenant of its own.
READ_ITEMS = 8  # per read subject and execution path
READ_SEEDS = {"in_process": 7500, "module": 7600}
# Final failures inside batches (never retried), on every kind's path and on group lookups; a 404 on a singleton is
# Graph's "not set up", so those get 403 only.
FINAL_FAULTS = {
    403: (*HEALTH_KIND_PATHS.values(), GROUPS_PATH),
    404: tuple(path for kind, path in HEALTH_KIND_PATHS.items() if kind not in SINGLETON_KINDS),
}
FINAL_PROBABILITY = 0.03
DEFAULT_ATTEMPTS = 6  # max_retries 5, the default, for the references' requests


def test_random_faults_on_batched_reads(emulator, playbooks, tally, execution_path):
    """The read subjects under the same random faults as the writes (on the sign-in, on every batch's outer POST,
    status and latency faults on its sub-requests) plus final 403s and 404s inside batches. Every item either
    succeeds and reports each part as the fault-free reference does, or as unreadable on its own with a failure the
    log shows; or fails cleanly because a round trip or the sign-in could not be made. No write, no leak of the
    seeded VPP token or push certificate, every logical request (each read inside batches too) within its item's
    budget and every retry after the Retry-After it got."""
    control = emulator.control
    info = emulator.info
    seed = READ_SEEDS[execution_path]
    rng = random.Random(seed)
    items = [
        {"key": f"{subject.prefix}{index:02d}", "subject": subject.name, "max_retries": rng.choice((1, 2, 3, 4))}
        for subject in READ_SUBJECTS.values()
        for index in range(READ_ITEMS)
    ]
    for item in items:
        item["tenant"] = f"reads-{item['key']}"
    seeded = control.seed({tenant: read_tenant() for tenant in ("reads-reference", *(i["tenant"] for i in items))})
    tenants = playbooks.tenant_logins(t for t in seeded["tenants"] if t["tenant_id"].startswith("reads-"))
    references = read_references(playbooks, tenants, "reads-reference", timeout=TIMEOUT)

    for index, spec in enumerate(FAULT_KINDS):
        control.add_fault(method="*", path="", probability=EACH_PROBABILITY, seed=seed + index, **spec)
    for index, (status, paths) in enumerate(FINAL_FAULTS.items(), len(FAULT_KINDS)):
        pattern = "(?:" + "|".join(map(re.escape, paths)) + ")$"
        control.add_fault(
            method="GET",
            path=pattern,
            kind="status",
            status=status,
            scope="batched",
            probability=FINAL_PROBABILITY,
            seed=seed + index,
        )
    items_by_host = {
        host: {name: [item for item in items[index :: len(HOSTS)] if item["subject"] == name] for name in READ_SUBJECTS}
        for index, host in enumerate(HOSTS)
    }
    loop = "{{{{ items_by_host[inventory_hostname]['{}'] }}}}"
    play = {
        "name": "random faults: batched reads",
        "hosts": "all",
        "gather_facts": False,
        "vars": {"items_by_host": items_by_host, "tenants": tenants},
        "module_defaults": endpoint_defaults(info),
        "tasks": [
            dict(
                subject.task(loop.format(subject.name), timeout=TIMEOUT, max_retries="{{ item.max_retries }}"),
                ignore_errors=True,
            )
            for subject in READ_SUBJECTS.values()
        ],
    }
    run = playbooks.run([play], hosts=HOSTS, forks=len(HOSTS))
    wait_until_settled(control)

    log = control.log()
    faults = control.faults()
    tally.add_faults(faults)
    by_tenant = defaultdict(list)
    for entry in log:
        by_tenant[(entry["tenant"] or "").casefold()].append(entry)
    wrong, unclean, unreadable = [], [], 0
    for subject in READ_SUBJECTS.values():
        outcomes = item_outcomes(run, subject.task_name)
        tally.add("runs", len(outcomes))
        for item in (item for item in items if item["subject"] == subject.name):
            status, result = outcomes.get(item["key"], ("missing", {}))
            if status == "ok":
                problems = subject.misreports(result, references[subject.name])
                problems += subject.unexplained(result, by_tenant[item["tenant"].casefold()])
                if problems:
                    wrong.append((item["key"], problems))
                else:
                    tally.add("converged")
                unreadable += sum(map(len, subject.unreadable(result)))
            elif status == "failed" and is_clean_failure(result) and not fails_on_one_read(result):
                tally.add("failed_cleanly")
            else:
                unclean.append((item["key"], status, result.get("msg"), result.get("path")))
    tally.add("unclean_failures", len(unclean))
    tally.add("wrong_reports", len(wrong))
    writes = graph_writes(log)  # none at all: the read subjects never write, inside a batch or on their own
    tally.add("lost_or_foreign_writes", len(writes))

    item_of_tenant = {item["tenant"].casefold(): item for item in items}

    def max_attempts(entries):
        item = item_of_tenant.get((entries[0]["tenant"] or "").casefold())
        return item["max_retries"] + 1 if item else DEFAULT_ATTEMPTS

    groups = attempt_groups(log)
    over_budget = budget_violations(groups, max_attempts)
    too_soon = retry_after_violations(
        groups, lambda entry: RETRY_AFTER if entry["fault"] == "status" and entry["status"] in (429, 503) else None
    )
    tally.add("budget_violations", len(over_budget))
    tally.add("retry_after_violations", len(too_soon))

    leaks = playbooks.scan()
    faulted_inside = [entry for entry in log if entry["batch_seq"] is not None and entry["fault"]]
    faulted_outer = [entry for entry in log if entry["kind"] == "batch" and entry["fault"]]
    assert len(faulted_inside) >= 20 and len(faulted_outer) >= 5, (len(faulted_inside), len(faulted_outer))
    assert unreadable > 0, "no read failed for good: the run proves nothing about per-kind reports"
    assert not wrong, wrong
    assert not unclean, unclean
    assert not writes, writes
    assert not over_budget, over_budget
    assert not too_soon, too_soon
    assert not leaks, [str(hit) for hit in leaks]
