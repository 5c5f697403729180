# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make report-screenshot: the screenshots of report.html in docs/images/, regenerated.

    PYTHONPATH=. .venv/bin/python tools/report_screenshot.py [--out docs/images]

Renders the baseline role's report.html.j2 (through ansible-playbook, as the role does) from the deterministic
demo data of tests/browser/report_data.py (24 tenants, every kind, one tenant that cannot be read), opens it in
headless Chromium at 1366x768 and writes report.png (the first screen) and report-tenant.png (contoso's details).
It fails when the page logs an error, opens a dialog or requests anything but its own file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from playwright.sync_api import sync_playwright

from tests.browser.browser import launch, open_report
from tests.browser.render import render_report
from tests.browser.report_data import generate
from tests.integration.conftest import REPO_ROOT

# (file, URL fragment, what to scroll to first)
SHOTS = (("report.png", "", None), ("report-tenant.png", "#tenant=contoso", "#detail"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "docs", "images"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-screenshot-") as workdir:
        path, _run = render_report(workdir, *generate(tenants=24))
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                for name, fragment, element in SHOTS:
                    page, recorder, url = open_report(browser, path, fragment)
                    if element:
                        page.locator(element).scroll_into_view_if_needed()
                    target = os.path.join(args.out, name)
                    page.screenshot(path=target)
                    problems = recorder.other_requests(url) + recorder.errors + recorder.dialogs
                    if problems:
                        sys.exit(f"report_screenshot: the page misbehaved: {problems}")
                    page.context.close()
                    print(f"wrote {os.path.relpath(target, REPO_ROOT)}")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
