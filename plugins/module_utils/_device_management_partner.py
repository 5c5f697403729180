# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Intune device management partner (deviceManagementPartner, Graph v1.0)."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Boolean, Enum, Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Action, Resource
from ansible_collections.msgraph.intune.plugins.module_utils._graph_targets import TargetSet

PARTNER_STATES = ("unknown", "unavailable", "enabled", "terminated", "rejected", "unresponsive")
PARTNER_APP_TYPES = ("unknown", "singleTenantApp", "multiTenantApp")

RESOURCE = Resource(
    name="device_management_partner",
    collection="deviceManagement/deviceManagementPartners",
    noun="device management partner",
    short_noun="partner",
    result_key="partner",
    properties=(
        String("display_name", "displayName"),
        Enum("partner_state", "partnerState", PARTNER_STATES),
        Enum("partner_app_type", "partnerAppType", PARTNER_APP_TYPES),
        String("single_tenant_app_id", "singleTenantAppId"),
        Boolean("is_configured", "isConfigured"),
        # Writable, but the service sets it: an export leaves it out so that it applies back unchanged.
        Instant("last_heartbeat_date_time", "lastHeartbeatDateTime", exported=False),
        Instant("when_partner_devices_will_be_removed_date_time", "whenPartnerDevicesWillBeRemovedDateTime"),
        Instant(
            "when_partner_devices_will_be_marked_as_non_compliant_date_time",
            "whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime",
        ),
        TargetSet("groups_requiring_partner_enrollment", "groupsRequiringPartnerEnrollment"),
    ),
    actions=(Action("state", "terminated", "terminate", sets={"partner_state": "terminated"}, requires_existing=True),),
)
