"""The period of an earnings query: days in the platform's zone, instants, and the limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.errors import ValidationFailed
from dispatch.period import MAX_DAYS, Period, parse_bound, period_of

# 2026-11-26 08:30 in Seoul is 2026-11-25 23:30 UTC: the platform's day has begun, UTC's not.
NOW = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
SEOUL_MIDNIGHT_26 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def test_no_bounds_is_today_in_seoul_not_in_utc() -> None:
    assert period_of(None, None, now=NOW) == Period(
        SEOUL_MIDNIGHT_26, SEOUL_MIDNIGHT_26 + timedelta(days=1)
    )


def test_dates_are_whole_days_with_to_included() -> None:
    period = period_of(date(2026, 11, 1), date(2026, 11, 30), now=NOW)
    assert period.start == datetime(2026, 10, 31, 15, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 30, 15, tzinfo=UTC)
    one_day = period_of(date(2026, 11, 3), date(2026, 11, 3), now=NOW)
    assert one_day.end - one_day.start == timedelta(days=1)


def test_date_times_are_instants_from_included_to_excluded() -> None:
    start = parse_bound("2026-11-26T09:00:00+09:00")
    end = parse_bound("2026-11-26T03:00:00Z")
    assert period_of(start, end, now=NOW) == Period(
        datetime(2026, 11, 26, 0, tzinfo=UTC), datetime(2026, 11, 26, 3, tzinfo=UTC)
    )


def test_one_bound_alone_reaches_to_today_or_back_to_its_day() -> None:
    since = period_of(date(2026, 11, 20), None, now=NOW)
    assert since.end == SEOUL_MIDNIGHT_26 + timedelta(days=1)
    until = period_of(None, parse_bound("2026-11-26T03:00:00Z"), now=NOW)
    assert until.start == SEOUL_MIDNIGHT_26  # 12:00 in Seoul: from that day's midnight
    # A day in the future is a period with nothing in it yet, not an error.
    ahead = period_of(date(2026, 12, 24), None, now=NOW)
    assert ahead.end - ahead.start == timedelta(days=1)


def test_a_whole_leap_year_fits_and_a_day_more_does_not() -> None:
    period_of(date(2028, 1, 1), date(2028, 12, 31), now=NOW)
    with pytest.raises(ValidationFailed) as refused:
        period_of(date(2028, 1, 1), date(2029, 1, 1), now=NOW)
    assert refused.value.errors == [
        {"field": "to", "message": f"The period can be at most {MAX_DAYS} days long."}
    ]


def test_from_after_to_is_refused_naming_from() -> None:
    with pytest.raises(ValidationFailed) as refused:
        period_of(date(2026, 11, 5), date(2026, 11, 4), now=NOW)
    assert refused.value.errors is not None and refused.value.errors[0]["field"] == "from"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-13-01", "must be a date like 2026-11-26"),
        ("yesterday", "must be a date like 2026-11-26 or a date and time"),
        ("2026-11-26T09:00:00", "needs its time zone"),
        ("0001-01-01", "must be in the years 1970 to 9998"),
        ("9999-12-31", "must be in the years 1970 to 9998"),
        ("9999-12-31T23:59:59+14:00", "must be in the years"),
        ("2" * 5000, "must be a date"),
    ],
)
def test_bounds_that_are_not_dates_are_refused_in_words(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_bound(text)


def test_the_extreme_years_still_convert_without_overflow() -> None:
    first, last = parse_bound("1970-01-01"), parse_bound("9998-12-31")
    with pytest.raises(ValidationFailed):
        period_of(first, last, now=NOW)
    assert period_of(last, last, now=NOW).end.year == 9998
    assert period_of(first, first, now=NOW).start.year == 1969
