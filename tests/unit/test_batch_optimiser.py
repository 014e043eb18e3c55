"""The batch dispatcher's assignment, on matrices small enough to check by hand.

Every point stands on one meridian, `km` north of a base point, so distances are plain
differences; a rider covers 1 km in 200 s (18 km/h), and the cost of a pair is
max(ride to the store, kitchen time left) + ride to the customer + a tenth of the ride to
the store - the seconds the order has waited.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from app.geo import KM_PER_DEGREE_LAT
from dispatch.optimiser import IdleRider, Pair, WaitingOrder, assign

BASE_LAT, LNG = 37.5, 127.0
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def lat(km: float) -> float:
    return BASE_LAT + km / KM_PER_DEGREE_LAT


def order(
    id_: int,
    store_km: float,
    *,
    customer_km: float | None = None,
    kitchen_s: float = 0.0,
    waited_s: float = 0.0,
    radius_km: float = 5.0,
    excluded: frozenset[int] = frozenset(),
) -> WaitingOrder:
    return WaitingOrder(
        id=id_,
        store_lat=lat(store_km),
        store_lng=LNG,
        customer_lat=lat(store_km if customer_km is None else customer_km),
        customer_lng=LNG,
        ready_by=NOW + timedelta(seconds=kitchen_s) if kitchen_s else None,
        waiting_since=NOW - timedelta(seconds=waited_s),
        radius_km=radius_km,
        excluded=excluded,
    )


def rider(id_: int, km: float) -> IdleRider:
    return IdleRider(id=id_, lat=lat(km), lng=LNG)


def chosen(pairs: list[Pair]) -> dict[int, int]:
    return {p.order_id: p.rider_id for p in pairs}


def test_optimum_beats_nearest_first() -> None:
    # Nearest-first gives order 1 rider 11 (1 km) and leaves rider 12 3.5 km from order 2's
    # store: 220 + 770 = 990 s. Rider 12 to order 1 and rider 11 to order 2: 330 + 220 = 550 s.
    pairs = assign([order(1, 0.0), order(2, 2.0)], [rider(11, 1.0), rider(12, -1.5)], NOW)
    assert chosen(pairs) == {1: 12, 2: 11}
    assert [round(p.cost) for p in pairs] == [330, 220]
    assert [round(p.to_store_km, 3) for p in pairs] == [1.5, 1.0]


def test_ride_to_the_customer_counts_in_the_cost() -> None:
    [pair] = assign([order(1, 0.0, customer_km=2.0)], [rider(11, 1.0)], NOW)
    assert round(pair.cost) == 200 + 400 + 20


def test_a_rider_beyond_the_radius_is_never_offered() -> None:
    assert assign([order(1, 0.0, radius_km=3.0)], [rider(11, 3.2)], NOW) == []
    [pair] = assign([order(1, 0.0, radius_km=3.0)], [rider(11, 3.2), rider(12, 2.9)], NOW)
    assert pair.rider_id == 12


def test_an_excluded_rider_is_never_offered_that_order() -> None:
    excluded = frozenset({11})
    assert assign([order(1, 0.0, excluded=excluded)], [rider(11, 0.1)], NOW) == []
    pairs = assign(
        [order(1, 0.0, excluded=excluded), order(2, 4.0)], [rider(11, 0.1), rider(12, 4.5)], NOW
    )
    # Rider 11 may still take the other order, even though it is farther from it.
    assert chosen(pairs) == {1: 12, 2: 11}


def test_infeasible_pairs_give_way_to_more_feasible_pairs() -> None:
    # Rider 11 alone reaches order 2's store; order 1 waited longer but cannot be served.
    pairs = assign(
        [order(1, 0.0, waited_s=600, radius_km=1.0), order(2, 5.0)], [rider(11, 4.0)], NOW
    )
    assert chosen(pairs) == {2: 11}


def test_more_riders_than_orders_takes_the_cheapest_rider() -> None:
    pairs = assign([order(1, 0.0)], [rider(11, 2.0), rider(12, -0.5), rider(13, 1.0)], NOW)
    assert chosen(pairs) == {1: 12}


def test_more_orders_than_riders_serves_those_waiting_longest() -> None:
    orders = [order(1, 0.0, waited_s=30), order(2, 0.0, waited_s=300), order(3, 0.0, waited_s=90)]
    assert chosen(assign(orders, [rider(11, 1.0)], NOW)) == {2: 11}
    assert chosen(assign(orders, [rider(11, 1.0), rider(12, 2.0)], NOW)).keys() == {2, 3}


def test_waiting_credit_does_not_change_who_takes_what_when_all_are_served() -> None:
    riders = [rider(11, 1.0), rider(12, -1.5)]
    fresh = assign([order(1, 0.0), order(2, 2.0)], riders, NOW)
    old = assign([order(1, 0.0, waited_s=900), order(2, 2.0, waited_s=60)], riders, NOW)
    assert chosen(fresh) == chosen(old)


def test_the_kitchen_time_lets_a_farther_rider_take_the_order_not_yet_cooked() -> None:
    # Order 1 is ready; order 2's food needs 600 s more. Rider 11 (0.5 km) to order 1 and
    # rider 12 (2.5 km, 500 s, there as the food is done) to order 2: 110 + 650 = 760 s;
    # the other way round, 550 + 610 = 1160 s.
    pairs = assign(
        [order(1, 0.0), order(2, 0.0, kitchen_s=600)], [rider(11, 0.5), rider(12, 2.5)], NOW
    )
    assert chosen(pairs) == {1: 11, 2: 12}
    assert [round(p.cost) for p in pairs] == [110, 650]


def test_of_two_riders_arriving_before_the_food_the_nearer_goes() -> None:
    [pair] = assign([order(1, 0.0, kitchen_s=900)], [rider(11, 2.0), rider(12, 1.0)], NOW)
    assert pair.rider_id == 12 and round(pair.cost) == 900 + 20


def test_ties_break_the_same_way_whatever_the_input_order() -> None:
    orders = [order(i, 0.0) for i in range(1, 5)]
    riders = [rider(10 + i, 1.0) for i in range(1, 5)]
    first = assign(orders, riders, NOW)
    assert len(first) == 4 and len({p.rider_id for p in first}) == 4
    shuffled = random.Random(7)
    for _ in range(5):
        shuffled.shuffle(orders)
        shuffled.shuffle(riders)
        assert assign(orders, riders, NOW) == first


@pytest.mark.parametrize(("orders", "riders"), [(0, 3), (3, 0), (0, 0)])
def test_nothing_to_assign_gives_no_pairs(orders: int, riders: int) -> None:
    assert (
        assign([order(i, 0.0) for i in range(orders)], [rider(i, 0.0) for i in range(riders)], NOW)
        == []
    )


def test_each_order_and_each_rider_is_paired_at_most_once_in_a_big_city() -> None:
    rng = random.Random(3)
    orders = [order(i, rng.uniform(0, 10), radius_km=3.0) for i in range(60)]
    riders = [rider(1000 + i, rng.uniform(0, 10)) for i in range(40)]
    pairs = assign(orders, riders, NOW)
    assert len({p.order_id for p in pairs}) == len(pairs) == len({p.rider_id for p in pairs})
    assert all(p.to_store_km <= 3.0 for p in pairs)
    # Every rider finds an order within 3 km on a 10 km line full of stores.
    assert len(pairs) == 40
