"""Bundles in the batch dispatcher: one rider carrying two orders, when that lowers the total.

A pure function of the waiting orders, the idle riders and the time, like `dispatch.optimiser`.

Two waiting orders may go together when their stores are the same or within
`BundleRules.store_km` of each other, and their trips point the same way: the angle between
the store-to-customer lines is at most `BundleRules.max_angle_deg` (a customer at the store
itself goes any way). For a rider, a bundle's route is both pickups, then both drop-offs; of
the four orders in which that can be done, the one taken is the one whose two door times add
up least among those where neither customer gets the food more than
`BundleRules.max_extra_seconds` later than if that same rider carried that order alone. No
such route: no bundle for that rider.

A bundle is costed as two singles are: each customer's door time, a tenth of the empty ride to
the first store, minus each order's waiting credit. The assignment is then one small integer
programme (`scipy.optimize.milp`, HiGHS) over every feasible single pair and every candidate
bundle: each rider takes at most one of them, each order is in at most one of them; first as
many orders served as possible, then the least total cost. So a bundle is chosen only where it
serves an order that would otherwise wait for the next batch (fewer riders than orders), or
where its total is lower than any way of serving the two separately (the rider near both
stores beats sending a second rider from afar). With no candidate bundle, the plain
assignment of `dispatch.optimiser.assign` is the answer, exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from app.geo import KM_PER_DEGREE_LAT, distance_km
from dispatch.optimiser import (
    INFEASIBLE,
    MAX_WAIT_CREDIT,
    RIDE_WEIGHT,
    IdleRider,
    Pair,
    WaitingOrder,
    assign,
    cost_matrix,
    ride_seconds,
)

# A trip shorter than this has no direction worth comparing (the customer is at the store).
MIN_TRIP_KM = 0.05


@dataclass(frozen=True)
class BundleRules:
    """When two orders may share a rider."""

    max_extra_seconds: float = 600.0
    store_km: float = 0.5
    max_angle_deg: float = 45.0
    # Each order keeps its best few partners, and each pair of orders its nearest few riders:
    # the programme stays small in a busy city, and the pruned ones are the costlier.
    partners_per_order: int = 4
    riders_per_bundle: int = 5
    # The programme's time; past it, the best plan found so far (or, with none, the plain
    # assignment). A few hundred orders and riders at once take a second or two.
    time_limit_s: float = 2.0


@dataclass(frozen=True)
class Bundle:
    """Two orders for one rider: the route (pickups, then drop-offs, as order ids), its cost
    (seconds), the ride to the first store (km), and per order how much later it reaches its
    customer than it would alone with this rider (seconds, in `order_ids` order)."""

    order_ids: tuple[int, int]
    rider_id: int
    cost: float
    to_store_km: float
    pickups: tuple[int, int]
    dropoffs: tuple[int, int]
    extra_seconds: tuple[float, float]


@dataclass(frozen=True)
class Plan:
    """What a batch offers: single pairs and bundles, each order and rider at most once."""

    pairs: tuple[Pair, ...]
    bundles: tuple[Bundle, ...]


def _local_km(lat: float, lng: float, at_lat: float) -> tuple[float, float]:
    """A point on a flat map around latitude `at_lat` (east, north in km): enough for angles."""
    return lng * KM_PER_DEGREE_LAT * math.cos(math.radians(at_lat)), lat * KM_PER_DEGREE_LAT


def same_way(a: WaitingOrder, b: WaitingOrder, max_angle_deg: float) -> bool:
    """Whether the two trips, store to customer, point the same way (within the angle)."""
    vectors = []
    for o in (a, b):
        sx, sy = _local_km(o.store_lat, o.store_lng, o.store_lat)
        cx, cy = _local_km(o.customer_lat, o.customer_lng, o.store_lat)
        vectors.append((cx - sx, cy - sy))
    (ax, ay), (bx, by) = vectors
    la, lb = math.hypot(ax, ay), math.hypot(bx, by)
    if la < MIN_TRIP_KM or lb < MIN_TRIP_KM:
        return True
    cosine = max(-1.0, min(1.0, (ax * bx + ay * by) / (la * lb)))
    return math.degrees(math.acos(cosine)) <= max_angle_deg + 1e-9


def _partners(orders: Sequence[WaitingOrder], rules: BundleRules) -> list[tuple[int, int]]:
    """Index pairs (i < j) of orders that may go together, the closest few per order."""
    scored: dict[tuple[int, int], float] = {}
    best: dict[int, list[tuple[float, int]]] = {}
    for i, a in enumerate(orders):
        for j in range(i + 1, len(orders)):
            b = orders[j]
            stores = distance_km(a.store_lat, a.store_lng, b.store_lat, b.store_lng)
            if stores > rules.store_km or not same_way(a, b, rules.max_angle_deg):
                continue
            doors = distance_km(a.customer_lat, a.customer_lng, b.customer_lat, b.customer_lng)
            scored[(i, j)] = stores + doors
            best.setdefault(i, []).append((stores + doors, j))
            best.setdefault(j, []).append((stores + doors, i))
    kept: set[tuple[int, int]] = set()
    for i, candidates in best.items():
        for _, j in sorted(candidates)[: rules.partners_per_order]:
            kept.add((min(i, j), max(i, j)))
    return sorted(kept)


def _kitchen(order: WaitingOrder, now: datetime) -> float:
    return 0.0 if order.ready_by is None else max(0.0, (order.ready_by - now).total_seconds())


def _waited(order: WaitingOrder, now: datetime) -> float:
    return min(MAX_WAIT_CREDIT, max(0.0, (now - order.waiting_since).total_seconds()))


def _bundles_of(
    a: WaitingOrder,
    b: WaitingOrder,
    to_store_a: np.ndarray,
    to_store_b: np.ndarray,
    allowed: np.ndarray,
    riders: Sequence[IdleRider],
    now: datetime,
    rules: BundleRules,
) -> list[Bundle]:
    """The best route of the two orders for each allowed rider (the cheapest few riders)."""
    ride_a, ride_b = ride_seconds(1.0) * to_store_a, ride_seconds(1.0) * to_store_b
    kitchen = {a.id: _kitchen(a, now), b.id: _kitchen(b, now)}
    trip = {
        o.id: ride_seconds(distance_km(o.store_lat, o.store_lng, o.customer_lat, o.customer_lng))
        for o in (a, b)
    }
    alone = {
        a.id: np.maximum(ride_a, kitchen[a.id]) + trip[a.id],
        b.id: np.maximum(ride_b, kitchen[b.id]) + trip[b.id],
    }
    to_first = {a.id: ride_a, b.id: ride_b}
    between_stores = ride_seconds(distance_km(a.store_lat, a.store_lng, b.store_lat, b.store_lng))
    between_doors = ride_seconds(
        distance_km(a.customer_lat, a.customer_lng, b.customer_lat, b.customer_lng)
    )
    by_id = {a.id: a, b.id: b}
    best_total = np.full(len(riders), np.inf)
    best_route: list[tuple[tuple[int, int], tuple[int, int]] | None] = [None] * len(riders)
    arrivals: dict[tuple[tuple[int, int], tuple[int, int]], dict[int, np.ndarray]] = {}
    for first, second in ((a.id, b.id), (b.id, a.id)):
        at_first = np.maximum(to_first[first], kitchen[first])
        at_second = np.maximum(at_first + between_stores, kitchen[second])
        last_store = by_id[second]
        for near, far in ((a.id, b.id), (b.id, a.id)):
            drop = by_id[near]
            to_near = ride_seconds(
                distance_km(
                    last_store.store_lat, last_store.store_lng, drop.customer_lat, drop.customer_lng
                )
            )
            door = {near: at_second + to_near}
            door[far] = door[near] + between_doors
            route = ((first, second), (near, far))
            arrivals[route] = door
            ok = allowed & (
                (door[a.id] - alone[a.id] <= rules.max_extra_seconds + 1e-6)
                & (door[b.id] - alone[b.id] <= rules.max_extra_seconds + 1e-6)
            )
            total = door[a.id] + door[b.id]
            better = ok & (total < best_total)
            best_total = np.where(better, total, best_total)
            for k in np.flatnonzero(better):
                best_route[int(k)] = route
    waited = _waited(a, now) + _waited(b, now)
    found: list[Bundle] = []
    for j in [int(x) for x in np.flatnonzero(np.isfinite(best_total))]:
        chosen = best_route[j]
        assert chosen is not None
        pickups, dropoffs = chosen
        first_km = float(to_store_a[j] if pickups[0] == a.id else to_store_b[j])
        door = arrivals[chosen]
        found.append(
            Bundle(
                order_ids=(a.id, b.id),
                rider_id=riders[j].id,
                cost=float(best_total[j]) + RIDE_WEIGHT * ride_seconds(first_km) - waited,
                to_store_km=first_km,
                pickups=pickups,
                dropoffs=dropoffs,
                extra_seconds=(
                    float(door[a.id][j] - alone[a.id][j]),
                    float(door[b.id][j] - alone[b.id][j]),
                ),
            )
        )
    found.sort(key=lambda x: (x.cost, x.rider_id))
    return found[: rules.riders_per_bundle]


def candidate_bundles(
    orders: Sequence[WaitingOrder],
    riders: Sequence[IdleRider],
    now: datetime,
    rules: BundleRules,
    feasible: np.ndarray,
    to_store: np.ndarray,
) -> list[Bundle]:
    """Every bundle worth putting to the solver (orders and riders in id order)."""
    found: list[Bundle] = []
    for i, j in _partners(orders, rules):
        allowed = feasible[i] & feasible[j]
        if not allowed.any():
            continue
        found += _bundles_of(
            orders[i], orders[j], to_store[i], to_store[j], allowed, riders, now, rules
        )
    return found


def plan(
    orders: Iterable[WaitingOrder],
    riders: Iterable[IdleRider],
    now: datetime,
    rules: BundleRules | None,
) -> Plan:
    """Single pairs and bundles serving the most orders, then at least total cost (without
    `rules`, or with no candidate bundle: `assign`'s pairs)."""
    rows: Sequence[WaitingOrder] = sorted(orders, key=lambda o: o.id)
    columns: Sequence[IdleRider] = sorted(riders, key=lambda r: r.id)
    if not rows or not columns:
        return Plan(pairs=(), bundles=())
    costs, km = cost_matrix(rows, columns, now)
    feasible = costs < INFEASIBLE
    bundles = [] if rules is None else candidate_bundles(rows, columns, now, rules, feasible, km)
    if rules is None or not bundles:
        return Plan(pairs=tuple(assign(rows, columns, now)), bundles=())
    solved, optimal = _solve(rows, columns, costs, km, feasible, bundles, rules.time_limit_s)
    if optimal and solved is not None:
        return solved
    # Out of time: the best plan found so far, unless the plain assignment does better.
    plain = Plan(pairs=tuple(assign(rows, columns, now)), bundles=())
    if solved is None or _rank(plain) <= _rank(solved):
        return plain
    return solved


def _rank(plan: Plan) -> tuple[int, float]:
    """Orders served (more first), then the total cost: how two plans compare."""
    served = len(plan.pairs) + 2 * len(plan.bundles)
    return -served, sum(p.cost for p in plan.pairs) + sum(b.cost for b in plan.bundles)


def _solve(
    rows: Sequence[WaitingOrder],
    columns: Sequence[IdleRider],
    costs: np.ndarray,
    km: np.ndarray,
    feasible: np.ndarray,
    bundles: list[Bundle],
    time_limit_s: float,
) -> tuple[Plan | None, bool]:
    """The programme's plan (None if none was found in time), and whether it is optimal."""
    singles = list(zip(*np.nonzero(feasible), strict=True))
    order_index = {o.id: i for i, o in enumerate(rows)}
    rider_index = {r.id: j for j, r in enumerate(columns)}
    raw = [float(costs[i, j]) for i, j in singles] + [b.cost for b in bundles]
    served = [1] * len(singles) + [2] * len(bundles)
    # Serving one more order outweighs any difference in cost between plans: lexicographic,
    # as `assign`'s INFEASIBLE is, but scaled to these costs so the solver keeps its precision.
    spread = max(raw) - min(raw) + 1.0
    weight = spread * (len(rows) + 1)
    objective = np.array([c - weight * n for c, n in zip(raw, served, strict=True)])
    cells_r, cells_c = [], []
    for v, (i, j) in enumerate(singles):
        cells_r += [int(i), len(rows) + int(j)]
        cells_c += [v, v]
    for k, b in enumerate(bundles):
        v = len(singles) + k
        cells_r += [order_index[b.order_ids[0]], order_index[b.order_ids[1]]]
        cells_r += [len(rows) + rider_index[b.rider_id]]
        cells_c += [v, v, v]
    n = len(objective)
    matrix = coo_matrix(
        (np.ones(len(cells_r)), (cells_r, cells_c)), shape=(len(rows) + len(columns), n)
    )
    result = milp(
        objective,
        constraints=LinearConstraint(matrix.tocsr(), -np.inf, 1.0),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0, "time_limit": time_limit_s},
    )
    if result.x is None:
        return None, False
    chosen = result.x > 0.5
    pairs = [
        Pair(
            order_id=rows[i].id,
            rider_id=columns[j].id,
            cost=float(costs[i, j]),
            to_store_km=float(km[i, j]),
        )
        for v, (i, j) in enumerate(singles)
        if chosen[v]
    ]
    picked = [b for k, b in enumerate(bundles) if chosen[len(singles) + k]]
    pairs.sort(key=lambda p: p.order_id)
    picked.sort(key=lambda b: b.order_ids)
    return Plan(pairs=tuple(pairs), bundles=tuple(picked)), result.status == 0
