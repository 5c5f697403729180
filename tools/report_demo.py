# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The demo tenants of the report screenshots: an MSP's eight Intune tenants as the Graph emulator's seed.

``seed(now)`` gives the emulator's ``--seed`` JSON (keyed by tenant domain) against the example baseline,
examples/msp/inventory/group_vars/intune_tenants/baseline.yml. Every date is an offset from ``now`` a fraction of
a unit off a whole day or hour, so that the spans the health check writes ("in 5 days", "3 days ago") stay the same
for a run of a few minutes; only the dates themselves change from run to run. Ids are derived from the tenant and
the object, so two runs seed the same objects.

What each tenant shows:

* contoso, fabrikam: in line with the baseline, every connector and token healthy (fabrikam has fewer set up).
* northwind: Jamf Pro is unresponsive (drift of ``partner_state``, and critical health), and the devices it
  manages will be marked non-compliant in 6 days; the APNs certificate expires in 5 days.
* adatum: the compliance partner is missing; the VPP token expired; an ADE token fails to sync with error 3.
* litware: a device management partner that the baseline does not list (unmanaged), whose heartbeat is stale; an
  inactive certificate connector.
* tailspin: has no group "Mac lab", which the baseline names (an error entry); a disconnected Exchange connector;
  Managed Google Play bound but not validated.
* wingtip: in line, with warnings: a failed Windows Autopilot sync and Jamf Pro's stale heartbeat.
* woodgrove: its sign-in fails (``SIGN_IN_FAILS``: the inventory gives it a client secret that is not its own).
"""

from __future__ import annotations

import datetime
import uuid

TENANTS = ("contoso", "fabrikam", "northwind", "adatum", "litware", "tailspin", "wingtip", "woodgrove")
SIGN_IN_FAILS = "woodgrove"
# The example baseline's mobile threat defense connector: the partner's id, the same in every tenant.
MTD_ID = "fc780465-2017-40d4-a0c5-307022471b92"
GROUP_TARGET = "#microsoft.graph.groupAssignmentTarget"
EXCLUSION_TARGET = "#microsoft.graph.exclusionGroupAssignmentTarget"
NAMESPACE = uuid.UUID("6f1d0c2e-5b7a-4e21-9d3f-22a0c4e8b122")  # this file's own: the demo's ids
CURRENT_NDES_VERSION = "6.2406.0.1001"


def domain(tenant):
    return f"{tenant}.onmicrosoft.com"


def demo_id(tenant, what):
    return str(uuid.uuid5(NAMESPACE, f"{tenant}/{what}"))


class Clock:
    """Graph's DateTimeOffset text for offsets from one instant."""

    def __init__(self, now):
        self.now = now.astimezone(datetime.timezone.utc).replace(microsecond=0)

    def at(self, days=0.0, hours=0.0):
        return (self.now + datetime.timedelta(days=days, hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _target(odata_type, group_id):
    return {"target": {"@odata.type": odata_type, "groupId": group_id}}


def _in_line(tenant, clock):
    """A tenant whose four baseline kinds match the example baseline exactly, and whose connectors are healthy."""
    fleet, lab = demo_id(tenant, "group/Mac fleet"), demo_id(tenant, "group/Mac lab")
    return {
        "groups": [{"id": fleet, "displayName": "Mac fleet"}, {"id": lab, "displayName": "Mac lab"}],
        "deviceManagementPartners": [
            {
                "id": demo_id(tenant, "partner/Jamf Pro"),
                "displayName": "Jamf Pro",
                "partnerState": "enabled",
                "partnerAppType": "multiTenantApp",
                "isConfigured": True,
                "lastHeartbeatDateTime": clock.at(hours=-2.5),
                "groupsRequiringPartnerEnrollment": [_target(GROUP_TARGET, fleet), _target(EXCLUSION_TARGET, lab)],
            }
        ],
        "complianceManagementPartners": [
            {
                "id": demo_id(tenant, "compliance/Jamf compliance"),
                "displayName": "Jamf compliance",
                "partnerState": "enabled",
                "macOsOnboarded": True,
                "lastHeartbeatDateTime": clock.at(hours=-1.5),
                "macOsEnrollmentAssignments": [_target(GROUP_TARGET, fleet)],
            }
        ],
        "remoteAssistancePartners": [
            {
                "id": demo_id(tenant, "remote/TeamViewer"),
                "displayName": "TeamViewer",
                "onboardingStatus": "onboarded",
                "lastConnectionDateTime": clock.at(hours=-3.5),
            }
        ],
        "mobileThreatDefenseConnectors": [
            {
                "id": MTD_ID,
                "partnerState": "enabled",
                "lastHeartbeatDateTime": clock.at(hours=-1.25),
                "androidEnabled": True,
                "iosEnabled": True,
                "androidDeviceBlockedOnMissingPartnerData": True,
                "iosDeviceBlockedOnMissingPartnerData": True,
                "partnerUnresponsivenessThresholdInDays": 7,
            }
        ],
        "applePushNotificationCertificate": {
            "appleIdentifier": f"intune-admin@{tenant}.com",
            "topicIdentifier": f"com.apple.mgmt.External.{demo_id(tenant, 'apns-topic')}",
            "expirationDateTime": clock.at(days=212.5),
            "lastModifiedDateTime": clock.at(days=-152.5),
            "certificateUploadStatus": "succeeded",
        },
        "vppTokens": [
            {
                "id": demo_id(tenant, "vpp"),
                "organizationName": f"{tenant.capitalize()} Ltd",
                "appleId": f"apps@{tenant}.com",
                "vppTokenAccountType": "business",
                "state": "valid",
                "expirationDateTime": clock.at(days=143.5),
                "lastSyncDateTime": clock.at(hours=-4.5),
                "lastSyncStatus": "completed",
            }
        ],
        "depOnboardingSettings": [
            {
                "id": demo_id(tenant, "ade"),
                "tokenName": f"ADE {tenant.capitalize()}",
                "appleIdentifier": f"abm@{tenant}.com",
                "tokenType": "dep",
                "tokenExpirationDateTime": clock.at(days=98.5),
                "lastSuccessfulSyncDateTime": clock.at(hours=-6.5),
                "lastSyncErrorCode": 0,
            }
        ],
        "ndesConnectors": [
            {
                "id": demo_id(tenant, "ndes"),
                "displayName": f"PKI-01.{tenant}.local",
                "machineName": f"PKI-01.{tenant}.local",
                "state": "active",
                "lastConnectionDateTime": clock.at(hours=-1.25),
                "connectorVersion": CURRENT_NDES_VERSION,
            }
        ],
        "exchangeConnectors": [
            {
                "id": demo_id(tenant, "exchange"),
                "serverName": f"EXCH-01.{tenant}.local",
                "status": "connected",
                "lastSyncDateTime": clock.at(hours=-1.5),
                "version": "15.2.1544.4",
            }
        ],
        "androidManagedStoreAccountEnterpriseSettings": {
            "bindStatus": "boundAndValidated",
            "ownerOrganizationName": f"{tenant.capitalize()} Ltd",
            "ownerUserPrincipalName": f"android-admin@{tenant}.com",
            "lastAppSyncDateTime": clock.at(hours=-5.5),
            "lastAppSyncStatus": "success",
        },
        "windowsAutopilotSettings": {"syncStatus": "completed", "lastSyncDateTime": clock.at(hours=-7.5)},
    }


def _fabrikam(state, _clock):
    # A smaller tenant: no certificate or Exchange connector, no Android Enterprise (not configured, which is ok).
    state["ndesConnectors"] = []
    state["exchangeConnectors"] = []
    state["androidManagedStoreAccountEnterpriseSettings"] = None


def _northwind(state, clock):
    partner = state["deviceManagementPartners"][0]
    partner["partnerState"] = "unresponsive"
    partner["lastHeartbeatDateTime"] = clock.at(days=-3.5)
    partner["whenPartnerDevicesWillBeMarkedAsNonCompliantDateTime"] = clock.at(days=6.5)
    state["applePushNotificationCertificate"]["expirationDateTime"] = clock.at(days=5.5)


def _adatum(state, clock):
    state["complianceManagementPartners"] = []
    token = state["vppTokens"][0]
    token.update(state="expired", expirationDateTime=clock.at(days=-12.5), lastSyncDateTime=clock.at(days=-12.5))
    state["depOnboardingSettings"][0]["lastSyncErrorCode"] = 3


def _litware(state, clock):
    state["deviceManagementPartners"].append(
        {
            "id": demo_id("litware", "partner/Kandji"),
            "displayName": "Kandji",
            "partnerState": "enabled",
            "partnerAppType": "multiTenantApp",
            "isConfigured": True,
            "lastHeartbeatDateTime": clock.at(days=-4.5),
        }
    )
    state["ndesConnectors"][0].update(state="inactive", lastConnectionDateTime=clock.at(days=-9.5))


def _tailspin(state, clock):
    state["groups"] = [group for group in state["groups"] if group["displayName"] != "Mac lab"]
    partner = state["deviceManagementPartners"][0]
    partner["groupsRequiringPartnerEnrollment"] = partner["groupsRequiringPartnerEnrollment"][:1]
    state["exchangeConnectors"][0].update(status="disconnected", lastSyncDateTime=clock.at(days=-2.5))
    google_play = state["androidManagedStoreAccountEnterpriseSettings"]
    google_play.update(bindStatus="bound", lastAppSyncStatus="credentialsNotValid")


def _wingtip(state, clock):
    state["windowsAutopilotSettings"] = {"syncStatus": "failed", "lastSyncDateTime": clock.at(days=-1.5)}
    state["deviceManagementPartners"][0]["lastHeartbeatDateTime"] = clock.at(days=-2.5)


CHANGES = {
    "fabrikam": _fabrikam,
    "northwind": _northwind,
    "adatum": _adatum,
    "litware": _litware,
    "tailspin": _tailspin,
    "wingtip": _wingtip,
}


def seed(now):
    """The emulator's seed of every demo tenant, by tenant domain (the same tenants in TENANTS order)."""
    clock = Clock(now)
    tenants = {}
    for tenant in TENANTS:
        state = _in_line(tenant, clock)
        if tenant in CHANGES:
            CHANGES[tenant](state, clock)
        tenants[domain(tenant)] = state
    return tenants
