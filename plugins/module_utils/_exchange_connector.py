# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the on-premises Exchange connector (deviceManagementExchangeConnector, Graph v1.0): read-only."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Enum, Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

RESOURCE = Resource(
    name="exchange_connector",
    collection="deviceManagement/exchangeConnectors",
    noun="Exchange connector",
    short_noun="connector",
    result_key="connector",
    find_by=("id",),
    labels=("server_name",),
    read_only=True,
    properties=(
        String("server_name", "serverName", settable=False),
        Enum(
            "status",
            "status",
            ("none", "connectionPending", "connected", "disconnected", "unknownFutureValue"),
            settable=False,
        ),
        Instant("last_sync_date_time", "lastSyncDateTime", settable=False),
        String("version", "version", settable=False),
    ),
)
