"""Bad input is refused before any request; unusual but valid input round-trips exactly.

Table 1 (REJECTED): each case is one task of a single playbook run (``failed_when: false``); every case must fail
with a message naming the option, and the emulator must see no request at all during that run. Every module and
every info module of the collection has cases of its own (the connector family's: enums, booleans, Int32 bounds,
target lists, read-only and missing properties). The tasks carry a
planted client secret and certificate password, which the scan at the end must not find anywhere. Both execution
paths run every case: the module checks its arguments with AnsibleModule, the in-process path with Ansible's
ArgumentSpecValidator.

Table 2 (ACCEPTED): names and values that are easy to mangle (unicode, quotes, apostrophes, ``&``, URL and OData
specials, 256 characters, an empty single_tenant_app_id, dates with offsets and 7 fractional digits, the longest
id) are written, read back by a second identical run of the task (no change) and found by name with the info module.
"""

from __future__ import annotations

from tests.reliability.checks import INFO_MODULE, MODULE, SUBJECTS, graph_writes, is_clean_failure

NO_VALUE = object()  # a REJECTED override that removes the option from the task
COMPLIANCE = SUBJECTS["compliance_management_partner"].module
REMOTE_ASSISTANCE = SUBJECTS["remote_assistance_partner"].module
MTD = SUBJECTS["mobile_threat_defense_connector"].module
RESULT_KEYS = {key for subject in SUBJECTS.values() for key in (subject.result_key, subject.result_key + "s")}

# (case id, module, option overrides, text (or texts) the message must contain). Every case runs against partner id
# "x1" unless it overrides id.
REJECTED = [
    ("enum partner_state", MODULE, {"partner_state": "bogus"}, "partner_state"),
    ("enum case-sensitive", MODULE, {"partner_app_type": "singletenantapp"}, "partner_app_type"),
    ("bool", MODULE, {"is_configured": "maybe"}, "is_configured"),
    ("date word", MODULE, {"when_partner_devices_will_be_removed_date_time": "tomorrow"}, "when_partner_devices"),
    (
        "date month 13",
        MODULE,
        {"when_partner_devices_will_be_marked_as_non_compliant_date_time": "2027-13-01T00:00:00Z"},
        "when_partner_devices_will_be_marked_as_non_compliant_date_time",
    ),
    ("date 30 February", MODULE, {"last_heartbeat_date_time": "2027-02-30T00:00:00Z"}, "last_heartbeat_date_time"),
    (
        "date 9 fractional digits",
        MODULE,
        {"when_partner_devices_will_be_removed_date_time": "2027-01-01T00:00:00.123456789Z"},
        "when_partner_devices_will_be_removed_date_time",
    ),
    (
        "date offset +15:00",
        MODULE,
        {"when_partner_devices_will_be_removed_date_time": "2027-01-01T00:00:00+15:00"},
        "when_partner_devices_will_be_removed_date_time",
    ),
    ("id with /", MODULE, {"id": "a/b"}, "id"),
    ("id ..", MODULE, {"id": ".."}, "id"),
    ("id with ?", MODULE, {"id": "abc?x=1"}, "id"),
    ("id with #", MODULE, {"id": "abc#frag"}, "id"),
    ("id with %", MODULE, {"id": "abc%2Fdef"}, "id"),
    ("id with space", MODULE, {"id": "a b"}, "id"),
    ("id 257 characters", MODULE, {"id": "a" * 257}, "id"),
    ("id empty", MODULE, {"id": ""}, "id"),
    ("info id with /", INFO_MODULE, {"id": "../x"}, "id"),
    ("state enum", MODULE, {"state": "gone"}, "state"),
    ("state terminated vs partner_state", MODULE, {"state": "terminated", "partner_state": "enabled"}, "partner_state"),
    ("neither id nor display_name", MODULE, {"id": NO_VALUE, "partner_state": "enabled"}, "display_name"),
    ("unknown option", MODULE, {"colour": "red"}, ("Unsupported parameters", "colour")),
    ("timeout 0", MODULE, {"timeout": 0}, "timeout"),
    ("timeout negative", MODULE, {"timeout": -1}, "timeout"),
    ("timeout not a number", MODULE, {"timeout": "soon"}, "timeout"),
    ("max_retries negative", MODULE, {"max_retries": -1}, "max_retries"),
    ("max_retries not a number", MODULE, {"max_retries": "many"}, "max_retries"),
    ("validate_certs not a bool", MODULE, {"validate_certs": "sometimes"}, "validate_certs"),
    ("graph_endpoint http", MODULE, {"graph_endpoint": "http://127.0.0.1:9"}, "graph_endpoint"),
    ("graph_endpoint with version", MODULE, {"graph_endpoint": "https://127.0.0.1:9/v1.0"}, "graph_endpoint"),
    ("authority_host http", MODULE, {"authority_host": "http://127.0.0.1:9"}, "authority_host"),
    ("api_version", MODULE, {"api_version": "v2.0"}, "api_version"),
    ("cloud", MODULE, {"cloud": "mars"}, "cloud"),
    ("auth_method", MODULE, {"auth_method": "password"}, "auth_method"),
    (
        "client_secret method without secret",
        MODULE,
        {"auth_method": "client_secret", "client_secret": NO_VALUE},
        "client_secret",
    ),
    ("no credentials at all", MODULE, {"client_secret": NO_VALUE}, "client_secret"),
    ("tenant_id missing", MODULE, {"tenant_id": NO_VALUE}, "tenant_id"),
    (
        "certificate method without path",
        MODULE,
        {"auth_method": "client_certificate", "client_secret": NO_VALUE},
        "client_certificate_path",
    ),
    (
        "certificate path missing",
        MODULE,
        {"auth_method": "client_certificate", "client_certificate_path": "/nonexistent/client.pem"},
        "client_certificate_path",
    ),
    (
        "certificate wrong password",
        MODULE,
        {"auth_method": "client_certificate", "client_certificate_path": "PFX"},
        "client_certificate_password",
    ),
    (
        "certificate without key",
        MODULE,
        {"auth_method": "client_certificate", "client_certificate_path": "CA"},
        "client_certificate_path",
    ),
    ("access_token method without token", MODULE, {"auth_method": "access_token"}, "access_token"),
    (
        "workload identity without token file",
        MODULE,
        {"auth_method": "workload_identity"},
        "AZURE_FEDERATED_TOKEN_FILE",
    ),
    ("ca_path missing", MODULE, {"ca_path": "/nonexistent/ca.pem"}, "ca_path"),
    # The connector family: argument spec, declaration and target rules, and connection options on its modules too.
    ("compliance partner_state", COMPLIANCE, {"partner_state": "active"}, "partner_state"),
    ("compliance bool", COMPLIANCE, {"mac_os_onboarded": "perhaps"}, "mac_os_onboarded"),
    (
        "compliance target type",
        COMPLIANCE,
        {"ios_enrollment_assignments": [{"type": "all_users"}]},
        ("ios_enrollment_assignments", "all_licensed_users"),
    ),
    (
        "compliance target twice",
        COMPLIANCE,
        {"android_enrollment_assignments": [{"type": "all_devices"}, {"type": "all_devices"}]},
        "android_enrollment_assignments lists the same target twice",
    ),
    (
        "compliance target unused key",
        COMPLIANCE,
        {"mac_os_enrollment_assignments": [{"type": "all_devices", "collection_id": "SMS00001"}]},
        "type all_devices does not use collection_id",
    ),
    (
        "compliance group id and name",
        COMPLIANCE,
        {"ios_enrollment_assignments": [{"type": "group", "group_id": "g-1", "group_display_name": "iOS users"}]},
        "needs exactly one of group_id or group_display_name",
    ),
    (
        "compliance group id with /",
        COMPLIANCE,
        {"android_enrollment_assignments": [{"type": "group", "group_id": "../groups"}]},
        "android_enrollment_assignments[0].group_id",
    ),
    ("compliance id with ?", COMPLIANCE, {"id": "x?y=1"}, "id"),
    ("compliance neither id nor name", COMPLIANCE, {"id": NO_VALUE, "ios_onboarded": True}, "display_name"),
    (
        "compliance heartbeat is read-only",
        COMPLIANCE,
        {"last_heartbeat_date_time": "2027-01-01T00:00:00Z"},
        (
            "Unsupported parameters",
            "last_heartbeat_date_time",
        ),
    ),
    ("compliance timeout 0", COMPLIANCE, {"timeout": 0}, "timeout"),
    ("remote assistance onboarding", REMOTE_ASSISTANCE, {"onboarding": "onboarded"}, "onboarding"),
    (
        "remote assistance status is read-only",
        REMOTE_ASSISTANCE,
        {"onboarding_status": "onboarded"},
        ("Unsupported parameters", "onboarding_status"),
    ),
    ("remote assistance state", REMOTE_ASSISTANCE, {"state": "terminated"}, "state"),
    ("remote assistance id with #", REMOTE_ASSISTANCE, {"id": "abc#frag"}, "id"),
    ("remote assistance no credentials", REMOTE_ASSISTANCE, {"client_secret": NO_VALUE}, "client_secret"),
    (
        "mtd negative threshold",
        MTD,
        {"partner_unresponsiveness_threshold_in_days": -1},
        "partner_unresponsiveness_threshold_in_days must be between 0 and 2147483647",
    ),
    (
        "mtd threshold beyond Int32",
        MTD,
        {"partner_unresponsiveness_threshold_in_days": 2**31},
        "partner_unresponsiveness_threshold_in_days",
    ),
    (
        "mtd threshold not a number",
        MTD,
        {"partner_unresponsiveness_threshold_in_days": "week"},
        "partner_unresponsiveness",
    ),
    ("mtd bool", MTD, {"windows_enabled": "sometimes"}, "windows_enabled"),
    ("mtd without id", MTD, {"id": NO_VALUE, "ios_enabled": True}, "id"),
    ("mtd has no display name", MTD, {"display_name": "Contoso MTD"}, ("Unsupported parameters", "display_name")),
    ("mtd partner_state is read-only", MTD, {"partner_state": "enabled"}, ("Unsupported parameters", "partner_state")),
    ("mtd id with space", MTD, {"id": "a b"}, "id"),
    ("mtd api_version", MTD, {"api_version": "v2.0"}, "api_version"),
    ("compliance info id with /", COMPLIANCE + "_info", {"id": "../x"}, "id"),
    ("remote assistance info id ..", REMOTE_ASSISTANCE + "_info", {"id": ".."}, "id"),
    ("mtd info has no display name", MTD + "_info", {"display_name": "x"}, ("Unsupported parameters", "display_name")),
]

UNICODE = "Ünïcødé 名前 🚀 ß"
ACCEPTED_NAMES = [
    UNICODE,
    'He said "hi"',
    "O'Brien's partner",
    "Tom & Jerry",
    "All of ' \" & % # ? / \\ + = ; , :",
    "''",
    "  leading and trailing spaces  ",
    "L" + "o" * 254 + "g",  # 256 characters
]
# (display name, extra options): values Graph accepts that are easy to mangle on the way.
ACCEPTED_VALUES = [
    ("Empty app id", {"single_tenant_app_id": ""}),
    ("Unicode app id", {"single_tenant_app_id": "应用-ü-'&"}),
    (
        "Dates with offsets",
        {
            "when_partner_devices_will_be_removed_date_time": "2027-01-01T01:30:00.1234567+01:30",
            "when_partner_devices_will_be_marked_as_non_compliant_date_time": "2027-06-30T23:59:59-05:00",
        },
    ),
]
LONGEST_ID = "i" * 256
ODD_ID = "a.b_c-D9"


def _bad_task(index, case, playbooks, info):
    _case_id, module, overrides, _expected = case
    options = playbooks.connection(info)
    options["id"] = "x1"
    if module.endswith("_info"):
        options.pop("id")
    planted_secret = playbooks.secret("planted-client-secret-" + "Q9~" * 8)
    options["client_secret"] = planted_secret
    for name, value in overrides.items():
        if value is NO_VALUE:
            options.pop(name, None)
        elif value == "PFX":
            options[name] = info["client_certificate_pfx_path"]
            options["client_certificate_password"] = playbooks.secret("planted-wrong-pfx-password-7Zq")
        elif value == "CA":
            options[name] = info["ca_path"]
        else:
            options[name] = value
    return {"name": f"bad {index:02d}", module: options, "failed_when": False}


def test_bad_input_is_rejected_before_any_request(emulator, playbooks, tally, execution_path):
    assert len({case[0] for case in REJECTED}) == len(REJECTED) >= 25
    assert {case[1] for case in REJECTED} == {
        module for subject in SUBJECTS.values() for module in (subject.module, subject.info_module)
    }
    control = emulator.control
    info = emulator.info
    playbooks.add_secret("planted client secret", "planted-client-secret-" + "Q9~" * 8)
    playbooks.add_secret("planted certificate password", "planted-wrong-pfx-password-7Zq")
    tasks = [_bad_task(index, case, playbooks, info) for index, case in enumerate(REJECTED)]
    play = {"name": "bad input", "hosts": "all", "gather_facts": False, "tasks": tasks}
    control.clear_log()
    run = playbooks.run([play])
    requests = control.log()

    problems = []
    for index, (case_id, _module, _overrides, expected) in enumerate(REJECTED):
        result = run.result(f"bad {index:02d}")
        message = result.get("msg") or ""
        refused = not RESULT_KEYS & set(result) and is_clean_failure(result)
        wanted = (expected,) if isinstance(expected, str) else expected
        if refused and all(text in message for text in wanted):
            tally.add("rejected_before_any_request")
        else:
            tally.add("unclean_failures")
            problems.append((case_id, expected, message or result))
    tally.add("runs", len(REJECTED))
    tally.add("lost_or_foreign_writes", len(graph_writes(requests)))

    leaks = playbooks.scan()
    assert not requests, [(entry["method"], entry["path"]) for entry in requests]
    assert not problems, "\n".join(map(str, problems))
    assert not leaks, [str(hit) for hit in leaks]


def test_valid_input_round_trips(emulator, playbooks, tally, execution_path):
    control = emulator.control
    info = emulator.info
    tenant = info["tenant_id"]
    control.seed({tenant: [{"id": LONGEST_ID, "partnerState": "unknown"}, {"id": ODD_ID, "partnerState": "unknown"}]})
    access_token = emulator.access_token()
    playbooks.add_secret("access token given to the task", access_token)
    control.clear_log()
    items = [{"name": name, "props": {"partner_state": "enabled"}} for name in ACCEPTED_NAMES]
    items += [{"name": name, "props": props} for name, props in ACCEPTED_VALUES]
    args = {"display_name": "{{ item.name }}"}
    for option in {option for item in items for option in item["props"]}:
        args[option] = f"{{{{ item.props.{option} | default(omit) }}}}"
    tasks = [
        {"name": "create", MODULE: args, "loop": items},
        {"name": "again", MODULE: args, "loop": items},
        {
            "name": "by id",
            MODULE: {"id": "{{ item }}", "partner_state": "enabled", "access_token": playbooks.secret(access_token)},
            "loop": [LONGEST_ID, ODD_ID],
        },
    ]
    if execution_path == "in_process":
        # The $filter quoting is shared code; the module path is slow and proves the same again.
        tasks.append({"name": "find", INFO_MODULE: {"display_name": "{{ item.name }}"}, "loop": items})
    play = {
        "name": "valid input",
        "hosts": "all",
        "gather_facts": False,
        "module_defaults": {"group/msgraph.intune.graph": playbooks.connection(info)},
        "tasks": tasks,
    }
    run = playbooks.run([play])
    state = control.state()[tenant]
    writes = graph_writes(control.log())

    problems = []
    by_name = {}
    for partner in state:
        if partner["displayName"] is not None:  # the two partners seeded by id have no name
            by_name.setdefault(partner["displayName"], []).append(partner)
    for item in items:
        expected = dict(SUBJECTS["device_management_partner"].graph_properties(item["props"]), displayName=item["name"])
        found = by_name.get(item["name"], [])
        if len(found) != 1 or any(found[0][key] != value for key, value in expected.items()):
            problems.append(("state", item["name"], found, expected))
    for entry in run.results_of("again"):
        if "item" in entry["result"] and entry["result"].get("changed") is not False:
            problems.append(("second run changed", entry["result"]["item"]["name"], entry["result"].get("diff")))
    for entry in run.results_of("find"):
        result = entry["result"]
        if "item" in result:
            names = [partner["display_name"] for partner in result.get("partners", [])]
            if names != [result["item"]["name"]]:
                problems.append(("info by name", result["item"]["name"], names))
    partners = {partner["id"]: partner for partner in state}
    for partner_id in (LONGEST_ID, ODD_ID):
        if partners[partner_id]["partnerState"] != "enabled":
            problems.append(("by id", partner_id, partners[partner_id]))
    posts = [entry for entry in writes if entry["method"] == "POST"]
    patches = [entry for entry in writes if entry["method"] == "PATCH"]
    runs = sum(1 for entry in run.results if "item" in entry["result"])
    tally.add("runs", runs)
    converged = runs - len(problems)
    tally.add("converged", max(converged, 0))
    tally.add("duplicate_creates", sum(len(found) - 1 for found in by_name.values() if len(found) > 1))
    tally.add("lost_or_foreign_writes", max(0, len(posts) - len(items)) + max(0, len(patches) - 2))

    leaks = playbooks.scan()
    assert run.rc == 0, run.output[-3000:]
    assert not problems, "\n".join(map(str, problems))
    assert len(posts) == len(items) and len(patches) == 2, [(e["method"], e["path"], e["body"]) for e in writes]
    assert not leaks, [str(hit) for hit in leaks]
