#!/usr/bin/python
# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: remote_assistance_partner
short_description: Manage Intune remote assistance partners through Microsoft Graph
version_added: 0.2.0
description:
  - Creates, updates, onboards, disconnects and deletes an Intune remote assistance partner
    (C(/deviceManagement/remoteAssistancePartners)) in Microsoft Graph. In the Intune admin center this is the
    TeamViewer connector, under Tenant administration > Connectors and tokens.
  - The module reads the partner, compares the options that the task gives with what Graph holds, and sends a
    C(PATCH) with only the properties that differ. When nothing differs, it sends no write at all.
  - Options not given in the task are neither compared nor written.
  - The onboarding status (C(onboardingStatus)) is moved only by Graph's C(beginOnboarding) and C(disconnect)
    actions, which O(onboarding) calls when the status asks for it. C(lastConnectionDateTime) is set by the
    service. Both are returned, never written.
  - Needs the application permission C(DeviceManagementServiceConfig.ReadWrite.All) (for check mode,
    C(DeviceManagementServiceConfig.Read.All) is enough).
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
  onboarding_url:
    description:
      - The URL of the partner's onboarding portal, where an administrator configures the remote assistance service
        (C(onboardingUrl)).
    type: str
    aliases: [onboardingUrl]
  onboarding:
    description:
      - V(started) calls Graph's C(beginOnboarding) action (C(POST .../{id}/beginOnboarding)) when the partner's
        onboarding status is C(notOnboarded). A status of C(onboarding) or C(onboarded) already counts as started,
        so nothing is sent then; the partner completes the onboarding on its side.
      - V(disconnected) calls Graph's C(disconnect) action (C(POST .../{id}/disconnect)) when the status is not
        C(notOnboarded); the status is then C(notOnboarded).
      - The other given properties are written first. After a create, the action runs on the new partner.
      - When not given, the onboarding status is left alone.
    type: str
    choices: [started, disconnected]
  state:
    description:
      - V(present) creates the partner (when looked up by name) or updates the properties that differ.
      - V(absent) deletes it if it exists; O(onboarding) is then ignored.
    type: str
    default: present
    choices: [present, absent]
extends_documentation_fragment:
  - msgraph.intune.graph
  - msgraph.intune.graph.action_group
attributes:
  check_mode:
    description:
      - Sends no write request and calls no action. C(changed), C(partner) and C(changed_properties) are the
        prediction, including the onboarding status that the action would lead to.
    support: full
  diff_mode:
    description: Returns the managed properties and the onboarding status before and after.
    support: full
  platform:
    description: Runs on the controller or any host with Python, requests and msal.
    platforms: posix
    support: full
seealso:
  - module: msgraph.intune.remote_assistance_partner_info
  - name: remoteAssistancePartner resource type
    description: The Microsoft Graph documentation of the resource.
    link: https://learn.microsoft.com/graph/api/resources/intune-remoteassistance-remoteassistancepartner
"""

EXAMPLES = r"""
- name: Begin onboarding the TeamViewer connector, authenticating with a client secret
  msgraph.intune.remote_assistance_partner:
    tenant_id: "{{ intune_tenant_id }}"
    client_id: "{{ intune_client_id }}"
    client_secret: "{{ intune_client_secret }}"
    display_name: TeamViewer
    onboarding: started
  register: teamviewer

- name: Show where to finish the onboarding
  ansible.builtin.debug:
    msg: "Status {{ teamviewer.partner.onboarding_status }}; finish at {{ teamviewer.partner.onboarding_url }}"

- name: Set the connection options once for every module of the collection
  module_defaults:
    group/msgraph.intune.graph:
      tenant_id: "{{ intune_tenant_id }}"
      client_id: "{{ intune_client_id }}"
      client_certificate_path: /etc/ansible/intune.pem
  block:
    - name: Disconnect the connector
      msgraph.intune.remote_assistance_partner:
        display_name: TeamViewer
        onboarding: disconnected

    - name: Rename a partner found by id
      msgraph.intune.remote_assistance_partner:
        id: 3c8e5d2f-9e4b-4d6c-8f70-1b2c3d4e5f60
        display_name: TeamViewer (production)

    - name: Remove a partner
      msgraph.intune.remote_assistance_partner:
        display_name: Old remote assistance partner
        state: absent

- name: Report drift without changing anything
  msgraph.intune.remote_assistance_partner:
    display_name: TeamViewer
    onboarding: started
  check_mode: true
  register: audit
"""

RETURN = r"""
partner:
  description:
    - The partner after the task, with option names as keys plus RV(partner.id), RV(partner.onboarding_status) and
      RV(partner.last_connection_date_time).
    - After a C(PATCH) answered with 204, it is the object that Graph held with the written properties applied;
      after an action, RV(partner.onboarding_status) is the status that the action leads to.
    - V(null) after a delete or when the partner does not exist. In check mode it is the prediction; for a
      predicted create, RV(partner.id) is V(null), RV(partner.onboarding_status) is V(notOnboarded) (or what
      O(onboarding) leads to) and other properties the task does not set are V(null).
  returned: always
  type: dict
  sample:
    id: 3c8e5d2f-9e4b-4d6c-8f70-1b2c3d4e5f60
    display_name: TeamViewer
    onboarding_url: https://www.teamviewer.com/
    onboarding_status: onboarding
    last_connection_date_time: "0001-01-01T00:00:00Z"
  contains:
    id:
      description: The partner's id.
      type: str
      returned: always
    display_name:
      description: C(displayName).
      type: str
      returned: always
    onboarding_url:
      description: C(onboardingUrl).
      type: str
      returned: always
    onboarding_status:
      description: C(onboardingStatus), one of V(notOnboarded), V(onboarding) and V(onboarded).
      type: str
      returned: always
    last_connection_date_time:
      description:
        - C(lastConnectionDateTime), in UTC, set by the service when the partner sends a request to Intune.
          Graph returns V(0001-01-01T00:00:00Z) when there was none.
        - V(null) for a predicted create in check mode.
      type: str
      returned: always
changed_properties:
  description:
    - Names of the properties that differed and were written (or would be, in check mode). All given properties on
      a create; V(onboarding_status) when an onboarding action ran (or would run); empty on a delete or when nothing
      differed.
  returned: always
  type: list
  elements: str
  sample: [onboarding_url, onboarding_status]
diff:
  description:
    - The managed properties and RV(partner.onboarding_status) before and after, keyed by their names in
      RV(partner). Empty dicts stand for no partner.
  returned: in diff mode
  type: dict
  sample:
    before: {display_name: TeamViewer, onboarding_url: null, onboarding_status: notOnboarded}
    after: {display_name: TeamViewer, onboarding_url: null, onboarding_status: onboarding}
"""

from ansible_collections.msgraph.intune.plugins.module_utils._graph_engine import module_task
from ansible_collections.msgraph.intune.plugins.module_utils._graph_module import GraphModule
from ansible_collections.msgraph.intune.plugins.module_utils._remote_assistance_partner import RESOURCE

TASK = module_task(RESOURCE)


def main():
    GraphModule(TASK).run()


if __name__ == "__main__":
    main()
