# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Managed Google Play binding (androidManagedStoreAccountEnterpriseSettings, Graph beta only):
read-only, a singleton."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Enum, Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

RESOURCE = Resource(
    name="managed_google_play",
    collection="deviceManagement/androidManagedStoreAccountEnterpriseSettings",
    noun="Managed Google Play binding",
    short_noun="binding",
    result_key="binding",
    find_by=(),
    labels=("owner_organization_name",),
    read_only=True,
    singleton=True,
    api_version="beta",
    properties=(
        Enum("bind_status", "bindStatus", ("notBound", "bound", "boundAndValidated", "unbinding"), settable=False),
        Instant("last_app_sync_date_time", "lastAppSyncDateTime", settable=False),
        Enum(
            "last_app_sync_status",
            "lastAppSyncStatus",
            (
                "success",
                "credentialsNotValid",
                "androidForWorkApiError",
                "managementServiceError",
                "unknownError",
                "none",
            ),
            settable=False,
        ),
        String("owner_organization_name", "ownerOrganizationName", settable=False),
    ),
)
