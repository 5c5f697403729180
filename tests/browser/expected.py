"""What report.html must show, computed from the data handed to the template (the rules of docs/report.md).

Written out here, independently of the page's own code, so that a wrong rule in the page cannot agree with itself.
``report`` is anything with ``drift``, ``health`` (the two reports, or None) and ``meta``.
"""

from __future__ import annotations

import collections
import json

from tests.browser.report_data import KINDS

RANK = {"ok": 0, "warning": 1, "critical": 2}
SEVERITIES = ("critical", "warning", "ok")
# The page's column headings (its own short names of the kinds).
LABELS = {
    "device_management_partners": "Device management partners",
    "compliance_management_partners": "Compliance partners",
    "remote_assistance_partners": "Remote assistance partners",
    "mobile_threat_defense_connectors": "Mobile threat defense",
    "apple_push_notification_certificate": "Apple push certificate",
    "vpp_tokens": "Apple VPP tokens",
    "dep_onboarding_settings": "Apple ADE tokens",
    "ndes_connectors": "Certificate connectors",
    "exchange_connectors": "Exchange connectors",
    "managed_google_play": "Managed Google Play",
    "windows_autopilot_settings": "Windows Autopilot",
}
DASH = "\u2013"


def parts(report, tenant):
    drift = report.drift["tenants"].get(tenant) if report.drift else None
    health = report.health["tenants"].get(tenant) if report.health else None
    return drift, health


def entries_of(report, tenant):
    drift, _health = parts(report, tenant)
    return drift["entries"] if drift and drift["audited"] else []


def findings_of(report, tenant):
    _drift, health = parts(report, tenant)
    return health["findings"] if health and health["reachable"] else []


def not_read(report, tenant):
    """A report of the run could not read the tenant, or lacks it."""
    drift, health = parts(report, tenant)
    return bool(
        (report.drift and (not drift or not drift["audited"]))
        or (report.health and (not health or not health["reachable"]))
    )


def expected_worst(report, tenant):
    """Critical when not read; at least warning when it drifts; else its worst health finding (ok without any)."""
    if not_read(report, tenant):
        return "critical"
    ranks = [RANK[finding["severity"]] for finding in findings_of(report, tenant)]
    if entries_of(report, tenant):
        ranks.append(RANK["warning"])
    return SEVERITIES[2 - max(ranks, default=0)]


def expected_kinds(report):
    kinds = set()
    for tenant in report.meta["hosts"]:
        drift, health = parts(report, tenant)
        kinds.update((drift or {}).get("kinds") or [])
        kinds.update((health or {}).get("kinds") or {})
    return [kind for kind in KINDS if kind in kinds]


def expected_cell(report, tenant, kind):
    drift, health = parts(report, tenant)
    entries = [entry for entry in entries_of(report, tenant) if entry["kind"] == kind]
    findings = [finding for finding in findings_of(report, tenant) if finding["kind"] == kind]
    managed = bool(drift and drift["audited"] and kind in drift["kinds"])
    if not (managed or (health and kind in health["kinds"]) or entries or findings):
        return [DASH]
    severities = collections.Counter(finding["severity"] for finding in findings)
    problems = [f"{severities[level]:,} {level}" for level in ("critical", "warning") if severities[level]]
    lines = ([f"{len(entries):,} drift"] if entries else []) + problems
    if severities["ok"] and not problems:
        lines.append(f"{severities['ok']:,} ok")  # ok findings are counted only where nothing is worse
    return lines or ["in line" if managed else "ok"]


def expected_row(report, tenant, kinds):
    drift, _health = parts(report, tenant)
    worst = [expected_worst(report, tenant)] + (["not read"] if not_read(report, tenant) else [])
    if drift and drift["audited"]:
        drift_text = f"{len(drift['entries']):,}"
    else:
        drift_text = "not audited" if drift else DASH
    return [[tenant], worst, [drift_text], *[expected_cell(report, tenant, kind) for kind in kinds]]


def worst_first(report, tenants):
    return sorted(tenants, key=lambda t: (-RANK[expected_worst(report, t)], not not_read(report, t), t))


def shown(value):
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def health_row(finding, with_tenant=None):
    days = "" if finding["days_left"] is None else str(finding["days_left"])
    row = [LABELS[finding["kind"]], finding["name"] or "", finding["check"], finding["status"], finding["severity"]]
    row += [finding["message"], days]
    return ([with_tenant] if with_tenant else []) + row


def drift_row(entry):
    values = [shown(entry[key]) if entry[key] is not None else "null" for key in ("current", "desired")]
    property_ = entry["property"] or ""
    return [LABELS[entry["kind"]], entry["object"], entry["status"], property_, *values, entry.get("message") or ""]
