# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declaration of the Windows Autopilot sync settings (windowsAutopilotSettings, Graph beta only): read-only, a
singleton."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_properties import Enum, Instant
from ansible_collections.msgraph.intune.plugins.module_utils._graph_resource import Resource

RESOURCE = Resource(
    name="windows_autopilot_settings",
    collection="deviceManagement/windowsAutopilotSettings",
    noun="Windows Autopilot sync",
    short_noun="sync",
    result_key="settings",
    find_by=(),
    labels=(),
    read_only=True,
    singleton=True,
    api_version="beta",
    properties=(
        Enum("sync_status", "syncStatus", ("unknown", "inProgress", "completed", "failed"), settable=False),
        Instant("last_sync_date_time", "lastSyncDateTime", settable=False),
    ),
)
