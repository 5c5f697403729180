# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GraphModule: AnsibleModule, by composition, running a GraphTask (in the manner of amazon.aws' AnsibleAWSModule)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.msgraph.intune.plugins.module_utils._graph_client import build_graph_client
from ansible_collections.msgraph.intune.plugins.module_utils._graph_transport import REQUESTS_IMPORT_ERROR


class GraphModule:
    def __init__(self, task):
        self.task = task
        self.module = AnsibleModule(argument_spec=task.argument_spec, supports_check_mode=True, **task.constraints)
        if REQUESTS_IMPORT_ERROR:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)

    def _client(self, params):
        client = build_graph_client(params)
        # Secrets that came from the environment are masked like the no_log options.
        self.module.no_log_values.update(client.settings.secret_values())
        return client

    def run(self):
        module = self.module
        result = self.task.execute(module.params, module.check_mode, module._diff, self._client, module._verbosity)
        # module.warn, not a `warnings` key: ansible-core 2.19 deprecates passing warnings to exit_json/fail_json.
        for warning in result.pop("warnings", None) or []:
            module.warn(warning)
        if result.pop("failed", False):
            self.module.fail_json(**result)
        self.module.exit_json(**result)
