#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: connector_health
short_description: Judge the health of a tenant's Intune connectors, tokens and certificates
version_added: 0.2.0
description:
  - Reads every Intune connector and token of one tenant and says whether it works, expires soon or has gone quiet
    (the Apple MDM push certificate, Apple VPP tokens, Apple Automated Device Enrollment (ADE) tokens, certificate
    connectors (NDES), Exchange connectors, Managed Google Play, the Windows Autopilot sync, device management
    partners, compliance management partners, remote assistance partners and mobile threat defense connectors).
  - It never writes, in any mode; C(changed) is always V(false).
  - Each read asks Graph (C($select)) only for the properties that are judged, so secrets such as a VPP token's
    C(token) or the push certificate's C(certificate) are never requested and never returned.
  - ADE tokens, certificate connectors, Managed Google Play and the Autopilot sync exist in Graph's C(beta) version
    only; they are always read from C(beta), whatever O(api_version) says, and RV(api_versions) and each finding's
    C(api_version) say which version was read.
  - One kind that cannot be read never hides the others. A kind that Graph refuses (HTTP 403) gives a V(forbidden)
    finding that names the permission to grant; any other error of one kind, after the retries, gives an V(error)
    finding. The task fails only when the tenant cannot be reached at all (sign-in, TLS, connection).
  - With O(batch=true) (the default) all kinds are read in one Graph JSON batch per API version, so a tenant costs
    one or two round trips plus the pages that do not fit.
  - The rules are listed in the collection's C(docs/health.md). In short, a date that ends something (the push
    certificate, a VPP or ADE token) is V(expired) and V(critical) once past, V(expiring) and V(critical) within
    O(expiry_critical_days), V(expiring) and V(warning) within O(expiry_warning_days); a heartbeat, connection or
    sync older than O(stale_after_hours) is V(stale) and V(warning); a partner or connector that Intune reports as
    unresponsive, disconnected or inactive is V(unhealthy) and V(critical); what is not set up is V(not_configured)
    and V(ok).
  - Needs the application permission C(DeviceManagementServiceConfig.Read.All), and
    C(DeviceManagementConfiguration.Read.All) for certificate connectors and Managed Google Play (VPP tokens can
    also be read with C(DeviceManagementApps.Read.All)).
author:
  - msgraph.intune contributors (@msgraph-ansible)
options:
  kinds:
    description:
      - The kinds to judge; all of them when not set.
    type: list
    elements: str
    choices:
      - device_management_partners
      - compliance_management_partners
      - remote_assistance_partners
      - mobile_threat_defense_connectors
      - apple_push_notification_certificate
      - vpp_tokens
      - dep_onboarding_settings
      - ndes_connectors
      - exchange_connectors
      - managed_google_play
      - windows_autopilot_settings
  expiry_warning_days:
    description:
      - A certificate, token or partner deadline that ends within this many days is V(expiring) with severity
        V(warning).
      - 0 or more, and not below O(expiry_critical_days).
    type: int
    default: 30
  expiry_critical_days:
    description:
      - A certificate, token or partner deadline that ends within this many days is V(expiring) with severity
        V(critical). One that has ended is V(expired) and V(critical), however long ago.
      - 0 or more, and not above O(expiry_warning_days).
    type: int
    default: 7
  stale_after_hours:
    description:
      - A heartbeat, connection or sync older than this many hours is V(stale) (severity V(warning)).
      - Either a number of hours for every kind, or a dictionary of hours by kind, for example
        C(exchange_connectors) set to V(48); the kinds it does not name keep 24.
      - A mobile threat defense connector whose heartbeat is older than its own
        C(partner_unresponsiveness_threshold_in_days) is V(critical), whatever this says.
    type: raw
    default: 24
  ndes_minimum_version:
    description:
      - A certificate connector older than this version is reported with severity V(warning).
      - The default is the oldest Certificate Connector for Microsoft Intune that Intune still supports, as the
        connector's lifecycle documentation states
        (U(https://learn.microsoft.com/intune/intune-service/protect/certificate-connector-overview#lifecycle)).
    type: str
    default: 6.2406.0.1001
extends_documentation_fragment:
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
  - msgraph.intune.graph.read_only
seealso:
  - module: msgraph.intune.tenant_baseline
  - name: Connector health in the msgraph.intune documentation
    description: The rules, thresholds, permissions and a scheduled AWX/AAP audit.
    link: https://github.com/msgraph-ansible/msgraph.intune/blob/main/docs/health.md
"""

EXAMPLES = r"""
- name: Judge every connector and token of the tenant
  msgraph.intune.connector_health:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
  register: health

- name: Fail when anything is critical
  ansible.builtin.assert:
    that: health.summary.worst != 'critical'
    fail_msg: "{{ health.findings | selectattr('severity', 'equalto', 'critical') | map(attribute='message') | list }}"

- name: Only the Apple objects, warned 60 days ahead
  msgraph.intune.connector_health:
    kinds:
      - apple_push_notification_certificate
      - vpp_tokens
      - dep_onboarding_settings
    expiry_warning_days: 60
    expiry_critical_days: 14

- name: A longer window for the Exchange connector's sync
  msgraph.intune.connector_health:
    stale_after_hours:
      exchange_connectors: 48
"""

RETURN = r"""
findings:
  description:
    - One entry per object and check; a kind with no object, or one that could not be read, gives one entry of its
      own with C(id) and C(name) V(null).
  returned: always
  type: list
  elements: dict
  sample:
    - kind: apple_push_notification_certificate
      id: 8f3c...
      name: mdm@contoso.com
      check: expiry
      status: expiring
      severity: critical
      message: "The Apple MDM push certificate of mdm@contoso.com expires on 2026-12-09 09:00 UTC (in 5 days): renew it
        in the Intune admin center with the same Apple ID; once it lapses, every Apple device must enroll again."
      value: "2026-12-09T09:00:00.0000000Z"
      days_left: 5
      api_version: v1.0
  contains:
    kind:
      description: The kind, as O(kinds) names it.
      type: str
      returned: always
    id:
      description: The object's id, V(null) for a finding about the whole kind.
      type: str
      returned: always
    name:
      description: What identifies the object to a person (display name, server, Apple ID or token name).
      type: str
      returned: always
    check:
      description: V(expiry), V(sync), V(heartbeat), V(state) or V(version).
      type: str
      returned: always
    status:
      description: V(healthy), V(expiring), V(expired), V(stale), V(unhealthy), V(not_configured), V(forbidden) or
        V(error).
      type: str
      returned: always
    severity:
      description: V(ok), V(warning) or V(critical).
      type: str
      returned: always
    message:
      description: One sentence that says what was found and what to do.
      type: str
      returned: always
    value:
      description: The value judged (a date, a state, a version, an error code, or the HTTP status of a failed read).
      type: raw
      returned: always
    days_left:
      description:
        - For an expiry, the whole days until it, rounded down, so negative once it has passed (V(-1) during the
          first day after it); V(null) otherwise.
      type: int
      returned: always
    api_version:
      description: The Graph version the kind was read from.
      type: str
      returned: always
summary:
  description: Counts of the findings by severity, the worst severity, and the worst severity of each kind.
  returned: always
  type: dict
  sample:
    counts: {ok: 14, warning: 1, critical: 2}
    worst: critical
    kinds: {apple_push_notification_certificate: critical, vpp_tokens: critical, exchange_connectors: warning}
objects:
  description:
    - Each kind's objects as read, with option-style names (only the properties that are judged); a singleton kind
      that is not set up has V([]).
  returned: always
  type: dict
  sample:
    vpp_tokens:
      - id: 2d5f...
        organization_name: Contoso
        apple_id: vpp@contoso.com
        vpp_token_account_type: business
        state: valid
        expiration_date_time: "2027-05-01T00:00:00.0000000Z"
        last_sync_date_time: "2026-12-03T22:10:00.0000000Z"
        last_sync_status: completed
api_versions:
  description: The Graph version each kind was read from (V(beta) for the kinds that exist in beta only).
  returned: always
  type: dict
  sample: {apple_push_notification_certificate: v1.0, dep_onboarding_settings: beta}
thresholds:
  description: The thresholds the findings were judged with, O(stale_after_hours) spelled out by kind.
  returned: always
  type: dict
  sample:
    expiry_warning_days: 30
    expiry_critical_days: 7
    stale_after_hours: {exchange_connectors: 48.0, vpp_tokens: 24.0}
    ndes_minimum_version: 6.2406.0.1001
"""

from ansible_collections.msgraph.intune.plugins.module_utils._graph_health import TASK
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
