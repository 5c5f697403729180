# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exceptions and the failed-result keys built from them."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import (
    EXPECTED_ERRORS,
    GraphConnectionError,
    GraphError,
    GraphOptionError,
    GraphThrottledError,
    ResourceError,
    failure_result,
)

FIELDS = {
    "status": 429,
    "code": "throttled",
    "graph_message": "Too many requests",
    "request_id": "req-1",
    "client_request_id": "cli-1",
    "method": "GET",
    "path": "/v1.0/x",
    "url": "https://graph.example.test/v1.0/x",
}


def test_graph_error_result():
    error = GraphThrottledError("GET /v1.0/x was throttled", **FIELDS)
    assert failure_result(error) == {
        "msg": "GET /v1.0/x was throttled",
        "status": 429,
        "error_code": "throttled",
        "graph_message": "Too many requests",
        "request_id": "req-1",
        "client_request_id": "cli-1",
        "method": "GET",
        "path": "/v1.0/x",
        "url": "https://graph.example.test/v1.0/x",
    }


def test_with_message_keeps_class_and_fields():
    error = GraphConnectionError("old", **FIELDS).with_message("new")
    assert isinstance(error, GraphConnectionError)
    assert str(error) == "new"
    assert error.to_result() == GraphConnectionError("old", **FIELDS).to_result()


def test_resource_error_result():
    assert failure_result(ResourceError("two match", matching_ids=["a", "b"])) == {
        "msg": "two match",
        "matching_ids": ["a", "b"],
    }


def test_option_error_result():
    assert failure_result(GraphOptionError("bad option")) == {"msg": "bad option"}


def test_expected_errors_cover_every_subclass():
    for error_class in (GraphOptionError, GraphError, GraphThrottledError, GraphConnectionError, ResourceError):
        assert issubclass(error_class, EXPECTED_ERRORS)
    assert not issubclass(ValueError, EXPECTED_ERRORS)
