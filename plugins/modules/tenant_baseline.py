#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_baseline
short_description: Apply, audit or export a tenant's whole baseline of Intune connector objects
version_added: 0.2.0
description:
  - Converges every Intune connector object of one tenant to a baseline in one task (device management partners,
    compliance management partners, remote assistance partners and mobile threat defense connectors). One read of
    the tenant lists every managed kind and looks up every group name the baseline uses; with O(batch=true) (the
    default) that read is one Graph JSON batch, plus the pages that do not fit in it.
  - Each object of O(baseline) takes the options of its module (for example
    M(msgraph.intune.device_management_partner)), is validated as that module validates it, before any request, and is
    compared and written exactly as that module does it.
  - An object is matched to the tenant's objects by O(msgraph.intune.device_management_partner#module:id) when it has
    one, else by its exact display name (mobile threat defense connectors always by id). Objects of a kind that the
    baseline manages but does not list are reported as V(unmanaged), and deleted only with O(prune=true).
  - A part of the baseline that this tenant cannot resolve (a group name it lacks or has twice, an ambiguous display
    name, an id it does not have, a kind that Graph refuses to list) concerns that object only. O(mode=audit)
    reports it as an V(error) entry of RV(drift) and audits everything else; O(mode=apply) writes nothing to the
    tenant and fails once, listing every such part (also as the RV(problems) of the failed result).
  - C(changed) is V(true) when the tenant differs from the baseline in a way that applying it changes, in every
    mode but V(export) and V(validate). In O(mode=apply) the tenant was changed (or, in check mode, would be), in
    O(mode=audit) it would be.
  - The C(msgraph.intune.baseline) role is the usual way to run it across many tenants, with drift reports.
  - Needs the application permission C(DeviceManagementServiceConfig.ReadWrite.All)
    (C(DeviceManagementServiceConfig.Read.All) for O(mode=audit) and O(mode=export)), and C(Group.Read.All) when
    assignment targets name groups or with O(mode=export).
author:
  - msgraph.intune contributors (@msgraph-ansible)
options:
  baseline:
    description:
      - The objects the tenant must have, by kind. A kind that is not given is left alone; it is neither listed nor
        reported.
      - Required unless O(mode=export).
      - Every object is validated as its module validates its options, before any request; an error names its place,
        for example C(baseline.device_management_partners[1]).
    type: dict
    suboptions:
      device_management_partners:
        description: Option dicts of M(msgraph.intune.device_management_partner).
        type: list
        elements: dict
      compliance_management_partners:
        description: Option dicts of M(msgraph.intune.compliance_management_partner).
        type: list
        elements: dict
      remote_assistance_partners:
        description: Option dicts of M(msgraph.intune.remote_assistance_partner).
        type: list
        elements: dict
      mobile_threat_defense_connectors:
        description: Option dicts of M(msgraph.intune.mobile_threat_defense_connector).
        type: list
        elements: dict
  mode:
    description:
      - V(apply) converges the tenant (in check mode, predicts it).
      - V(audit) only compares; it never writes, whatever the check mode.
      - V(export) returns the tenant's objects as RV(baseline), a baseline for other tenants.
      - V(validate) only checks O(baseline), without signing in or sending any request, so that a play can find a
        mistake in it once, before any tenant is contacted.
      - V(health) only judges the health of the tenant's connectors and tokens (see O(health)), as
        M(msgraph.intune.connector_health) does; O(baseline) is not needed.
    type: str
    default: apply
    choices: [apply, audit, export, validate, health]
  prune:
    description:
      - With O(mode=apply), delete the objects of the managed kinds that the baseline does not list.
    type: bool
    default: false
  health:
    description:
      - With O(mode=audit), also judge the health of the tenant's connectors and tokens, in the same read of the
        tenant, and return it as RV(health); with O(mode=health), judge only that (not set means C({})).
      - The options of M(msgraph.intune.connector_health) (O(msgraph.intune.connector_health#module:kinds),
        O(msgraph.intune.connector_health#module:expiry_warning_days) and the others), validated as that module
        validates them, before any request; C({}) judges every kind with the default thresholds.
      - Not allowed in the other modes.
    type: dict
extends_documentation_fragment:
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
attributes:
  check_mode:
    description: Sends no write request; C(changed) and RV(drift) are the prediction.
    support: full
  diff_mode:
    description: The before and after of every object that changes (or, in check mode or O(mode=audit), would
      change), keyed by kind and by object (display name, or id).
    support: full
  platform:
    description: Runs on the controller or any host with Python, requests and msal.
    platforms: posix
    support: full
seealso:
  - module: msgraph.intune.device_management_partner
  - module: msgraph.intune.compliance_management_partner
  - module: msgraph.intune.remote_assistance_partner
  - module: msgraph.intune.mobile_threat_defense_connector
"""

EXAMPLES = r"""
- name: Audit one tenant against the baseline (never writes)
  msgraph.intune.tenant_baseline:
    mode: audit
    baseline:
      device_management_partners:
        - display_name: Jamf Pro
          partner_state: enabled
          groups_requiring_partner_enrollment:
            - type: group
              group_display_name: Mac fleet
      mobile_threat_defense_connectors:
        - id: fc780465-2017-40d4-a0c5-307022471b92
          android_enabled: true
          ios_enabled: true
  register: audit

- name: Apply it, deleting partners that the baseline does not list
  msgraph.intune.tenant_baseline:
    baseline: "{{ intune_baseline }}"
    prune: true

- name: Capture a tenant as a baseline for the others
  msgraph.intune.tenant_baseline:
    mode: export
  register: golden
"""

RETURN = r"""
drift:
  description:
    - One entry per difference found (in O(mode=apply), per difference fixed or, in check mode, to be fixed).
    - C(status) is V(drift) for a property that differs (C(property), C(current), C(desired)), V(missing) for an
      object of the baseline that the tenant lacks, V(unmanaged) for an object of a managed kind that the baseline
      does not list, V(error) for a part of the baseline that this tenant cannot resolve (with C(message)). An
      object of the baseline with C(state=absent) that exists is a V(drift) of C(property=state).
  returned: unless O(mode=export), O(mode=validate) or O(mode=health)
  type: list
  elements: dict
  sample:
    - kind: device_management_partners
      object: Jamf Pro
      id: 1f1e5d5e-3b8e-4b0a-9f57-6f1f2b0f1a10
      status: drift
      property: partner_state
      current: unresponsive
      desired: enabled
    - kind: compliance_management_partners
      object: Contoso compliance
      id: null
      status: missing
      property: state
      current: absent
      desired: present
  contains:
    kind:
      description: The O(baseline) key of the object's kind.
      type: str
      returned: always
    object:
      description: The object's display name, or its id when it has none (for an V(error) about a whole kind,
        V(null)).
      type: str
      returned: always
    id:
      description: The object's id in this tenant (V(null) for a missing object).
      type: str
      returned: always
    status:
      description: V(drift), V(missing), V(unmanaged) or V(error).
      type: str
      returned: always
    property:
      description: The option that differs; V(state) for existence; for an V(error), the option that cannot be
        resolved, or V(null).
      type: str
      returned: always
    current:
      description: What the tenant holds (as the module returns it; group targets with ids).
      type: raw
      returned: always
    desired:
      description: What the baseline asks for; for V(unmanaged), V(absent) when pruning and V(null) otherwise; for
        an V(error), the value that cannot be resolved (a group name, for example).
      type: raw
      returned: always
    message:
      description: For an V(error), what cannot be resolved, naming the kind, the object and the option.
      type: str
      returned: when C(status=error)
counts:
  description: How many entries of RV(drift) have each status.
  returned: unless O(mode=export), O(mode=validate) or O(mode=health)
  type: dict
  sample: {drift: 1, missing: 1, unmanaged: 0, error: 0}
kinds:
  description: The kinds that the baseline manages, in the order they were handled.
  returned: unless O(mode=export) or O(mode=health)
  type: list
  elements: str
  sample: [device_management_partners, mobile_threat_defense_connectors]
objects:
  description: With O(mode=validate), how many objects the baseline holds.
  returned: when O(mode=validate)
  type: int
  sample: 4
health:
  description:
    - With O(health) or O(mode=health), the connector health of the tenant, with the keys that
      M(msgraph.intune.connector_health) returns (C(findings), C(summary), C(objects), C(api_versions),
      C(thresholds)).
  returned: when O(health) is set, or with O(mode=health)
  type: dict
  sample:
    findings:
      - kind: vpp_tokens
        id: 2d5f...
        name: Contoso
        check: state
        status: unhealthy
        severity: critical
        message: "The VPP token of Contoso is expired: download a new token from Apple Business Manager (Apps and
          Books) and upload it to Intune."
        value: expired
        days_left: null
        api_version: v1.0
    summary: {counts: {ok: 12, warning: 0, critical: 1}, worst: critical, kinds: {vpp_tokens: critical}}
problems:
  description:
    - When O(mode=apply) fails because parts of the baseline cannot be resolved in this tenant, each of them, as
      an V(error) entry of RV(drift) would show it.
  returned: on that failure
  type: list
  elements: dict
baseline:
  description:
    - With O(mode=export), every kind's objects as options of their modules, portable to other tenants, as the
      info modules export them with O(msgraph.intune.device_management_partner_info#module:portable=true).
  returned: when O(mode=export)
  type: dict
  sample:
    device_management_partners:
      - display_name: Jamf Pro
        partner_state: enabled
        groups_requiring_partner_enrollment:
          - type: group
            group_display_name: Mac fleet
    compliance_management_partners: []
    remote_assistance_partners: []
    mobile_threat_defense_connectors:
      - id: fc780465-2017-40d4-a0c5-307022471b92
        android_enabled: true
"""

from ansible_collections.msgraph.intune.plugins.module_utils._graph_baseline import TASK
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
