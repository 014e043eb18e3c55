"""The period an earnings query covers: dates are whole days in the platform's time zone,
date-times are instants; `from` is included and `to` is not (a date `to` runs to its end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.errors import ValidationFailed

# The zone a rider's "today" and a date's day are reckoned in: the platform's (stores default
# to it too), so a rider in Seoul sees the day end at midnight there, not at 09:00.
PLATFORM_TIMEZONE = "Asia/Seoul"
MAX_DAYS = 366
# Bounds outside these years name no entry and would overflow the conversions to UTC.
FIRST_YEAR, LAST_YEAR = 1970, 9998
Bound = date | datetime


@dataclass(frozen=True)
class Period:
    """From `start` (included) to `end` (excluded), both aware UTC."""

    start: datetime
    end: datetime


def parse_bound(text: str) -> Bound:
    """An ISO date (`2026-11-26`) or an RFC 3339 date-time with its offset; ValueError else."""
    text = text.strip()
    if len(text) > 40:
        raise ValueError("must be a date like 2026-11-26 or a date and time")
    bound: Bound
    if len(text) == 10:
        try:
            bound = date.fromisoformat(text)
        except ValueError:
            raise ValueError("must be a date like 2026-11-26") from None
    else:
        try:
            bound = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValueError(
                "must be a date like 2026-11-26 or a date and time like 2026-11-26T09:00:00Z"
            ) from None
        if bound.tzinfo is None:
            raise ValueError("needs its time zone, like 2026-11-26T09:00:00Z or …T18:00:00+09:00")
    if not FIRST_YEAR <= bound.year <= LAST_YEAR:
        raise ValueError(f"must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    return bound


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _day_of(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _start(bound: Bound, zone: ZoneInfo) -> datetime:
    if isinstance(bound, datetime):
        return bound.astimezone(UTC)
    return _midnight(bound, zone)


def _end(bound: Bound, zone: ZoneInfo) -> datetime:
    if isinstance(bound, datetime):
        return bound.astimezone(UTC)
    return _midnight(bound + timedelta(days=1), zone)


def period_of(
    from_: Bound | None, to: Bound | None, *, now: datetime, zone: str = PLATFORM_TIMEZONE
) -> Period:
    """The period `from`/`to` name; neither: today. Refuses `from` after `to` and spans over
    366 days, naming the field."""
    tz = ZoneInfo(zone)
    if to is None:
        # Up to the end of today, or of `from`'s day when that is later (a day in the future
        # is allowed: it simply has no entries yet).
        last = _day_of(now, tz)
        if from_ is not None:
            first = from_ if not isinstance(from_, datetime) else _day_of(from_, tz)
            last = max(last, first)
        end = _end(last, tz)
    else:
        end = _end(to, tz)
    if from_ is None:
        # From the start of the day the period ends in.
        start = _midnight(_day_of(end - timedelta(microseconds=1), tz), tz)
    else:
        start = _start(from_, tz)
    # A date `to` is its whole day: `from` must fall before its end.
    whole_day = to is not None and not isinstance(to, datetime)
    if start > end or (whole_day and start == end):
        raise _refuse("from", "From must not be after to.")
    if end - start > timedelta(days=MAX_DAYS):
        raise _refuse("to", f"The period can be at most {MAX_DAYS} days long.")
    return Period(start=start, end=end)
