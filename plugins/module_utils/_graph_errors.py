# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exceptions shared by the Graph client, the authentication classes and the resource logic.

None of them ever carries a secret: messages are built from option names, HTTP metadata and
the error fields that Graph or Entra ID return.
"""

from __future__ import annotations


class GraphOptionError(Exception):
    """The task's options are invalid or contradictory; raised before any request is sent."""


def request_ids(request_id, client_request_id):
    return f"request-id: {request_id or 'none'}, client-request-id: {client_request_id or 'none'}"


class GraphError(Exception):
    """A request to Graph (or to a token endpoint) failed.

    The structured fields are also returned as keys of the failed task result. `url` is the request's URL without
    its query, `path` its path alone.
    """

    def __init__(
        self,
        message,
        status=None,
        code=None,
        graph_message=None,
        request_id=None,
        client_request_id=None,
        method=None,
        path=None,
        url=None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.graph_message = graph_message
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.method = method
        self.path = path
        self.url = url

    @property
    def ids(self):
        """The request's ids as the messages give them (what Microsoft support asks for)."""
        return request_ids(self.request_id, self.client_request_id)

    def with_message(self, message):
        """The same error, told better by a caller that knows what was being looked for."""
        return self.__class__(
            message,
            status=self.status,
            code=self.code,
            graph_message=self.graph_message,
            request_id=self.request_id,
            client_request_id=self.client_request_id,
            method=self.method,
            path=self.path,
            url=self.url,
        )

    def to_result(self):
        """The fields of a failed result, for fail_json."""
        return {
            "status": self.status,
            "error_code": self.code,
            "graph_message": self.graph_message,
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
            "method": self.method,
            "path": self.path,
            "url": self.url,
        }


class GraphThrottledError(GraphError):
    """Graph kept answering 429/503/504 until the retry budget ran out."""


class GraphConnectionError(GraphError):
    """The request did not get an HTTP answer (refused, reset, timed out, TLS failure)."""


class GraphAuthError(GraphError):
    """A token could not be obtained, or Graph refused the token."""


class ResourceError(Exception):
    """The resource logic cannot do what the task asks (ambiguous name, unknown id, ...).

    `details` holds extra result keys (for example the ids of ambiguous matches).
    """

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


def failure_result(exc):
    """The keys of a failed task result for one of the exceptions above."""
    if isinstance(exc, GraphError):
        result = exc.to_result()
    elif isinstance(exc, ResourceError):
        result = dict(exc.details)
    else:
        result = {}
    result["msg"] = str(exc)
    return result


EXPECTED_ERRORS = (GraphOptionError, GraphError, ResourceError)


class Notices:
    """Warnings that a task's client collects for the task's result: `warn` ones always, `verbose` ones from -v on.

    The in-process path keeps one client for a whole loop, so each item takes (and clears) what it collected.
    """

    def __init__(self):
        self._items = []

    def warn(self, message):
        self._add(message, 0)

    def verbose(self, message):
        self._add(message, 1)

    def _add(self, message, verbosity):
        if (message, verbosity) not in self._items:
            self._items.append((message, verbosity))

    def take(self, verbosity):
        shown = [message for message, level in self._items if verbosity >= level]
        self._items = []
        return shown
