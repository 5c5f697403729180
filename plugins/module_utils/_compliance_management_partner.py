# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Intune compliance management partner (complianceManagementPartner, Graph v1.0)."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._device_management_partner import PARTNER_STATES
from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Boolean, Enum, Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource
from ansible_collections.msgraph.intune.plugins.module_utils._graph_targets import TargetSet

RESOURCE = Resource(
    name="compliance_management_partner",
    collection="deviceManagement/complianceManagementPartners",
    noun="compliance management partner",
    short_noun="partner",
    result_key="partner",
    properties=(
        String("display_name", "displayName"),
        Enum("partner_state", "partnerState", PARTNER_STATES),
        Boolean("android_onboarded", "androidOnboarded"),
        Boolean("ios_onboarded", "iosOnboarded"),
        Boolean("mac_os_onboarded", "macOsOnboarded"),
        TargetSet("android_enrollment_assignments", "androidEnrollmentAssignments"),
        TargetSet("ios_enrollment_assignments", "iosEnrollmentAssignments"),
        TargetSet("mac_os_enrollment_assignments", "macOsEnrollmentAssignments"),
        Instant("last_heartbeat_date_time", "lastHeartbeatDateTime", settable=False),
    ),
)
