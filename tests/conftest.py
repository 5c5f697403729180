"""Shared pytest fixtures: the Graph emulator (see tests/emulator/harness.py).

* ``emulator_session``: one emulator process for the whole run (per xdist worker).
* ``emulator``: that process, reset to its seeded state and default config before each test.
* ``emulator_factory``: start extra emulators with custom CLI arguments; they are stopped (and checked to exit 0)
  at teardown.
"""

from __future__ import annotations

import pytest

from tests.emulator.harness import start_emulator


@pytest.fixture(scope="session")
def emulator_session():
    emulator = start_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(emulator_session):  # pylint: disable=redefined-outer-name  # pytest fixtures chain by name
    emulator_session.control.reset()
    return emulator_session


@pytest.fixture
def emulator_factory():
    started = []

    def factory(*args, **kwargs):
        emulator = start_emulator(*args, **kwargs)
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()
