#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: remote_assistance_partner_info
short_description: Read Intune remote assistance partners from Microsoft Graph
version_added: 0.2.0
description:
  - Lists the tenant's Intune remote assistance partners (every page), or one by O(id), or those with a given
    O(display_name).
  - Also returns RV(desired_state), the partners as options for M(msgraph.intune.remote_assistance_partner), to
    export a tenant's configuration as a baseline and apply it back unchanged, to the same tenant or, with
    O(portable=true), to another one.
  - Needs the application permission C(DeviceManagementServiceConfig.Read.All) (or C(.ReadWrite.All)).
author:
  - msgraph.intune contributors (@msgraph-ansible)
options:
  id:
    description:
      - Return only the partner with this id. An unknown id gives an empty list, not a failure.
      - Letters, digits, C(-), C(_) and C(.) only, at most 256 characters.
    type: str
  display_name:
    description:
      - Return only the partners with exactly this display name (case-sensitive).
      - Ignored when O(id) is given.
    type: str
    aliases: [displayName]
extends_documentation_fragment:
  - msgraph.intune.info
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
  - msgraph.intune.graph.read_only
seealso:
  - module: msgraph.intune.remote_assistance_partner
"""

EXAMPLES = r"""
- name: List every remote assistance partner of the tenant
  msgraph.intune.remote_assistance_partner_info:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
  register: remote_assistance

- name: Look one up by name
  msgraph.intune.remote_assistance_partner_info:
    display_name: TeamViewer
  register: teamviewer

- name: Fail when the connector is not onboarded
  ansible.builtin.assert:
    that: teamviewer.partners | map(attribute='onboarding_status') | list == ['onboarded']

- name: Export the tenant's remote assistance partners as a vars file that can be applied back
  ansible.builtin.copy:
    dest: "baseline/{{ inventory_hostname }}-remote-assistance.yml"
    content: "{{ {'intune_remote_assistance_partners': remote_assistance.desired_state} | to_nice_yaml(indent=2) }}"
    mode: "0600"
  delegate_to: localhost

- name: Apply the exported baseline
  msgraph.intune.remote_assistance_partner: "{{ item }}"
  loop: "{{ remote_assistance.desired_state }}"

- name: Export for other tenants (no tenant-specific ids)
  msgraph.intune.remote_assistance_partner_info:
    portable: true
  register: portable
"""

RETURN = r"""
partners:
  description:
    - The partners found, with the same keys as RV(msgraph.intune.remote_assistance_partner#module:partner).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 3c8e5d2f-9e4b-4d6c-8f70-1b2c3d4e5f60
      display_name: TeamViewer
      onboarding_url: https://www.teamviewer.com/
      onboarding_status: onboarded
      last_connection_date_time: "2026-05-01T08:30:00.1234567Z"
desired_state:
  description:
    - One dict of options for M(msgraph.intune.remote_assistance_partner) per partner, ready to be passed as they
      are. It holds O(msgraph.intune.remote_assistance_partner#module:id), every managed property that is set, and
      O(msgraph.intune.remote_assistance_partner#module:onboarding) matching the onboarding status (V(started) for
      C(onboarding) and C(onboarded), V(disconnected) for C(notOnboarded)), but not the server-managed
      C(onboarding_status) and C(last_connection_date_time).
    - With O(portable=true), a partner with a display name has no id (see O(portable)).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 3c8e5d2f-9e4b-4d6c-8f70-1b2c3d4e5f60
      display_name: TeamViewer
      onboarding_url: https://www.teamviewer.com/
      onboarding: started
"""

from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import info_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule
from ansible_collections.msgraph.intune.plugins.module_utils._remote_assistance_partner import RESOURCE

TASK = info_task(RESOURCE)


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
