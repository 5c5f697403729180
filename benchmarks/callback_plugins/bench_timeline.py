# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: appends a wall-clock timestamp for every task start and task item result to the file
named by BENCH_TIMELINE_FILE (JSON lines), so that run_bench.py can split a run into startup, items and teardown."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timeline
type: aggregate
short_description: Timestamps of task starts and loop item results, for benchmarks/run_bench.py
description:
  - Appends one JSON object per event (time, event, host, task) to the file named by BENCH_TIMELINE_FILE.
options: {}
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timeline"
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, event, host=None, task=None):
        path = os.environ.get("BENCH_TIMELINE_FILE")
        if not path:
            return
        entry = {"time": time.time(), "event": event, "host": host, "task": task}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def _result(self, event, result):
        self._write(event, result._host.get_name(), result._task.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write("task_start", task=task.get_name())

    def v2_runner_item_on_ok(self, result):
        self._result("item", result)

    def v2_runner_item_on_failed(self, result):
        self._result("item", result)

    def v2_runner_item_on_skipped(self, result):
        self._result("item", result)

    def v2_runner_on_ok(self, result):
        self._result("task_done", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("task_done", result)

    def v2_playbook_on_stats(self, stats):
        self._write("stats")
