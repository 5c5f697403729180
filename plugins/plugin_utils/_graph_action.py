# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-process path: run a module's GraphTask inside the controller's worker process.

A module in a loop pays process start, imports, a token request and a TLS handshake for every item. Run
here, imports happen once per worker, and the Graph client (its token and its TLS connection) is kept in
memory for the rest of the task's loop. Tokens and discovery documents are shared with the run's other tasks
through the run's token cache (plugin_utils/_token_cache.py), unless the task's token_cache option is false.

The module itself stays the path for a remote or delegated host, for a controller Python without
requests, and whenever MSGRAPH_INTUNE_FORCE_MODULE is set to a true value.
"""

from __future__ import annotations

import contextlib
import importlib
import os

from ansible.module_utils.basic import remove_values
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:
    from ansible_collections.msgraph.intune.plugins.module_utils._graph_client import build_graph_client
    from ansible_collections.msgraph.intune.plugins.module_utils._graph_settings import GRAPH_ARGUMENT_SPEC
    from ansible_collections.msgraph.intune.plugins.module_utils._graph_task import validation_message
    from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import REQUESTS_IMPORT_ERROR
    from ansible_collections.msgraph.intune.plugins.plugin_utils._token_cache import task_token_cache
except ImportError:  # a controller without the collection's requirements still runs the module
    REQUESTS_IMPORT_ERROR = "import failed"

display = Display()

FORCE_MODULE_ENV = "MSGRAPH_INTUNE_FORCE_MODULE"
LOCAL_CONNECTIONS = frozenset(("local", "ansible.builtin.local", "ansible.legacy.local"))

# One client per distinct connection settings, for the life of this worker process (one task, all its loop
# items). Kept in memory only.
_CLIENTS = {}


class GraphActionBase(ActionBase):
    """Runs the GraphTask of the module that the task calls; each module has an action plugin of its own name
    that is only this class (Ansible finds the in-process path by that name)."""

    _VALID_ARGS = None  # validated against the module's argument spec instead

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        module = self._task.resolved_action or self._task.action
        if not self._runs_in_process():
            result.update(self._execute_module(module_name=module, module_args=self._task.args, task_vars=task_vars))
            return result

        task = module_task_of(module)
        validator = ArgumentSpecValidator(task.argument_spec, **task.constraints)
        validation = validator.validate(self._task.args)
        no_log_values = set(validation._no_log_values)
        if validation.error_messages:
            result.update(failed=True, msg=validation_message(validation, module))
            return remove_values(result, no_log_values)
        params = validation.validated_parameters

        environment = {}
        self._compute_environment_string(environment)
        with _environment(environment):

            def client_factory(task_params):
                client = _cached_client(task_params)
                no_log_values.update(client.settings.secret_values())
                return client

            outcome = task.execute(
                params, self._play_context.check_mode, self._play_context.diff, client_factory, display.verbosity
            )

        if validation._warnings:
            outcome.setdefault("warnings", []).extend(warning["warning"] for warning in validation._warnings)
        outcome["invocation"] = {"module_args": params}
        result.update(outcome)
        return remove_values(result, no_log_values)

    def _runs_in_process(self):
        if boolean(os.environ.get(FORCE_MODULE_ENV, "false"), strict=False):
            return False
        if REQUESTS_IMPORT_ERROR:
            return False
        if self._task.delegate_to is not None or self._task.async_val:
            return False
        return self._connection._load_name in LOCAL_CONNECTIONS


def module_task_of(module):
    """The GraphTask that a module of this collection runs: its module file declares it as TASK."""
    short_name = module.rsplit(".", 1)[-1]
    return importlib.import_module(f"ansible_collections.msgraph.intune.plugins.modules.{short_name}").TASK


def _cached_client(params):
    # The whole environment is part of the key: msal reads managed identity settings (IDENTITY_*, MSI_*,
    # AZURE_POD_IDENTITY_AUTHORITY_HOST, ...) from it, and a loop item may change them with `environment:`.
    key = tuple(sorted((name, str(params.get(name))) for name in GRAPH_ARGUMENT_SPEC))
    key += tuple(sorted(os.environ.items()))
    if key not in _CLIENTS:
        _CLIENTS[key] = build_graph_client(params, token_cache=task_token_cache())
    return _CLIENTS[key]


@contextlib.contextmanager
def _environment(variables):
    """The task's `environment:` keyword, as a module process would see it (msal reads os.environ itself)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update({name: str(value) for name, value in variables.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
