"""Connector health across tenants with the msgraph.intune.baseline role, through examples/msp/baseline.yml.

Three emulator tenants: A is healthy; B's Apple push certificate expires in 5 days and its VPP token has expired;
C cannot sign in (a wrong client secret in its host_vars). Each run checks what the role wrote (health.json,
health.md), what it published with set_stats, which tenants failed and when, and that nothing was written to Graph.
"""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
import yaml

from tests.integration.secret_scan import assert_no_secrets, find_secrets
from tests.integration.test_baseline_role import BASELINE, CONVERGE, Runner, in_line

UTC = datetime.timezone.utc
REPORT_TASKS = ("Write health.json", "Write health.md")
FAIL_TASK = (
    "Fail the tenant that failed, that drifts when drift must fail it, or whose health is as bad as "
    "baseline_fail_on_health"
)
PUBLISH_TASK = "Publish every tenant's drift and health for AWX/AAP workflows (counts only, never the findings' text)"
# A's findings, all ok: two per partner (state, heartbeat) of the three partner kinds, one for the MTD connector
# (not set up), one for the push certificate, three for the VPP token (state, expiry, sync), two for the ADE token,
# three for the certificate connector, two for the Exchange connector, two for Managed Google Play, one for Autopilot.
FINDINGS_PER_TENANT = 2 * 3 + 1 + 1 + 3 + 2 + 3 + 2 + 2 + 1
# B: the push certificate's expiry, the VPP token's state and its expiry are critical.
B_CRITICAL = 3


def date(now, days=0.0, hours=0.0):
    return (now + datetime.timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def healthy_tenant(index, now):
    """In line with the baseline, with recent heartbeats, and every connector and token healthy."""
    fresh = date(now, hours=-1)
    state = in_line(index)
    state["deviceManagementPartners"][0]["lastHeartbeatDateTime"] = fresh
    state["complianceManagementPartners"][0]["lastHeartbeatDateTime"] = fresh
    state["remoteAssistancePartners"][0]["lastConnectionDateTime"] = fresh
    state.update(
        {
            "applePushNotificationCertificate": {
                "appleIdentifier": f"mdm-{index}@example.com",
                "expirationDateTime": date(now, 200.5),
                "certificate": f"apns-certificate-marker-{index}",
            },
            "vppTokens": [
                {
                    "id": f"vpp-{index}",
                    "organizationName": f"Org {index}",
                    "state": "valid",
                    "expirationDateTime": date(now, 300.5),
                    "lastSyncDateTime": fresh,
                    "lastSyncStatus": "completed",
                    "token": f"vpp-token-marker-{index}",
                }
            ],
            "depOnboardingSettings": [
                {
                    "id": f"dep-{index}",
                    "tokenName": "ADE",
                    "tokenExpirationDateTime": date(now, 250.5),
                    "lastSuccessfulSyncDateTime": fresh,
                }
            ],
            "ndesConnectors": [
                {
                    "id": f"ndes-{index}",
                    "displayName": "NDES",
                    "state": "active",
                    "lastConnectionDateTime": fresh,
                    "connectorVersion": "6.2501.0.0",
                }
            ],
            "exchangeConnectors": [
                {"id": f"exch-{index}", "serverName": "exch01", "status": "connected", "lastSyncDateTime": fresh}
            ],
            "androidManagedStoreAccountEnterpriseSettings": {
                "bindStatus": "boundAndValidated",
                "lastAppSyncStatus": "success",
                "lastAppSyncDateTime": fresh,
            },
            "windowsAutopilotSettings": {"syncStatus": "completed", "lastSyncDateTime": fresh},
        }
    )
    return state


def troubled_tenant(index, now):
    state = healthy_tenant(index, now)
    state["applePushNotificationCertificate"]["expirationDateTime"] = date(now, 5.5)
    state["vppTokens"][0].update(state="expired", expirationDateTime=date(now, -3.5))
    return state


@pytest.fixture
def tenants(emulator, tmp_path):
    """A healthy, B troubled, C unable to sign in; returns the role's runner."""
    now = datetime.datetime.now(UTC)
    states = [healthy_tenant(0, now), troubled_tenant(1, now), healthy_tenant(2, now)]
    emulator.control.seed({emulator.tenant(index)["tenant_id"]: state for index, state in enumerate(states)})
    runner = Runner(tmp_path, emulator)
    host_vars = runner.inventory / "host_vars" / "tenant-c.yml"
    runner.wrong_secret = f"wrong-secret-{uuid.uuid4().hex}"
    host_vars.write_text(
        yaml.safe_dump(dict(yaml.safe_load(host_vars.read_text()), intune_client_secret=runner.wrong_secret))
    )
    runner.secrets = {
        "wrong client secret": runner.wrong_secret,
        **{f"client secret {index}": emulator.tenant(index)["client_secret"] for index in range(3)},
        **{f"VPP token {index}": state["vppTokens"][0]["token"] for index, state in enumerate(states)},
        **{
            f"APNs certificate {index}": state["applePushNotificationCertificate"]["certificate"]
            for index, state in enumerate(states)
        },
    }
    emulator.control.clear_log()
    return runner


def failed_hosts(run):
    """The tenants that the role failed at its end. Before it, only C's sign-in failed, and the role rescued it."""
    failed = [entry for entry in run.results if entry["status"] == "failed"]
    early = [(entry["host"], entry["action"]) for entry in failed if not entry["task"].endswith(" : " + FAIL_TASK)]
    assert len(early) == 1 and early[0][0] == "tenant-c", early
    assert early[0][1] == "msgraph.intune.tenant_baseline", early
    return sorted(entry["host"] for entry in failed if entry["task"].endswith(" : " + FAIL_TASK))


def report(runner):
    """health.json, whose tenants must come worst first."""
    health = json.loads((runner.reports / "health.json").read_text())
    assert list(health["tenants"]) == ["tenant-c", "tenant-b", "tenant-a"], (
        "health.json lists the tenants in name order, not worst first: the role writes it with to_nice_json, "
        "which sorts keys unless sort_keys=false"
    )
    return health


def position(run, task_suffix, host=None):
    """Index in the run's results of the first result of a role task (for one host)."""
    for index, entry in enumerate(run.results):
        if entry["task"].endswith(" : " + task_suffix) and (host is None or entry["host"] == host):
            return index
    raise AssertionError(f"no result for {task_suffix!r} ({host}): {[entry['task'] for entry in run.results]}")


def published(run):
    (entry,) = [entry for entry in run.results if entry["task"].endswith(" : " + PUBLISH_TASK)]
    return entry["result"]["ansible_stats"]["data"]


def assert_reports_before_failures(run, hosts):
    written = max(position(run, task) for task in REPORT_TASKS)
    for host in hosts:
        assert position(run, FAIL_TASK, host) > written, host


def test_health_mode_reports_every_tenant_worst_first_and_fails_only_the_unreachable(emulator, tenants):
    run = tenants("health", no_baseline=True, args=["-vvvv"])
    assert run.rc == 2, run.output[-3000:]
    assert "verbosity: 4" in run.stdout
    assert failed_hosts(run) == ["tenant-c"]  # B is critical, but baseline_fail_on_health is none
    assert_reports_before_failures(run, ["tenant-c"])
    assert "could not be read" in run.results[position(run, FAIL_TASK, "tenant-c")]["result"]["msg"]
    assert emulator.control.writes() == []
    assert not (tenants.reports / "drift.json").exists()

    health = report(tenants)
    tenant_c, tenant_b, tenant_a = (health["tenants"][host] for host in ("tenant-c", "tenant-b", "tenant-a"))
    assert (tenant_c["reachable"], tenant_c["worst"], tenant_c["findings"]) == (False, None, [])
    assert "invalid_client" in tenant_c["error"] or "AADSTS" in tenant_c["error"], tenant_c["error"]
    assert tenant_a["reachable"] and tenant_b["reachable"]
    assert (tenant_a["worst"], tenant_a["counts"]) == ("ok", {"ok": FINDINGS_PER_TENANT, "warning": 0, "critical": 0})
    assert (tenant_b["worst"], tenant_b["counts"]) == (
        "critical",
        {"ok": FINDINGS_PER_TENANT - B_CRITICAL, "warning": 0, "critical": B_CRITICAL},
    )
    assert tenant_b["kinds"]["apple_push_notification_certificate"] == "critical"
    assert tenant_b["kinds"]["vpp_tokens"] == "critical"
    assert tenant_b["kinds"]["exchange_connectors"] == "ok"
    critical = sorted(
        (f["kind"], f["check"], f["status"], f["days_left"]) for f in tenant_b["findings"] if f["severity"] != "ok"
    )
    assert critical == [
        ("apple_push_notification_certificate", "expiry", "expiring", 5),
        ("vpp_tokens", "expiry", "expired", -4),
        ("vpp_tokens", "state", "unhealthy", None),
    ]
    assert health["thresholds"]["expiry_warning_days"] == 30

    markdown = (tenants.reports / "health.md").read_text()
    assert markdown.index("## tenant-c") < markdown.index("## tenant-b") < markdown.index("## tenant-a")
    section_c = markdown.split("## tenant-c", 1)[1].split("## tenant-b", 1)[0]
    assert "Not judged: " in section_c and ("invalid_client" in section_c or "AADSTS" in section_c)
    section_b = markdown.split("## tenant-b", 1)[1].split("## tenant-a", 1)[0]
    assert f"Worst: critical ({B_CRITICAL} critical, 0 warning, {FINDINGS_PER_TENANT - B_CRITICAL} ok)." in section_b
    rows = [line for line in section_b.splitlines() if line.startswith("| critical |")]
    assert len(rows) == B_CRITICAL, section_b
    assert any("| apple_push_notification_certificate | mdm-1@example.com | expiry | expiring | 5 |" in r for r in rows)
    assert any("| vpp_tokens | Org 1 | expiry | expired | -4 |" in row for row in rows)
    section_a = markdown.split("## tenant-a", 1)[1]
    assert f"Worst: ok (0 critical, 0 warning, {FINDINGS_PER_TENANT} ok)." in section_a and "|" not in section_a
    assert "1 critical,\n0 warning,\n1 ok,\n1 not reached." in markdown

    # set_stats: counts and the worst severity per tenant, no finding's text, no drift in this mode.
    stats = published(run)
    assert stats == {
        "msgraph_intune_health": {
            "tenant-a": {
                "reachable": True,
                "worst": "ok",
                "counts": {"ok": FINDINGS_PER_TENANT, "warning": 0, "critical": 0},
            },
            "tenant-b": {
                "reachable": True,
                "worst": "critical",
                "counts": {"ok": FINDINGS_PER_TENANT - B_CRITICAL, "warning": 0, "critical": B_CRITICAL},
            },
            "tenant-c": {"reachable": False, "worst": None, "counts": None},
        }
    }
    texts = {"stdout": run.stdout, "stderr": run.stderr, "results": json.dumps(run.results)}
    assert_no_secrets(tenants.secrets, texts=texts, paths=[tenants.reports])
    # Positive control: the host_vars hold the client secrets (C's the wrong one), and the same scan finds them.
    hits = find_secrets(tenants.secrets, paths=[tenants.inventory])
    assert {(hit.label, hit.form, hit.source.rsplit("/", 1)[-1]) for hit in hits} == {
        ("client secret 0", "raw", "tenant-a.yml"),
        ("client secret 1", "raw", "tenant-b.yml"),
        ("wrong client secret", "raw", "tenant-c.yml"),
    }


def test_fail_on_warning_with_the_tasks_thresholds_fails_every_tenant_at_or_above_it(emulator, tenants):
    # A's push certificate, ADE token and VPP token (200, 250 and 300 days left) are warnings inside 365 days.
    options = {"expiry_warning_days": 365, "stale_after_hours": {"exchange_connectors": 48}}
    run = tenants(
        "health", no_baseline=True, extra={"baseline_fail_on_health": "warning", "baseline_health_options": options}
    )
    assert run.rc == 2, run.output[-3000:]
    assert failed_hosts(run) == ["tenant-a", "tenant-b", "tenant-c"]
    assert_reports_before_failures(run, ["tenant-a", "tenant-b", "tenant-c"])
    message = run.results[position(run, FAIL_TASK, "tenant-a")]["result"]["msg"]
    assert "tenant-a has connector health warning; see " in message and message.endswith("/health.md")
    health = report(tenants)
    assert health["tenants"]["tenant-a"]["worst"] == "warning"
    assert health["tenants"]["tenant-a"]["counts"] == {"ok": FINDINGS_PER_TENANT - 3, "warning": 3, "critical": 0}
    assert health["thresholds"]["expiry_warning_days"] == 365
    assert health["thresholds"]["stale_after_hours"]["exchange_connectors"] == 48
    assert emulator.control.writes() == []


def test_audit_judges_drift_and_health_in_the_same_reads_and_fails_critical_tenants(emulator, tenants):
    run = tenants("audit", baseline=BASELINE, extra={"baseline_fail_on_health": "critical"})
    assert run.rc == 2, run.output[-3000:]
    assert failed_hosts(run) == ["tenant-b", "tenant-c"]
    assert_reports_before_failures(run, ["tenant-b", "tenant-c"])
    assert (
        "tenant-b has connector health critical" in run.results[position(run, FAIL_TASK, "tenant-b")]["result"]["msg"]
    )
    assert emulator.control.writes() == []

    drift = json.loads((tenants.reports / "drift.json").read_text())
    assert drift["entries"] == [] and [error["tenant"] for error in drift["errors"]] == ["tenant-c"]
    health = report(tenants)
    assert [health["tenants"][host]["worst"] for host in ("tenant-b", "tenant-a")] == ["critical", "ok"]
    stats = published(run)
    assert sorted(stats) == ["baseline_drift", "msgraph_intune_health"]
    assert stats["msgraph_intune_health"]["tenant-b"]["counts"]["critical"] == B_CRITICAL

    # Each reachable tenant: drift and health read together, one v1.0 batch and one beta batch.
    log = emulator.control.log()
    for index in (0, 1):
        tenant_id = emulator.tenant(index)["tenant_id"]
        trips = [
            entry["path"]
            for entry in log
            if entry.get("tenant") == tenant_id
            and (entry["kind"] == "batch" or (entry["kind"] == "graph" and entry["batch_seq"] is None))
        ]
        assert sorted(trips) == ["/beta/$batch", "/v1.0/$batch"], trips
        reads = {entry["path"] for entry in log if entry.get("tenant") == tenant_id and entry["kind"] == "graph"}
        assert "/v1.0/deviceAppManagement/vppTokens" in reads and "/v1.0/groups" in reads


def test_audit_without_health_leaves_health_out(emulator, tenants):
    run = tenants("audit", baseline=BASELINE, extra={"baseline_health": False, "baseline_fail_on_health": "critical"})
    assert run.rc == 2, run.output[-3000:]
    assert failed_hosts(run) == ["tenant-c"]  # B's health is not judged, so it cannot fail B
    assert (tenants.reports / "drift.json").exists() and not (tenants.reports / "health.json").exists()
    assert not (tenants.reports / "health.md").exists()
    assert sorted(published(run)) == ["baseline_drift"]
    converge = [entry for entry in run.results if entry["task"].endswith(" : " + CONVERGE)]
    assert converge and all("health" not in entry["result"] for entry in converge if entry["host"] != "tenant-c")
    health_paths = ("deviceAppManagement", "/beta/", "applePushNotificationCertificate", "exchangeConnectors")
    graph = [entry["path"] for entry in emulator.control.log() if entry["kind"] in ("graph", "batch")]
    assert graph and not [path for path in graph if any(part in path for part in health_paths)], graph
    assert emulator.control.writes() == []
