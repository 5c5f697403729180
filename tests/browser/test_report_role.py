"""report.html from a real audit: the baseline role (examples/msp/baseline.yml) against the Graph emulator.

Three tenants: one in line, one that drifts (with a hostile display name in Graph), one whose sign-in fails. The
report is rendered from the drift.json and health.json that the role wrote, as the role's own report task does, and
the page must agree with them (computed here, not by the page).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import yaml

from tests.browser.dom import matrix, matrix_tenants, table_rows
from tests.browser.expected import (
    drift_row,
    entries_of,
    expected_kinds,
    expected_row,
    findings_of,
    health_row,
    worst_first,
)
from tests.browser.page import embedded_data
from tests.integration.conftest import REPO_ROOT
from tests.integration.test_baseline_role import HOSTS, Runner, drifted_b, in_line, seed

HOSTILE_NAME = '<img src=x onerror="window.__pwned = 1">&amp; </script>'


@dataclasses.dataclass
class RoleReport:
    path: pathlib.Path
    drift: dict
    health: dict
    meta: dict


def audit_report(baseline):
    """Run the role's audit; the report.html it wrote, with the drift.json and health.json beside it."""
    run = baseline("audit", extra={"baseline_name": "examples/msp group_vars"})
    path = baseline.reports / "report.html"
    drift = json.loads((baseline.reports / "drift.json").read_text())
    health = json.loads((baseline.reports / "health.json").read_text())
    meta = embedded_data(path.read_text())["meta"]
    return run, RoleReport(path, drift, health, meta)


def test_report_of_a_real_audit_matches_drift_json_and_health_json(tmp_path, emulator, open_page):
    drifting = drifted_b()
    drifting["complianceManagementPartners"].append({"id": "cmp-hostile", "displayName": HOSTILE_NAME})
    seed(emulator, in_line(0), drifting, in_line(2))
    baseline = Runner(tmp_path, emulator)
    failing = baseline.inventory / "host_vars" / "tenant-c.yml"
    failing.write_text(yaml.safe_dump({**yaml.safe_load(failing.read_text()), "intune_client_secret": "wrong"}))

    run, report = audit_report(baseline)
    assert run.rc == 2, run.output  # tenant-c fails after the report is written
    assert [tenant for tenant, part in report.drift["tenants"].items() if not part["audited"]] == ["tenant-c"]
    assert [tenant for tenant, part in report.health["tenants"].items() if not part["reachable"]] == ["tenant-c"]
    assert findings_of(report, "tenant-b")  # positive control: the health half has findings
    assert HOSTILE_NAME in [entry["object"] for entry in entries_of(report, "tenant-b")]
    # The role's own header facts.
    galaxy = yaml.safe_load((pathlib.Path(REPO_ROOT) / "galaxy.yml").read_text())
    assert report.meta["collection_version"] == galaxy["version"]
    assert (report.meta["baseline_name"], report.meta["mode"], report.meta["hosts"]) == (
        "examples/msp group_vars",
        "audit",
        sorted(HOSTS),
    )

    page = open_page(report)
    kinds = expected_kinds(report)
    assert len(kinds) > 4  # the drift kinds and the health kinds
    assert matrix(page) == [expected_row(report, tenant, kinds) for tenant in worst_first(report, sorted(HOSTS))]
    assert matrix_tenants(page) == ["tenant-c", "tenant-b", "tenant-a"]
    page.get_by_label("Tenant", exact=True).select_option("tenant-b")
    assert sorted(table_rows(page, "drift-table")) == sorted(drift_row(e) for e in entries_of(report, "tenant-b"))
    assert sorted(table_rows(page, "health-table")) == sorted(health_row(f) for f in findings_of(report, "tenant-b"))
    assert HOSTILE_NAME in page.text_content("#drift-table")
    assert page.evaluate("window.__pwned") is None
    page.get_by_label("Tenant", exact=True).select_option("tenant-c")
    problems = page.eval_on_selector_all("#detail-problems li", "items => items.map(i => i.textContent)")
    assert problems == [
        f"Drift not audited: {report.drift['tenants']['tenant-c']['error']}",
        f"Health not checked: {report.health['tenants']['tenant-c']['error']}",
    ]
