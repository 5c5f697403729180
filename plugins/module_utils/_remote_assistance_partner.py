# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Intune remote assistance partner (remoteAssistancePartner, Graph v1.0)."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Enum, Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Action, Resource

# remoteAssistanceOnboardingStatus.
ONBOARDING_STATUSES = ("notOnboarded", "onboarding", "onboarded")

RESOURCE = Resource(
    name="remote_assistance_partner",
    collection="deviceManagement/remoteAssistancePartners",
    noun="remote assistance partner",
    short_noun="partner",
    result_key="partner",
    properties=(
        String("display_name", "displayName"),
        String("onboarding_url", "onboardingUrl"),
        # Moved only by the two actions.
        Enum("onboarding_status", "onboardingStatus", ONBOARDING_STATUSES, settable=False, initial="notOnboarded"),
        Instant("last_connection_date_time", "lastConnectionDateTime", settable=False),
    ),
    actions=(
        # Onboarding that has begun (or finished) counts as started; the partner completes it on its side.
        Action(
            "onboarding",
            "started",
            "beginOnboarding",
            sets={"onboarding_status": "onboarding"},
            unless={"onboarding_status": ("onboarding", "onboarded")},
            exported=True,
        ),
        Action("onboarding", "disconnected", "disconnect", sets={"onboarding_status": "notOnboarded"}, exported=True),
    ),
)
