"""The batch dispatcher's assignment: which idle rider to offer each waiting order, as a pure
function of the orders, the riders and the time.

The cost of a pair is, in seconds, when the food would reach the customer if that rider took
the order now: the ride to the store or the kitchen's remaining time, whichever is longer (a
rider early at the store waits), then the ride to the customer. A tenth of the ride to the
store is added, so that of two riders who would get the food to the door at the same moment
the nearer one goes (fewer empty kilometres, and a nearer rider is the likelier to take it).

An order waiting longer has the seconds it has waited (up to `MAX_WAIT_CREDIT`) taken off each
of its pairs. That changes nothing when every order gets a rider (it is the same amount on every
pair of the order), but with more orders than riders it gives the riders to the orders that
have waited longest rather than to the cheapest ones, so no order starves behind newer ones.

A pair beyond the order's search radius, or with a rider excluded from the order (who let its
offer lapse a moment ago, or handed it back), costs `INFEASIBLE`: far more than every feasible
assignment together, so the solver first makes as many feasible pairs as it can and only then
minimises the total, and any infeasible pair it still had to make is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.optimize import linear_sum_assignment

from app.geo import EARTH_RADIUS_KM, distance_km
from app.orders.eta import RIDER_KMH

INFEASIBLE = 1e9
# The weight of the empty ride to the store next to the customer's waiting time.
RIDE_WEIGHT = 0.1
# Waiting counts for an order's turn for this long, no longer (so costs stay bounded).
MAX_WAIT_CREDIT = 3600.0


@dataclass(frozen=True)
class WaitingOrder:
    """An order searching for a rider, as the optimiser sees it."""

    id: int
    store_lat: float
    store_lng: float
    customer_lat: float
    customer_lng: float
    # When the kitchen expects the food (None: ready now), and since when it waits for a rider.
    ready_by: datetime | None
    waiting_since: datetime
    radius_km: float
    excluded: frozenset[int] = frozenset()


@dataclass(frozen=True)
class IdleRider:
    """An online rider carrying nothing and holding no open offer, where it last was."""

    id: int
    lat: float
    lng: float


@dataclass(frozen=True)
class Pair:
    """One order for one rider, with the pair's cost (seconds) and the ride to the store (km)."""

    order_id: int
    rider_id: int
    cost: float
    to_store_km: float


def ride_seconds(km: float) -> float:
    """Seconds a rider takes over `km` of straight line (the estimates' pace)."""
    return max(0.0, km) / RIDER_KMH * 3600.0


def _distances_km(
    lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray
) -> np.ndarray:
    """`app.geo.distance_km` (haversine) over arrays, broadcast."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lng2 - lng1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a))))


def cost_matrix(
    orders: Sequence[WaitingOrder], riders: Sequence[IdleRider], now: datetime
) -> tuple[np.ndarray, np.ndarray]:
    """Costs (orders × riders, seconds; `INFEASIBLE` where not allowed) and the riders'
    distances to each order's store (km)."""
    store_lat = np.array([[o.store_lat] for o in orders], dtype=float)
    store_lng = np.array([[o.store_lng] for o in orders], dtype=float)
    rider_lat = np.array([[r.lat for r in riders]], dtype=float)
    rider_lng = np.array([[r.lng for r in riders]], dtype=float)
    to_store = _distances_km(rider_lat, rider_lng, store_lat, store_lng)
    to_customer = np.array(
        [[distance_km(o.store_lat, o.store_lng, o.customer_lat, o.customer_lng)] for o in orders],
        dtype=float,
    )
    kitchen = np.array(
        [
            [0.0 if o.ready_by is None else max(0.0, (o.ready_by - now).total_seconds())]
            for o in orders
        ]
    )
    waited = np.array(
        [[min(MAX_WAIT_CREDIT, max(0.0, (now - o.waiting_since).total_seconds()))] for o in orders]
    )
    seconds_per_km = 3600.0 / RIDER_KMH
    ride_to_store = to_store * seconds_per_km
    costs = (
        np.maximum(ride_to_store, kitchen)
        + to_customer * seconds_per_km
        + RIDE_WEIGHT * ride_to_store
        - waited
    )
    radius = np.array([[o.radius_km] for o in orders], dtype=float)
    allowed = to_store <= radius
    rider_index = {r.id: j for j, r in enumerate(riders)}
    for i, order in enumerate(orders):
        for rider_id in order.excluded:
            if (j := rider_index.get(rider_id)) is not None:
                allowed[i, j] = False
    return np.where(allowed, costs, INFEASIBLE), to_store


def assign(
    orders: Iterable[WaitingOrder], riders: Iterable[IdleRider], now: datetime
) -> list[Pair]:
    """The pairs of least total cost, each order and each rider at most once, no infeasible
    pair; ordered by order id. Inputs are read in id order, so ties always break the same way."""
    rows: Sequence[WaitingOrder] = sorted(orders, key=lambda o: o.id)
    columns: Sequence[IdleRider] = sorted(riders, key=lambda r: r.id)
    if not rows or not columns:
        return []
    costs, km = cost_matrix(rows, columns, now)
    chosen_rows, chosen_columns = linear_sum_assignment(costs)
    return [
        Pair(
            order_id=rows[i].id,
            rider_id=columns[j].id,
            cost=float(costs[i, j]),
            to_store_km=float(km[i, j]),
        )
        for i, j in zip(chosen_rows, chosen_columns, strict=True)
        if costs[i, j] < INFEASIBLE
    ]
