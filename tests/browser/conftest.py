"""Fixtures of the report.html browser tests: one headless Chromium per xdist worker, reports rendered once.

* ``browser``: Debian's Chromium through Playwright (tests/browser/browser.py); a missing Chromium fails every test
  with the command that installs it.
* ``report(name)``: a report.html rendered through ansible-playbook from the fixture data (tests/browser/report_data.py),
  once per session and name; see REPORTS.
* ``open_page(report, fragment="", **options)``: the report opened from file://. At teardown every page opened must
  have made no request but its own document, logged no console error and opened no dialog.
"""

from __future__ import annotations

import dataclasses
import pathlib

import pytest
from playwright.sync_api import sync_playwright

from tests.browser import report_data
from tests.browser.browser import launch, open_report
from tests.browser.render import render_report

# name -> what report_data.generate makes, and which reports the run has.
REPORTS = {
    "audit": {"tenants": 60},
    "hostile": {"tenants": 12, "hostile": True},
    "health": {"tenants": 30, "mode": "health"},
    "drift": {"tenants": 30, "without_health": True},
    "large": {"tenants": 500},
}


@dataclasses.dataclass
class Report:
    path: pathlib.Path
    drift: dict | None
    health: dict | None
    meta: dict

    @property
    def html(self):
        return self.path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def report(tmp_path_factory):
    rendered = {}

    def get(name):
        if name not in rendered:
            options = dict(REPORTS[name])
            without_health = options.pop("without_health", False)
            drift, health, meta = report_data.generate(**options)
            if without_health:
                health = None
            path, _run = render_report(tmp_path_factory.mktemp(f"report-{name}"), drift, health, meta)
            rendered[name] = Report(path, drift, health, meta)
        return rendered[name]

    return get


@pytest.fixture
def open_page(browser):
    opened = []

    def open_(report, fragment="", **options):
        page, recorder, url = open_report(browser, report.path, fragment, **options)
        opened.append((page, recorder, url))
        return page

    yield open_
    problems = []
    for page, recorder, url in opened:
        if recorder.other_requests(url):
            problems.append(f"requests besides the document: {recorder.other_requests(url)}")
        if recorder.errors:
            problems.append(f"console errors: {recorder.errors}")
        if recorder.dialogs:
            problems.append(f"dialogs: {recorder.dialogs}")
        page.context.close()
    assert not problems, problems
