# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property kinds of a declared Graph resource: how one property is validated, compared, sent and returned.

Every kind answers the same questions, so the engine never looks at a property's type:
- argument_spec(): the module option (Graph's camelCase name is an alias);
- validate(value): checks a task's value before any request and returns it normalised;
- from_graph(raw): the value as the module returns it, from what Graph returned;
- to_graph(value): the value as a request body carries it;
- predict(value): what Graph will hold after writing `value` (for check mode and 204 answers);
- same(desired, current): whether the task's value and Graph's current value mean the same thing.
"""

from __future__ import annotations

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_values import datetime_ticks, format_ticks

INT32_MAX = 2**31 - 1


class Property:
    """One documented property. `settable` ones are options and are written; the others are only returned.

    `exported` (default: settable) says whether an export (`desired_state`) carries it; `initial` is the value a
    newly created object is known to start with, for a check-mode prediction (None: not known).
    """

    spec_type = "str"

    def __init__(self, option, graph, settable=True, exported=None, initial=None):
        self.option = option
        self.graph = graph
        self.settable = settable
        self.exported = settable if exported is None else exported
        self.initial = initial

    def argument_spec(self):
        spec = {"type": self.spec_type}
        if self.graph != self.option:
            spec["aliases"] = [self.graph]
        return spec

    def validate(self, value):
        return value

    def from_graph(self, raw):
        return raw

    def to_graph(self, value):
        return value

    def predict(self, value):
        return self.to_graph(value)

    def same(self, desired, current):
        return desired == current

    def resolve(self, directory, value):
        """The value with names looked up in the tenant (see _graph_targets.GroupDirectory); most are ready as given."""
        return value

    def with_group_names(self, value, directory, warnings):
        """The exported value for another tenant (names instead of tenant-specific ids); most are portable as given."""
        return value

    def group_names_in(self, value):
        """The group names that `value` (as the task gives it) needs looked up; most need none."""
        return ()

    def group_ids_in(self, value):
        """The group ids that `value` (as Graph holds it) names, for an export that names them; most name none."""
        return ()


class String(Property):
    pass


class Enum(Property):
    def __init__(self, option, graph, choices, **kwargs):
        super().__init__(option, graph, **kwargs)
        self.choices = tuple(choices)

    def argument_spec(self):
        spec = super().argument_spec()
        spec["choices"] = list(self.choices)
        return spec


class Boolean(Property):
    spec_type = "bool"


class Integer(Property):
    """An Edm.Int32 (or narrower) value; out-of-range values fail before any request."""

    spec_type = "int"

    def __init__(self, option, graph, minimum=-(2**31), maximum=INT32_MAX, **kwargs):
        super().__init__(option, graph, **kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def validate(self, value):
        if not self.minimum <= value <= self.maximum:
            raise GraphOptionError(f"{self.option} must be between {self.minimum} and {self.maximum}, got {value}")
        return value


class Instant(Property):
    """A DateTimeOffset: any offset and precision in, compared as instants, written as Graph renders it."""

    def validate(self, value):
        datetime_ticks(value, self.option)
        return value

    def to_graph(self, value):
        return None if value is None else format_ticks(datetime_ticks(value, self.option))

    def same(self, desired, current):
        if desired is None or current is None:
            return desired == current
        try:
            return datetime_ticks(desired, self.option) == datetime_ticks(current, self.option)
        except GraphOptionError:
            return False  # Graph holds something we cannot read: treat it as drift
