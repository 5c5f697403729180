# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GraphTask: what a module does, independent of how it is run.

A module file (a process per task item) and the action plugin of the same name (in the controller's worker
process) both run the same GraphTask, so arguments, check mode, diff and errors behave identically.
"""

from __future__ import annotations

from ansible.module_utils.errors import UnsupportedError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import EXPECTED_ERRORS, failure_result
from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import GRAPH_ARGUMENT_SPEC


class GraphTask:
    """The argument spec (shared connection options included), its constraints and the operation.

    `operation(client, params, check_mode)` returns the result dict; it may raise the EXPECTED_ERRORS.
    `offline(params)` says when the operation needs no Graph at all (it then gets None for the client).
    """

    def __init__(self, argument_spec, operation, offline=None, **constraints):
        self.argument_spec = dict(GRAPH_ARGUMENT_SPEC)
        self.argument_spec.update(argument_spec)
        self.constraints = constraints
        self.operation = operation
        self.offline = offline or (lambda params: False)

    def execute(self, params, check_mode, diff, client_factory, verbosity=0):
        """Run the operation; expected failures become a result with failed=True and Graph's fields.

        What the client noticed on the way (client.notices) joins the result's warnings; `verbosity` is Ansible's -v
        count, which decides whether the verbose ones are shown.
        """
        client = None
        try:
            if not self.offline(params):
                client = client_factory(params)
            result = self.operation(client, params, check_mode)
        except EXPECTED_ERRORS as exc:
            result = failure_result(exc)
            result["failed"] = True
        if not diff:
            result.pop("diff", None)
        notices = client.notices.take(verbosity) if client is not None else []
        if notices:
            result["warnings"] = list(result.get("warnings") or []) + notices
        return result


def validation_message(validation, module):
    """The first error of an ArgumentSpecValidator result, worded as AnsibleModule words it."""
    message = validation.error_messages[0]
    if isinstance(validation.errors[0], UnsupportedError):
        # AnsibleModule adds this prefix itself; without it the message reads "colour. Supported parameters ..."
        message = f"Unsupported parameters for ({module}) module: {message}"
    return message
