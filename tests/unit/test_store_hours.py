"""Opening hours as pure functions: open at an instant, next opening, closing, validation."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from app.catalog.hours import (
    Schedule,
    Weekly,
    closed_detail,
    minutes_of,
    schedule_of,
    schedule_problems,
    store_state,
    when_in_words,
)
from app.catalog.schemas import HoursUpdate, PauseRequest
from app.errors import Conflict
from app.orders.pricing import StoreRow, check_open

SEOUL = ZoneInfo("Asia/Seoul")
FRIDAY, SATURDAY = 4, 5


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in the week of Monday 2026-11-23, Seoul time (day 0 = that Monday)."""
    local = datetime(2026, 11, 23, hour, minute, tzinfo=SEOUL) + timedelta(days=day)
    return local.astimezone(UTC)


def schedule(*weekly: tuple[int, str, str], closed: tuple[str, ...] = (), tz: str = "Asia/Seoul"):
    return schedule_of(
        tz,
        json.dumps([{"day": d, "opens": o, "closes": c} for d, o, c in weekly]),
        json.dumps(list(closed)),
    )


EVENINGS = schedule((FRIDAY, "17:00", "02:00"))


def test_an_opening_past_midnight_runs_into_the_next_morning() -> None:
    assert not EVENINGS.within_hours(kst(FRIDAY, 16, 59))
    assert EVENINGS.within_hours(kst(FRIDAY, 17, 0))
    assert EVENINGS.within_hours(kst(FRIDAY, 23, 59))
    assert EVENINGS.within_hours(kst(SATURDAY, 1, 59))
    assert not EVENINGS.within_hours(kst(SATURDAY, 2, 0))
    # Saturday has no opening of its own.
    assert not EVENINGS.within_hours(kst(SATURDAY, 18, 0))


def test_next_opening_and_closing_are_exact_instants() -> None:
    assert EVENINGS.opens_after(kst(FRIDAY, 10, 0)) == kst(FRIDAY, 17, 0)
    assert EVENINGS.closes_after(kst(FRIDAY, 20, 0)) == kst(SATURDAY, 2, 0)
    # After closing, the next is a week later.
    assert EVENINGS.opens_after(kst(SATURDAY, 2, 0)) == kst(FRIDAY + 7, 17, 0)
    assert EVENINGS.closes_after(kst(SATURDAY, 3, 0)) is None


def test_a_closed_date_closes_the_openings_that_start_on_it() -> None:
    hours = schedule((3, "17:00", "02:00"), (FRIDAY, "17:00", "02:00"), closed=("2026-11-27",))
    # Thursday's opening still runs past midnight into the closed Friday...
    assert hours.within_hours(kst(FRIDAY, 1, 0))
    # ...but Friday's own does not happen: next is Thursday of the week after.
    assert not hours.within_hours(kst(FRIDAY, 18, 0))
    assert hours.opens_after(kst(FRIDAY, 18, 0)) == kst(3 + 7, 17, 0)


def test_openings_without_a_gap_close_once_at_the_end_of_the_last() -> None:
    hours = schedule((0, "22:00", "24:00"), (1, "00:00", "03:00"))
    assert hours.closes_after(kst(0, 23, 0)) == kst(1, 3, 0)


def test_no_weekly_hours_is_open_around_the_clock_except_on_closed_dates() -> None:
    hours = schedule(closed=("2026-11-25",))
    assert hours.within_hours(kst(1, 3, 0))
    assert not hours.within_hours(kst(2, 12, 0))
    assert hours.opens_after(kst(2, 12, 0)) == kst(3, 0, 0)
    assert hours.closes_after(kst(1, 12, 0)) == kst(2, 0, 0)


def test_local_times_follow_the_zone_through_a_daylight_saving_change() -> None:
    # New York moves its clocks back on Sunday 2026-11-01: 09:00 is still 09:00 local.
    hours = schedule((6, "09:00", "17:00"), tz="America/New_York")
    ny = ZoneInfo("America/New_York")
    before = datetime(2026, 11, 1, 5, 0, tzinfo=ny).astimezone(UTC)
    assert hours.opens_after(before) == datetime(2026, 11, 1, 9, 0, tzinfo=ny).astimezone(UTC)
    assert hours.opens_after(before) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_open_now_needs_the_switch_the_hours_and_no_pause() -> None:
    at = kst(FRIDAY, 18, 0)
    assert store_state(EVENINGS, switch_on=True, paused_until=None, at=at).open_now
    off = store_state(EVENINGS, switch_on=False, paused_until=None, at=at)
    assert (off.open_now, off.next_open) == (False, None)
    paused = store_state(EVENINGS, switch_on=True, paused_until=at + timedelta(minutes=30), at=at)
    assert (paused.open_now, paused.next_open) == (False, at + timedelta(minutes=30))
    assert paused.changes_at == at + timedelta(minutes=30)
    # A pause that ran out counts no more, even before anyone cleared it.
    ended = store_state(EVENINGS, switch_on=True, paused_until=at - timedelta(seconds=1), at=at)
    assert ended.open_now and ended.paused_until is None
    assert ended.changes_at == kst(SATURDAY, 2, 0)


def test_a_pause_that_ends_after_closing_time_opens_with_the_next_opening() -> None:
    at = kst(SATURDAY, 1, 30)
    state = store_state(EVENINGS, switch_on=True, paused_until=at + timedelta(hours=1), at=at)
    assert state.next_open == kst(FRIDAY + 7, 17, 0)


def test_closed_detail_says_when_in_peoples_words() -> None:
    at = kst(FRIDAY, 10, 0)
    state = store_state(EVENINGS, switch_on=True, paused_until=None, at=at)
    assert closed_detail("Kimbap", state, EVENINGS, at) == (
        "Kimbap is closed right now; it opens today at 17:00."
    )
    later = kst(SATURDAY, 3, 0)
    assert when_in_words(kst(FRIDAY + 7, 17, 0), EVENINGS, later) == "on Friday 4 December at 17:00"
    assert when_in_words(kst(SATURDAY, 17, 0), EVENINGS, at) == "tomorrow at 17:00"
    paused = store_state(
        EVENINGS, switch_on=True, paused_until=kst(FRIDAY, 18, 25), at=kst(FRIDAY, 18)
    )
    assert closed_detail("Kimbap", paused, EVENINGS, kst(FRIDAY, 18)) == (
        "Kimbap has paused new orders; it takes orders again today at 18:25."
    )
    off = store_state(EVENINGS, switch_on=False, paused_until=None, at=at)
    assert "has not said when" in closed_detail("Kimbap", off, EVENINGS, at)
    ny = schedule((FRIDAY, "09:00", "17:00"), tz="America/New_York")
    assert when_in_words(ny.opens_after(at) or at, ny, at).endswith("(America/New_York time)")


def test_ordering_is_refused_with_when_it_opens() -> None:
    row = StoreRow(
        id=1,
        name="Kimbap",
        open=True,
        delivery_fee=0,
        min_order=0,
        weekly_hours=json.dumps([{"day": FRIDAY, "opens": "17:00", "closes": "02:00"}]),
    )
    check_open(row, kst(SATURDAY, 1, 0))
    with pytest.raises(Conflict) as closed:
        check_open(row, kst(SATURDAY, 2, 0))
    assert closed.value.code == "store-closed"
    assert closed.value.extra == {"next_open": "2026-12-04T08:00:00Z"}
    assert "opens on Friday 4 December at 17:00" in str(closed.value.detail)


@pytest.mark.parametrize("text", ["7:00", "24:00", "12:60", "ab:cd", "", "12:00:00"])
def test_opening_times_are_24_hour_hh_mm(text: str) -> None:
    with pytest.raises(ValueError):
        minutes_of(text)


def test_a_closing_time_may_be_the_end_of_the_day() -> None:
    assert minutes_of("24:00", closing=True) == 1440


def problems_of(weekly: list[tuple[int, str, str]], closed: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    found, _ = schedule_problems(weekly, list(closed), "Asia/Seoul", kst(2, 12))
    return [f"{p['field']}: {p['message']}" for p in found]


def test_duplicates_and_overlaps_are_named_with_their_field() -> None:
    assert problems_of([(0, "11:00", "14:00"), (0, "11:00", "14:00")]) == [
        "weekly[1]: Monday 11:00–14:00 is listed twice"
    ]
    assert problems_of([(0, "11:00", "15:00"), (0, "14:00", "22:00")]) == [
        "weekly[1]: Monday 14:00–22:00 overlaps Monday 11:00–15:00"
    ]
    # Sunday night runs into Monday morning, across the end of the week.
    assert problems_of([(0, "01:00", "05:00"), (6, "22:00", "03:00")]) == [
        "weekly[1]: Sunday 22:00–03:00 overlaps Monday 01:00–05:00"
    ]
    # Touching is fine: lunch then dinner, or one night after another.
    assert problems_of([(0, "11:00", "14:00"), (0, "14:00", "02:00"), (1, "02:00", "09:00")]) == []


def test_closed_dates_are_checked_against_the_stores_today() -> None:
    found = problems_of([], ["2026-11-25", "2026-11-25", "2025-01-01", "2028-01-01"])
    assert found == [
        "closed_dates[1]: 2026-11-25 is listed twice",
        "closed_dates[2]: 2025-01-01 is more than a month in the past",
        "closed_dates[3]: 2028-01-01 is more than a year ahead",
    ]
    _, kept = schedule_problems(
        [], ["2026-12-01", "2026-11-20", "2026-11-25"], "Asia/Seoul", kst(2, 12)
    )
    assert kept == ["2026-11-25", "2026-12-01"]  # last week's date is dropped


@pytest.mark.parametrize(
    "body",
    [
        {"weekly": [{"day": 7, "opens": "09:00", "closes": "17:00"}]},
        {"weekly": [{"day": -1, "opens": "09:00", "closes": "17:00"}]},
        {"weekly": [{"day": True, "opens": "09:00", "closes": "17:00"}]},
        {"weekly": [{"day": 0, "opens": "09:00", "closes": "09:00"}]},
        {"weekly": [{"day": 0, "opens": "9am", "closes": "17:00"}]},
        {"weekly": [{"day": 0, "opens": "09:00", "closes": "17:00"}] * 29},
        {"weekly": [], "closed_dates": ["2026-02-30"]},
        {"weekly": [], "closed_dates": ["26-1-1"]},
        {"weekly": [], "closed_dates": ["2026-12-01"] * 101},
        {"weekly": [], "timezone": "Mars/Olympus"},
        {"weekly": [], "timezone": "/etc/passwd"},
        {"weekly": [], "timezone": "../../usr/share/zoneinfo/UTC"},
        {"closed_dates": []},
    ],
)
def test_malformed_hours_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        HoursUpdate.model_validate(body)


@pytest.mark.parametrize("minutes", [4, 241, 0, -5, 10**12, 30.0, "30", True])
def test_a_pause_is_5_to_240_whole_minutes(minutes: object) -> None:
    with pytest.raises(ValidationError):
        PauseRequest.model_validate({"minutes": minutes})


def test_weekly_entries_sort_and_measure() -> None:
    assert Weekly(4, 17 * 60, 2 * 60).length == 9 * 60
    assert Weekly(0, 0, 1440).length == 1440
    assert Schedule().openings_on(date(2026, 11, 23))  # no schedule: open all day
