"""The benchmark runners work end to end on tiny jobs: run_bench.py (2 partners, 1 repetition) and bench_baseline.py
(the audit of 2 tenants, and --scale on 3)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks")
BENCH_SCRIPT = os.path.join(BENCH_DIR, "run_bench.py")
BASELINE_SCRIPT = os.path.join(BENCH_DIR, "bench_baseline.py")
RATIO_LINE = re.compile(r"ratio module/uri=\d+\.\d\d module/floor=\d+\.\d\d tasks/uri=\d+\.\d\d tokens=1")
BASELINE_LINE = re.compile(
    r"baseline tenants=2 objects=(?P<objects>\d+) seconds=\d+\.\d\d tokens=(?P<tokens>\d+) "
    r"requests=(?P<requests>\d+) round_trips=(?P<trips>\d+\.\d\d) uri_seconds=\d+\.\d\d ratio baseline/uri=\d+\.\d\d"
)
SCALE_LINE = re.compile(
    r"scale tenants=3 forks=2 wall=\d+\.\d\ds cpu=\d+\.\d\ds worker_peak_rss_mb=(?P<rss>\d+\.\d) "
    r"worker_peak_uss_mb=(?P<uss>\d+\.\d) tokens_per_tenant=(?P<tokens>\S+) round_trips_per_tenant=(?P<trips>\d+\.\d\d)"
)
# What one tenant's audit must read: the 4 baseline lists, the 7 other health kinds, the baseline's 2 group names.
READS_PER_TENANT = 4 + 7 + 2


def run_script(script, *args):
    completed = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, timeout=300, check=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return completed.stdout.strip().splitlines(), output


def test_bench_runner_smoke(tmp_path):
    lines, output = run_script(
        BENCH_SCRIPT,
        "--partners",
        "2",
        "--repetitions",
        "1",
        "--warmup",
        "0",
        "--no-profile",
        "--latency-ms",
        "10",
        "--results-dir",
        str(tmp_path),
    )
    assert RATIO_LINE.fullmatch(lines[-1]), output

    (result_dir,) = tmp_path.iterdir()
    summary = json.loads((result_dir / "summary.json").read_text())
    runs = {run["variant"]: run for run in summary["runs"]}
    assert sorted(runs) == ["floor", "module", "tasks", "uri"]
    for run in runs.values():
        assert run["rc"] == 0 and run["problems"] == [], run
        # One GET per partner and one PATCH for the one drifted partner, whatever the variant.
        assert (run["graph_get"], run["graph_patch"], run["failed_requests"]) == (2, 1, 0), run
    # The module runs in process with one token, as a loop and as one task per partner (the tasks share the token);
    # uri starts a module process per task item (token, 2 GET, 1 PATCH); floor has its token given (2 GET, 1 PATCH).
    assert (runs["module"]["module_processes"], runs["module"]["token_requests"]) == (0, 1)
    assert (runs["tasks"]["module_processes"], runs["tasks"]["token_requests"]) == (0, 1)
    assert runs["tasks"]["discovery_requests"] == 1
    assert (runs["uri"]["module_processes"], runs["uri"]["token_requests"]) == (4, 1)
    assert (runs["floor"]["module_processes"], runs["floor"]["token_requests"]) == (3, 0)
    assert (result_dir / "report.txt").read_text().strip().splitlines()[-1] == lines[-1]


def test_bench_baseline_smoke(tmp_path):
    """Both audits find exactly the seeded drift and health problems (the script checks every run and exits 1
    otherwise); the role signs in once per tenant and needs at most 2 round trips per tenant without paging."""
    lines, output = run_script(
        BASELINE_SCRIPT, "--tenants", "2", "--repetitions", "1", "--latency-ms", "10", "--results-dir", str(tmp_path)
    )
    figures = BASELINE_LINE.fullmatch(lines[-1])
    assert figures, output
    assert int(figures["tokens"]) == 2, output
    assert int(figures["requests"]) == 2 * READS_PER_TENANT, output
    assert float(figures["trips"]) <= 2, output

    (result_dir,) = tmp_path.iterdir()
    summary = json.loads((result_dir / "summary.json").read_text())
    # Each tenant has the 4 baseline objects and at least 6 health objects (not every one has an Exchange connector).
    assert int(figures["objects"]) == summary["objects"] >= 2 * 10
    for variant in ("role", "uri"):
        (run,) = summary["variants"][variant]["runs"]
        assert run["rc"] == 0 and run["problems"] == [], run
        assert run["token_requests"] == 2, run
    # The uri audit sends every read on its own: a round trip each.
    assert summary["variants"]["uri"]["round_trips_per_tenant"] == READS_PER_TENANT
    assert summary["variants"]["role"]["breakdown"]["tenant_task"]["phases"]["graph_s"] > 0
    assert (result_dir / "report.txt").read_text().strip().splitlines()[-1] == lines[-1]


def test_bench_scale_smoke(tmp_path):
    lines, output = run_script(
        BASELINE_SCRIPT,
        "--scale",
        "--tenants",
        "3",
        "--forks",
        "2",
        "--latency-ms",
        "10",
        "--results-dir",
        str(tmp_path),
    )
    figures = SCALE_LINE.fullmatch(lines[-1])
    assert figures, output
    assert figures["tokens"] == "1", output
    assert float(figures["trips"]) <= 2, output
    assert float(figures["rss"]) > 0 and float(figures["uss"]) > 0, output
