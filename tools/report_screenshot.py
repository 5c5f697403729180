# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make report-screenshot: the screenshots of report.html in docs/images/, from a real audit of the demo tenants.

    PYTHONPATH=. .venv/bin/python tools/report_screenshot.py [--out docs/images]

1. Starts the Graph emulator (tests/emulator/graph_emulator.py on 127.0.0.1, through its info file) seeded with the
   eight demo tenants of tools/report_demo.py, their dates relative to now.
2. Runs examples/msp/baseline.yml with baseline_mode=audit over a generated inventory: the example's group_vars
   (its baseline and connection settings) and one host_vars file per tenant that points it at the emulator; the
   play's module_defaults read them. Every tenant must be audited but woodgrove, whose sign-in must fail.
3. Opens the report.html that the role wrote in headless Chromium at 1366x768 and writes report.png (the first
   screen) and report-tenant.png (northwind's details). A page that logs an error, opens a dialog, requests
   anything but its own file or whose matrix lists other tenants than it should fails the run, and no image is
   written.

The emulator is stopped at the end, whatever happens (SIGTERM and Ctrl-C included; a SIGTERM is handed on to the
children, so that no Ansible worker is left behind).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile

import yaml
from playwright.sync_api import sync_playwright

from tests.browser.browser import launch, open_report
from tests.browser.dom import matrix_tenants
from tests.emulator.harness import start_emulator
from tests.integration.conftest import CLOSED_PROXY, REPO_ROOT, ansible_playbook
from tools import report_demo

EXAMPLE = pathlib.Path(REPO_ROOT) / "examples" / "msp"
GROUP = "intune_tenants"
BASELINE_NAME = "group_vars/intune_tenants/baseline.yml"
DETAIL_TENANT = "northwind"
# (file, URL fragment, what to scroll to first, the tenants the matrix must list)
SHOTS = (
    ("report.png", "", None, sorted(report_demo.TENANTS)),
    ("report-tenant.png", f"#tenant={DETAIL_TENANT}", "#detail", [DETAIL_TENANT]),
)
SIGN_IN_FAILURE = "AADSTS7000215"  # Entra ID's "invalid client secret provided"
# For the playbook run, whatever the caller's environment: the emulator is reached directly, anything else fails.
LOOPBACK_ONLY = {
    **dict.fromkeys(("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"), CLOSED_PROXY),
    **dict.fromkeys(("NO_PROXY", "no_proxy"), "127.0.0.1,localhost"),
}


class DemoFailed(Exception):
    pass


def write_inventory(directory, info):
    """The example's group_vars, and host_vars that point each demo tenant at the emulator (readable by us only)."""
    shutil.copytree(EXAMPLE / "inventory" / "group_vars", directory / "group_vars")
    (directory / "host_vars").mkdir(mode=0o700)
    hosts = {GROUP: {"hosts": dict.fromkeys(report_demo.TENANTS)}}
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False), encoding="utf-8")
    credentials = {tenant["tenant_id"]: tenant for tenant in info["tenants"]}
    for host in report_demo.TENANTS:
        tenant = credentials[report_demo.domain(host)]
        secret = "not-the-secret-of-this-app" if host == report_demo.SIGN_IN_FAILS else tenant["client_secret"]
        host_vars = {
            "intune_tenant_id": tenant["tenant_id"],
            "intune_client_id": tenant["client_id"],
            "intune_client_secret": secret,
            "intune_graph_endpoint": info["graph_endpoint"],
            "intune_authority_host": info["authority_host"],
            "intune_ca_path": info["ca_path"],
        }
        path = directory / "host_vars" / f"{host}.yml"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
            yaml.safe_dump(host_vars, handle)


def run_audit(workdir, info):
    """Run the example playbook's audit of every demo tenant; the directory of the reports it wrote."""
    inventory = workdir / "inventory"
    inventory.mkdir()
    write_inventory(inventory, info)
    reports = workdir / "reports"
    variables = {"baseline_mode": "audit", "baseline_report_dir": str(reports), "baseline_name": BASELINE_NAME}
    run_dir = workdir / "run"
    run_dir.mkdir()
    options = ["--forks", "4", "-e", json.dumps(variables)]
    run = ansible_playbook(run_dir, EXAMPLE / "baseline.yml", inventory, options, extra_env=LOOPBACK_ONLY)
    check_audit(run, reports)
    return reports


def check_audit(run, reports):
    """The run failed woodgrove's sign-in and nothing else, and its reports say so."""
    failed = sorted({entry["host"] for entry in run.results if entry["status"] == "failed"})
    if run.rc != 2 or failed != [report_demo.SIGN_IN_FAILS] or not (reports / "report.html").is_file():
        raise DemoFailed(
            f"the audit must fail {report_demo.SIGN_IN_FAILS} only; rc {run.rc}, failed {failed}:\n{run.output}"
        )
    drift = json.loads((reports / "drift.json").read_text(encoding="utf-8"))
    health = json.loads((reports / "health.json").read_text(encoding="utf-8"))
    not_audited = {tenant: part["error"] for tenant, part in drift["tenants"].items() if not part["audited"]}
    unreachable = {tenant: part["error"] for tenant, part in health["tenants"].items() if not part["reachable"]}
    for what, found in (("audited", not_audited), ("read for health", unreachable)):
        if list(found) != [report_demo.SIGN_IN_FAILS] or SIGN_IN_FAILURE not in found[report_demo.SIGN_IN_FAILS]:
            raise DemoFailed(f"only {report_demo.SIGN_IN_FAILS} may fail to be {what}, at its sign-in: {found}")
    if sorted(drift["tenants"]) != sorted(report_demo.TENANTS):
        raise DemoFailed(f"drift.json has the tenants {sorted(drift['tenants'])}, not {sorted(report_demo.TENANTS)}")


def photograph(report, out, before_writing):
    """Write the SHOTS of report.html to out; every image is checked, and ``before_writing`` called, before any is
    written."""
    images = {}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for name, fragment, element, tenants in SHOTS:
                page, recorder, url = open_report(browser, report, fragment)
                shown = sorted(matrix_tenants(page))
                if element:
                    page.locator(element).scroll_into_view_if_needed()
                images[name] = page.screenshot()
                problems = recorder.other_requests(url) + recorder.errors + recorder.dialogs
                page.context.close()
                if problems:
                    raise DemoFailed(f"the page misbehaved ({name}): {problems}")
                if shown != tenants:
                    raise DemoFailed(f"the matrix of {name} lists {shown}, not {tenants}")
        finally:
            browser.close()
    before_writing()
    out.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        (out / name).write_bytes(image)
        print(f"wrote {os.path.relpath(out / name, REPO_ROOT)}")


def child_pids():
    """This process's children, from /proc (none where there is no /proc)."""
    mine = os.getpid()
    children = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])  # the field after the command name
        except (OSError, ValueError, IndexError):
            continue  # not a process, or one that ended meanwhile
        if parent == mine:
            children.append(int(entry))
    return children


class Termination:
    """SIGTERM, handed on to the children as Ctrl-C reaches the whole process group: ansible-playbook passes it on to
    its workers (a killed ansible-playbook would leave them hanging), the browser driver stops. The phase that runs
    then ends, and ``check`` exits with 143. The ``spared`` children are left to the code that stops them (a second
    SIGTERM could reach the emulator as it exits, when Python no longer handles it)."""

    def __init__(self):
        self.requested = False
        self.spared = set()
        signal.signal(signal.SIGTERM, self._received)

    def _received(self, signum, _frame):
        self.requested = True
        for pid in set(child_pids()) - self.spared:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def check(self):
        if self.requested:
            sys.exit(128 + signal.SIGTERM)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(REPO_ROOT) / "docs" / "images")
    args = parser.parse_args()
    termination = Termination()
    with tempfile.TemporaryDirectory(prefix="report-screenshot-") as temporary:
        workdir = pathlib.Path(temporary)
        seed_file = workdir / "seed.json"
        seed_file.write_text(
            json.dumps(report_demo.seed(datetime.datetime.now(datetime.timezone.utc))), encoding="utf-8"
        )
        emulator_dir = workdir / "emulator"
        emulator_dir.mkdir()
        emulator = start_emulator("--tenants", "0", "--seed", seed_file, workdir=str(emulator_dir))
        termination.spared.add(emulator.process.pid)
        try:
            reports = run_audit(workdir, emulator.info)
            termination.check()
            photograph(reports / "report.html", args.out, termination.check)
        except Exception as error:
            termination.check()  # whatever SIGTERM cut short, say no more about it
            if not isinstance(error, DemoFailed):
                raise
            sys.exit(f"report_screenshot: {error}")
        finally:
            emulator.stop()


if __name__ == "__main__":
    main()
