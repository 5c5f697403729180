# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs msgraph.intune.connector_health in the controller's worker process (see plugin_utils/_graph_action.py)."""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.plugin_utils._graph_action import GraphActionBase


class ActionModule(GraphActionBase):
    pass
