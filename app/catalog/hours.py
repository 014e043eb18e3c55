"""Opening hours: is a store open at a given instant, when does it next open, when does it close.

Pure functions of a `Schedule` (the store's IANA time zone, its weekly hours and its closed
dates) and the instant asked about; nothing here reads a clock or a database.

A weekly entry `{day, opens, closes}` is one opening that starts on `day` (0 = Monday) at
`opens`, local time. `closes` is on the same day when it is later than `opens` ("24:00" is the
end of that day), else on the next day: `17:00`–`02:00` is open until 2 a.m. the next morning.
An opening belongs to the day it starts on, so a closed date closes the openings that start on
that date; one that started the evening before still runs past midnight into it.

No weekly entries means no schedule: open around the clock except on the closed dates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_TIMEZONE = "Asia/Seoul"
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How far ahead an opening is looked for: every closed date is at most a year ahead, so a
# store with any weekly hours opens again within this.
SEARCH_DAYS = 380
# Openings that follow each other without a gap count as one, up to this many.
MAX_CHAIN = 16
OPENS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
CLOSES = re.compile(r"^(([01][0-9]|2[0-3]):([0-5][0-9])|24:00)$")


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """Every IANA zone name this machine knows (from the `tzdata` package)."""
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The zone called `name`; a name that is not a known IANA zone raises ValueError."""
    if name not in known_timezones():
        raise ValueError(f"{name!r} is not an IANA time zone name such as Asia/Seoul")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:  # pragma: no cover - listed above
        raise ValueError(f"{name!r} is not an IANA time zone name") from error


def minutes_of(text: str, *, closing: bool = False) -> int:
    """`"HH:MM"` as minutes after midnight; `"24:00"` only as a closing time."""
    match = (CLOSES if closing else OPENS).match(text)
    if match is None:
        raise ValueError(
            "must be a 24-hour time HH:MM such as 09:30"
            + (" (or 24:00 for midnight at the end of the day)" if closing else "")
        )
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def hhmm(minutes: int) -> str:
    """Minutes after midnight as `"HH:MM"` (1440 is `"24:00"`)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, order=True)
class Weekly:
    """One weekly opening: starts on `day` at `opens`, ends `closes` (next day when ≤ opens)."""

    day: int
    opens: int
    closes: int

    @property
    def length(self) -> int:
        """Minutes open."""
        return (
            self.closes - self.opens
            if self.closes > self.opens
            else self.closes + (MINUTES_PER_DAY - self.opens)
        )

    @property
    def start(self) -> int:
        """Minutes into the week (Monday 00:00) it starts."""
        return self.day * MINUTES_PER_DAY + self.opens

    def as_json(self) -> dict[str, object]:
        """The API's `{day, opens, closes}`."""
        return {"day": self.day, "opens": hhmm(self.opens), "closes": hhmm(self.closes)}


def overlapping(weekly: Iterable[Weekly]) -> list[tuple[Weekly, Weekly]]:
    """The pairs of openings that share some minute of the week (touching ends are fine)."""
    entries = sorted(weekly)
    found = []
    for i, first in enumerate(entries):
        for second in entries[i + 1 :]:
            for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
                start = second.start + shift
                if first.start < start + second.length and start < first.start + first.length:
                    found.append((first, second))
                    break
    return found


@dataclass(frozen=True)
class Schedule:
    """A store's hours: its zone, weekly openings and closed dates (local dates)."""

    timezone: str = DEFAULT_TIMEZONE
    weekly: tuple[Weekly, ...] = ()
    closed_dates: frozenset[date] = frozenset()

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def openings_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The openings that start on local date `day`, as UTC (start, end), by start."""
        if day in self.closed_dates:
            return []
        tz = self.tz
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        weekly = self.weekly or (Weekly(day.weekday(), 0, MINUTES_PER_DAY),)
        found = []
        for entry in weekly:
            if entry.day != day.weekday():
                continue
            # Wall-clock arithmetic on the local midnight, then the zone's offset at that
            # wall time: "17:00" is 17:00 on the local clock, whatever DST does that day.
            start = (midnight + timedelta(minutes=entry.opens)).astimezone(UTC)
            end_wall = midnight + timedelta(minutes=entry.opens + entry.length)
            found.append((start, end_wall.astimezone(UTC)))
        return sorted(found)

    def openings_from(self, day: date, days: int) -> Iterator[tuple[datetime, datetime]]:
        """The openings starting on `days` local dates from `day`, in order."""
        for offset in range(days):
            yield from self.openings_on(day + timedelta(days=offset))

    def local_date(self, at: datetime) -> date:
        """The store's local date at instant `at`."""
        return at.astimezone(self.tz).date()

    def opening_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The opening under way at `at` (the one ending last), or None outside the hours."""
        today = self.local_date(at)
        under_way = [
            (start, end)
            for start, end in self.openings_from(today - timedelta(days=1), 2)
            if start <= at < end
        ]
        return max(under_way, key=lambda opening: opening[1]) if under_way else None

    def within_hours(self, at: datetime) -> bool:
        """Whether `at` falls in an opening (the open switch and pauses aside)."""
        return self.opening_at(at) is not None

    def closes_after(self, at: datetime) -> datetime | None:
        """When the opening under way at `at` ends (openings that follow without a gap count
        as one); None outside the hours or when no end is in sight."""
        current = self.opening_at(at)
        if current is None:
            return None
        end = current[1]
        for _ in range(MAX_CHAIN):
            following = [
                closes
                for opens, closes in self.openings_from(self.local_date(end) - timedelta(days=1), 2)
                if opens <= end < closes
            ]
            if not following:
                return end
            end = max(following)
        return None

    def opens_after(self, at: datetime) -> datetime | None:
        """The first instant at or after `at` within the hours; None when none is ahead."""
        if self.within_hours(at):
            return at
        first = self.local_date(at) - timedelta(days=1)
        for start, _ in self.openings_from(first, SEARCH_DAYS):
            if start > at:
                return start
        return None


@lru_cache(maxsize=4096)
def schedule_of(timezone: str, weekly_json: str, closed_json: str) -> Schedule:
    """A store's schedule from its stored columns (cached: the same text, the same schedule)."""
    weekly = tuple(
        sorted(
            Weekly(
                int(entry["day"]),
                minutes_of(entry["opens"]),
                minutes_of(entry["closes"], closing=True),
            )
            for entry in json.loads(weekly_json or "[]")
        )
    )
    closed = frozenset(date.fromisoformat(text) for text in json.loads(closed_json or "[]"))
    return Schedule(timezone or DEFAULT_TIMEZONE, weekly, closed)


@dataclass(frozen=True)
class StoreState:
    """Whether a store takes orders at one instant, and when that next changes by itself."""

    open_now: bool
    # The owner's open switch.
    switch_on: bool
    # When it takes orders again (closed and it will open by itself), else None.
    next_open: datetime | None
    # When it stops taking orders (open and its hours end), else None.
    closes_at: datetime | None
    # The pause still running, else None.
    paused_until: datetime | None

    @property
    def changes_at(self) -> datetime | None:
        """The next instant any of these fields changes without a write; None if none is known."""
        moments = [
            moment
            for moment in (self.next_open, self.closes_at, self.paused_until)
            if moment is not None
        ]
        return min(moments) if moments else None


def store_state(
    schedule: Schedule, *, switch_on: bool, paused_until: datetime | None, at: datetime
) -> StoreState:
    """The state at `at`: open when the switch is on, within the hours and not paused."""
    pause = paused_until if paused_until is not None and paused_until > at else None
    if not switch_on:
        # It opens only when its owner switches it on: no time to give.
        return StoreState(False, False, None, None, pause)
    if pause is None and schedule.within_hours(at):
        return StoreState(True, True, None, schedule.closes_after(at), None)
    next_open = schedule.opens_after(pause or at)
    return StoreState(False, True, next_open, None, pause)


def when_in_words(moment: datetime, schedule: Schedule, at: datetime) -> str:
    """`today at 17:00`, `tomorrow at 11:00`, `on Friday 4 December at 11:00` (local time;
    the zone named when it is not the default)."""
    tz = schedule.tz
    local = moment.astimezone(tz)
    days = (local.date() - at.astimezone(tz).date()).days
    clock = local.strftime("%H:%M")
    if days == 0:
        text = f"today at {clock}"
    elif days == 1:
        text = f"tomorrow at {clock}"
    else:
        day = DAY_NAMES[local.weekday()]
        year = f" {local.year}" if local.year != at.astimezone(tz).year else ""
        text = f"on {day} {local.day} {local.strftime('%B')}{year} at {clock}"
    if schedule.timezone != DEFAULT_TIMEZONE:
        text += f" ({schedule.timezone} time)"
    return text


def closed_detail(name: str, state: StoreState, schedule: Schedule, at: datetime) -> str:
    """Why `name` takes no orders now and when it will, in people's words."""
    if not state.switch_on:
        return f"{name} is closed right now and has not said when it opens again."
    if state.next_open is None:
        return f"{name} is closed right now and has no opening hours ahead."
    when = when_in_words(state.next_open, schedule, at)
    if state.paused_until is not None:
        return f"{name} has paused new orders; it takes orders again {when}."
    return f"{name} is closed right now; it opens {when}."


# Closed dates: a date up to this long ago is accepted and dropped (a form sent around
# midnight, a list kept from last week); older ones, and those too far ahead, are refused.
PAST_GRACE_DAYS = 31
AHEAD_DAYS = 366


def _span(entry: Weekly) -> str:
    return f"{DAY_NAMES[entry.day]} {hhmm(entry.opens)}–{hhmm(entry.closes)}"


def schedule_problems(
    weekly: list[tuple[int, str, str]], closed: list[str], timezone: str, at: datetime
) -> tuple[list[dict[str, str]], list[str]]:
    """What is wrong with a schedule (`{field, message}` each), and the closed dates to keep
    (sorted, recent past ones dropped). Times and dates must already be well formed."""
    problems: list[dict[str, str]] = []
    entries = [
        Weekly(day, minutes_of(opens), minutes_of(closes, closing=True))
        for day, opens, closes in weekly
    ]
    index: dict[Weekly, int] = {}
    for i, entry in enumerate(entries):
        if entry in index:
            problems.append({"field": f"weekly[{i}]", "message": f"{_span(entry)} is listed twice"})
        else:
            index[entry] = i
    for first, second in overlapping(index):
        later = max(index[first], index[second])
        problems.append(
            {
                "field": f"weekly[{later}]",
                "message": f"{_span(second if later == index[second] else first)} overlaps "
                f"{_span(first if later == index[second] else second)}",
            }
        )
    today = at.astimezone(zone(timezone)).date()
    kept: set[date] = set()
    seen: set[date] = set()
    for i, text in enumerate(closed):
        day = date.fromisoformat(text)
        field = f"closed_dates[{i}]"
        if day in seen:
            problems.append({"field": field, "message": f"{text} is listed twice"})
        elif day < today - timedelta(days=PAST_GRACE_DAYS):
            problems.append({"field": field, "message": f"{text} is more than a month in the past"})
        elif day > today + timedelta(days=AHEAD_DAYS):
            problems.append({"field": field, "message": f"{text} is more than a year ahead"})
        elif day >= today:
            kept.add(day)
        seen.add(day)
        # Dates of the past month are dropped: they can no longer close anything.
    return problems, [day.isoformat() for day in sorted(kept)]
