"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, with every request and console error recorded.

Playwright's own browser download (``playwright install``) is never used: ``launch`` starts the system Chromium with
flags that keep it off the network (no background networking, component updates, sync or QUIC), and a fresh
profile (Playwright gives every launch a new temporary --user-data-dir). A missing Chromium raises an error that
says how to install it: the browser tests fail, they never skip.
"""

from __future__ import annotations

import os

from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = os.environ.get("REPORT_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LAPTOP = {"width": 1366, "height": 768}
# The page has started, and the matrix holds all its rows (it renders long ones over a few tasks, aria-busy meanwhile).
RENDERED = "html[data-ready=true] #matrix-body:not([aria-busy])"


class MissingBrowser(RuntimeError):
    pass


def launch(playwright):
    if not os.access(CHROMIUM, os.X_OK):
        raise MissingBrowser(
            f"{CHROMIUM} is missing: run `make browser` (as root it runs apt-get install -y chromium), "
            "or set REPORT_CHROMIUM to a Chromium binary"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(LAUNCH_ARGS))


class Recorder:
    """Every request, console error, uncaught page error and dialog of a page's context."""

    def __init__(self, context, page):
        self.requests = []
        self.blocked = []
        self.errors = []
        self.dialogs = []
        context.on("request", lambda request: self.requests.append(request.url))
        # Belt and braces behind the page's CSP: anything that is not a file is refused before it leaves.
        context.route("**/*", self._route)
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("dialog", self._dialog)

    def _route(self, route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def other_requests(self, document_url):
        """Requests other than the report document itself (its fragment aside)."""
        return [url for url in self.requests + self.blocked if url.split("#", 1)[0] != document_url.split("#", 1)[0]]


def open_report(browser, path, fragment="", color_scheme="light", viewport=None, bypass_csp=False):
    """(page, recorder, url): the report opened from file:// and rendered (see RENDERED)."""
    context = browser.new_context(
        viewport=viewport or LAPTOP, color_scheme=color_scheme, bypass_csp=bypass_csp, service_workers="block"
    )
    context.set_default_timeout(5000)  # the page answers at once; a wait that long is a failure
    page = context.new_page()
    recorder = Recorder(context, page)
    url = f"file://{os.path.abspath(path)}{fragment}"
    page.goto(url)
    try:
        page.wait_for_selector(RENDERED, state="attached", timeout=15000)
    except PlaywrightTimeout as error:  # say why, with the page's own errors
        raise AssertionError(f"the report did not render: {error}; console errors: {recorder.errors}") from error
    return page, recorder, url
