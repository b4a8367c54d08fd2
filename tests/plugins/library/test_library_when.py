"""WHEN arguments (``--at``, ``--from``, ``--to``): a date alone means the end of that day
in any ISO 8601 form; the basic form ``20260301`` meant the first hour of it."""

from __future__ import annotations

import datetime as dt

import pytest

from soulspot_library.times import BadTime, parse_when

END_OF_MARCH_FIRST = dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("text", ["2026-03-01", "20260301", "2026-W09-7", " 2026-03-01 "])
def test_a_date_alone_is_the_end_of_that_day(text: str) -> None:
    assert parse_when(text) == END_OF_MARCH_FIRST


def test_a_time_covers_its_unit_and_nonsense_is_refused() -> None:
    hour = dt.datetime(2026, 3, 1, 18, 59, 59, 999999, tzinfo=dt.UTC).timestamp()
    assert parse_when("2026-03-01T18") == hour
    for text in ("", "now", "2026-13-01", "yesterday"):
        with pytest.raises(BadTime, match="is not an ISO 8601 date or time"):
            parse_when(text)
