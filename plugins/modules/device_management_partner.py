#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: device_management_partner
short_description: Manage Intune device management partners through Microsoft Graph
version_added: 0.1.0
description:
  - Creates, updates, terminates and deletes an Intune device management partner
    (C(/deviceManagement/deviceManagementPartners)) in Microsoft Graph.
  - The module reads the partner, compares the options that the task gives with what Graph holds, and sends a
    C(PATCH) with only the properties that differ. When nothing differs, it sends no write at all.
  - DateTimeOffset values are compared as instants, so V(2027-01-01T01:00:00+01:00) equals
    V(2027-01-01T00:00:00.0000000Z).
  - Options not given in the task are neither compared nor written.
  - Needs the application permission C(DeviceManagementServiceConfig.ReadWrite.All) (for check mode,
    C(DeviceManagementServiceConfig.Read.All) is enough), and C(Group.Read.All) when a target names a group by
    O(groups_requiring_partner_enrollment[].group_display_name).
author:
  - msgraph.intune contributors (@msgraph-ansible)
options:
  id:
    description:
      - The partner's id. When given, it identifies the partner and O(display_name) becomes a property to set.
      - With O(state=present) or O(state=terminated), an unknown id is an error; with O(state=absent) it is not.
      - Letters, digits, C(-), C(_) and C(.) only, at most 256 characters.
    type: str
  display_name:
    description:
      - The partner's display name (C(displayName)).
      - Without O(id), the partner is looked up by this name, exactly and case-sensitively, over all pages. Several
        partners with that name are an error that lists their ids. A missing one is created with O(state=present).
    type: str
    aliases: [displayName]
  partner_state:
    description:
      - Partner state of this tenant (C(partnerState)).
    type: str
    choices: [unknown, unavailable, enabled, terminated, rejected, unresponsive]
    aliases: [partnerState]
  partner_app_type:
    description:
      - Partner app type (C(partnerAppType)).
    type: str
    choices: [unknown, singleTenantApp, multiTenantApp]
    aliases: [partnerAppType]
  single_tenant_app_id:
    description:
      - The partner's single tenant app id (C(singleTenantAppId)).
    type: str
    aliases: [singleTenantAppId]
  is_configured:
    description:
      - Whether the device management partner is configured (C(isConfigured)).
    type: bool
    aliases: [isConfigured]
  last_heartbeat_date_time:
    description:
      - Time of the last heartbeat after the admin enabled the partner connection (C(lastHeartbeatDateTime)).
      - An ISO 8601 date and time with any UTC offset and 0 to 7 fractional digits; without an offset it is UTC.
    type: str
    aliases: [lastHeartbeatDateTime]
  when_partner_devices_will_be_removed_date_time:
    description:
      - When the partner's devices will be removed (C(whenPartnerDevicesWillBeRemovedDateTime)).
      - An ISO 8601 date and time, as for O(last_heartbeat_date_time).
    type: str
    aliases: [whenPartnerDevicesWillBeRemovedDateTime]
  when_partner_devices_will_be_marked_as_non_compliant_date_time:
    description:
      - When the partner's devices will be marked as non-compliant
        (C(whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime)).
      - An ISO 8601 date and time, as for O(last_heartbeat_date_time).
    type: str
    aliases: [whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime]
  groups_requiring_partner_enrollment:
    description:
      - The groups whose devices must enroll through the partner (C(groupsRequiringPartnerEnrollment)), as a list of
        assignment targets.
      - Compared as a set, so their order and the fields that Graph adds to a target do not matter. When the set
        differs, the whole list is written, because Graph replaces the collection. V([]) removes every target. When
        the option is not given, the targets are neither compared nor written.
      - A target listed twice is an error, also when a group is given once by id and once by name.
      - Group names are looked up in the tenant on every run, exactly and case-sensitively, which needs the
        application permission C(Group.Read.All) as well. Group ids need no extra permission. A name that matches no
        group, or several groups, is an error raised before anything is written, in check mode too.
      - Returned and exported in the same shape, sorted by type and id.
    type: list
    elements: dict
    aliases: [groupsRequiringPartnerEnrollment]
    suboptions:
      type:
        description:
          - The kind of target.
          - V(group) and V(exclusion_group) (C(#microsoft.graph.groupAssignmentTarget),
            C(#microsoft.graph.exclusionGroupAssignmentTarget)) take exactly one of
            O(groups_requiring_partner_enrollment[].group_id) and
            O(groups_requiring_partner_enrollment[].group_display_name).
          - V(configuration_manager_collection) (C(#microsoft.graph.configurationManagerCollectionAssignmentTarget))
            takes O(groups_requiring_partner_enrollment[].collection_id).
          - V(all_licensed_users) and V(all_devices) (C(#microsoft.graph.allLicensedUsersAssignmentTarget),
            C(#microsoft.graph.allDevicesAssignmentTarget)) take no other key.
        type: str
        required: true
        choices: [group, exclusion_group, all_licensed_users, all_devices, configuration_manager_collection]
      group_id:
        description:
          - The object id of an Entra group, for V(group) and V(exclusion_group).
        type: str
      group_display_name:
        description:
          - The display name of an Entra group, for V(group) and V(exclusion_group), resolved to its id in the
            tenant that the task runs against. Use it for a baseline that applies to several tenants, where the
            same group has a different id in each.
        type: str
      collection_id:
        description:
          - The id of a Configuration Manager collection, for V(configuration_manager_collection).
        type: str
  state:
    description:
      - V(present) creates the partner (when looked up by name) or updates the properties that differ.
      - V(absent) deletes it if it exists.
      - V(terminated) applies the given properties, then calls Graph's C(terminate) action unless the partner is
        already terminated. The partner must exist.
    type: str
    default: present
    choices: [present, absent, terminated]
extends_documentation_fragment:
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
attributes:
  check_mode:
    description: Sends no write request. C(changed), C(partner) and C(changed_properties) are the prediction.
    support: full
  diff_mode:
    description: Returns the managed properties before and after, keyed by option names.
    support: full
  platform:
    description: Runs on the controller or any host with Python, requests and msal.
    platforms: posix
    support: full
seealso:
  - module: msgraph.intune.device_management_partner_info
  - name: deviceManagementPartner resource type
    description: The Microsoft Graph documentation of the resource.
    link: https://learn.microsoft.com/graph/api/resources/intune-onboarding-devicemanagementpartner
"""

EXAMPLES = r"""
- name: Configure the partner connection, authenticating with a client secret
  msgraph.intune.device_management_partner:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
    display_name: Contoso MTD
    partner_state: enabled
    partner_app_type: multiTenantApp
    is_configured: true
    when_partner_devices_will_be_removed_date_time: "2027-01-01T00:00:00Z"

- name: Set the connection options once for every module of the collection
  module_defaults:
    group/msgraph.intune.graph:
      tenant_id: "{{ intune_tenant_id }}"
      client_id: "{{ intune_client_id }}"
      client_certificate_path: /etc/ansible/intune.pem
  block:
    - name: Rename a partner found by id
      msgraph.intune.device_management_partner:
        id: 1f1e5d5e-3b8e-4b0a-9f57-6f1f2b0f1a10
        display_name: Contoso MTD (production)

    - name: Terminate a partner connection
      msgraph.intune.device_management_partner:
        display_name: Fabrikam Device Compliance
        state: terminated

    - name: Remove a partner
      msgraph.intune.device_management_partner:
        display_name: Old partner
        state: absent

- name: Paste property names from the Graph documentation (camelCase aliases)
  msgraph.intune.device_management_partner:
    displayName: Contoso MTD
    partnerState: enabled
    whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime: "2027-06-30T23:59:59.9999999+02:00"
  register: partner_result

- name: Devices of these groups enroll through the partner (names resolve in each tenant)
  msgraph.intune.device_management_partner:
    display_name: Jamf Pro
    groups_requiring_partner_enrollment:
      - type: group
        group_display_name: Mac fleet
      - type: group
        group_id: 6f1f2b0f-3b8e-4b0a-9f57-1f1e5d5e1a10
      - type: exclusion_group
        group_display_name: Mac lab

- name: Remove every enrollment group of a partner
  msgraph.intune.device_management_partner:
    display_name: Jamf Pro
    groups_requiring_partner_enrollment: []

- name: Report drift without changing anything (run the play with --check)
  msgraph.intune.device_management_partner:
    display_name: Contoso MTD
    partner_state: enabled
  check_mode: true
  register: audit

- name: Show which properties drifted
  ansible.builtin.debug:
    var: audit.changed_properties
"""

RETURN = r"""
partner:
  description:
    - The partner after the task, with option names as keys plus RV(partner.id).
    - After a C(PATCH) answered with 204, it is the object that Graph held with the written properties applied.
    - V(null) after a delete or when the partner does not exist. In check mode it is the prediction; for a
      predicted create, RV(partner.id) is V(null) and properties the task does not set are V(null).
  returned: always
  type: dict
  sample:
    id: 1f1e5d5e-3b8e-4b0a-9f57-6f1f2b0f1a10
    display_name: Contoso MTD
    partner_state: enabled
    partner_app_type: multiTenantApp
    single_tenant_app_id: null
    is_configured: true
    last_heartbeat_date_time: "0001-01-01T00:00:00Z"
    when_partner_devices_will_be_removed_date_time: "2027-01-01T00:00:00.0000000Z"
    when_partner_devices_will_be_marked_as_non_compliant_date_time: null
    groups_requiring_partner_enrollment:
      - type: group
        group_id: 6f1f2b0f-3b8e-4b0a-9f57-1f1e5d5e1a10
  contains:
    id:
      description: The partner's id.
      type: str
      returned: always
    display_name:
      description: C(displayName).
      type: str
      returned: always
    partner_state:
      description: C(partnerState).
      type: str
      returned: always
    partner_app_type:
      description: C(partnerAppType).
      type: str
      returned: always
    single_tenant_app_id:
      description: C(singleTenantAppId).
      type: str
      returned: always
    is_configured:
      description: C(isConfigured).
      type: bool
      returned: always
    last_heartbeat_date_time:
      description: C(lastHeartbeatDateTime), in UTC. Graph returns V(0001-01-01T00:00:00Z) when there was none.
      type: str
      returned: always
    when_partner_devices_will_be_removed_date_time:
      description: C(whenPartnerDevicesWillBeRemovedDateTime), in UTC.
      type: str
      returned: always
    when_partner_devices_will_be_marked_as_non_compliant_date_time:
      description: C(whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime), in UTC.
      type: str
      returned: always
    groups_requiring_partner_enrollment:
      description:
        - C(groupsRequiringPartnerEnrollment), as O(groups_requiring_partner_enrollment) takes it, sorted by type and
          id. Each target has C(type) and the id key that its type uses (C(group_id) or C(collection_id)).
        - In check mode, the targets the task sets (names already resolved to ids).
      type: list
      elements: dict
      returned: always
changed_properties:
  description:
    - Option names of the properties that differed and were written (or would be, in check mode). All given
      properties on a create; V(partner_state) when the partner is terminated; empty on a delete or when nothing
      differed.
  returned: always
  type: list
  elements: str
  sample: [partner_state, is_configured]
diff:
  description: The managed properties before and after, keyed by option names. Empty dicts stand for no partner.
  returned: in diff mode
  type: dict
  sample:
    before: {display_name: Contoso MTD, partner_state: unresponsive}
    after: {display_name: Contoso MTD, partner_state: enabled}
"""

from ansible_collections.msgraph.intune.plugins.module_utils._device_management_partner import RESOURCE
from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import module_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule

TASK = module_task(RESOURCE)


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
