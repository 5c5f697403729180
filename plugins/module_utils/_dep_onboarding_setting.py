# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Apple Automated Device Enrollment token (depOnboardingSetting, Graph beta only): read-only."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Instant, Integer, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

RESOURCE = Resource(
    name="dep_onboarding_setting",
    collection="deviceManagement/depOnboardingSettings",
    noun="Apple Automated Device Enrollment token",
    short_noun="token",
    result_key="token",
    find_by=("id",),
    labels=("token_name", "apple_identifier"),
    read_only=True,
    api_version="beta",
    properties=(
        String("token_name", "tokenName", settable=False),
        String("apple_identifier", "appleIdentifier", settable=False),
        Instant("token_expiration_date_time", "tokenExpirationDateTime", settable=False),
        Instant("last_successful_sync_date_time", "lastSuccessfulSyncDateTime", settable=False),
        Integer("last_sync_error_code", "lastSyncErrorCode", settable=False),
    ),
)
