#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mobile_threat_defense_connector_info
short_description: Read Intune mobile threat defense connectors from Microsoft Graph
version_added: 0.2.0
description:
  - Lists the tenant's Intune mobile threat defense connectors (every page), or one by O(id).
  - Connectors have no display name; their ids are the MTD partners' connector ids, the same in every tenant. Listing
    the connectors of a tenant where a partner is connected is how to find its id.
  - Also returns RV(desired_state), the connectors as options for M(msgraph.intune.mobile_threat_defense_connector),
    to export a tenant's configuration as a baseline and apply it back unchanged, to the same tenant or to another
    one (the ids are the same everywhere).
  - Needs the application permission C(DeviceManagementServiceConfig.Read.All) (or C(.ReadWrite.All)).
author:
  - msgraph.intune contributors (@msgraph-ansible)
options:
  id:
    description:
      - Return only the connector with this id. An unknown id gives an empty list, not a failure.
      - Letters, digits, C(-), C(_) and C(.) only, at most 256 characters.
    type: str
extends_documentation_fragment:
  - msgraph.intune.info
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
  - msgraph.intune.graph.read_only
seealso:
  - module: msgraph.intune.mobile_threat_defense_connector
"""

EXAMPLES = r"""
- name: List every MTD connector of the tenant, with its partner's connector id and state
  msgraph.intune.mobile_threat_defense_connector_info:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
  register: mtd

- name: Show the connector ids and partner states
  ansible.builtin.debug:
    msg: "{{ mtd.connectors | items2dict(key_name='id', value_name='partner_state') }}"

- name: Read one connector
  msgraph.intune.mobile_threat_defense_connector_info:
    id: "{{ mtd_connector_id }}"
  register: one_connector

- name: Export the tenant's connectors as a vars file that can be applied back
  ansible.builtin.copy:
    dest: "baseline/{{ inventory_hostname }}-mtd.yml"
    content: "{{ {'intune_mtd_connectors': mtd.desired_state} | to_nice_yaml(indent=2) }}"
    mode: "0600"
  delegate_to: localhost

- name: Apply the exported baseline
  msgraph.intune.mobile_threat_defense_connector: "{{ item }}"
  loop: "{{ mtd.desired_state }}"
"""

RETURN = r"""
connectors:
  description:
    - The connectors found, with the same keys as
      RV(msgraph.intune.mobile_threat_defense_connector#module:connector).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 5f0e7a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b
      allow_partner_to_collect_ios_application_metadata: false
      allow_partner_to_collect_ios_personal_application_metadata: false
      android_device_blocked_on_missing_partner_data: true
      android_enabled: true
      android_mobile_application_management_enabled: false
      ios_device_blocked_on_missing_partner_data: true
      ios_enabled: true
      ios_mobile_application_management_enabled: false
      microsoft_defender_for_endpoint_attach_enabled: false
      partner_unsupported_os_version_blocked: false
      windows_device_blocked_on_missing_partner_data: false
      windows_enabled: false
      partner_unresponsiveness_threshold_in_days: 7
      partner_state: enabled
      last_heartbeat_date_time: "2026-05-01T08:30:00.1234567Z"
desired_state:
  description:
    - One dict of options for M(msgraph.intune.mobile_threat_defense_connector) per connector, ready to be passed as
      they are. It holds O(msgraph.intune.mobile_threat_defense_connector#module:id) and every managed property, but
      not the server-managed C(partner_state) and C(last_heartbeat_date_time).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 5f0e7a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b
      allow_partner_to_collect_ios_application_metadata: false
      allow_partner_to_collect_ios_personal_application_metadata: false
      android_device_blocked_on_missing_partner_data: true
      android_enabled: true
      android_mobile_application_management_enabled: false
      ios_device_blocked_on_missing_partner_data: true
      ios_enabled: true
      ios_mobile_application_management_enabled: false
      microsoft_defender_for_endpoint_attach_enabled: false
      partner_unsupported_os_version_blocked: false
      windows_device_blocked_on_missing_partner_data: false
      windows_enabled: false
      partner_unresponsiveness_threshold_in_days: 7
"""

from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import info_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule
from ansible_collections.msgraph.intune.plugins.module_utils._mobile_threat_defense_connector import RESOURCE

TASK = info_task(RESOURCE)


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
