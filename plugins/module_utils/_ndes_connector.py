# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Intune certificate connector (ndesConnector, Graph beta only): read-only."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Enum, Instant, String
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

RESOURCE = Resource(
    name="ndes_connector",
    collection="deviceManagement/ndesConnectors",
    noun="certificate connector",
    short_noun="connector",
    result_key="connector",
    find_by=("id",),
    labels=("display_name", "machine_name"),
    read_only=True,
    api_version="beta",
    properties=(
        String("display_name", "displayName", settable=False),
        String("machine_name", "machineName", settable=False),
        Enum("state", "state", ("none", "active", "inactive"), settable=False),
        Instant("last_connection_date_time", "lastConnectionDateTime", settable=False),
        String("connector_version", "connectorVersion", settable=False),
    ),
)
