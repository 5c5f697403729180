"""The benchmark runner (benchmarks/run_bench.py) works end to end on a tiny job: 2 partners, 1 repetition."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

BENCH_SCRIPT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmarks", "run_bench.py"
)
RATIO_LINE = re.compile(r"ratio module/uri=\d+\.\d\d module/floor=\d+\.\d\d tasks/uri=\d+\.\d\d tokens=1")


def test_bench_runner_smoke(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
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
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    lines = completed.stdout.strip().splitlines()
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
