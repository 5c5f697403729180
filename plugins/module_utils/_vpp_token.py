# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Apple Volume Purchase Program token (vppToken, Graph v1.0, under deviceAppManagement): read-only.

Its `token` is not declared, so it is never requested.
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Enum, Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

RESOURCE = Resource(
    name="vpp_token",
    collection="deviceAppManagement/vppTokens",
    noun="Apple VPP token",
    short_noun="token",
    result_key="token",
    find_by=("id",),
    labels=("organization_name", "apple_id"),
    read_only=True,
    properties=(
        String("organization_name", "organizationName", settable=False),
        String("apple_id", "appleId", settable=False),
        Enum("vpp_token_account_type", "vppTokenAccountType", ("business", "education"), settable=False),
        Enum("state", "state", ("unknown", "valid", "expired", "invalid", "assignedToExternalMDM"), settable=False),
        Instant("expiration_date_time", "expirationDateTime", settable=False),
        Instant("last_sync_date_time", "lastSyncDateTime", settable=False),
        Enum("last_sync_status", "lastSyncStatus", ("none", "inProgress", "completed", "failed"), settable=False),
    ),
)
