"""Report data in the shape the baseline role hands to report.html.j2: a drift report, a health report and the meta.

``generate(tenants=500)`` makes a deterministic, realistic data set (every health kind in every tenant, most findings
ok, a few tenants that drift or cannot be reached); ``hostile=True`` puts markup, script end tags, ``&``, template
syntax and U+2028/U+2029 into names, values and messages (and one tenant name). The tests compute what the page
must show from these dicts themselves, never with the page's code.
"""

from __future__ import annotations

import datetime
import random

# Kinds in the report's column order; the first four are the ones a baseline manages (drift).
KINDS = (
    "device_management_partners",
    "compliance_management_partners",
    "remote_assistance_partners",
    "mobile_threat_defense_connectors",
    "apple_push_notification_certificate",
    "vpp_tokens",
    "dep_onboarding_settings",
    "ndes_connectors",
    "exchange_connectors",
    "managed_google_play",
    "windows_autopilot_settings",
)
DRIFT_KINDS = KINDS[:4]
BETA_KINDS = ("dep_onboarding_settings", "ndes_connectors", "managed_google_play", "windows_autopilot_settings")
SEVERITY_RANK = {"ok": 0, "warning": 1, "critical": 2}
DRIFT_STATUSES = ("drift", "missing", "unmanaged", "error")
GENERATED_AT = "2026-12-05T06:00:00Z"
NOW = datetime.datetime(2026, 12, 5, 6, 0, tzinfo=datetime.timezone.utc)
THRESHOLDS = {
    "expiry_warning_days": 30,
    "expiry_critical_days": 7,
    # As the module reports it: every kind's window, here two of them changed.
    "stale_after_hours": {
        kind: {"vpp_tokens": 48.0, "windows_autopilot_settings": 72.0}.get(kind, 24.0) for kind in KINDS
    },
    "ndes_minimum_version": "6.2301.1.0",
}
HOSTILE = (
    "</script><script>window.__pwned = 1; alert(1)</script>",
    '<img src=x onerror="window.__pwned = 1; alert(1)">',
    "Tom & Jerry &amp; <b>bold</b> &lt;i&gt;",
    "line\u2028separator\u2029paragraph",
    "{{ 7 * 7 }} {% raw %} ${7*7} <!-- -->",
    "javascript:alert(1) \" ' ` \\u003c",
)
# Per kind: (what names an object, the checks judged, how many objects a tenant has, at most).
KIND_SHAPES = {
    "device_management_partners": ("partner", ("state", "heartbeat", "expiry"), 2),
    "compliance_management_partners": ("partner", ("state", "heartbeat"), 1),
    "remote_assistance_partners": ("partner", ("state", "heartbeat"), 1),
    "mobile_threat_defense_connectors": ("connector", ("state", "heartbeat"), 2),
    "apple_push_notification_certificate": ("apple_id", ("expiry",), 1),
    "vpp_tokens": ("apple_id", ("state", "expiry", "sync"), 3),
    "dep_onboarding_settings": ("token", ("expiry", "sync"), 2),
    "ndes_connectors": ("server", ("state", "heartbeat", "version"), 3),
    "exchange_connectors": ("server", ("state", "sync"), 1),
    "managed_google_play": ("organization", ("state", "sync"), 1),
    "windows_autopilot_settings": ("singleton", ("sync",), 1),
}
OBJECT_NAMES = {
    "partner": ("Jamf Pro", "Kandji", "Jamf compliance", "TeamViewer", "Mosyle"),
    "connector": ("Microsoft Defender for Endpoint", "Lookout", "Zimperium", "Check Point Harmony"),
    "apple_id": ("mdm-admin@{tenant}.example", "apple@{tenant}.example", "vpp@{tenant}.example"),
    "token": ("ADE {tenant} school", "ADE {tenant} office"),
    "server": ("NDES-{n:02d}.{tenant}.example", "EXCH-{n:02d}.{tenant}.example"),
    "organization": ("{tenant} Ltd",),
    "singleton": ("Windows Autopilot",),
}
COMPANIES = (
    "contoso",
    "fabrikam",
    "northwind",
    "adatum",
    "litware",
    "tailspin",
    "wingtip",
    "woodgrove",
    "proseware",
    "lucerne",
    "alpine",
    "margie",
    "relecloud",
    "trey",
    "fourthcoffee",
    "wideworld",
)


def tenant_names(count):
    """Inventory host names; the first ones read like real tenants, the rest are numbered."""
    return [COMPANIES[i] if i < len(COMPANIES) else f"{COMPANIES[i % len(COMPANIES)]}-{i:03d}" for i in range(count)]


def _date(days):
    return (NOW + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object_name(rng, kind, tenant, number, hostile):
    if hostile and rng.random() < 0.5:
        return rng.choice(HOSTILE)
    template = rng.choice(OBJECT_NAMES[KIND_SHAPES[kind][0]])
    return template.format(tenant=tenant, n=number + 1)


def _severity(rng, weights):
    return rng.choices(("ok", "warning", "critical"), weights)[0]


def _finding(rng, kind, object_id, name, check, severity, hostile):
    """One health finding whose status, value, days_left and message agree with its check and severity."""
    days_left = None
    if check == "expiry":
        days_left = {"ok": rng.randint(31, 400), "warning": rng.randint(8, 30), "critical": rng.randint(-60, 7)}[
            severity
        ]
        status = "healthy" if severity == "ok" else ("expired" if days_left < 0 else "expiring")
        value = _date(days_left)
        when = f"in {days_left} days" if days_left >= 0 else f"{-days_left} days ago"
        verb = "expired" if days_left < 0 else "expires"
        message = f"{name} {verb} on {value[:10]} ({when})."
        if severity != "ok":
            message += " Renew it before it lapses: enrolled devices depend on it."
    elif check in ("heartbeat", "sync"):
        hours = {"ok": rng.randint(1, 20), "warning": rng.randint(25, 200), "critical": rng.randint(200, 2000)}[
            severity
        ]
        status = "healthy" if severity == "ok" else "stale"
        value = _date(-hours / 24)
        message = f"Last {'contact' if check == 'heartbeat' else 'sync'} of {name} was {hours} hours ago."
        if severity != "ok":
            message += " Check the service and its credentials."
    elif check == "version":
        status = "healthy" if severity == "ok" else "unhealthy"
        value = "6.2301.1.0" if severity == "ok" else "6.2008.60.612"
        message = f"{name} runs connector version {value}."
        if severity != "ok":
            message += " Update it to 6.2301.1.0 or later."
    else:
        status, value = {
            "ok": ("healthy", "enabled"),
            "warning": ("unhealthy", "pending"),
            "critical": ("unhealthy", "unresponsive"),
        }[severity]
        message = f"{name} reports the state {value}."
    if hostile and rng.random() < 0.3:
        message = f"{message} {rng.choice(HOSTILE)}"
        value = {"raw": rng.choice(HOSTILE), "list": [1, None, True]} if rng.random() < 0.5 else value
    return {
        "kind": kind,
        "id": object_id,
        "name": name,
        "check": check,
        "status": status,
        "severity": severity,
        "message": message,
        "value": value,
        "days_left": days_left,
        "api_version": "beta" if kind in BETA_KINDS else "v1.0",
    }


# Findings about a whole kind: (severity, message) by status.
KIND_FINDINGS = {
    "forbidden": ("warning", "Graph refused to list the kind (403): grant DeviceManagementServiceConfig.Read.All."),
    "error": ("warning", "Graph answered 503 serviceUnavailable after 3 retries."),
    "not_configured": ("ok", "Not configured in this tenant."),
}


def _kind_finding(rng, kind, status):
    severity, message = KIND_FINDINGS[status]
    if status != "not_configured":
        message += f" Request id {rng.getrandbits(64):016x}."
    return {
        "kind": kind,
        "id": None,
        "name": None,
        "check": "state",
        "status": status,
        "severity": severity,
        "message": message,
        "value": None,
        "days_left": None,
        "api_version": "beta" if kind in BETA_KINDS else "v1.0",
    }


def _tenant_findings(rng, tenant, hostile, weights, kind_statuses=None):
    """Every kind's findings; kind_statuses forces a kind's outcome (forbidden, error, not_configured)."""
    findings = []
    for kind in KINDS:
        _naming, checks, most = KIND_SHAPES[kind]
        roll = rng.random()
        status = (kind_statuses or {}).get(kind)
        status = status or (
            "forbidden" if roll < 0.003 else "error" if roll < 0.005 else "not_configured" if roll < 0.12 else None
        )
        if status:
            findings.append(_kind_finding(rng, kind, status))
            continue
        for number in range(rng.randint(1, most)):
            object_id = f"{rng.getrandbits(128):032x}"
            object_id = f"{object_id[:8]}-{object_id[8:12]}-{object_id[12:16]}-{object_id[16:20]}-{object_id[20:]}"
            name = _object_name(rng, kind, tenant, number, hostile)
            for check in checks:
                findings.append(_finding(rng, kind, object_id, name, check, _severity(rng, weights), hostile))
    return findings


def _health_part(findings):
    counts = {severity: 0 for severity in SEVERITY_RANK}
    kinds = {}
    for finding in findings:
        severity = finding["severity"]
        counts[severity] += 1
        if SEVERITY_RANK[severity] >= SEVERITY_RANK.get(kinds.get(finding["kind"]), -1):
            kinds[finding["kind"]] = severity
    worst = max(kinds.values(), key=SEVERITY_RANK.get) if kinds else None
    return {"reachable": True, "error": None, "worst": worst, "counts": counts, "kinds": kinds, "findings": findings}


def _drift_entries(rng, tenant, hostile, showcase=False):
    """A few tenants drift; the showcase tenant has one entry of each status."""
    entries = []
    for number, kind in enumerate(DRIFT_KINDS):
        if not showcase and rng.random() > 0.04:
            continue
        object_name = _object_name(rng, kind, tenant, 0, hostile)
        status = DRIFT_STATUSES[number] if showcase else rng.choices(DRIFT_STATUSES, (6, 2, 2, 1))[0]
        entry = {"tenant": tenant, "kind": kind, "object": object_name, "id": None, "status": status}
        if status == "drift":
            current, desired = rng.choice(
                (
                    ("unresponsive", "enabled"),
                    (False, True),
                    (3, 7),
                    ([{"type": "group", "group_id": "0001"}], [{"type": "group", "group_display_name": "Mac fleet"}]),
                )
            )
            entry.update(id=f"{kind[:3]}-{rng.getrandbits(32):08x}", property="partner_state", current=current)
            entry["desired"] = desired
            if hostile and rng.random() < 0.5:
                entry["current"] = rng.choice(HOSTILE)
        elif status == "missing":
            entry.update(property="state", current="absent", desired="present")
        elif status == "unmanaged":
            entry.update(id=f"{kind[:3]}-{rng.getrandbits(32):08x}", property="state", current="present", desired=None)
        else:
            entry.update(
                id=f"{kind[:3]}-{rng.getrandbits(32):08x}",
                property=None,
                current=None,
                desired=None,
                message="Group 'Mac fleet' was not found in the tenant.",
            )
        entries.append(entry)
    return entries


def _drift_part(entries, kinds):
    counts = {status: sum(entry["status"] == status for entry in entries) for status in DRIFT_STATUSES}
    return {"audited": True, "counts": counts, "kinds": list(kinds), "entries": entries, "error": None}


# Tenant profiles: (share of tenants, weights of ok/warning/critical per finding). Most tenants are healthy.
PROFILES = ((75, (100, 0, 0)), (18, (92, 8, 0)), (7, (88, 8, 4)))
SHOWCASE_WEIGHTS = (45, 30, 25)
SHOWCASE_KIND_STATUSES = {"exchange_connectors": "forbidden", "managed_google_play": "error"}


def generate(tenants=500, seed=22, hostile=False, mode="audit", unreachable_every=97):
    """(baseline_report, baseline_health_report, baseline_report_meta) for ``tenants`` tenants.

    Every ``unreachable_every``-th tenant (and tenant index 1 when there are more than two) cannot be reached: it is
    not audited and not reachable. Tenant 0 is the showcase: every drift status and many health statuses.
    ``mode="health"`` gives no drift report; ``mode="audit"`` gives both.
    """
    rng = random.Random(seed)
    names = tenant_names(tenants)
    if hostile and tenants > 3:
        names[3] = 'evil<b>&co</b>="x"#tenant=a&kind=b'
    drift_tenants, health_tenants, all_entries, errors = {}, {}, [], []
    for index, tenant in enumerate(names):
        unreachable = index % unreachable_every == unreachable_every - 1 or (index == 1 and tenants > 2)
        if unreachable:
            error = f"Sign-in failed for {tenant}: AADSTS7000215: Invalid client secret provided."
            drift_tenants[tenant] = {"audited": False, "counts": None, "kinds": [], "entries": [], "error": error}
            errors.append({"tenant": tenant, "msg": error})
            health_tenants[tenant] = {
                "reachable": False,
                "error": error,
                "worst": None,
                "counts": {"ok": 0, "warning": 0, "critical": 0},
                "kinds": {},
                "findings": [],
            }
            continue
        entries = _drift_entries(rng, tenant, hostile, showcase=index == 0)
        drift_tenants[tenant] = _drift_part(entries, DRIFT_KINDS)
        all_entries.extend(entries)
        weights = rng.choices([weights for _share, weights in PROFILES], [share for share, _weights in PROFILES])[0]
        kind_statuses = SHOWCASE_KIND_STATUSES if index == 0 else None
        findings = _tenant_findings(rng, tenant, hostile, SHOWCASE_WEIGHTS if index == 0 else weights, kind_statuses)
        health_tenants[tenant] = _health_part(findings)
    worst_first = sorted(
        health_tenants.items(),
        key=lambda item: (-SEVERITY_RANK.get(item[1]["worst"], 3), item[0]),
    )
    health = {"generated_at": GENERATED_AT, "thresholds": THRESHOLDS, "tenants": dict(worst_first)}
    drift = {"generated_at": GENERATED_AT, "tenants": drift_tenants, "entries": all_entries, "errors": errors}
    meta = {
        "generated_at": GENERATED_AT,
        "collection_version": "0.2.0",
        "baseline_name": "group_vars/intune_tenants/baseline.yml" if mode == "audit" else None,
        "mode": mode,
        "hosts": sorted(names),
    }
    return (drift if mode == "audit" else None), health, meta
