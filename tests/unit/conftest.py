# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fakes for the unit tests: a scripted HTTP session, a fake clock, and no network at all.

The collection is imported as ansible_collections.msgraph.intune; `.collections/` (a symlink farm made by
`make venv`) is put on sys.path here, relative to this file so that the cwd does not matter.
"""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
import requests

COLLECTIONS_PATH = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".collections"))
# Under ansible-test units the collection is importable already and .collections/ does not exist.
if os.path.isdir(COLLECTIONS_PATH) and COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)


class Call:
    """One request the code under test sent: method, URL and a snapshot of its keyword arguments."""

    def __init__(self, method, url, kwargs):
        self.method = method
        self.url = url
        self.kwargs = kwargs

    @property
    def headers(self):
        return self.kwargs.get("headers") or {}

    def __repr__(self):
        return f"Call({self.method} {self.url})"


def build_response(method, url, request_headers, status, body=None, headers=None):
    """A real requests.Response, as a session would return it (body: dict/list -> JSON, bytes/str as is)."""
    response = requests.Response()
    response.status_code = status
    response.url = url
    if body is None:
        content = b""
    elif isinstance(body, bytes):
        content = body
    elif isinstance(body, str):
        content = body.encode("utf-8")
    else:
        content = json.dumps(body).encode("utf-8")
        response.headers["Content-Type"] = "application/json"
    response._content = content
    response.headers.update(headers or {})
    response.request = requests.Request(method, url, headers=request_headers).prepare()
    return response


class FakeSession:
    """Stands in for requests.Session: answers from a script, records every call.

    Script items, one per request, in order:
    - an int status, or a tuple (status, body) / (status, body, headers);
    - an exception instance, which is raised (requests' ConnectionError, ReadTimeout, ...);
    - a callable(call) returning one of the above, for answers that depend on the request.
    A request beyond the script fails the test.
    """

    def __init__(self, script):
        self.headers = {}
        self.script = list(script)
        self.calls = []

    def request(self, method, url, **kwargs):
        # Snapshot the headers: the transport reuses and mutates its dict between attempts.
        recorded = dict(kwargs)
        recorded["headers"] = dict(kwargs.get("headers") or {})
        call = Call(method, url, recorded)
        self.calls.append(call)
        if not self.script:
            raise AssertionError(f"unexpected request {method} {url}: the script has no answer left")
        answer = self.script.pop(0)
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(call)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, int):
            answer = (answer,)
        return build_response(method, url, recorded["headers"], *answer)

    def close(self):
        """requests.Session API; nothing to release."""


class FakeTime:
    """A clock that only moves when the code under test sleeps; records every sleep."""

    def __init__(self, now=1_800_000_000.0):
        self.now = now
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self):
        return self.now


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Unit tests fake the HTTP layer; any real connection attempt is a test bug and fails loudly."""

    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"unit tests must not open network connections (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def fake_session():
    """A factory: fake_session(item, item, ...) -> FakeSession."""

    def factory(*script):
        return FakeSession(script)

    return factory
