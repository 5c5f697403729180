# Copyright: (c) 2026, msgraph.intune contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Object ids, OData string literals and DateTimeOffset instants."""

from __future__ import annotations

import pytest
from ansible_collections.msgraph.intune.plugins.module_utils._graph_errors import GraphOptionError
from ansible_collections.msgraph.intune.plugins.module_utils._graph_values import (
    datetime_ticks,
    format_ticks,
    odata_string,
    validate_id,
)

# .NET's DateTime ticks of the Unix epoch: an oracle that does not come from the code under test.
UNIX_EPOCH_TICKS = 621355968000000000
# 2027-01-01T00:00:00Z = the Unix epoch + 1798761600 s.
NEW_YEAR_2027_TICKS = UNIX_EPOCH_TICKS + 1798761600 * 10**7
# .NET's DateTime.MaxValue.Ticks: 9999-12-31T23:59:59.9999999.
MAX_TICKS = 3155378975999999999


class TestValidateId:
    @pytest.mark.parametrize(
        "value",
        [
            "0d5a3b4e-8c3f-4a7e-9b1d-2f6e8a9c0b1d",
            "0D5A3B4E-8C3F-4A7E-9B1D-2F6E8A9C0B1D",
            "a.b_c-d",
            "partner1",
            "x" * 256,
        ],
    )
    def test_accepts(self, value):
        assert validate_id(value) == value

    @pytest.mark.parametrize(
        "value",
        ["a/b", "..", ".", "a?b", "a#b", "a%2Fb", "a b", "x" * 257, "a\\b", "é", "a\tb"],
    )
    def test_rejects(self, value):
        with pytest.raises(GraphOptionError):
            validate_id(value)

    @pytest.mark.parametrize("value", ["", None, 42])
    def test_rejects_empty_and_non_strings(self, value):
        with pytest.raises(GraphOptionError, match=r"^partner_id must be a non-empty string$"):
            validate_id(value, option="partner_id")

    def test_message_names_the_option_and_value(self):
        with pytest.raises(GraphOptionError) as info:
            validate_id("../x", option="id")
        assert str(info.value).startswith("id '../x' is not a valid Graph object id")

    def test_too_long_message_gives_the_length(self):
        with pytest.raises(GraphOptionError) as info:
            validate_id("x" * 257)
        assert str(info.value) == "id is 257 characters long; at most 256 are allowed"

    def test_rejects_trailing_newline(self):
        with pytest.raises(GraphOptionError):
            validate_id("abc\n")


class TestOdataString:
    @pytest.mark.parametrize(
        "value, literal",
        [
            ("Contoso", "'Contoso'"),
            ("O'Brien", "'O''Brien'"),
            ("''", "''''''"),
            ("", "''"),
            ("a ' or 1 eq 1 or 'b", "'a '' or 1 eq 1 or ''b'"),
        ],
    )
    def test_quotes(self, value, literal):
        assert odata_string(value) == literal


class TestDatetimeTicks:
    def test_unix_epoch_matches_dotnet_ticks(self):
        assert datetime_ticks("1970-01-01T00:00:00Z", "when") == UNIX_EPOCH_TICKS

    def test_first_instant_is_zero(self):
        assert datetime_ticks("0001-01-01T00:00:00Z", "when") == 0

    @pytest.mark.parametrize(
        "value",
        [
            "2027-01-01T00:00:00Z",
            "2027-01-01T00:00:00z",
            "2027-01-01T00:00:00+00:00",
            "2027-01-01T00:00:00-00:00",
            "2027-01-01T00:00:00",
            "2027-01-01 00:00:00",
            "2027-01-01 00:00:00+00:00",
            "2027-01-01T00:00Z",
            "2027-01-01T01:00:00+01:00",
            "2027-01-01T01:00:00+0100",
            "2026-12-31T19:00:00-05:00",
            "2027-01-01T05:30:00+05:30",
            "2027-01-01T14:00:00+14:00",
            "2026-12-31T12:00:00-12:00",
            "2027-01-01T00:00:00.0000000Z",
            "2027-01-01T00:00:00.000000000Z",
            "  2027-01-01T00:00:00Z  ",
        ],
    )
    def test_same_instant_in_every_spelling(self, value):
        assert datetime_ticks(value, "when") == NEW_YEAR_2027_TICKS

    @pytest.mark.parametrize(
        "fraction, extra_ticks",
        [
            ("", 0),
            (".1", 1_000_000),
            (".12", 1_200_000),
            (".123", 1_230_000),
            (".1234", 1_234_000),
            (".12345", 1_234_500),
            (".123456", 1_234_560),
            (".1234567", 1_234_567),
            (".0000001", 1),
            (".12345670", 1_234_567),
        ],
    )
    def test_fraction_digits(self, fraction, extra_ticks):
        assert datetime_ticks(f"2027-01-01T00:00:00{fraction}Z", "when") == NEW_YEAR_2027_TICKS + extra_ticks

    def test_fraction_with_offset_keeps_the_ticks(self):
        assert datetime_ticks("2027-01-01T02:00:00.9999999+02:00", "when") == NEW_YEAR_2027_TICKS + 9_999_999

    @pytest.mark.parametrize("value", ["2027-01-01T00:00:00.12345678Z", "2027-01-01T00:00:00.00000001Z"])
    def test_more_than_seven_nonzero_digits_rejected(self, value):
        with pytest.raises(GraphOptionError) as info:
            datetime_ticks(value, "when_removed")
        assert str(info.value) == f"when_removed: {value!r} has more than 7 fractional digits, which Graph cannot store"

    @pytest.mark.parametrize(
        "value",
        ["tomorrow", "", "2027-01-01", "2027/01/01T00:00:00Z", "2027-01-01T00:00:00 UTC", "20270101T000000Z"],
    )
    def test_garbage_rejected_naming_the_option(self, value):
        with pytest.raises(GraphOptionError) as info:
            datetime_ticks(value, "when_removed")
        assert str(info.value).startswith(f"when_removed: {value!r} is not an ISO 8601 date and time")

    @pytest.mark.parametrize("value", ["2027-13-01T00:00:00Z", "2027-02-30T00:00:00Z", "2027-01-01T24:00:00Z"])
    def test_impossible_dates_rejected(self, value):
        with pytest.raises(GraphOptionError) as info:
            datetime_ticks(value, "when_removed")
        assert str(info.value) == f"when_removed: {value!r} is not a valid date and time"

    @pytest.mark.parametrize("value", ["2027-01-01T00:00:00+15:00", "2027-01-01T00:00:00-01:60"])
    def test_invalid_offset_rejected(self, value):
        with pytest.raises(GraphOptionError, match="has an invalid UTC offset"):
            datetime_ticks(value, "when_removed")

    def test_before_year_one_rejected(self):
        with pytest.raises(GraphOptionError, match="lies before 0001-01-01T00:00:00Z"):
            datetime_ticks("0001-01-01T00:00:00+01:00", "when_removed")

    def test_last_representable_instant(self):
        assert datetime_ticks("9999-12-31T23:59:59.9999999Z", "when") == MAX_TICKS

    def test_after_year_9999_rejected_as_option_error(self):
        with pytest.raises(GraphOptionError):
            format_ticks(datetime_ticks("9999-12-31T23:59:59-01:00", "when_removed"))


class TestFormatTicks:
    def test_year_one_has_four_digits(self):
        assert format_ticks(0) == "0001-01-01T00:00:00.0000000Z"

    def test_seven_fraction_digits(self):
        assert format_ticks(NEW_YEAR_2027_TICKS + 5) == "2027-01-01T00:00:00.0000005Z"

    def test_max_value(self):
        assert format_ticks(MAX_TICKS) == "9999-12-31T23:59:59.9999999Z"

    @pytest.mark.parametrize(
        "value, graph_text",
        [
            ("2027-01-01T01:00:00.5+01:00", "2027-01-01T00:00:00.5000000Z"),
            ("2026-06-30 23:59:59", "2026-06-30T23:59:59.0000000Z"),
            ("2026-03-01T00:30:00.1234567-00:45", "2026-03-01T01:15:00.1234567Z"),
        ],
    )
    def test_round_trip_to_utc(self, value, graph_text):
        assert format_ticks(datetime_ticks(value, "when")) == graph_text
        assert datetime_ticks(graph_text, "when") == datetime_ticks(value, "when")
