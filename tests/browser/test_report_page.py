"""report.html (roles/baseline/templates/report.html.j2) in headless Chromium, rendered from fixture data.

What the page must show is computed from the data handed to the template (tests/browser/expected.py), never with
the page's own code. Every page opened must make no request but its own document, log
no console error and open no dialog (checked by the ``open_page`` fixture at teardown).
"""

from __future__ import annotations

import collections
import re
from urllib.parse import urlencode

import pytest

from tests.browser.browser import RENDERED, open_report
from tests.browser.dom import column_labels, fragment, matrix, matrix_tenants, table_rows
from tests.browser.expected import (
    DASH,
    LABELS,
    RANK,
    SEVERITIES,
    drift_row,
    entries_of,
    expected_cell,
    expected_kinds,
    expected_row,
    expected_worst,
    findings_of,
    health_row,
    not_read,
    worst_first,
)
from tests.browser.page import csp_directives, csp_hash, embedded_data, embedded_json, inline_blocks
from tests.browser.report_data import DRIFT_KINDS, HOSTILE, KINDS

# The matrix --------------------------------------------------------------------------------------------------------


def test_matrix_rows_and_counts_match_the_data(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    kinds = expected_kinds(audit)
    assert kinds == list(KINDS)
    assert column_labels(page) == ["Tenant", "Worst", "Drift", *[LABELS[kind] for kind in kinds]]
    tenants = worst_first(audit, audit.meta["hosts"])
    assert matrix(page) == [expected_row(audit, tenant, kinds) for tenant in tenants]
    # Positive control: the data has every severity, drift and a tenant that could not be read.
    assert {expected_worst(audit, tenant) for tenant in tenants} == set(SEVERITIES)
    assert any(entries_of(audit, tenant) for tenant in tenants)
    assert any(not_read(audit, tenant) for tenant in tenants)

    worst = collections.Counter(expected_worst(audit, tenant) for tenant in tenants)
    totals = f"{len(tenants)} tenants: {worst['critical']} critical, {worst['warning']} warning, {worst['ok']} ok"
    assert page.text_content("#totals") == totals
    assert page.title() == f"Intune tenants: {totals}"
    statuses = collections.Counter(entry["status"] for tenant in tenants for entry in entries_of(audit, tenant))
    drifting = sum(1 for tenant in tenants if entries_of(audit, tenant))
    findings = collections.Counter(f["severity"] for tenant in tenants for f in findings_of(audit, tenant))
    detail = page.eval_on_selector_all("#totals-detail li", "items => items.map(i => i.textContent)")
    unread = sum(not_read(audit, tenant) for tenant in tenants)
    assert detail == [
        f"{unread} tenant{'s' if unread > 1 else ''} could not be read (counted as critical).",
        f"Drift: {drifting} tenants differ from the baseline (entries: "
        + ", ".join(f"{statuses[s]} {s}" for s in ("drift", "missing", "unmanaged", "error"))
        + ").",
        f"Health: {sum(findings.values()):,} findings (" + ", ".join(f"{findings[s]:,} {s}" for s in SEVERITIES) + ").",
    ]


def test_header_says_when_what_and_with_which_thresholds(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    facts = dict(
        page.eval_on_selector_all(
            "#facts div", "rows => rows.map(r => [r.children[0].textContent, r.children[1].textContent])"
        )
    )
    thresholds = audit.health["thresholds"]
    assert facts == {
        "Generated": audit.meta["generated_at"],
        "Collection": "msgraph.intune 0.2.0",
        "Mode": "audit",
        "Baseline": audit.meta["baseline_name"],
        "Expiry": (
            f"warning within {thresholds['expiry_warning_days']} days, "
            f"critical within {thresholds['expiry_critical_days']} days"
        ),
        "Stale after": "24 hours; Apple VPP tokens: 48 hours; Windows Autopilot: 72 hours",
        "Certificate connector minimum": thresholds["ndes_minimum_version"],
    }


def test_sort_by_tenant_and_worst_with_aria_sort_and_the_keyboard(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    names = audit.meta["hosts"]

    def sorted_by():
        return page.eval_on_selector_all(
            "#matrix-head th[aria-sort]", "ths => ths.map(th => [th.textContent, th.getAttribute('aria-sort')])"
        )

    assert sorted_by() == [["Worst\u25bc", "descending"]]
    page.click("#matrix-head button[data-sort=tenant]")
    assert matrix_tenants(page) == sorted(names)
    assert sorted_by() == [["Tenant\u25b2", "ascending"]]
    assert fragment(page) == {"sort": ["tenant"], "order": ["ascending"]}
    # The button keeps the focus across the re-render, so Enter sorts the other way.
    page.keyboard.press("Enter")
    assert matrix_tenants(page) == sorted(names, reverse=True)
    assert sorted_by() == [["Tenant\u25bc", "descending"]]
    page.focus("#matrix-head button[data-sort=worst]")
    page.keyboard.press("Space")
    assert matrix_tenants(page) == worst_first(audit, names)
    page.keyboard.press("Enter")
    ascending = [expected_worst(audit, tenant) for tenant in matrix_tenants(page)]
    assert ascending == sorted(ascending, key=RANK.get)
    assert sorted_by() == [["Worst\u25b2", "ascending"]]
    kind = "vpp_tokens"
    page.click(f"#matrix-head button[data-sort='kind:{kind}']")
    cells = [
        RANK.get(expected_cell(audit, t, kind)[0].split()[-1], 0)
        for t in matrix_tenants(page)
        if not not_read(audit, t)
    ]
    assert cells == sorted(cells, reverse=True) and cells[0] > 0


# Filters -----------------------------------------------------------------------------------------------------------


def test_every_filter_control_has_a_label_and_is_reached_by_keyboard(report, open_page):
    page = open_page(report("audit"))
    for label, element in (
        ("Tenant", "select"),
        ("Kind", "select"),
        ("Severity or status", "select"),
        ("Text", "input"),
    ):
        assert page.get_by_label(label, exact=True).evaluate("e => e.tagName.toLowerCase()") == element
    reached = []
    for _press in range(5):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id"))
        # The focus is visible: a real outline on the focused control.
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert reached == ["filter-tenant", "filter-kind", "filter-status", "filter-text", "filter-clear"]


def test_tenant_filter_shows_one_tenant_and_its_entries(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    tenant = next(t for t in audit.meta["hosts"] if entries_of(audit, t) and findings_of(audit, t))
    page.get_by_label("Tenant", exact=True).select_option(tenant)
    assert matrix_tenants(page) == [tenant]
    assert fragment(page) == {"tenant": [tenant]}
    assert page.text_content("#detail-title") == f"Tenant {tenant}"
    assert sorted(table_rows(page, "drift-table")) == sorted(drift_row(e) for e in entries_of(audit, tenant))
    assert sorted(table_rows(page, "health-table")) == sorted(health_row(f) for f in findings_of(audit, tenant))


def test_kind_filter_keeps_the_kind_column_and_the_tenants_that_have_it(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    kind = "ndes_connectors"
    page.get_by_label("Kind", exact=True).select_option(kind)
    assert column_labels(page) == ["Tenant", "Worst", "Drift", LABELS[kind]]
    having = [t for t in audit.meta["hosts"] if expected_cell(audit, t, kind) != [DASH] or not_read(audit, t)]
    assert sorted(matrix_tenants(page)) == sorted(having)
    listed = [health_row(f, t) for t in having for f in findings_of(audit, t) if f["kind"] == kind]
    assert sorted(table_rows(page, "health-table")) == sorted(listed)
    assert table_rows(page, "drift-table") == []  # certificate connectors are no baseline kind


def test_severity_filter_matches_the_worst_severity(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    for severity in SEVERITIES:
        page.get_by_label("Severity or status", exact=True).select_option(severity)
        expected = [t for t in audit.meta["hosts"] if expected_worst(audit, t) == severity]
        assert sorted(matrix_tenants(page)) == sorted(expected), severity
        assert fragment(page) == {"severity": [severity]}
        listed = [health_row(f, t) for t in expected for f in findings_of(audit, t) if f["severity"] == severity]
        assert sorted(table_rows(page, "health-table")) == sorted(listed), severity
    problems = page.eval_on_selector_all("#detail-problems li", "items => items.map(i => i.textContent)")
    assert problems == []  # the last one was "ok": tenants that could not be read are critical
    page.get_by_label("Severity or status", exact=True).select_option("critical")
    problems = page.eval_on_selector_all("#detail-problems li", "items => items.map(i => i.textContent)")
    unread = [t for t in audit.meta["hosts"] if not_read(audit, t)]
    assert problems == [
        line
        for t in sorted(unread)
        for line in (
            f"{t}: Drift not audited: {audit.drift['tenants'][t]['error']}",
            f"{t}: Health not checked: {audit.health['tenants'][t]['error']}",
        )
    ]


def test_status_filter_lists_the_findings_and_entries_with_that_status(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    drift_statuses = collections.Counter(e["status"] for t in audit.meta["hosts"] for e in entries_of(audit, t))
    for status in ("expired", "stale", drift_statuses.most_common(1)[0][0]):
        page.get_by_label("Severity or status", exact=True).select_option(status)
        findings = [
            health_row(f, t) for t in audit.meta["hosts"] for f in findings_of(audit, t) if f["status"] == status
        ]
        entries = [
            [t, *drift_row(e)] for t in audit.meta["hosts"] for e in entries_of(audit, t) if e["status"] == status
        ]
        tenants = {row[0] for row in findings + entries}
        assert findings or entries, status
        assert sorted(matrix_tenants(page)) == sorted(tenants), status
        assert fragment(page) == {"status": [status]}
        assert sorted(table_rows(page, "health-table")) == sorted(findings), status
        assert sorted(table_rows(page, "drift-table")) == sorted(entries), status


def test_text_filter_searches_names_messages_and_values(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    tenant, finding = next((t, f) for t in audit.meta["hosts"][5:] for f in findings_of(audit, t) if f["id"])
    page.get_by_label("Text", exact=True).fill(finding["id"].upper())  # case does not matter
    same_object = [health_row(f, tenant) for f in findings_of(audit, tenant) if f["id"] == finding["id"]]
    assert matrix_tenants(page) == [tenant]
    assert sorted(table_rows(page, "health-table")) == sorted(same_object)
    assert fragment(page) == {"text": [finding["id"].upper()]}
    # A tenant's name matches all of its entries.
    page.get_by_label("Text", exact=True).fill(tenant)
    assert tenant in matrix_tenants(page)
    words = "differs from nothing at all"
    page.get_by_label("Text", exact=True).fill(words)
    assert matrix_tenants(page) == []
    assert (
        page.text_content("#filter-result")
        == f"Showing 0 of {len(audit.meta['hosts'])} tenants; 0 entries listed below."
    )


def test_filters_combine_and_clear(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    page.get_by_label("Kind", exact=True).select_option("vpp_tokens")
    page.get_by_label("Severity or status", exact=True).select_option("warning")
    expected = [
        t
        for t in audit.meta["hosts"]
        if not not_read(audit, t) and expected_cell(audit, t, "vpp_tokens")[0].endswith("warning")
    ]
    assert expected
    assert sorted(matrix_tenants(page)) == sorted(expected)
    page.click("#filter-clear")
    assert len(matrix_tenants(page)) == len(audit.meta["hosts"])
    assert page.evaluate("location.hash") == ""
    assert page.evaluate("document.activeElement.id") == "filter-tenant"


# Drill-down and the URL fragment -----------------------------------------------------------------------------------


def test_tenant_link_opens_its_drill_down_and_back_returns(report, open_page):
    audit = report("audit")
    page = open_page(audit)
    tenant = next(t for t in audit.meta["hosts"] if entries_of(audit, t))
    page.locator("#matrix-body").get_by_role("link", name=tenant, exact=True).click()
    page.wait_for_function("() => document.getElementById('detail-title').textContent.startsWith('Tenant ')")
    assert page.text_content("#detail-title") == f"Tenant {tenant}"
    assert page.evaluate("document.activeElement.id") == "detail-title"
    assert page.get_by_label("Tenant", exact=True).input_value() == tenant
    assert sorted(table_rows(page, "drift-table")) == sorted(drift_row(e) for e in entries_of(audit, tenant))
    assert sorted(table_rows(page, "health-table")) == sorted(health_row(f) for f in findings_of(audit, tenant))
    page.go_back()
    page.wait_for_function("() => document.getElementById('detail-title').textContent === 'Details'")
    assert len(matrix_tenants(page)) == len(audit.meta["hosts"])


def test_unreachable_tenant_says_why(report, open_page):
    audit = report("audit")
    tenant = next(t for t in audit.meta["hosts"] if not_read(audit, t))
    page = open_page(audit, "#" + urlencode({"tenant": tenant}))
    problems = page.eval_on_selector_all("#detail-problems li", "items => items.map(i => i.textContent)")
    error = audit.drift["tenants"][tenant]["error"]
    assert problems == [
        f"Drift not audited: {error}",
        f"Health not checked: {audit.health['tenants'][tenant]['error']}",
    ]
    assert matrix(page)[0][1:3] == [["critical", "not read"], ["not audited"]]


def test_fragment_restored_on_load_reload_and_hashchange(report, open_page):
    audit = report("audit")

    def vpp(tenant):
        return [f for f in findings_of(audit, tenant) if f["kind"] == "vpp_tokens"]

    tenant = next(t for t in audit.meta["hosts"] if vpp(t) and all(f["severity"] == "ok" for f in vpp(t)))
    state = {
        "tenant": tenant,
        "kind": "vpp_tokens",
        "severity": "ok",
        "text": "token",
        "sort": "tenant",
        "order": "descending",
    }
    page = open_page(audit, "#" + urlencode(state))

    def controls():
        return [page.input_value(f"#filter-{name}") for name in ("tenant", "kind", "status", "text")]

    assert controls() == [tenant, "vpp_tokens", "ok", "token"]
    # Every VPP finding matches "token" (the kind's name does).
    assert sorted(table_rows(page, "health-table")) == sorted(health_row(f) for f in vpp(tenant))
    page.get_by_label("Text", exact=True).fill("")
    saved = page.evaluate("location.hash")
    page.reload()
    page.wait_for_selector(RENDERED, state="attached")
    assert page.evaluate("location.hash") == saved
    assert controls() == [tenant, "vpp_tokens", "ok", ""]
    assert page.get_attribute("#matrix-head th[aria-sort]", "aria-sort") == "descending"
    # Somebody edits the fragment (or follows a link): the page follows.
    page.evaluate("location.hash = '#status=expired'")
    page.wait_for_function("() => document.getElementById('filter-status').value === 'expired'")
    assert controls() == ["", "", "expired", ""]
    # Values that are not in the report are ignored, not shown as an empty view.
    page.evaluate("location.hash = '#tenant=nobody&kind=nothing&severity=fatal'")
    page.wait_for_function("() => document.getElementById('filter-status').value === ''")
    assert controls() == ["", "", "", ""]
    assert len(matrix_tenants(page)) == len(audit.meta["hosts"])


# Safety ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "without-csp"])
def test_hostile_names_render_as_text_and_run_nothing(report, open_page, bypass_csp):
    """Without the CSP too: the page itself never parses a value as markup (the CSP is the second line)."""
    hostile = report("hostile")
    evil = next(name for name in hostile.meta["hosts"] if "<b>" in name)
    page = open_page(hostile, bypass_csp=bypass_csp)
    assert evil in matrix_tenants(page)
    text = ""
    for tenant in hostile.meta["hosts"]:
        page.get_by_label("Tenant", exact=True).select_option(tenant)
        expected = sorted(health_row(f) for f in findings_of(hostile, tenant))
        assert sorted(table_rows(page, "health-table")) == expected
        assert sorted(table_rows(page, "drift-table")) == sorted(drift_row(e) for e in entries_of(hostile, tenant))
        text += page.text_content("#detail")
    assert [value for value in HOSTILE if value not in text] == []  # the markup is all there, as text
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('img, b, iframe, object, embed').length") == 0
    assert page.evaluate("document.scripts.length") == 3  # the codebook, the data and the page's script
    # The tenant whose name holds markup, & and #tenant= survives the fragment.
    page.get_by_label("Tenant", exact=True).select_option(evil)
    page.reload()
    page.wait_for_selector(RENDERED, state="attached")
    assert page.input_value("#filter-tenant") == evil
    assert matrix_tenants(page) == [evil]


def test_embedded_json_is_escaped_for_a_script_element_and_holds_the_data_once(report):
    hostile = report("hostile")
    html = hostile.html
    for element in ("report-data", "report-codebook"):
        raw = embedded_json(html, element)
        assert not re.search("[<>&\u2028\u2029]", raw), element
    # The data the page parses is exactly what the template was given, drift's duplicated top-level entries aside.
    drift = {key: value for key, value in hostile.drift.items() if key != "entries"}
    assert embedded_data(html) == {"meta": hostile.meta, "drift": drift, "health": hostile.health}
    assert len(hostile.drift["entries"]) > 0
    # The hostile strings are only in the JSON element, escaped: the HTML around it is the template's own.
    outside = html.replace(embedded_json(html, "report-data"), "")
    assert "__pwned" not in outside and "onerror" not in outside


def test_content_security_policy_forbids_every_request_and_allows_only_the_inline_code(report):
    html = report("audit").html
    directives = csp_directives(html)
    styles, scripts = inline_blocks(html, "style"), inline_blocks(html, "script")
    assert len(styles) == 1 and len(scripts) == 1
    expected = [f"'{csp_hash(styles[0])}'"], [f"'{csp_hash(scripts[0])}'"]
    message = f"update the CSP in report.html.j2: style-src {expected[0][0]}; script-src {expected[1][0]}"
    assert (directives.get("style-src"), directives.get("script-src")) == expected, message
    assert directives["default-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"] and directives["form-action"] == ["'none'"]
    assert "unsafe" not in html.split("</head>")[0]
    markup = html.replace(embedded_json(html, "report-data"), "")
    assert not re.search(r"\s(?:src|href)=", markup)  # nothing to load
    assert not re.search(r"\son[a-z]+=", markup)  # no inline handler


def test_no_request_but_the_document_through_every_view(report, browser):
    """Opened, filtered, drilled into, printed and in dark mode: the page asks for nothing but its own file."""
    audit = report("audit")
    for scheme in ("light", "dark"):
        page, recorder, url = open_report(browser, audit.path, color_scheme=scheme)
        page.get_by_label("Kind", exact=True).select_option("vpp_tokens")
        page.get_by_label("Text", exact=True).fill("contoso")
        page.locator("#matrix-body").get_by_role("link", name="contoso", exact=True).click()
        page.wait_for_function("() => document.getElementById('detail-title').textContent === 'Tenant contoso'")
        page.emulate_media(media="print")
        if scheme == "light":
            page.pdf()
        page.screenshot()
        assert [u.split("#")[0] for u in recorder.requests] == [url.split("#")[0]], recorder.requests
        assert recorder.blocked == [] and recorder.errors == [] and recorder.dialogs == []
        page.context.close()


# Dark mode, print, size --------------------------------------------------------------------------------------------


def luminance(css_colour):
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_dark_mode_follows_the_system_setting(report, open_page):
    audit = report("audit")
    light, dark = open_page(audit), open_page(audit, color_scheme="dark")
    style = "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
    light_bg, light_fg = light.eval_on_selector("body", style)
    dark_bg, dark_fg = dark.eval_on_selector("body", style)
    assert luminance(light_bg) > 0.9 and luminance(light_fg) < 0.2
    assert luminance(dark_bg) < 0.1 and luminance(dark_fg) > 0.8
    critical = "#matrix-body td.sev-critical"
    assert luminance(dark.eval_on_selector(critical, style)[0]) < 0.35
    # The severity is written out, not only coloured.
    assert dark.eval_on_selector(critical, "e => e.textContent").startswith("critical")


def test_print_puts_the_summary_first_and_hides_the_controls(report, open_page):
    audit = report("audit")
    page = open_page(audit, "#" + urlencode({"tenant": "contoso"}))
    page.emulate_media(media="print")
    assert page.eval_on_selector("#filters", "e => getComputedStyle(e).display") == "none"
    assert page.eval_on_selector("#detail", "e => getComputedStyle(e).breakBefore") == "page"
    wrap = page.eval_on_selector("#matrix-wrap", "e => [getComputedStyle(e).overflow, getComputedStyle(e).maxHeight]")
    assert wrap == ["visible", "none"]
    order = page.evaluate(
        "['totals', 'matrix', 'detail'].map(id => document.getElementById(id).getBoundingClientRect().top)"
    )
    assert order == sorted(order)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_laptop_screen_shows_the_summary_and_the_first_rows(report, open_page):
    page = open_page(report("audit"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling at 100 %
    first_row = page.eval_on_selector("#matrix-body tr", "e => e.getBoundingClientRect().bottom")
    assert first_row < 768
    font = page.eval_on_selector("#matrix-body td", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= 12


def test_health_only_and_drift_only_reports(report, open_page):
    health = report("health")
    page = open_page(health)
    assert health.drift is None and health.meta["mode"] == "health"
    kinds = expected_kinds(health)
    assert matrix(page) == [expected_row(health, t, kinds) for t in worst_first(health, health.meta["hosts"])]
    assert page.text_content("#totals-detail").startswith("1 tenant could not be read")
    assert "Drift: not audited in this run." in page.text_content("#totals-detail")
    assert page.text_content("#facts").count("Baseline") == 1 and "none: health only" in page.text_content("#facts")

    drift = report("drift")
    page = open_page(drift)
    kinds = expected_kinds(drift)
    assert kinds == list(DRIFT_KINDS)
    assert column_labels(page)[3:] == [LABELS[kind] for kind in DRIFT_KINDS]
    assert matrix(page) == [expected_row(drift, t, kinds) for t in worst_first(drift, drift.meta["hosts"])]
    assert "Health: not checked in this run." in page.text_content("#totals-detail")


def test_500_tenants_fit_in_3_mb_and_long_lists_come_in_pages(report, open_page):
    large = report("large")
    findings = sum(len(findings_of(large, t)) for t in large.meta["hosts"])
    assert findings > 20 * 500  # realistic: every kind in every tenant, about 30 findings each
    assert large.path.stat().st_size <= 3 * 1024 * 1024
    page = open_page(large, "#severity=ok")
    ok = sum(1 for t in large.meta["hosts"] for f in findings_of(large, t) if f["severity"] == "ok")
    ok_tenants = [t for t in large.meta["hosts"] if expected_worst(large, t) == "ok"]
    ok_listed = sum(1 for t in ok_tenants for f in findings_of(large, t))
    assert ok > ok_listed > 400
    assert len(table_rows(page, "health-table", pages=1)) == 200
    assert len(table_rows(page, "health-table", pages=2)) == 400
    assert len(table_rows(page, "health-table")) == ok_listed
    assert sorted(matrix_tenants(page)) == sorted(ok_tenants)
