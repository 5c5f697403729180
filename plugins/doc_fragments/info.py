# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the option that every msgraph.intune _info module shares: portable exports.

Two literal texts (ansible-test reads fragments as string literals): GROUP_TARGETS adds the alias group_names, the
option's name before every kind had it.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  portable:
    description:
      - Make RV(desired_state) apply to another tenant, as it is.
      - Objects found by display name then carry no C(id), since their ids differ between tenants; one without a
        display name keeps its id, with a warning. Mobile threat defense connectors keep their ids, which are the
        partners' connector ids and the same in every tenant.
      - Group targets carry C(group_display_name) in place of C(group_id) (one lookup per distinct group, which needs
        C(Group.Read.All)); a group that no longer exists keeps its id, with a warning.
    type: bool
    default: false
"""

    GROUP_TARGETS = r"""
options:
  portable:
    description:
      - Make RV(desired_state) apply to another tenant, as it is.
      - Objects found by display name then carry no C(id), since their ids differ between tenants; one without a
        display name keeps its id, with a warning.
      - Group targets carry C(group_display_name) in place of C(group_id) (one lookup per distinct group, which needs
        C(Group.Read.All)); a group that no longer exists keeps its id, with a warning.
      - C(group_names) is the option's name in earlier releases.
    type: bool
    default: false
    aliases: [group_names]
"""
