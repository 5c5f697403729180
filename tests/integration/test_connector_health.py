"""msgraph.intune.connector_health against the emulator, through both execution paths.

The emulator is seeded relative to the present time: dates that ended long ago or yesterday, that end within the
critical or the warning window or later, and heartbeats, connections and syncs that are recent, stale or never
happened, for every kind and every rule. Each object of the seed carries the findings it must give (status, severity
and days_left, written out here); a singleton kind has one object per tenant, so seven tenants are read, one task
each. Dates sit half a day away from a whole number of days, so that the seconds between seeding and judging cannot
move a days_left.

The same run (at -vvvv) proves that the VPP tokens' `token` and the push certificates' `certificate`, seeded with
marker strings, appear in no result, output or file and in no request, that nothing is written, and that each task
reads its tenant in batches (round trips counted from the emulator's log).
"""

from __future__ import annotations

import datetime
import json
import math
import uuid

from tests.integration.conftest import failed_result
from tests.integration.secret_scan import assert_no_secrets, find_secrets, playbook_sources

MODULE = "msgraph.intune.connector_health"
UTC = datetime.timezone.utc
NEVER = "0001-01-01T00:00:00Z"
# Graph segment of each kind, written out from the table (not imported from plugins/).
SEGMENTS = {
    "device_management_partners": ("v1.0", "deviceManagement/deviceManagementPartners"),
    "compliance_management_partners": ("v1.0", "deviceManagement/complianceManagementPartners"),
    "remote_assistance_partners": ("v1.0", "deviceManagement/remoteAssistancePartners"),
    "mobile_threat_defense_connectors": ("v1.0", "deviceManagement/mobileThreatDefenseConnectors"),
    "apple_push_notification_certificate": ("v1.0", "deviceManagement/applePushNotificationCertificate"),
    "vpp_tokens": ("v1.0", "deviceAppManagement/vppTokens"),
    "dep_onboarding_settings": ("beta", "deviceManagement/depOnboardingSettings"),
    "ndes_connectors": ("beta", "deviceManagement/ndesConnectors"),
    "exchange_connectors": ("v1.0", "deviceManagement/exchangeConnectors"),
    "managed_google_play": ("beta", "deviceManagement/androidManagedStoreAccountEnterpriseSettings"),
    "windows_autopilot_settings": ("beta", "deviceManagement/windowsAutopilotSettings"),
}
SINGLETONS = ("apple_push_notification_certificate", "managed_google_play", "windows_autopilot_settings")
# Offsets in days of the dates that end something, and what they must give with the default windows (30 and 7).
EXPIRY = {
    "long_ago": (-400.5, "expired", "critical"),
    "yesterday": (-0.8, "expired", "critical"),
    "critical": (5.5, "expiring", "critical"),
    "warning": (20.5, "expiring", "warning"),
    "healthy": (90.5, "healthy", "ok"),
}
FRESH, STALE = 1, 30  # hours since a heartbeat or sync; the default window is 24 hours
LIST_KINDS = [kind for kind in SEGMENTS if kind not in SINGLETONS]
HEALTHY_STATE = ("state", "healthy", "ok")
HEALTHY_HEARTBEAT = ("heartbeat", "healthy", "ok")
HEALTHY_SYNC = ("sync", "healthy", "ok")
STALE_HEARTBEAT = ("heartbeat", "stale", "warning")
STALE_SYNC = ("sync", "stale", "warning")
NOT_CONFIGURED = ("state", "not_configured", "ok")
UNHEALTHY_STATE = ("state", "unhealthy", "critical")


class Seed:
    """The seeded tenants: Graph objects by tenant and kind, each with the findings it must give."""

    def __init__(self, now, token_marker, certificate_marker):
        self.now = now
        self.token_marker = token_marker
        self.certificate_marker = certificate_marker
        self.objects = {}  # tenant index -> seed key -> objects (a singleton: an object or None)
        self.expected = {}  # tenant index -> [(kind, id, check, status, severity, days_left)]

    def date(self, days=0.0, hours=0.0):
        moment = self.now + datetime.timedelta(days=days, hours=hours)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"

    def ago(self, hours):
        return self.date(hours=-hours)

    def expiry(self, name):
        days, status, severity = EXPIRY[name]
        return self.date(days), ("expiry", status, severity, math.floor(days))

    def add(self, tenant, kind, obj, *findings):
        key = SEGMENTS[kind][1].rsplit("/", 1)[1]
        kinds = self.objects.setdefault(tenant, {})
        if kind in SINGLETONS:
            kinds[key] = obj
        else:
            kinds.setdefault(key, []).append(obj)
        object_id = obj["id"] if obj else None
        for finding in findings:
            check, status, severity = finding[:3]
            days_left = finding[3] if len(finding) > 3 else None
            self.expected.setdefault(tenant, []).append((kind, object_id, check, status, severity, days_left))

    def empty(self, tenant, kinds):
        """Kinds with no object in this tenant: one not_configured finding each."""
        for kind in kinds:
            key = SEGMENTS[kind][1].rsplit("/", 1)[1]
            self.objects.setdefault(tenant, {})[key] = None if kind in SINGLETONS else []
            self.expected.setdefault(tenant, []).append((kind, None, *NOT_CONFIGURED, None))


def add_list_kinds(seed, tenant):
    """Every rule of every list kind, in one tenant."""
    add_partners(seed, tenant)
    add_apple_tokens(seed, tenant)
    add_connectors(seed, tenant)


def add_partners(seed, tenant):
    """Device management, compliance and remote assistance partners, and mobile threat defense connectors."""
    ago, date = seed.ago, seed.date
    dmp = "device_management_partners"
    partner = {"partnerState": "enabled", "isConfigured": True, "lastHeartbeatDateTime": ago(FRESH)}
    seed.add(
        tenant,
        dmp,
        dict(partner, id="dmp-off", displayName="Off", isConfigured=False),
        NOT_CONFIGURED,
    )
    seed.add(
        tenant,
        dmp,
        dict(partner, id="dmp-unresponsive", displayName="Unresponsive", partnerState="unresponsive"),
        UNHEALTHY_STATE,
        HEALTHY_HEARTBEAT,
    )
    seed.add(
        tenant,
        dmp,
        dict(
            partner,
            id="dmp-rejected",
            displayName="Rejected",
            partnerState="rejected",
            lastHeartbeatDateTime=ago(STALE),
        ),
        UNHEALTHY_STATE,
        STALE_HEARTBEAT,
    )
    seed.add(
        tenant,
        dmp,
        dict(
            partner,
            id="dmp-deadlines",
            displayName="Deadlines",
            whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime=date(5.5),
            whenPartnerDevicesWillBeRemovedDateTime=date(20.5),
        ),
        HEALTHY_STATE,
        HEALTHY_HEARTBEAT,
        ("expiry", "expiring", "critical", 5),
        ("expiry", "expiring", "warning", 20),
    )
    seed.add(
        tenant,
        dmp,
        dict(
            partner,
            id="dmp-far",
            displayName="Far",
            lastHeartbeatDateTime=NEVER,
            whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime=date(90.5),
            whenPartnerDevicesWillBeRemovedDateTime=date(-400.5),  # in the past: history, not judged
        ),
        HEALTHY_STATE,
        STALE_HEARTBEAT,
        ("expiry", "healthy", "ok", 90),
    )
    seed.add(
        tenant,
        dmp,
        dict(partner, id="dmp-terminated", displayName="Terminated", partnerState="terminated"),
        ("state", "unhealthy", "warning"),
        HEALTHY_HEARTBEAT,
    )

    cmp = "compliance_management_partners"
    seed.add(
        tenant,
        cmp,
        {"id": "cmp-off", "displayName": "Off", "partnerState": "unknown"},
        NOT_CONFIGURED,
    )
    seed.add(
        tenant,
        cmp,
        {
            "id": "cmp-unresponsive",
            "displayName": "Unresponsive",
            "partnerState": "unresponsive",
            "iosOnboarded": True,
            "lastHeartbeatDateTime": ago(FRESH),
        },
        UNHEALTHY_STATE,
        HEALTHY_HEARTBEAT,
    )
    seed.add(
        tenant,
        cmp,
        {
            "id": "cmp-stale",
            "displayName": "Stale",
            "partnerState": "enabled",
            "macOsOnboarded": True,
            "lastHeartbeatDateTime": ago(STALE),
        },
        HEALTHY_STATE,
        STALE_HEARTBEAT,
    )

    rap = "remote_assistance_partners"
    seed.add(
        tenant,
        rap,
        {"id": "rap-off", "displayName": "Off", "onboardingStatus": "notOnboarded"},
        NOT_CONFIGURED,
    )
    for status, hours, expected in (
        ("onboarded", FRESH, (HEALTHY_STATE, HEALTHY_HEARTBEAT)),
        ("onboarded", STALE, (HEALTHY_STATE, STALE_HEARTBEAT)),
        ("onboarding", FRESH, (HEALTHY_STATE,)),
        ("onboarding", STALE, (("state", "stale", "warning"),)),
    ):
        obj = {
            "id": f"rap-{status}-{hours}",
            "displayName": f"{status} {hours}",
            "onboardingStatus": status,
            "lastConnectionDateTime": ago(hours),
        }
        seed.add(tenant, rap, obj, *expected)

    mtd = "mobile_threat_defense_connectors"
    for number, (state, threshold, hours, expected) in enumerate(
        (
            ("unavailable", 7, FRESH, (NOT_CONFIGURED,)),
            ("notSetUp", 7, FRESH, (NOT_CONFIGURED,)),
            ("unresponsive", 7, FRESH, (UNHEALTHY_STATE, HEALTHY_HEARTBEAT)),
            ("enabled", 1, STALE, (HEALTHY_STATE, ("heartbeat", "stale", "critical"))),  # past its own 1 day
            ("enabled", 7, STALE, (HEALTHY_STATE, STALE_HEARTBEAT)),
            ("enabled", 7, FRESH, (HEALTHY_STATE, HEALTHY_HEARTBEAT)),
        )
    ):
        obj = {
            "id": f"{number:08x}-0000-4000-8000-00000000aaaa",
            "partnerState": state,
            "partnerUnresponsivenessThresholdInDays": threshold,
            "lastHeartbeatDateTime": ago(hours),
        }
        seed.add(tenant, mtd, obj, *expected)


def add_apple_tokens(seed, tenant):
    """VPP and ADE tokens: each expiry variant once, with the sync rules beside them."""
    ago = seed.ago
    vpp = "vpp_tokens"
    token = {"vppTokenAccountType": "business", "token": seed.token_marker}
    for name, state, sync_status, sync_time, others in (
        ("long_ago", "expired", "completed", ago(FRESH), (UNHEALTHY_STATE, HEALTHY_SYNC)),
        ("yesterday", "valid", "failed", ago(FRESH), (HEALTHY_STATE, ("sync", "unhealthy", "warning"))),
        ("critical", "valid", "completed", ago(STALE), (HEALTHY_STATE, STALE_SYNC)),
        ("warning", "invalid", "completed", NEVER, (UNHEALTHY_STATE, STALE_SYNC)),
        ("healthy", "valid", "completed", ago(FRESH), (HEALTHY_STATE, HEALTHY_SYNC)),
    ):
        expires, expiry = seed.expiry(name)
        obj = dict(
            token,
            id=f"vpp-{name}",
            organizationName=f"Org {name}",
            appleId=f"vpp-{name}@example.com",
            state=state,
            lastSyncStatus=sync_status,
            lastSyncDateTime=sync_time,
            expirationDateTime=expires,
        )
        seed.add(tenant, vpp, obj, expiry, *others)

    dep = "dep_onboarding_settings"
    for name, code, sync_time, sync in (
        ("long_ago", 0, NEVER, STALE_SYNC),
        ("yesterday", 3, ago(FRESH), ("sync", "unhealthy", "warning")),
        ("critical", 7, ago(FRESH), ("sync", "unhealthy", "warning")),
        ("warning", 0, ago(STALE), STALE_SYNC),
        ("healthy", 0, ago(FRESH), HEALTHY_SYNC),
    ):
        expires, expiry = seed.expiry(name)
        obj = {
            "id": f"dep-{name}",
            "tokenName": f"ADE {name}",
            "tokenExpirationDateTime": expires,
            "lastSyncErrorCode": code,
            "lastSuccessfulSyncDateTime": sync_time,
        }
        seed.add(tenant, dep, obj, expiry, sync)


def add_connectors(seed, tenant):
    """Certificate (NDES) and Exchange connectors."""
    ago = seed.ago
    ndes = "ndes_connectors"
    for name, state, hours, version, expected in (
        (
            "inactive",
            "inactive",
            FRESH,
            "6.2406.0.1001",
            (UNHEALTHY_STATE, HEALTHY_HEARTBEAT, ("version", "healthy", "ok")),
        ),
        ("old", "active", STALE, "6.2301.1.0", (HEALTHY_STATE, STALE_HEARTBEAT, ("version", "unhealthy", "warning"))),
        ("current", "active", FRESH, "6.2501.0.0", (HEALTHY_STATE, HEALTHY_HEARTBEAT, ("version", "healthy", "ok"))),
    ):
        obj = {
            "id": f"ndes-{name}",
            "displayName": f"NDES {name}",
            "machineName": f"{name}.pki.example.com",
            "state": state,
            "lastConnectionDateTime": ago(hours),
            "connectorVersion": version,
        }
        seed.add(tenant, ndes, obj, *expected)

    exchange = "exchange_connectors"
    for name, status, hours, expected in (
        ("disconnected", "disconnected", FRESH, (UNHEALTHY_STATE, HEALTHY_SYNC)),
        ("stale", "connected", STALE, (HEALTHY_STATE, STALE_SYNC)),
        ("pending", "connectionPending", FRESH, (("state", "unhealthy", "warning"), HEALTHY_SYNC)),
    ):
        obj = {
            "id": f"exch-{name}",
            "serverName": f"{name}.mail.example.com",
            "status": status,
            "lastSyncDateTime": ago(hours),
        }
        seed.add(tenant, exchange, obj, *expected)


def add_singletons(seed, tenant, apns, google_play, autopilot):
    """One variant of each singleton kind in one tenant (None: never set up, so Graph answers 404)."""
    kind = "apple_push_notification_certificate"
    if apns is None:
        seed.empty(tenant, [kind])
    else:
        expires, expiry = seed.expiry(apns)
        obj = {
            "id": f"apns-{tenant}",
            "appleIdentifier": f"mdm-{tenant}@example.com",
            "topicIdentifier": "com.apple.mgmt.External.0f3c",
            "expirationDateTime": expires,
            "certificateUploadStatus": "success",
            "certificate": seed.certificate_marker,
        }
        seed.add(tenant, kind, obj, expiry)

    kind = "managed_google_play"
    variants = {
        "healthy": ("boundAndValidated", "success", (HEALTHY_STATE, HEALTHY_SYNC)),
        "bound": ("bound", "success", (UNHEALTHY_STATE, HEALTHY_SYNC)),
        "unbinding": (
            "unbinding",
            "credentialsNotValid",
            (UNHEALTHY_STATE, ("sync", "unhealthy", "warning")),
        ),
        "sync_error": (
            "boundAndValidated",
            "unknownError",
            (HEALTHY_STATE, ("sync", "unhealthy", "warning")),
        ),
        "not_bound": ("notBound", "none", (NOT_CONFIGURED,)),
    }
    if google_play is None:
        seed.empty(tenant, [kind])
    else:
        bind_status, sync_status, expected = variants[google_play]
        obj = {
            "id": f"gp-{tenant}",
            "bindStatus": bind_status,
            "lastAppSyncStatus": sync_status,
            "lastAppSyncDateTime": seed.ago(FRESH),
            "ownerOrganizationName": f"Org {tenant}",
        }
        seed.add(tenant, kind, obj, *expected)

    kind = "windows_autopilot_settings"
    variants = {
        "healthy": ("completed", seed.ago(FRESH), HEALTHY_SYNC),
        "failed": ("failed", seed.ago(FRESH), ("sync", "unhealthy", "warning")),
        "stale": ("completed", seed.ago(STALE), STALE_SYNC),
        "never": ("inProgress", NEVER, STALE_SYNC),
    }
    if autopilot is None:
        seed.empty(tenant, [kind])
    else:
        status, last_sync, expected = variants[autopilot]
        seed.add(tenant, kind, {"id": f"ap-{tenant}", "syncStatus": status, "lastSyncDateTime": last_sync}, expected)


# (APNs, Managed Google Play, Autopilot) of tenants 0..5; tenant 0 also holds every list kind's variants.
SINGLETON_VARIANTS = [
    ("long_ago", "healthy", "healthy"),
    ("yesterday", "bound", "failed"),
    ("critical", "unbinding", "stale"),
    ("warning", "sync_error", "never"),
    ("healthy", "not_bound", None),
    (None, None, "healthy"),
]
THRESHOLD_TENANT = 6  # a copy of tenant 0, judged with other thresholds
CHECK_MODE_TENANT = 1


def build_seed(now, token_marker, certificate_marker):
    seed = Seed(now, token_marker, certificate_marker)
    for tenant, variants in enumerate(SINGLETON_VARIANTS):
        if tenant == 0:
            add_list_kinds(seed, tenant)
        else:
            seed.empty(tenant, LIST_KINDS)
        add_singletons(seed, tenant, *variants)
    add_list_kinds(seed, THRESHOLD_TENANT)
    add_singletons(seed, THRESHOLD_TENANT, *SINGLETON_VARIANTS[0])
    return seed


def seed_tenants(emulator, seed):
    """Seed the tenants (the emulator's three and new ones); returns the credentials of each, by index."""
    base = [tenant["tenant_id"] for tenant in emulator.info["tenants"]]
    tenant_ids = [base[index] if index < len(base) else str(uuid.uuid4()) for index in range(len(seed.objects))]
    answer = emulator.control.seed({tenant_ids[index]: kinds for index, kinds in seed.objects.items()})
    by_id = {tenant["tenant_id"]: tenant for tenant in answer["tenants"]}
    return [by_id[tenant_id] for tenant_id in tenant_ids]


def ordered(rows):
    """Rows of findings in one order, whatever None they hold."""
    return sorted(rows, key=repr)


def findings_of(result):
    return ordered(
        (f["kind"], f["id"], f["check"], f["status"], f["severity"], f["days_left"]) for f in result["findings"]
    )


def summary_of(expected, kinds):
    """The summary the expected findings must give, computed here."""
    order = ["ok", "warning", "critical"]
    counts = dict.fromkeys(order, 0)
    worst = dict.fromkeys(kinds, "ok")
    for kind, _id, _check, _status, severity, _days in expected:
        counts[severity] += 1
        worst[kind] = max(worst[kind], severity, key=order.index)
    return {"counts": counts, "worst": max(worst.values(), key=order.index), "kinds": worst}


def round_trips(log, tenant_id):
    """HTTP round trips to Graph of one tenant: requests on their own plus batches."""
    mine = [entry for entry in log if entry.get("tenant") == tenant_id]
    return [
        entry for entry in mine if entry["kind"] == "batch" or (entry["kind"] == "graph" and entry["batch_seq"] is None)
    ]


def health_task(name, credentials, **options):
    return {
        "name": name,
        MODULE: {
            "tenant_id": credentials["tenant_id"],
            "client_id": credentials["client_id"],
            "client_secret": "{{ secrets[" + json.dumps(credentials["tenant_id"]) + "] }}",
            **options,
        },
    }


def playbook(emulator, tasks):
    info = emulator.info
    defaults = {key: info[key] for key in ("graph_endpoint", "authority_host", "ca_path")}
    return [
        {
            "name": "connector health",
            "hosts": "localhost",
            "gather_facts": False,
            "module_defaults": {"group/msgraph.intune.graph": defaults},
            "tasks": tasks,
        }
    ]


def secrets_file(tmp_path, credentials):
    """The client secrets as a vault would give them: variables, never literal in the playbook."""
    path = tmp_path / "inputs" / "secrets.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"secrets": {c["tenant_id"]: c["client_secret"] for c in credentials}}))
    return path


def test_every_rule_of_every_kind_in_seven_tenants_at_vvvv(emulator, run_playbook, execution_path, tmp_path):
    token_marker = f'vpp-token-marker-"q\\b/s+p&e=%20 {uuid.uuid4().hex}'
    certificate_marker = f"apns-certificate-marker-{uuid.uuid4().hex}"
    seed = build_seed(datetime.datetime.now(UTC), token_marker, certificate_marker)
    credentials = seed_tenants(emulator, seed)
    # Positive control: the seeded objects hold the secrets (Graph returns them to a read without $select).
    stored = json.dumps(
        [emulator.control.state("vppTokens"), emulator.control.state("applePushNotificationCertificate")]
    )
    assert find_secrets({"token": token_marker}, texts=[stored]) and certificate_marker in stored
    emulator.control.clear_log()

    tasks = []
    for index, tenant in enumerate(credentials):
        if index == THRESHOLD_TENANT:
            task = health_task(
                f"tenant {index}",
                tenant,
                kinds=["vpp_tokens", "ndes_connectors", "exchange_connectors", "apple_push_notification_certificate"],
                expiry_warning_days=100,
                expiry_critical_days=21,
                stale_after_hours={"exchange_connectors": 48},
                ndes_minimum_version="6.2301.0.0",
            )
        else:
            task = health_task(f"tenant {index}", tenant, api_version="v1.0")
        if index == CHECK_MODE_TENANT:
            task["check_mode"] = True
        tasks.append(task)
    remote_tmp = tmp_path / "remote-tmp"
    run = run_playbook(
        playbook(emulator, tasks),
        play=False,
        verbosity=4,
        extra_args=("-e", f"@{secrets_file(tmp_path, credentials)}"),
        env={"ANSIBLE_REMOTE_TMP": str(remote_tmp)},
    )
    assert run.rc == 0, run.output[-5000:]
    log = emulator.control.log()

    # -- findings: every rule of every kind ---------------------------------------------------------------------
    for index in range(len(SINGLETON_VARIANTS)):
        result = run.result(f"tenant {index}")
        expected = ordered(seed.expected[index])
        assert findings_of(result) == expected, index
        assert result["summary"] == summary_of(expected, list(SEGMENTS)), index
        assert result["changed"] is False
        # Beta kinds were read from /beta although the task says v1.0, and their findings say so.
        assert result["api_versions"] == {kind: version for kind, (version, _path) in SEGMENTS.items()}
        assert {(f["kind"], f["api_version"]) for f in result["findings"]} == {
            (kind, version) for kind, (version, _path) in SEGMENTS.items()
        }
    check_mode = run.result(f"tenant {CHECK_MODE_TENANT}")
    assert check_mode["changed"] is False  # and judged alike, above

    first = run.result("tenant 0")
    by_key = {(f["kind"], f["id"], f["check"]): f for f in first["findings"]}
    vpp_state = by_key[("vpp_tokens", "vpp-long_ago", "state")]
    assert (vpp_state["value"], vpp_state["name"]) == ("expired", "Org long_ago")
    assert "new token" in vpp_state["message"]
    assert "terms and conditions" in by_key[("dep_onboarding_settings", "dep-yesterday", "sync")]["message"]
    apns = by_key[("apple_push_notification_certificate", "apns-0", "expiry")]
    assert apns["name"] == "mdm-0@example.com" and "every Apple device must enroll again" in apns["message"]
    deadline = [f for f in first["findings"] if f["id"] == "dmp-deadlines" and f["check"] == "expiry"]
    assert sorted("non-compliant" in f["message"] for f in deadline) == [False, True]
    assert "older than 6.2406.0.1001" in by_key[("ndes_connectors", "ndes-old", "version")]["message"]
    # The objects as read: option names, only the judged properties.
    assert set(first["objects"]["vpp_tokens"][0]) == {
        "id",
        "organization_name",
        "apple_id",
        "vpp_token_account_type",
        "state",
        "expiration_date_time",
        "last_sync_date_time",
        "last_sync_status",
    }
    assert first["objects"]["apple_push_notification_certificate"][0]["apple_identifier"] == "mdm-0@example.com"
    assert run.result("tenant 5")["objects"]["apple_push_notification_certificate"] == []

    # -- the task's own thresholds and kinds --------------------------------------------------------------------
    tuned = run.result(f"tenant {THRESHOLD_TENANT}")
    assert list(tuned["summary"]["kinds"]) == [
        "apple_push_notification_certificate",
        "vpp_tokens",
        "ndes_connectors",
        "exchange_connectors",
    ]
    tuned_by_key = {(f["id"], f["check"]): (f["status"], f["severity"], f["days_left"]) for f in tuned["findings"]}
    assert tuned_by_key[("vpp-warning", "expiry")] == ("expiring", "critical", 20)  # within 21 days
    assert tuned_by_key[("vpp-healthy", "expiry")] == ("expiring", "warning", 90)  # within 100 days
    assert tuned_by_key[("exch-stale", "sync")] == ("healthy", "ok", None)  # 30 hours, inside its 48
    assert tuned_by_key[("ndes-old", "heartbeat")] == ("stale", "warning", None)  # other kinds keep 24 hours
    assert tuned_by_key[("ndes-old", "version")] == ("healthy", "ok", None)
    assert tuned["thresholds"]["stale_after_hours"]["exchange_connectors"] == 48
    assert tuned["thresholds"]["stale_after_hours"]["vpp_tokens"] == 24

    # -- requests: reads only, in batches, with $select, from each kind's version -----------------------------
    assert emulator.control.writes() == []
    graph = [entry for entry in log if entry["kind"] == "graph"]
    assert {entry["method"] for entry in graph} == {"GET"}
    for index, tenant in enumerate(credentials):
        mine = [entry for entry in graph if entry["tenant"] == tenant["tenant_id"]]
        kinds = list(SEGMENTS) if index != THRESHOLD_TENANT else list(tuned["summary"]["kinds"])
        assert sorted(entry["path"] for entry in mine) == sorted(
            f"/{SEGMENTS[kind][0]}/{SEGMENTS[kind][1]}" for kind in kinds
        ), index
        trips = round_trips(log, tenant["tenant_id"])
        if index != THRESHOLD_TENANT:
            # All eleven kinds: one v1.0 batch (seven reads) and one beta batch (four), no page left over.
            assert sorted((entry["kind"], entry["path"], entry.get("size")) for entry in trips) == [
                ("batch", "/beta/$batch", 4),
                ("batch", "/v1.0/$batch", 7),
            ], trips
        else:
            # Three v1.0 reads in one batch, the beta read in another: a round trip each, as a GET would be.
            assert sorted((entry["kind"], entry["path"], entry.get("size")) for entry in trips) == [
                ("batch", "/beta/$batch", 1),
                ("batch", "/v1.0/$batch", 3),
            ], trips
    tokens = [entry for entry in log if entry["kind"] == "token"]
    assert len(tokens) == len(credentials), tokens  # one sign-in per tenant
    for entry in graph:
        select = entry["query"].get("$select")
        assert select, entry
        assert not set(select.split(",")) & {"token", "certificate"}, entry
    vpp_reads = [entry for entry in graph if entry["path"].endswith("/deviceAppManagement/vppTokens")]
    assert vpp_reads and all("organizationName" in entry["query"]["$select"] for entry in vpp_reads)

    # -- secrets: in no result, output, file or request ---------------------------------------------------------
    secrets = {"VPP token": token_marker, "APNs certificate": certificate_marker}
    secrets.update({f"client secret {index}": c["client_secret"] for index, c in enumerate(credentials)})
    sources = playbook_sources(run, extra_paths=[remote_tmp] if remote_tmp.exists() else [])
    sources["exclude"].append(str(tmp_path / "inputs" / "secrets.json"))
    sources["texts"]["emulator log"] = json.dumps(log)
    # At -vvvv Ansible prints every result in full: the scan reads the findings and objects as shown.
    assert "verbosity: 4" in run.stdout and '"organization_name": "Org long_ago"' in run.stdout, run.stdout[:2000]
    assert_no_secrets(secrets, **sources)
    # Positive control in the very same scan set: a marker planted in a file of the run, JSON-escaped, is found.
    (run.files_dir / "planted.json").write_text(json.dumps({"token": token_marker}))
    hits = find_secrets(secrets, **sources)
    assert sorted((hit.label, hit.form, hit.source.rsplit("/", 1)[-1]) for hit in hits) == [
        ("VPP token", "json-escaped", "planted.json")
    ]


def test_one_kinds_failure_hides_no_other(emulator, run_playbook, execution_path):
    now = datetime.datetime.now(UTC)
    seed = Seed(now, f"vpp-token-marker-{uuid.uuid4().hex}", f"apns-certificate-marker-{uuid.uuid4().hex}")
    add_list_kinds(seed, 0)
    add_singletons(seed, 0, "critical", "healthy", "healthy")
    credentials = seed_tenants(emulator, seed)
    control = emulator.control
    # Graph refuses one v1.0 kind and one beta kind, answers 404 for a singleton that is set up, fails another kind
    # with a 500 and keeps throttling a fourth past the task's one retry.
    control.add_fault(method="GET", path=r"/v1\.0/deviceAppManagement/vppTokens$", kind="status", status=403)
    control.add_fault(method="GET", path=r"/beta/deviceManagement/ndesConnectors$", kind="status", status=403)
    control.add_fault(method="GET", path=r"/applePushNotificationCertificate$", kind="status", status=404)
    control.add_fault(method="GET", path=r"/exchangeConnectors$", kind="status", status=500)
    control.add_fault(method="GET", path=r"/windowsAutopilotSettings$", kind="status", status=503, retry_after=0)
    control.clear_log()
    task = {"name": "health", MODULE: {"max_retries": 1}}
    assert credentials[0] == emulator.tenant(0)
    run = run_playbook([task], info=emulator.info)
    assert run.rc == 0, run.output[-3000:]
    result = run.result("health")
    assert result["changed"] is False
    kind_findings = {f["kind"]: f for f in result["findings"] if f["id"] is None}
    forbidden_vpp = kind_findings["vpp_tokens"]
    assert (forbidden_vpp["status"], forbidden_vpp["severity"], forbidden_vpp["value"]) == ("forbidden", "warning", 403)
    assert "DeviceManagementServiceConfig.Read.All" in forbidden_vpp["message"]
    assert "DeviceManagementApps.Read.All" in forbidden_vpp["message"]
    forbidden_ndes = kind_findings["ndes_connectors"]
    assert (forbidden_ndes["status"], forbidden_ndes["api_version"]) == ("forbidden", "beta")
    assert "DeviceManagementConfiguration.Read.All" in forbidden_ndes["message"]
    for finding in (forbidden_vpp, forbidden_ndes, kind_findings["exchange_connectors"]):
        request_id = finding["message"].split("request-id: ", 1)[1].split(",", 1)[0]
        uuid.UUID(request_id)  # Graph's request id, not "none"
    apns = kind_findings["apple_push_notification_certificate"]
    assert (apns["status"], apns["severity"]) == ("not_configured", "ok")
    failed = kind_findings["exchange_connectors"]
    assert (failed["status"], failed["severity"], failed["value"]) == ("error", "warning", 500)
    assert "HTTP 500" in failed["message"] and "InternalServerError" in failed["message"]
    throttled = kind_findings["windows_autopilot_settings"]
    assert (throttled["status"], throttled["severity"], throttled["value"]) == ("error", "warning", 503)
    assert "request-id: " in throttled["message"]
    # Every other kind is judged as if nothing had happened.
    failing = {
        "vpp_tokens",
        "ndes_connectors",
        "apple_push_notification_certificate",
        "exchange_connectors",
        "windows_autopilot_settings",
    }
    judged = [row for row in findings_of(result) if row[0] not in failing]
    assert judged == ordered(row for row in seed.expected[0] if row[0] not in failing)
    assert result["summary"]["kinds"]["vpp_tokens"] == "warning"
    assert result["summary"]["kinds"]["apple_push_notification_certificate"] == "ok"
    assert control.writes() == []


BAD_OPTIONS = [
    ({"kinds": ["vpp_token"]}, "vpp_token"),
    ({"expiry_warning_days": -1}, "expiry_warning_days must be a number of days, 0 or more, got -1"),
    ({"expiry_critical_days": 40}, "expiry_critical_days (40) must not be above expiry_warning_days (30)"),
    ({"stale_after_hours": {"exchange_connector": 48}}, "stale_after_hours names unknown kinds: exchange_connector"),
    ({"stale_after_hours": 0}, "stale_after_hours must be a number of hours above 0"),
    ({"ndes_minimum_version": "6.x"}, "ndes_minimum_version must be a dotted version"),
]


def test_bad_options_fail_before_any_request(emulator, run_playbook, execution_path):
    tasks = [
        {"name": f"bad {index}", MODULE: options, "ignore_errors": True}
        for index, (options, _message) in enumerate(BAD_OPTIONS)
    ]
    emulator.control.clear_log()
    run = run_playbook(tasks, info=emulator.info, check=True)
    assert run.rc == 0, run.output[-3000:]
    for index, (_options, message) in enumerate(BAD_OPTIONS):
        assert message in failed_result(run, f"bad {index}")["msg"], index
    assert [
        entry for entry in emulator.control.log() if entry["kind"] in ("graph", "batch", "token", "discovery")
    ] == []
