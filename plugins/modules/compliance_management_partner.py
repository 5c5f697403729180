#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_management_partner
short_description: Manage Intune compliance management partners through Microsoft Graph
version_added: 0.2.0
description:
  - Creates, updates and deletes an Intune compliance management partner
    (C(/deviceManagement/complianceManagementPartners)) in Microsoft Graph. In the Intune admin center they are
    listed under Tenant administration > Connectors and tokens > Partner compliance management. They are
    third-party services that report the compliance state of Android, iOS and macOS devices to Intune.
  - The module reads the partner, compares the options that the task gives with what Graph holds, and sends a
    C(PATCH) with only the properties that differ. When nothing differs, it sends no write at all.
  - Options not given in the task are neither compared nor written.
  - C(lastHeartbeatDateTime) is set by the service. It is returned, never written.
  - Needs the application permission C(DeviceManagementServiceConfig.ReadWrite.All) (for check mode,
    C(DeviceManagementServiceConfig.Read.All) is enough), and C(Group.Read.All) when a target names a group by
    its display name (C(group_display_name)).
author:
  - msgraph.intune contributors (@msgraph-ansible)
options:
  id:
    description:
      - The partner's id. When given, it identifies the partner and O(display_name) becomes a property to set.
      - With O(state=present), an unknown id is an error; with O(state=absent) it is not.
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
  android_onboarded:
    description:
      - Whether the partner is onboarded for Android devices (C(androidOnboarded)).
    type: bool
    aliases: [androidOnboarded]
  ios_onboarded:
    description:
      - Whether the partner is onboarded for iOS devices (C(iosOnboarded)).
    type: bool
    aliases: [iosOnboarded]
  mac_os_onboarded:
    description:
      - Whether the partner is onboarded for macOS devices (C(macOsOnboarded)).
    type: bool
    aliases: [macOsOnboarded]
  android_enrollment_assignments:
    description:
      - The users whose Android devices enroll through the partner (C(androidEnrollmentAssignments)), as a list of
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
    aliases: [androidEnrollmentAssignments]
    suboptions: &assignment_target_suboptions
      type:
        description:
          - The kind of target.
          - V(group) and V(exclusion_group) (C(#microsoft.graph.groupAssignmentTarget),
            C(#microsoft.graph.exclusionGroupAssignmentTarget)) take exactly one of C(group_id) and
            C(group_display_name).
          - V(configuration_manager_collection) (C(#microsoft.graph.configurationManagerCollectionAssignmentTarget))
            takes C(collection_id).
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
  ios_enrollment_assignments:
    description:
      - The users whose iOS devices enroll through the partner (C(iosEnrollmentAssignments)), as a list of
        assignment targets.
      - The same targets, comparison and group-name lookup as O(android_enrollment_assignments).
    type: list
    elements: dict
    aliases: [iosEnrollmentAssignments]
    suboptions: *assignment_target_suboptions
  mac_os_enrollment_assignments:
    description:
      - The users whose macOS devices enroll through the partner (C(macOsEnrollmentAssignments)), as a list of
        assignment targets.
      - The same targets, comparison and group-name lookup as O(android_enrollment_assignments).
    type: list
    elements: dict
    aliases: [macOsEnrollmentAssignments]
    suboptions: *assignment_target_suboptions
  state:
    description:
      - V(present) creates the partner (when looked up by name) or updates the properties that differ.
      - V(absent) deletes it if it exists.
    type: str
    default: present
    choices: [present, absent]
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
  - module: msgraph.intune.compliance_management_partner_info
  - module: msgraph.intune.device_management_partner
  - name: complianceManagementPartner resource type
    description: The Microsoft Graph documentation of the resource.
    link: https://learn.microsoft.com/graph/api/resources/intune-onboarding-compliancemanagementpartner
"""

EXAMPLES = r"""
- name: Onboard a compliance partner for iOS and Android, authenticating with a client secret
  msgraph.intune.compliance_management_partner:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
    display_name: Contoso Compliance
    partner_state: enabled
    ios_onboarded: true
    android_onboarded: true

- name: Set the connection options once for every module of the collection
  module_defaults:
    group/msgraph.intune.graph:
      tenant_id: "{{ intune_tenant_id }}"
      client_id: "{{ intune_client_id }}"
      client_certificate_path: /etc/ansible/intune.pem
  block:
    - name: The users whose devices enroll through the partner, per platform (names resolve in each tenant)
      msgraph.intune.compliance_management_partner:
        display_name: Contoso Compliance
        ios_enrollment_assignments:
          - type: group
            group_display_name: iOS users
          - type: exclusion_group
            group_display_name: iOS pilot
        android_enrollment_assignments:
          - type: all_licensed_users
        mac_os_enrollment_assignments: []

    - name: Rename a partner found by id
      msgraph.intune.compliance_management_partner:
        id: 2b7f4c1e-8d3a-4c5b-9e6f-0a1b2c3d4e5f
        display_name: Contoso Compliance (production)

    - name: Remove a partner
      msgraph.intune.compliance_management_partner:
        display_name: Legacy compliance partner
        state: absent

- name: Paste property names from the Graph documentation (camelCase aliases)
  msgraph.intune.compliance_management_partner:
    displayName: Contoso Compliance
    macOsOnboarded: true
    macOsEnrollmentAssignments:
      - type: group
        group_id: 6f1f2b0f-3b8e-4b0a-9f57-1f1e5d5e1a10

- name: Report drift without changing anything
  msgraph.intune.compliance_management_partner:
    display_name: Contoso Compliance
    partner_state: enabled
    ios_onboarded: true
  check_mode: true
  register: audit

- name: Show which properties drifted
  ansible.builtin.debug:
    var: audit.changed_properties
"""

RETURN = r"""
partner:
  description:
    - The partner after the task, with option names as keys plus RV(partner.id) and
      RV(partner.last_heartbeat_date_time).
    - After a C(PATCH) answered with 204, it is the object that Graph held with the written properties applied.
    - V(null) after a delete or when the partner does not exist. In check mode it is the prediction; for a
      predicted create, RV(partner.id) is V(null) and properties the task does not set are V(null).
  returned: always
  type: dict
  sample:
    id: 2b7f4c1e-8d3a-4c5b-9e6f-0a1b2c3d4e5f
    display_name: Contoso Compliance
    partner_state: enabled
    android_onboarded: true
    ios_onboarded: true
    mac_os_onboarded: false
    android_enrollment_assignments:
      - type: all_licensed_users
    ios_enrollment_assignments:
      - type: group
        group_id: 6f1f2b0f-3b8e-4b0a-9f57-1f1e5d5e1a10
    mac_os_enrollment_assignments: []
    last_heartbeat_date_time: "2026-05-01T08:30:00.1234567Z"
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
    android_onboarded:
      description: C(androidOnboarded).
      type: bool
      returned: always
    ios_onboarded:
      description: C(iosOnboarded).
      type: bool
      returned: always
    mac_os_onboarded:
      description: C(macOsOnboarded).
      type: bool
      returned: always
    android_enrollment_assignments:
      description:
        - C(androidEnrollmentAssignments), as O(android_enrollment_assignments) takes it, sorted by type and id. Each
          target has C(type) and the id key that its type uses (C(group_id) or C(collection_id)).
        - In check mode, the targets the task sets (names already resolved to ids).
      type: list
      elements: dict
      returned: always
    ios_enrollment_assignments:
      description: C(iosEnrollmentAssignments), in the same form as RV(partner.android_enrollment_assignments).
      type: list
      elements: dict
      returned: always
    mac_os_enrollment_assignments:
      description: C(macOsEnrollmentAssignments), in the same form as RV(partner.android_enrollment_assignments).
      type: list
      elements: dict
      returned: always
    last_heartbeat_date_time:
      description:
        - C(lastHeartbeatDateTime), in UTC, set by the service. Graph returns V(0001-01-01T00:00:00Z) when there was
          none.
        - V(null) for a predicted create in check mode.
      type: str
      returned: always
changed_properties:
  description:
    - Option names of the properties that differed and were written (or would be, in check mode). All given
      properties on a create; empty on a delete or when nothing differed.
  returned: always
  type: list
  elements: str
  sample: [partner_state, ios_enrollment_assignments]
diff:
  description:
    - The managed properties before and after, keyed by option names (RV(partner.last_heartbeat_date_time) is not
      managed). Empty dicts stand for no partner.
  returned: in diff mode
  type: dict
  sample:
    before: {display_name: Contoso Compliance, partner_state: unresponsive, ios_onboarded: false}
    after: {display_name: Contoso Compliance, partner_state: enabled, ios_onboarded: true}
"""

from ansible_collections.msgraph.intune.plugins.module_utils._compliance_management_partner import RESOURCE
from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import module_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule

TASK = module_task(RESOURCE)


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
