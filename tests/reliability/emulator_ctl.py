"""Drive the emulator's control API from inside a playbook (a ``pipe`` lookup), between two items of one loop.

Usage: ``python emulator_ctl.py INFO_JSON ACTION [JSON]`` with ACTION one of ``expire-tokens``, ``add-fault``
(JSON: a fault spec), ``clear-faults``, ``config`` (JSON: config values).  Prints ``ok``; any failure exits non-zero,
which fails the lookup.

A task's loop runs in one worker process (and, on the in-process path, with one cached Graph client), so a control
call made while the loop runs is the only way to change the emulator between two items of the same loop.
The repository root must be on PYTHONPATH (the suite's playbooks set it).
"""

from __future__ import annotations

import json
import sys

from tests.emulator.harness import Control


def main(argv):
    info_path, action = argv[0], argv[1]
    with open(info_path, encoding="utf-8") as handle:
        control = Control(json.load(handle))
    if action == "expire-tokens":
        control.expire_tokens()
    elif action == "add-fault":
        control.add_fault(**json.loads(argv[2]))
    elif action == "clear-faults":
        control.clear_faults()
    elif action == "config":
        control.config(**json.loads(argv[2]))
    else:
        raise SystemExit(f"unknown action {action!r}")
    sys.stdout.write("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
