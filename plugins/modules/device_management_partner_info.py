#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: device_management_partner_info
short_description: Read Intune device management partners from Microsoft Graph
version_added: 0.1.0
description:
  - Lists the tenant's Intune device management partners (every page), or one by O(id), or those with a given
    O(display_name).
  - Also returns RV(desired_state), the partners as options for M(msgraph.intune.device_management_partner), to
    export a tenant's configuration as a baseline and apply it back unchanged, to the same tenant or, with
    O(portable=true), to another one.
  - Needs the application permission C(DeviceManagementServiceConfig.Read.All) (or C(.ReadWrite.All)), and
    C(Group.Read.All) with O(portable=true).
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
  - msgraph.intune.info.group_targets
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
  - msgraph.intune.graph.read_only
seealso:
  - module: msgraph.intune.device_management_partner
"""

EXAMPLES = r"""
- name: List every partner of the tenant
  msgraph.intune.device_management_partner_info:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
  register: partners

- name: Look one up by name
  msgraph.intune.device_management_partner_info:
    display_name: Contoso MTD
  register: contoso

- name: Export the tenant's partners as a vars file that can be applied back
  ansible.builtin.copy:
    dest: "baseline/{{ inventory_hostname }}.yml"
    content: "{{ {'intune_partners': partners.desired_state} | to_nice_yaml(indent=2) }}"
    mode: "0600"
  delegate_to: localhost

- name: Apply the exported baseline
  msgraph.intune.device_management_partner: "{{ item }}"
  loop: "{{ partners.desired_state }}"

- name: Export for other tenants, with group names instead of group ids
  msgraph.intune.device_management_partner_info:
    portable: true
  register: portable
"""

RETURN = r"""
partners:
  description:
    - The partners found, with the same keys as RV(msgraph.intune.device_management_partner#module:partner).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 1f1e5d5e-3b8e-4b0a-9f57-6f1f2b0f1a10
      display_name: Contoso MTD
      partner_state: enabled
      partner_app_type: multiTenantApp
      single_tenant_app_id: null
      is_configured: true
      last_heartbeat_date_time: "0001-01-01T00:00:00Z"
      when_partner_devices_will_be_removed_date_time: null
      when_partner_devices_will_be_marked_as_non_compliant_date_time: null
      groups_requiring_partner_enrollment:
        - type: group
          group_id: 6f1f2b0f-3b8e-4b0a-9f57-1f1e5d5e1a10
desired_state:
  description:
    - One dict of options for M(msgraph.intune.device_management_partner) per partner, ready to be passed as they
      are. It holds O(msgraph.intune.device_management_partner#module:id) and every managed property that is set,
      including O(msgraph.intune.device_management_partner#module:groups_requiring_partner_enrollment), but not the
      server-managed C(last_heartbeat_date_time).
    - With O(portable=true), group targets name their groups and the partners have no id (see O(portable)).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 1f1e5d5e-3b8e-4b0a-9f57-6f1f2b0f1a10
      display_name: Contoso MTD
      partner_state: enabled
      partner_app_type: multiTenantApp
      is_configured: true
      groups_requiring_partner_enrollment:
        - type: group
          group_display_name: Mac fleet
"""

from ansible_collections.msgraph.intune.plugins.module_utils._device_management_partner import RESOURCE
from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import info_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule

TASK = info_task(RESOURCE)


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
