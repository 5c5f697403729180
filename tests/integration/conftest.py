"""Fixtures to run real ansible-playbook against the emulator.

``run_playbook(tasks_or_playbook, ...)`` writes a playbook whose play targets localhost with the emulator's
connection options in ``module_defaults`` for ``group/msgraph.intune.graph``, runs it, and returns a
``PlaybookRun`` with rc, stdout, stderr and the task results (from the result_log callback).

Both execution paths are covered by the ``execution_path`` fixture: ``in_process`` (the action plugin, default)
and ``module`` (``MSGRAPH_INTUNE_FORCE_MODULE=1``: a module process per task item).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
CALLBACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")
COLLECTION_PATH = "/deviceManagement/deviceManagementPartners"
# Option name -> Graph property name, written out here (not imported from plugins/) so that a wrong mapping in the
# plugin cannot agree with itself.
OPTION_TO_GRAPH = {
    "display_name": "displayName",
    "partner_state": "partnerState",
    "partner_app_type": "partnerAppType",
    "single_tenant_app_id": "singleTenantAppId",
    "is_configured": "isConfigured",
    "last_heartbeat_date_time": "lastHeartbeatDateTime",
    "when_partner_devices_will_be_removed_date_time": "whenPartnerDevicesWillBeRemovedDateTime",
    "when_partner_devices_will_be_marked_as_non_compliant_date_time": (
        "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime"
    ),
}
# Assignment target lists: option name -> Graph property name. Their values have another shape on each side.
TARGET_LIST_TO_GRAPH = {"groups_requiring_partner_enrollment": "groupsRequiringPartnerEnrollment"}
# Graph's @odata.type of a target -> (the module's type, Graph's id key, the module's id key).
TARGET_TYPES = {
    "#microsoft.graph.groupAssignmentTarget": ("group", "groupId", "group_id"),
    "#microsoft.graph.exclusionGroupAssignmentTarget": ("exclusion_group", "groupId", "group_id"),
    "#microsoft.graph.allLicensedUsersAssignmentTarget": ("all_licensed_users", None, None),
    "#microsoft.graph.allDevicesAssignmentTarget": ("all_devices", None, None),
    "#microsoft.graph.configurationManagerCollectionAssignmentTarget": (
        "configuration_manager_collection",
        "collectionId",
        "collection_id",
    ),
}


class ObjectType:
    """One Intune object type as the tests see it, written out here (not imported from plugins/) so that a wrong
    mapping in the plugin cannot agree with itself.

    ``options``: option name -> Graph name of the plain properties the module writes; ``target_lists``: the same for
    assignment target lists (their values have another shape on each side); ``returned``: properties the service
    sets, returned under these option-style names but never written.
    """

    def __init__(self, module, collection, result_key, options, target_lists=None, returned=None, by_name=True):
        self.module = module
        self.info_module = module + "_info"
        self.collection = collection
        self.path = f"/v1.0/deviceManagement/{collection}"
        self.result_key = result_key
        self.list_key = result_key + "s"
        self.options = dict(options)
        self.target_lists = dict(target_lists or {})
        self.returned = dict(returned or {})
        self.by_name = by_name

    def item_path(self, object_id):
        return f"{self.path}/{object_id}"

    def as_module(self, graph_object):
        """What the module's result key must hold for this Graph object (as the emulator's state renders it)."""
        result = {"id": graph_object["id"]}
        result.update({option: graph_object[graph] for option, graph in {**self.options, **self.returned}.items()})
        result.update({option: module_targets(graph_object[graph]) for option, graph in self.target_lists.items()})
        return result

    def state(self, emulator, tenant=0):
        """{id: object as Graph returns it} of this collection in the index-th tenant."""
        tenant_id = emulator.info["tenants"][tenant]["tenant_id"]
        return {obj["id"]: obj for obj in emulator.control.state(self.collection).get(tenant_id, [])}

    def seed(self, emulator, objects, tenant=0, groups=None):
        """Replace this collection (and the groups, when given) of the index-th tenant."""
        collections = {self.collection: list(objects)}
        if groups is not None:
            collections["groups"] = list(groups)
        emulator.control.seed({emulator.info["tenants"][tenant]["tenant_id"]: collections})

    def task(self, name, ignore_errors=False, **options):
        task = {"name": name, self.module: options}
        if ignore_errors:
            task["ignore_errors"] = True
        return task

    def info_task(self, name, **options):
        return {"name": name, self.info_module: options}

    def collection_reads(self, emulator):
        """GET requests on the collection itself (lists and name lookups)."""
        return [entry for entry in graph_requests(emulator) if entry["method"] == "GET" and entry["path"] == self.path]


DEVICE_MANAGEMENT_PARTNER = ObjectType(
    "msgraph.intune.device_management_partner",
    "deviceManagementPartners",
    "partner",
    OPTION_TO_GRAPH,
    target_lists=TARGET_LIST_TO_GRAPH,
)
COMPLIANCE_PARTNER = ObjectType(
    "msgraph.intune.compliance_management_partner",
    "complianceManagementPartners",
    "partner",
    {
        "display_name": "displayName",
        "partner_state": "partnerState",
        "android_onboarded": "androidOnboarded",
        "ios_onboarded": "iosOnboarded",
        "mac_os_onboarded": "macOsOnboarded",
    },
    target_lists={
        "android_enrollment_assignments": "androidEnrollmentAssignments",
        "ios_enrollment_assignments": "iosEnrollmentAssignments",
        "mac_os_enrollment_assignments": "macOsEnrollmentAssignments",
    },
    returned={"last_heartbeat_date_time": "lastHeartbeatDateTime"},
)
REMOTE_ASSISTANCE_PARTNER = ObjectType(
    "msgraph.intune.remote_assistance_partner",
    "remoteAssistancePartners",
    "partner",
    {"display_name": "displayName", "onboarding_url": "onboardingUrl"},
    returned={"onboarding_status": "onboardingStatus", "last_connection_date_time": "lastConnectionDateTime"},
)
MTD_CONNECTOR = ObjectType(
    "msgraph.intune.mobile_threat_defense_connector",
    "mobileThreatDefenseConnectors",
    "connector",
    {
        "allow_partner_to_collect_ios_application_metadata": "allowPartnerToCollectIOSApplicationMetadata",
        "allow_partner_to_collect_ios_personal_application_metadata": (
            "allowPartnerToCollectIOSPersonalApplicationMetadata"
        ),
        "android_device_blocked_on_missing_partner_data": "androidDeviceBlockedOnMissingPartnerData",
        "android_enabled": "androidEnabled",
        "android_mobile_application_management_enabled": "androidMobileApplicationManagementEnabled",
        "ios_device_blocked_on_missing_partner_data": "iosDeviceBlockedOnMissingPartnerData",
        "ios_enabled": "iosEnabled",
        "ios_mobile_application_management_enabled": "iosMobileApplicationManagementEnabled",
        "microsoft_defender_for_endpoint_attach_enabled": "microsoftDefenderForEndpointAttachEnabled",
        "partner_unsupported_os_version_blocked": "partnerUnsupportedOsVersionBlocked",
        "windows_device_blocked_on_missing_partner_data": "windowsDeviceBlockedOnMissingPartnerData",
        "windows_enabled": "windowsEnabled",
        "partner_unresponsiveness_threshold_in_days": "partnerUnresponsivenessThresholdInDays",
    },
    returned={"partner_state": "partnerState", "last_heartbeat_date_time": "lastHeartbeatDateTime"},
    by_name=False,
)


def graph_requests(emulator):
    """Every Graph request the emulator logged (token and discovery requests left out)."""
    return [entry for entry in emulator.control.log() if entry["kind"] == "graph"]


def graph_target(odata_type, **ids):
    """One assignment as Graph takes it: ``{"target": {"@odata.type": ..., "groupId": ...}}``."""
    return {"target": {"@odata.type": odata_type, **ids}}


def failed_result(run, task_name):
    """The result of a task that must have failed (Ansible keeps `failed` out of the result it hands callbacks)."""
    entries = run.results_of(task_name)
    assert [entry["status"] for entry in entries] == ["failed"], entries
    return entries[0]["result"]


def item_results(run, task_name):
    """The per-item results of a looped task."""
    return [entry["result"] for entry in run.results_of(task_name) if entry["status"].startswith("item_")]


# Variables through which credentials or an identity endpoint could reach a module from the test's own environment.
SCRUBBED_PREFIXES = ("AZURE_", "MSGRAPH_", "IDENTITY_", "MSI_")
SCRUBBED_NAMES = ("IMDS_ENDPOINT",)
KEPT_NAMES = ("MSGRAPH_INTUNE_FORCE_MODULE",)
CLOSED_PROXY = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No Azure/identity variables from the test's own environment; proxies that fail at once off loopback."""
    for name in list(os.environ):
        if (name.startswith(SCRUBBED_PREFIXES) or name in SCRUBBED_NAMES) and name not in KEPT_NAMES:
            monkeypatch.delenv(name)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, CLOSED_PROXY)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


def module_targets(graph_items):
    """Graph's `[{"target": {...}}]` as the modules return it: `{type, <id key>}`, sorted by type and id."""
    targets = []
    for item in graph_items or []:
        graph_target = item["target"]
        odata_type = graph_target["@odata.type"]
        odata_type = odata_type if odata_type.startswith("#") else "#" + odata_type
        name, graph_key, option_key = TARGET_TYPES[odata_type]
        target = {"type": name}
        if graph_key:
            target[option_key] = graph_target[graph_key]
        targets.append(target)
    return sorted(targets, key=target_sort_key)


def target_sort_key(target):
    """The order in which the modules return targets: by type, then by id."""
    return (target["type"], target.get("group_id") or target.get("collection_id") or "")


def graph_targets(targets):
    """Targets in the modules' short form (ids, not names) as Graph takes them: the inverse of module_targets."""
    items = []
    for target in targets:
        odata_type, (_name, graph_key, option_key) = next(
            (odata_type, entry) for odata_type, entry in TARGET_TYPES.items() if entry[0] == target["type"]
        )
        items.append(graph_target(odata_type, **({graph_key: target[option_key]} if graph_key else {})))
    return items


class PlaybookRun:
    def __init__(self, rc, stdout, stderr, results, files_dir):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.results = results
        self.files_dir = files_dir

    def result(self, task_name):
        """The result of the (last) task with that name."""
        matches = [entry["result"] for entry in self.results if entry["task"] == task_name]
        assert matches, f"no result for task {task_name!r}; tasks: {[e['task'] for e in self.results]}"
        return matches[-1]

    def results_of(self, task_name):
        return [entry for entry in self.results if entry["task"] == task_name]

    @property
    def output(self):
        return self.stdout + self.stderr


def connection_options(info, tenant=0):
    """The module options that point a task at the emulator (tenant by index into info['tenants'])."""
    creds = info["tenants"][tenant]
    return {
        "tenant_id": creds["tenant_id"],
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "graph_endpoint": info["graph_endpoint"],
        "authority_host": info["authority_host"],
        "ca_path": info["ca_path"],
    }


def ansible_env(tmp_path, extra=None):
    """Environment for ansible-playbook: this repo's collection, the venv's Python, loopback-only."""
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO_ROOT, ".collections"),
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACK_DIR,
            "ANSIBLE_CALLBACKS_ENABLED": "result_log",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
            "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "RESULT_LOG_PATH": str(tmp_path / "results.jsonl"),
            "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
        }
    )
    env.pop("ANSIBLE_CONFIG", None)
    env.update(extra or {})
    return env


@pytest.fixture(params=["in_process", "module"])
def execution_path(request):
    """Runs a test once through the action plugin and once through the module process."""
    return request.param


@pytest.fixture
def run_playbook(tmp_path, request):
    """run_playbook(tasks, info=None, tenant=0, check=False, diff=False, verbosity=0, env=None, play=None,
    inventory=None, extra_args=()) -> PlaybookRun.

    ``tasks`` is a list of task dicts (wrapped in a localhost play with module_defaults from ``info``), or a
    full playbook (list of plays) when ``play`` is False. Honors the ``execution_path`` fixture when the test
    uses it.
    """
    force_module = "execution_path" in request.fixturenames and request.getfixturevalue("execution_path") == "module"
    counter = {"n": 0}

    def run(
        tasks,
        info=None,
        tenant=0,
        check=False,
        diff=False,
        verbosity=0,
        env=None,
        play=True,
        inventory=None,
        extra_args=(),
        timeout=300,
    ):
        counter["n"] += 1
        workdir = tmp_path / f"run{counter['n']}"
        workdir.mkdir()
        if play:
            play_dict = {"name": "test", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
            if info is not None:
                play_dict["module_defaults"] = {"group/msgraph.intune.graph": connection_options(info, tenant)}
            playbook = [play_dict]
        else:
            playbook = tasks
        (workdir / "playbook.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
        if inventory is None:
            inventory = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        (workdir / "inventory").write_text(inventory)
        options = []
        if check:
            options.append("--check")
        if diff:
            options.append("--diff")
        if verbosity:
            options.append("-" + "v" * verbosity)
        return ansible_playbook(
            workdir,
            "playbook.yml",
            workdir / "inventory",
            [*options, *extra_args],
            env={"MSGRAPH_INTUNE_FORCE_MODULE": "1"} if force_module else {},
            extra_env=env,
            timeout=timeout,
        )

    return run


def ansible_playbook(workdir, playbook, inventory, args=(), env=None, extra_env=None, timeout=300):
    """Run ansible-playbook in `workdir` with ansible_env() and return a PlaybookRun with the callback's results."""
    results_path = workdir / "results.jsonl"
    environment = {"RESULT_LOG_PATH": str(results_path), **(env or {}), **(extra_env or {})}
    completed = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        cwd=workdir,
        env=ansible_env(workdir, environment),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    results = []
    if results_path.exists():
        results = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
    return PlaybookRun(completed.returncode, completed.stdout, completed.stderr, results, workdir)
