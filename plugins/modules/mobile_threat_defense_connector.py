#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: mobile_threat_defense_connector
short_description: Manage Intune mobile threat defense connectors through Microsoft Graph
version_added: 0.2.0
description:
  - Creates, updates and deletes an Intune mobile threat defense (MTD) connector
    (C(/deviceManagement/mobileThreatDefenseConnectors)) in Microsoft Graph. In the Intune admin center these are
    the connectors under Tenant administration > Connectors and tokens > Mobile Threat Defense. They decide how
    the risk data of an MTD partner is used in compliance and app protection evaluations, per platform.
  - A connector has no display name. It is identified by O(id) only, which is the MTD partner's connector id,
    the same in every tenant; a create sends that id.
  - The module reads the connector, compares the options that the task gives with what Graph holds, and sends a
    C(PATCH) with only the properties that differ. When nothing differs, it sends no write at all.
  - Options not given in the task are neither compared nor written.
  - C(partnerState) and C(lastHeartbeatDateTime) are set by the service. They are returned, never written.
  - Needs the application permission C(DeviceManagementServiceConfig.ReadWrite.All) (for check mode,
    C(DeviceManagementServiceConfig.Read.All) is enough).
author:
  - msgraph.intune contributors (@msgraph-ansible)
options:
  id:
    description:
      - The connector's id, which names the MTD partner. It is the partner's id, the same in every tenant, so a
        baseline written once applies to all of them.
      - This documentation does not list partners' ids. To find one, connect the partner once (in the Intune admin
        center or with the partner's own onboarding), then list the tenant's connectors with
        M(msgraph.intune.mobile_threat_defense_connector_info) and take the id from its result.
      - With O(state=present), an unknown id creates the connector with that id. With O(state=absent), an unknown id
        is not an error.
      - Letters, digits, C(-), C(_) and C(.) only, at most 256 characters.
    type: str
    required: true
  allow_partner_to_collect_ios_application_metadata:
    description:
      - Whether the partner may collect metadata about the apps installed on iOS devices from Intune
        (C(allowPartnerToCollectIOSApplicationMetadata)).
    type: bool
    aliases: [allowPartnerToCollectIOSApplicationMetadata]
  allow_partner_to_collect_ios_personal_application_metadata:
    description:
      - Whether the partner may collect metadata about the apps that users installed themselves on iOS devices
        from Intune (C(allowPartnerToCollectIOSPersonalApplicationMetadata)).
    type: bool
    aliases: [allowPartnerToCollectIOSPersonalApplicationMetadata]
  android_device_blocked_on_missing_partner_data:
    description:
      - Whether Intune must receive data from the partner before it marks an Android device compliant
        (C(androidDeviceBlockedOnMissingPartnerData)).
    type: bool
    aliases: [androidDeviceBlockedOnMissingPartnerData]
  android_enabled:
    description:
      - Whether the partner's data is used in the compliance evaluation of Android devices (C(androidEnabled)).
    type: bool
    aliases: [androidEnabled]
  android_mobile_application_management_enabled:
    description:
      - Whether the partner's data is used in the app protection (MAM) evaluation of Android devices
        (C(androidMobileApplicationManagementEnabled)). Graph allows one partner per platform for MAM.
    type: bool
    aliases: [androidMobileApplicationManagementEnabled]
  ios_device_blocked_on_missing_partner_data:
    description:
      - Whether Intune must receive data from the partner before it marks an iOS device compliant
        (C(iosDeviceBlockedOnMissingPartnerData)).
    type: bool
    aliases: [iosDeviceBlockedOnMissingPartnerData]
  ios_enabled:
    description:
      - Whether the partner's data is used in the compliance evaluation of iOS devices (C(iosEnabled)).
    type: bool
    aliases: [iosEnabled]
  ios_mobile_application_management_enabled:
    description:
      - Whether the partner's data is used in the app protection (MAM) evaluation of iOS devices
        (C(iosMobileApplicationManagementEnabled)). Graph allows one partner per platform for MAM.
    type: bool
    aliases: [iosMobileApplicationManagementEnabled]
  microsoft_defender_for_endpoint_attach_enabled:
    description:
      - Whether Microsoft Defender for Endpoint attach is enabled (C(microsoftDefenderForEndpointAttachEnabled)).
    type: bool
    aliases: [microsoftDefenderForEndpointAttachEnabled]
  partner_unsupported_os_version_blocked:
    description:
      - Whether devices on the enabled platforms that do not meet the partner's minimum OS version are blocked
        (C(partnerUnsupportedOsVersionBlocked)).
    type: bool
    aliases: [partnerUnsupportedOsVersionBlocked]
  windows_device_blocked_on_missing_partner_data:
    description:
      - Whether Intune must receive data from the partner before it marks a Windows device compliant
        (C(windowsDeviceBlockedOnMissingPartnerData)).
    type: bool
    aliases: [windowsDeviceBlockedOnMissingPartnerData]
  windows_enabled:
    description:
      - Whether the partner's data is used in the compliance evaluation of Windows devices (C(windowsEnabled)).
    type: bool
    aliases: [windowsEnabled]
  partner_unresponsiveness_threshold_in_days:
    description:
      - How many days the tenant tolerates the partner not responding (C(partnerUnresponsivenessThresholdInDays)).
      - From V(0) to V(2147483647) (Graph's Int32); a negative value fails before any request.
    type: int
    aliases: [partnerUnresponsivenessThresholdInDays]
  state:
    description:
      - V(present) creates the connector with O(id) or updates the properties that differ.
      - V(absent) deletes it if it exists.
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
attributes:
  check_mode:
    description: Sends no write request. C(changed), C(connector) and C(changed_properties) are the prediction.
    support: full
  diff_mode:
    description: Returns the managed properties before and after, keyed by option names.
    support: full
  platform:
    description: Runs on the controller or any host with Python, requests and msal.
    platforms: posix
    support: full
notes:
  - The connector ids are the partners' own and are not documented in this module. Read them from a tenant where
    the partner is connected with M(msgraph.intune.mobile_threat_defense_connector_info).
seealso:
  - module: msgraph.intune.mobile_threat_defense_connector_info
  - name: mobileThreatDefenseConnector resource type
    description: The Microsoft Graph documentation of the resource.
    link: https://learn.microsoft.com/graph/api/resources/intune-onboarding-mobilethreatdefenseconnector
"""

EXAMPLES = r"""
- name: Use the MTD partner's data for iOS and Android compliance, authenticating with a client secret
  msgraph.intune.mobile_threat_defense_connector:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
    id: "{{ mtd_connector_id }}"  # the partner's connector id, as mobile_threat_defense_connector_info lists it
    ios_enabled: true
    android_enabled: true
    ios_device_blocked_on_missing_partner_data: true
    android_device_blocked_on_missing_partner_data: true
    partner_unresponsiveness_threshold_in_days: 7

- name: Set the connection options once for every module of the collection
  module_defaults:
    group/msgraph.intune.graph:
      tenant_id: "{{ intune_tenant_id }}"
      client_id: "{{ intune_client_id }}"
      client_certificate_path: /etc/ansible/intune.pem
  block:
    - name: Use the partner in app protection evaluations too
      msgraph.intune.mobile_threat_defense_connector:
        id: "{{ mtd_connector_id }}"
        ios_mobile_application_management_enabled: true
        android_mobile_application_management_enabled: true

    - name: Remove a connector
      msgraph.intune.mobile_threat_defense_connector:
        id: "{{ retired_mtd_connector_id }}"
        state: absent

- name: Paste property names from the Graph documentation (camelCase aliases)
  msgraph.intune.mobile_threat_defense_connector:
    id: "{{ mtd_connector_id }}"
    allowPartnerToCollectIOSApplicationMetadata: true
    allowPartnerToCollectIOSPersonalApplicationMetadata: false

- name: Report drift without changing anything
  msgraph.intune.mobile_threat_defense_connector:
    id: "{{ mtd_connector_id }}"
    ios_enabled: true
  check_mode: true
  register: audit
"""

RETURN = r"""
connector:
  description:
    - The connector after the task, with option names as keys plus RV(connector.id), RV(connector.partner_state) and
      RV(connector.last_heartbeat_date_time).
    - After a C(PATCH) answered with 204, it is the object that Graph held with the written properties applied.
    - V(null) after a delete or when the connector does not exist. In check mode it is the prediction; for a
      predicted create, RV(connector.id) is O(id) and properties the task does not set are V(null).
  returned: always
  type: dict
  sample:
    id: 5f0e7a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b
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
  contains:
    id:
      description: The connector's id.
      type: str
      returned: always
    allow_partner_to_collect_ios_application_metadata:
      description: C(allowPartnerToCollectIOSApplicationMetadata).
      type: bool
      returned: always
    allow_partner_to_collect_ios_personal_application_metadata:
      description: C(allowPartnerToCollectIOSPersonalApplicationMetadata).
      type: bool
      returned: always
    android_device_blocked_on_missing_partner_data:
      description: C(androidDeviceBlockedOnMissingPartnerData).
      type: bool
      returned: always
    android_enabled:
      description: C(androidEnabled).
      type: bool
      returned: always
    android_mobile_application_management_enabled:
      description: C(androidMobileApplicationManagementEnabled).
      type: bool
      returned: always
    ios_device_blocked_on_missing_partner_data:
      description: C(iosDeviceBlockedOnMissingPartnerData).
      type: bool
      returned: always
    ios_enabled:
      description: C(iosEnabled).
      type: bool
      returned: always
    ios_mobile_application_management_enabled:
      description: C(iosMobileApplicationManagementEnabled).
      type: bool
      returned: always
    microsoft_defender_for_endpoint_attach_enabled:
      description: C(microsoftDefenderForEndpointAttachEnabled).
      type: bool
      returned: always
    partner_unsupported_os_version_blocked:
      description: C(partnerUnsupportedOsVersionBlocked).
      type: bool
      returned: always
    windows_device_blocked_on_missing_partner_data:
      description: C(windowsDeviceBlockedOnMissingPartnerData).
      type: bool
      returned: always
    windows_enabled:
      description: C(windowsEnabled).
      type: bool
      returned: always
    partner_unresponsiveness_threshold_in_days:
      description: C(partnerUnresponsivenessThresholdInDays).
      type: int
      returned: always
    partner_state:
      description:
        - C(partnerState), the partner's state in this tenant, set by the service, as Graph returns it (for example
          V(unavailable), V(available), V(enabled), V(unresponsive), V(notSetUp) or V(error); Graph may add values).
        - V(null) for a predicted create in check mode.
      type: str
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
  sample: [ios_enabled, partner_unresponsiveness_threshold_in_days]
diff:
  description:
    - The managed properties before and after, keyed by option names (RV(connector.partner_state) and
      RV(connector.last_heartbeat_date_time) are not managed). Empty dicts stand for no connector.
  returned: in diff mode
  type: dict
  sample:
    before: {ios_enabled: false, partner_unresponsiveness_threshold_in_days: 0}
    after: {ios_enabled: true, partner_unresponsiveness_threshold_in_days: 7}
"""

from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import module_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule
from ansible_collections.msgraph.intune.plugins.module_utils._mobile_threat_defense_connector import RESOURCE

TASK = module_task(RESOURCE)


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
