"""Randomised faults: 100 module runs per execution path with a 30 % chance of a fault on every request.

Every request (Graph, token endpoint, sign-in discovery) meets six faults, each firing with the same probability
from its own seeded random generator, so that together they fire on about 30 % of requests: 429 and 503 with a short
Retry-After, 504 without one, a connection dropped before the request is applied, one dropped after it is applied
(the answer is lost), and a delay beyond the task's timeout (the client gives up, the server still applies it).

Each loop item converges one partner of its own: updates of seeded partners (by id or by name, some renaming),
creates by name, deletes (by id or by name), each with its own max_retries. Afterwards, from the emulator alone:
every item that succeeded left exactly the desired state, every item that failed left the old or the desired one,
no name exists twice, no write touched anything an item did not ask for, every write body holds only keys its item
set, no logical request exceeded its retry budget and no retry ignored a Retry-After.

Items run on four hosts in parallel (forks) to overlap the waits, so the order in which requests draw from the
seeded generators varies a little between runs; the invariants hold for any order.
"""

from __future__ import annotations

import random

from tests.reliability.checks import (
    COLLECTION_PATH,
    CREATE_DEFAULTS,
    MODULE,
    OPTION_TO_GRAPH,
    attempt_groups,
    budget_violations,
    comparable,
    filter_name,
    graph_properties,
    graph_writes,
    is_clean_failure,
    item_outcomes,
    partner_id_of,
    retry_after_violations,
    wait_until_settled,
)

ITEMS_PER_PATH = 100
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
SEEDS = {"in_process": 7100, "module": 7200}

STATES = ("unknown", "unavailable", "enabled", "terminated", "rejected", "unresponsive")
APP_TYPES = ("unknown", "singleTenantApp", "multiTenantApp")
OFFSETS = ("Z", "+01:30", "-05:00", "+00:00", "+14:00")


def _date(rng):
    """A valid DateTimeOffset in one of its many spellings: 0 to 7 fractional digits, assorted offsets."""
    digits = "".join(rng.choice("0123456789") for _digit in range(rng.randrange(8)))
    day = f"20{rng.randrange(26, 40)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    clock = f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
    return f"{day}T{clock}{'.' + digits if digits else ''}{rng.choice(OFFSETS)}"


VALUE_MAKERS = {
    "partner_state": lambda rng: rng.choice(STATES),
    "partner_app_type": lambda rng: rng.choice(APP_TYPES),
    "single_tenant_app_id": lambda rng: f"app-{rng.randrange(10**6)}",
    "is_configured": lambda rng: rng.random() < 0.5,
    "when_partner_devices_will_be_removed_date_time": _date,
    "when_partner_devices_will_be_marked_as_non_compliant_date_time": _date,
}


def _random_options(rng, low, high):
    chosen = rng.sample(sorted(VALUE_MAKERS), rng.randint(low, high))
    return {name: VALUE_MAKERS[name](rng) for name in chosen}


def _seeded_partner(rng, partner_id, name):
    options = {name: make(rng) for name, make in VALUE_MAKERS.items()}
    return dict(graph_properties(options), id=partner_id, displayName=name)


def _scenario(seed):
    """(seeded partners, bystander ids, loop items) for one run."""
    rng = random.Random(seed)
    seeded, bystanders, items = [], [], []
    for index in range(ITEMS_PER_PATH):
        key = f"i{index:03d}"
        roll = index % 20  # 8 updates, 7 creates, 5 deletes in every 20 items
        item = {"key": key, "max_retries": rng.choice((1, 2, 3, 4)), "props": {}}
        if roll < 8:
            partner = _seeded_partner(rng, f"upd-{key}", f"Seeded {key} O'Neil & Søn")
            seeded.append(partner)
            item.update(kind="update", target=partner["id"], props=_random_options(rng, 1, 3))
            if roll % 2:
                item["display_name"] = partner["displayName"]  # found by name
            else:
                item["id"] = partner["id"]
                if roll == 4:
                    item["props"]["display_name"] = f"Renamed {key} ✓"
        elif roll < 15:
            item.update(kind="create", display_name=f"Created {key} «ünï» 'q' & co", props=_random_options(rng, 0, 3))
        else:
            partner = _seeded_partner(rng, f"del-{key}", f"Doomed {key}")
            seeded.append(partner)
            item.update(kind="delete", target=partner["id"], state="absent")
            if roll % 2:
                item["display_name"] = partner["displayName"]
            else:
                item["id"] = partner["id"]
        items.append(item)
    for index in range(5):
        partner = _seeded_partner(rng, f"bystander-{index}", f"Bystander {index}")
        seeded.append(partner)
        bystanders.append(partner["id"])
    return seeded, bystanders, items


def _task():
    """One task for every item: options the item does not set are omitted."""
    args = {
        "id": "{{ item.id | default(omit) }}",
        "display_name": "{{ item.props.display_name | default(item.display_name) | default(omit) }}",
        "state": "{{ item.state | default('present') }}",
        "timeout": TIMEOUT,
        "max_retries": "{{ item.max_retries }}",
    }
    for option in VALUE_MAKERS:
        args[option] = f"{{{{ item.props.{option} | default(omit) }}}}"
    return {
        "name": "random",
        MODULE: args,
        "loop": "{{ items_by_host[inventory_hostname] }}",
        "loop_control": {"label": "{{ item.key }}"},
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


def _desired(item, seeded_by_id):
    """(old, desired) Graph objects of the item's partner (None = absent); ids left out for creates."""
    if item["kind"] == "create":
        desired = dict(CREATE_DEFAULTS, displayName=item["display_name"])
        desired.update(graph_properties(item["props"]))
        return None, desired
    old = comparable(seeded_by_id[item["target"]])
    if item["kind"] == "delete":
        return old, None
    return old, dict(old, **graph_properties(item["props"]))


def test_random_faults(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    tenant = info["tenant_id"]
    seeded, bystanders, items = _scenario(SEEDS[execution_path])
    control.seed({tenant: seeded})
    seeded = control.state()[tenant]  # as Graph renders them (defaults filled in, dates normalised)
    for index, spec in enumerate(FAULT_KINDS):
        control.add_fault(method="*", path="", probability=EACH_PROBABILITY, seed=SEEDS[execution_path] + index, **spec)
    items_by_host = {host: items[index :: len(HOSTS)] for index, host in enumerate(HOSTS)}
    play = {
        "name": "random faults",
        "hosts": "all",
        "gather_facts": False,
        "vars": {"items_by_host": items_by_host},
        "module_defaults": {"group/msgraph.intune.graph": _connection(playbooks, info, execution_path)},
        "tasks": [_task()],
    }
    run = playbooks.run([play], hosts=HOSTS, forks=len(HOSTS))
    wait_until_settled(control)

    log = control.log()
    state = {partner["id"]: partner for partner in control.state()[tenant]}
    faults = control.faults()
    outcomes = item_outcomes(run, "random")
    tally.add("runs", len(outcomes))
    tally.add_faults(faults)
    seeded_by_id = {partner["id"]: partner for partner in seeded}
    by_target = {item["target"]: item for item in items if "target" in item}
    by_name = {item["display_name"]: item for item in items if "display_name" in item}

    # Duplicates: the same name twice (a create repeated after a lost answer or a timeout).
    names = [partner["displayName"] for partner in state.values()]
    duplicates = {name: names.count(name) for name in set(names) if names.count(name) > 1}
    tally.add("duplicate_creates", sum(count - 1 for count in duplicates.values()))

    # Every item: success means the desired state, failure the old or the desired one.
    problems, wrong = [], []
    for item in items:
        old, desired = _desired(item, seeded_by_id)
        if item["kind"] == "create":
            matches = [comparable(p) for p in state.values() if p["displayName"] == item["display_name"]]
            # A duplicate is counted above; the content of the first copy is judged here like any other.
            final = {key: value for key, value in matches[0].items() if key != "id"} if matches else None
        else:
            final = comparable(state.get(item["target"]))
        status, result = outcomes.get(item["key"], ("missing", {}))
        if status == "ok":
            if final == desired:
                tally.add("converged")
            else:
                wrong.append((item["key"], "succeeded but Graph holds", final, "instead of", desired))
        elif status == "failed" and is_clean_failure(result):
            tally.add("failed_cleanly")
            if final not in (old, desired):
                wrong.append((item["key"], "failed and Graph holds", final, "neither", old, "nor", desired))
        else:
            tally.add("unclean_failures")
            problems.append((item["key"], status, result.get("msg"), result.get("exception")))
    for partner_id in bystanders:
        if comparable(state.get(partner_id)) != comparable(seeded_by_id[partner_id]):
            wrong.append((partner_id, "bystander changed", state.get(partner_id)))

    # Every write: aimed at the item's own partner, with only keys (and values) that item set.
    for entry in graph_writes(log):
        body = entry["body"] or {}
        if entry["method"] == "POST" and entry["path"].endswith(COLLECTION_PATH):
            item = by_name.get(body.get("displayName"))
            allowed = graph_properties(dict(item["props"], display_name=item["display_name"])) if item else None
            expected_kind = "create"
        else:
            item = by_target.get(partner_id_of(entry))
            allowed = graph_properties(item["props"]) if item else None
            expected_kind = {"PATCH": "update", "DELETE": "delete"}.get(entry["method"])
            if entry["path"].endswith("/terminate"):
                expected_kind = None
        if item is None or item["kind"] != expected_kind:
            wrong.append(("write for no item of that kind", entry["method"], entry["path"], body))
        elif any(key not in allowed or allowed[key] != _graph_value_of(key, value) for key, value in body.items()):
            wrong.append((item["key"], "write with keys or values the item did not set", body, allowed))
    tally.add("lost_or_foreign_writes", len(wrong))

    # Retry budget per logical request (its item's max_retries), and Retry-After honoured.
    global_max = max(item["max_retries"] for item in items) + 1

    def max_attempts(entries):
        first = entries[0]
        item = by_target.get(partner_id_of(first) or "") or by_name.get(filter_name(first) or "")
        if item is None and first["method"] == "POST" and first["body"]:
            item = by_name.get(first["body"].get("displayName"))
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
    assert len(outcomes) == ITEMS_PER_PATH, sorted({item["key"] for item in items} - set(outcomes))
    assert fired >= 0.2 * len(log), f"only {fired} faults for {len(log)} requests"
    assert not duplicates, f"created twice: {duplicates}; their POSTs: {_posts_for(log, duplicates)}"
    assert not wrong, wrong
    assert not problems, problems
    assert not over_budget, over_budget
    assert not too_soon, too_soon
    assert not leaks, [str(hit) for hit in leaks]


def _graph_value_of(graph_name, value):
    """A body value in Graph form (dates normalised), for comparison with graph_properties()."""
    option = next(option for option, graph in OPTION_TO_GRAPH.items() if graph == graph_name)
    return graph_properties({option: value})[graph_name]


def _posts_for(log, names):
    """(seq, status, fault, client-request-id) of every POST that carried one of the names: how the copy came about."""
    return [
        (entry["seq"], entry["status"], entry["fault"], entry["client_request_id"][:8])
        for entry in log
        if entry["method"] == "POST" and (entry["body"] or {}).get("displayName") in names
    ]


# The ways a create's answer can be lost, one at a time: what the random run may or may not happen to hit.
LOST_ANSWERS = {
    "answer dropped after the create": {"kind": "drop_after"},
    "create slower than the timeout": {"kind": "latency", "latency": TIMEOUT + 0.4},
    "504 before the create": {"kind": "status", "status": 504},
    "connection dropped before the create": {"kind": "drop_before"},
}


def test_lost_create_answer_never_duplicates(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    items = [
        {
            "name": f"Lost answer: {case}",
            "ctl": playbooks.ctl("add-fault", dict(spec, method="POST", path=f"{COLLECTION_PATH}$", times=1)),
        }
        for case, spec in LOST_ANSWERS.items()
    ]
    task = {
        "name": "create",
        MODULE: {"display_name": "{{ item.name }}", "partner_state": "enabled", "timeout": TIMEOUT, "max_retries": 3},
        "loop": items,
        "loop_control": {"label": "{{ item.name }}"},
        "when": "lookup('ansible.builtin.pipe', item.ctl) == 'ok'",
    }
    play = {
        "name": "lost create answers",
        "hosts": "all",
        "gather_facts": False,
        "module_defaults": {"group/msgraph.intune.graph": playbooks.connection(info)},
        "tasks": [task],
    }
    run = playbooks.run([play])
    wait_until_settled(control)
    log = control.log()
    names = [partner["displayName"] for partner in control.state()[info["tenant_id"]]]
    outcomes = item_outcomes(run, "create", key="name")
    tally.add("runs", len(items))
    tally.add_faults(control.faults())

    problems = []
    for item in items:
        status, result = outcomes.get(item["name"], ("missing", {}))
        copies = names.count(item["name"])
        if status == "ok" and copies == 1:
            tally.add("converged")
        elif status == "failed" and is_clean_failure(result) and copies <= 1:
            tally.add("failed_cleanly")
        else:
            problems.append(
                (item["name"], status, result.get("msg"), f"{copies} copies", _posts_for(log, [item["name"]]))
            )
    duplicates = sum(names.count(item["name"]) - 1 for item in items if names.count(item["name"]) > 1)
    tally.add("duplicate_creates", duplicates)
    tally.add(
        "unclean_failures",
        sum(1 for _key, (status, result) in outcomes.items() if status == "failed" and not is_clean_failure(result)),
    )

    leaks = playbooks.scan()
    assert [fault["fired"] for fault in control.faults()] == [1] * len(items), control.faults()
    assert [entry["fault"] for entry in log if entry["method"] == "POST" and entry["fault"]] == [
        spec["kind"] for spec in LOST_ANSWERS.values()
    ]
    assert not problems, "\n".join(map(str, problems))
    assert not leaks, [str(hit) for hit in leaks]
