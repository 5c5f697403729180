# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Graph value rules: object ids, OData string literals and DateTimeOffset instants."""

from __future__ import annotations

import datetime
import re

from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError

MAX_ID_LENGTH = 256
_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")

# Graph DateTimeOffset: date, time, optional fraction (any precision), optional offset.
# A space instead of "T" is accepted because YAML timestamps reach modules as str(datetime).
_DATETIME_PATTERN = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\.(?P<fraction>\d+))?\s*(?P<offset>Z|z|[+-]\d{2}:?\d{2})?$"
)
TICKS_PER_SECOND = 10**7
MAX_TICKS = 3155378975999999999  # 9999-12-31T23:59:59.9999999Z, the last instant Graph can hold
_EPOCH = datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)


def validate_id(value, option="id"):
    """Refuse ids that could change the request path (/, .., ?, #, %) or are absurdly long."""
    if not isinstance(value, str) or not value:
        raise GraphOptionError(f"{option} must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise GraphOptionError(f"{option} is {len(value)} characters long; at most {MAX_ID_LENGTH} are allowed")
    if value in (".", "..") or not _ID_PATTERN.fullmatch(value):
        raise GraphOptionError(
            f"{option} {value!r} is not a valid Graph object id: use only letters, digits, '-', '_' and '.'"
        )
    return value


def odata_string(value):
    """An OData string literal: single quotes, with embedded quotes doubled."""
    return "'{}'".format(value.replace("'", "''"))


def datetime_ticks(value, option):
    """The instant of a DateTimeOffset string as 100 ns ticks since 0001-01-01 UTC.

    Ticks keep Graph's 7 fractional digits exactly, which float seconds and datetime cannot.
    A value without an offset is taken as UTC, as Graph does.
    """
    match = _DATETIME_PATTERN.match(str(value).strip())
    if not match:
        raise GraphOptionError(
            f"{option}: {value!r} is not an ISO 8601 date and time (for example 2027-01-01T00:00:00Z)"
        )
    fraction = match.group("fraction") or ""
    if len(fraction) > 7:
        if fraction[7:].strip("0"):
            raise GraphOptionError(f"{option}: {value!r} has more than 7 fractional digits, which Graph cannot store")
        fraction = fraction[:7]
    time_text = match.group("time")
    if time_text.count(":") == 1:
        time_text += ":00"
    try:
        local = datetime.datetime.strptime(match.group("date") + "T" + time_text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise GraphOptionError(f"{option}: {value!r} is not a valid date and time") from None
    offset_minutes = _offset_minutes(match.group("offset"), option, value)
    seconds = int((local.replace(tzinfo=datetime.timezone.utc) - _EPOCH).total_seconds()) - offset_minutes * 60
    if seconds < 0:
        raise GraphOptionError(f"{option}: {value!r} lies before 0001-01-01T00:00:00Z")
    ticks = seconds * TICKS_PER_SECOND + int(fraction.ljust(7, "0"))
    if ticks > MAX_TICKS:
        raise GraphOptionError(f"{option}: {value!r} lies after 9999-12-31T23:59:59.9999999Z")
    return ticks


def _offset_minutes(text, option, value):
    if not text or text in ("Z", "z"):
        return 0
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:
        raise GraphOptionError(f"{option}: {value!r} has an invalid UTC offset")
    total = hours * 60 + minutes
    return -total if text[0] == "-" else total


def format_ticks(ticks):
    """Graph's own rendering of an instant: UTC, 7 fractional digits, Z."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    moment = _EPOCH + datetime.timedelta(seconds=seconds)
    # strftime would print year 1 as "1"; Graph prints "0001".
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{fraction:07d}Z"
