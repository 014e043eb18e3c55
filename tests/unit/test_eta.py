"""The arithmetic of an order's `eta` (app/orders/eta.py), at each move that changes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.geo import KM_PER_DEGREE_LAT
from app.orders import eta

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_a_rider_covers_eighteen_kilometres_of_straight_line_an_hour() -> None:
    assert eta.RIDER_KMH == 18.0
    assert eta.ride(18.0) == timedelta(hours=1)
    assert eta.ride(3.0) == 10 * MIN
    assert eta.ride(0.0) == timedelta(0)
    # Nothing rides backwards in time.
    assert eta.ride(-1.0) == timedelta(0)


def test_the_ride_between_two_points_follows_their_distance() -> None:
    # 3 km due north: 10 minutes, to the second.
    north = 37.5660 + 3 / KM_PER_DEGREE_LAT
    took = eta.ride_between(37.5660, 126.9770, north, 126.9770)
    assert abs(took - 10 * MIN) < timedelta(seconds=1)
    assert eta.ride_between(37.5, 127.0, 37.5, 127.0) == timedelta(0)


def test_at_acceptance_the_food_leaves_when_ready_and_rides_to_the_customer() -> None:
    ready = eta.food_ready_at(NOW, 20)
    assert ready == NOW + 20 * MIN
    assert eta.at_acceptance(ready, 6 * MIN) == NOW + 26 * MIN


def test_a_delay_adds_to_the_kitchens_time_and_delays_add_up() -> None:
    ready = NOW + 20 * MIN
    once = eta.delayed(ready, NOW, 10)
    assert once == NOW + 30 * MIN
    assert eta.delayed(once, NOW, 15) == NOW + 45 * MIN


def test_a_kitchen_already_late_is_delayed_from_now() -> None:
    planned = NOW - 5 * MIN
    assert eta.delayed(planned, NOW, 10) == NOW + 10 * MIN


def test_before_a_rider_a_delay_moves_the_eta_by_exactly_its_minutes() -> None:
    ride = 6 * MIN
    ready = NOW + 20 * MIN
    first = eta.at_acceptance(ready, ride)
    later = eta.delayed(ready, NOW, 10)
    assert eta.after_delay(first, later, ride) == first + 10 * MIN


def test_after_a_late_rider_a_short_delay_can_leave_the_eta_where_it_was() -> None:
    ride = 6 * MIN
    ready = NOW + 10 * MIN
    # The rider is 25 minutes from the store: the food waits for them.
    assigned = eta.at_assignment(NOW, ready, 25 * MIN, ride)
    assert assigned == NOW + 31 * MIN
    # The kitchen needs 5 more minutes: still ready before the rider comes.
    assert eta.after_delay(assigned, eta.delayed(ready, NOW, 5), ride) == assigned
    # 30 more: now the kitchen is the later one.
    assert eta.after_delay(assigned, eta.delayed(ready, NOW, 30), ride) == NOW + 46 * MIN


def test_at_assignment_the_food_leaves_with_the_later_of_kitchen_and_rider() -> None:
    ride = 6 * MIN
    ready = NOW + 20 * MIN
    near = eta.at_assignment(NOW, ready, 4 * MIN, ride)
    far = eta.at_assignment(NOW, ready, 35 * MIN, ride)
    assert near == NOW + 26 * MIN  # the rider waits for the food
    assert far == NOW + 41 * MIN  # the food waits for the rider
    # A rider whose position is unknown counts as there on time.
    assert eta.at_assignment(NOW, ready, None, ride) == NOW + 26 * MIN
    # Food ready long ago (the kitchen said so): the rider's way decides.
    assert eta.at_assignment(NOW, NOW - 30 * MIN, 4 * MIN, ride) == NOW + 10 * MIN


def test_at_pickup_only_the_ride_is_left() -> None:
    assert eta.at_pickup(NOW, 7 * MIN) == NOW + 7 * MIN


@pytest.mark.parametrize(
    ("left", "minutes"),
    [
        (timedelta(minutes=23), 23),
        (timedelta(minutes=22, seconds=1), 23),
        (timedelta(seconds=30), 1),
        (timedelta(0), 0),
        (-timedelta(minutes=5), 0),
    ],
)
def test_minutes_until_round_up_and_are_never_negative(left: timedelta, minutes: int) -> None:
    assert eta.minutes_until(NOW + left, NOW) == minutes
