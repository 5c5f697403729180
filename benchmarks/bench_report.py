# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench-report: the size, templating time, load time and filter time of report.html for many tenants.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_report.py [--tenants 500] [--repetitions 3]

The report is rendered from tests/browser/report_data.py's realistic data (every health kind in every tenant) through
ansible-playbook and ansible.builtin.template, exactly as the baseline role renders it; the template task's own time
comes from the bench_timeline callback. Then headless Chromium (Debian's, tests/browser/browser.py) opens it from
file:// and every filter is applied through its control. A run whose page logs an error, opens a dialog or requests
anything but its own file is reported as BROKEN and the script exits 1. The last line is
``report tenants=N findings=F size_mb=S render_s=R load_ms=L filter_ms=F`` (load: to the first screen; filter: the
slowest filter's time to its next painted frame).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from playwright.sync_api import sync_playwright

from tests.browser.browser import launch, open_report
from tests.browser.render import RENDER_TASK, render_report
from tests.browser.report_data import generate
from tests.integration.conftest import CALLBACK_DIR, REPO_ROOT

BENCH_CALLBACKS = os.path.join(REPO_ROOT, "benchmarks", "callback_plugins")
# (what is measured, the control, the value set): each applied on top of a freshly loaded page.
FILTERS = (
    ("severity critical", "filter-status", "critical"),
    ("status expired", "filter-status", "expired"),
    ("kind vpp_tokens", "filter-kind", "vpp_tokens"),
    ("tenant contoso", "filter-tenant", "contoso"),
    ("text 'token'", "filter-text", "token"),
    ("severity ok (9,000+ findings listed)", "filter-status", "ok"),
)
# Sets a control as a person would and times the page's handler (filtering, building the first screen's rows) plus
# the layout it forces, then the next painted frame, then the moment the matrix holds all its rows (no aria-busy).
APPLY_FILTER = """async ([id, value]) => {
    const control = document.getElementById(id);
    const body = document.getElementById('matrix-body');
    const start = performance.now();
    control.value = value;
    control.dispatchEvent(new Event(control.tagName === 'INPUT' ? 'input' : 'change', {bubbles: true}));
    void document.body.offsetHeight;
    const handled = performance.now() - start;
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const painted = performance.now() - start;
    await new Promise((resolve) => {
        if (!body.hasAttribute('aria-busy')) return resolve();
        new MutationObserver((_changes, observer) => {
            if (!body.hasAttribute('aria-busy')) { observer.disconnect(); resolve(); }
        }).observe(body, {attributes: true});
    });
    return [handled, painted, performance.now() - start, body.rows.length];
}"""
LOAD_TIMING = """() => {
    const navigation = performance.getEntriesByType('navigation')[0];
    return [navigation.domContentLoadedEventEnd, navigation.loadEventEnd];
}"""


def template_seconds(timeline_path):
    """The template task's duration, from the bench_timeline callback's task_start and task_done events."""
    with open(timeline_path, encoding="utf-8") as handle:
        events = [json.loads(line) for line in handle if line.strip()]
    start = next(e["time"] for e in events if e["event"] == "task_start" and e["task"] == RENDER_TASK)
    done = next(e["time"] for e in events if e["event"] == "task_done" and e["task"] == RENDER_TASK)
    return done - start


def render(workdir, data, repetitions):
    seconds = []
    path = None
    for number in range(repetitions):
        timeline = os.path.join(workdir, f"timeline-{number}.jsonl")
        env = {
            "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join((CALLBACK_DIR, BENCH_CALLBACKS)),
            "ANSIBLE_CALLBACKS_ENABLED": "result_log,bench_timeline",
            "BENCH_TIMELINE_FILE": timeline,
        }
        path, _run = render_report(os.path.join(workdir, f"render-{number}"), *data, extra_env=env)
        seconds.append(template_seconds(timeline))
    return path, seconds


def check(recorder, url, what):
    problems = recorder.other_requests(url) + recorder.errors + recorder.dialogs
    if problems:
        print(f"BROKEN {what}: {problems}")
        sys.exit(1)


def measure_browser(path, repetitions):
    loads, filters = [], {name: [] for name, _id, _value in FILTERS}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for _repetition in range(repetitions):
                started = time.perf_counter()
                page, recorder, url = open_report(browser, path)
                wall = (time.perf_counter() - started) * 1000
                dom_ready, loaded = page.evaluate(LOAD_TIMING)
                loads.append((wall, dom_ready, loaded))
                check(recorder, url, "load")
                page.context.close()
                for name, control, value in FILTERS:
                    page, recorder, url = open_report(browser, path)
                    filters[name].append(page.evaluate(APPLY_FILTER, [control, value]))
                    check(recorder, url, name)
                    page.context.close()
        finally:
            browser.close()
    return loads, filters


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()

    data = generate(tenants=args.tenants)
    findings = sum(len(part["findings"]) for part in data[1]["tenants"].values())
    entries = len(data[0]["entries"])
    with tempfile.TemporaryDirectory(prefix="bench-report-") as workdir:
        path, seconds = render(workdir, data, args.repetitions)
        size = os.path.getsize(path)
        loads, filters = measure_browser(path, args.repetitions)

    median = statistics.median
    print(f"{args.tenants} tenants, {findings} health findings, {entries} drift entries, {args.repetitions} runs each")
    print(f"report.html: {size / 1024 / 1024:.2f} MB ({size / max(findings, 1):.0f} bytes per finding)")
    print(f"templating (ansible.builtin.template task): median {median(seconds):.2f} s, max {max(seconds):.2f} s")
    wall, dom_ready, loaded = (median(values) for values in zip(*loads))
    print(
        f"load from file://: first screen at DOMContentLoaded {dom_ready:.0f} ms (load event {loaded:.0f} ms), "
        f"every row {wall:.0f} ms after the navigation began"
    )
    print("| filter | first screen (handler + layout) ms | next frame ms | every row ms | tenant rows |")
    print("|---|---|---|---|---|")
    for name, results in filters.items():
        handled, painted, complete, rows = (median(values) for values in zip(*results))
        print(f"| {name} | {handled:.1f} | {painted:.1f} | {complete:.1f} | {rows:.0f} |")
    slowest = max(median(painted for _h, painted, _c, _r in results) for results in filters.values())
    print(
        f"report tenants={args.tenants} findings={findings} size_mb={size / 1024 / 1024:.2f} "
        f"render_s={median(seconds):.2f} load_ms={dom_ready:.0f} filter_ms={slowest:.0f}"
    )


if __name__ == "__main__":
    main()
