"""Render roles/baseline/templates/report.html.j2 through ansible-playbook, as the baseline role does.

``render_report(workdir, drift, health, meta)`` writes the three variables as JSON files, loads them with
``lookup('ansible.builtin.file') | from_json`` (untrusted data, like the role's registered results) and templates
the role's file with ``ansible.builtin.template`` on localhost. It returns the path of report.html. The tests and the
benchmark render through it (tools/report_screenshot.py photographs the report.html of a real role run).
"""

from __future__ import annotations

import json
import pathlib
import sys

import yaml

from tests.integration.conftest import REPO_ROOT, ansible_playbook

TEMPLATE = pathlib.Path(REPO_ROOT) / "roles" / "baseline" / "templates" / "report.html.j2"
RENDER_TASK = "Write report.html"


def _load(name):
    return f"{{{{ lookup('ansible.builtin.file', data_dir ~ '/{name}') | from_json }}}}"


def render_playbook(data_dir, report):
    """The play that templates report.html from drift.json, health.json and meta.json in data_dir."""
    return [
        {
            "name": "Render the HTML report",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"data_dir": str(data_dir)},
            "tasks": [
                {
                    "name": "Read the reports",
                    "ansible.builtin.set_fact": {
                        "baseline_report": _load("drift.json"),
                        "baseline_health_report": _load("health.json"),
                        "baseline_report_meta": _load("meta.json"),
                    },
                },
                {
                    "name": RENDER_TASK,
                    "ansible.builtin.template": {"src": str(TEMPLATE), "dest": str(report), "mode": "0640"},
                },
            ],
        }
    ]


def write_data(data_dir, drift, health, meta):
    """drift.json and health.json as the role writes them (``null`` when the run has no such report)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (("drift.json", drift), ("health.json", health), ("meta.json", meta)):
        (data_dir / name).write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def render_report(workdir, drift, health, meta, extra_env=None, data_dir=None):
    """Template report.html in workdir from the three variables; returns (path, PlaybookRun)."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = pathlib.Path(data_dir) if data_dir else workdir / "data"
    if drift is not None or health is not None or meta is not None:
        write_data(data_dir, drift, health, meta)
    report = workdir / "report.html"
    (workdir / "render.yml").write_text(yaml.safe_dump(render_playbook(data_dir, report), sort_keys=False))
    (workdir / "inventory").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    run = ansible_playbook(workdir, "render.yml", workdir / "inventory", extra_env=extra_env)
    if run.rc != 0 or not report.exists():
        raise AssertionError(f"rendering report.html failed (rc {run.rc}):\n{run.output}")
    return report, run
