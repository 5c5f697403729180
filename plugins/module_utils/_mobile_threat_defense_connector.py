# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Intune mobile threat defense connector (mobileThreatDefenseConnector, Graph v1.0).

It has no display name: its id is the MTD partner's connector id, the same in every tenant, and a create sends it.
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Boolean, Enum, Instant, Integer
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

# mobileThreatPartnerTenantState in v1.0.
MTD_PARTNER_STATES = ("unavailable", "available", "enabled", "unresponsive", "unknownFutureValue")

RESOURCE = Resource(
    name="mobile_threat_defense_connector",
    collection="deviceManagement/mobileThreatDefenseConnectors",
    noun="mobile threat defense connector",
    short_noun="connector",
    result_key="connector",
    find_by=("id",),
    client_assigned_id=True,
    properties=(
        Boolean("allow_partner_to_collect_ios_application_metadata", "allowPartnerToCollectIOSApplicationMetadata"),
        Boolean(
            "allow_partner_to_collect_ios_personal_application_metadata",
            "allowPartnerToCollectIOSPersonalApplicationMetadata",
        ),
        Boolean("android_device_blocked_on_missing_partner_data", "androidDeviceBlockedOnMissingPartnerData"),
        Boolean("android_enabled", "androidEnabled"),
        Boolean("android_mobile_application_management_enabled", "androidMobileApplicationManagementEnabled"),
        Boolean("ios_device_blocked_on_missing_partner_data", "iosDeviceBlockedOnMissingPartnerData"),
        Boolean("ios_enabled", "iosEnabled"),
        Boolean("ios_mobile_application_management_enabled", "iosMobileApplicationManagementEnabled"),
        Boolean("microsoft_defender_for_endpoint_attach_enabled", "microsoftDefenderForEndpointAttachEnabled"),
        Boolean("partner_unsupported_os_version_blocked", "partnerUnsupportedOsVersionBlocked"),
        Boolean("windows_device_blocked_on_missing_partner_data", "windowsDeviceBlockedOnMissingPartnerData"),
        Boolean("windows_enabled", "windowsEnabled"),
        Integer("partner_unresponsiveness_threshold_in_days", "partnerUnresponsivenessThresholdInDays", minimum=0),
        # Returned as Graph gives it, also a value newer than these (Graph adds values over time).
        Enum("partner_state", "partnerState", MTD_PARTNER_STATES, settable=False),
        Instant("last_heartbeat_date_time", "lastHeartbeatDateTime", settable=False),
    ),
)
