"""What the simulated clients saw: every answer, every event delivery, every order's fate."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank); NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass
class Answer:
    """One HTTP exchange (or a connection that dropped: status 0)."""

    at: float  # wall seconds since the run started
    op: str
    status: int
    code: str
    latency: float
    retry_after: bool


@dataclass
class Delivery:
    """One event a socket received live (not in a subscribe's replay)."""

    at: float  # wall clock, epoch seconds
    stream: str
    seq: int
    type: str
    committed: float | None  # the event's `at` when it carries sub-second precision


@dataclass
class OrderFate:
    """One order as its customer saw it."""

    id: int
    key: str
    customer_id: int
    store_id: int
    placed_at: float  # epoch seconds when the 201 arrived
    paid_amount: int
    points_used: int
    coupon_id: int | None
    status: str = "placed"
    delivered_at: float | None = None


@dataclass
class FaultMark:
    """A fault injected during the run, with when it began and ended (epoch seconds)."""

    name: str
    started: float
    ended: float | None = None
    detail: str = ""


@dataclass
class Recorder:
    """Shared by every agent; everything the report and the audit read."""

    started: float = field(default_factory=time.time)
    answers: list[Answer] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    orders: dict[int, OrderFate] = field(default_factory=dict)
    keys_answered: Counter[str] = field(default_factory=Counter)  # Idempotency-Key → 201s
    key_orders: dict[str, set[int]] = field(default_factory=dict)
    faults: list[FaultMark] = field(default_factory=list)
    # Per rider: seconds online and seconds carrying an order, sampled per wall-clock bucket.
    rider_online: Counter[int] = field(default_factory=Counter)
    rider_busy: Counter[int] = field(default_factory=Counter)
    offers_seen: int = 0
    # The fee each offer showed its rider, by (rider id, order id); and offers that named more
    # than the rough drop-off (a street address or a note) before the rider was assigned.
    offered_fees: dict[tuple[int, int], int] = field(default_factory=dict)
    revealing_offers: list[int] = field(default_factory=list)
    assignments_won: int = 0
    # For comparing dispatch strategies: when each order was accepted by its store and last
    # assigned to a rider (epoch seconds), and the kilometres riders rode in all.
    accepted_at: dict[int, float] = field(default_factory=dict)
    assigned_at: dict[int, float] = field(default_factory=dict)
    rider_km: float = 0.0
    placements: list[tuple[float, float]] = field(default_factory=list)  # (at, latency s)
    notes: list[str] = field(default_factory=list)
    # Calls retried after a 503 or a dropped connection: (op, path, final status, final code).
    retried: list[tuple[str, str, int, str]] = field(default_factory=list)
    # Retried calls refused for what their own first attempt did (found by the caller).
    refused_retries: list[str] = field(default_factory=list)
    # Fallback commit times (epoch) for order events: when the REST call that made them returned.
    rest_commits: dict[tuple[str, int], float] = field(default_factory=dict)

    def now(self) -> float:
        """Wall seconds since the run started."""
        return time.time() - self.started

    def answer(self, op: str, status: int, code: str, latency: float, retry_after: bool) -> None:
        """Record one HTTP answer."""
        self.answers.append(Answer(self.now(), op, status, code, latency, retry_after))
        if op == "place" and status == 201:
            self.placements.append((self.now(), latency))

    def placed(self, fate: OrderFate) -> None:
        """A 201 for an order (the first, or a replay of it under the same key)."""
        self.keys_answered[fate.key] += 1
        self.key_orders.setdefault(fate.key, set()).add(fate.id)
        self.orders.setdefault(fate.id, fate)

    def delivered(self, delivery: Delivery) -> None:
        """Record a live event delivery."""
        self.deliveries.append(delivery)

    def commit_latency(self, delivery: Delivery) -> float | None:
        """Seconds from the event's commit to its arrival, when a commit time is known."""
        committed = delivery.committed
        if committed is None:
            committed = self.rest_commits.get((delivery.stream, delivery.seq))
        return None if committed is None else max(0.0, delivery.at - committed)

    def in_fault(self, epoch: float, slack: float = 15.0) -> str | None:
        """The fault under way at `epoch` (or within `slack` s after it ended), if any."""
        for mark in self.faults:
            end = (mark.ended or time.time()) + slack
            if mark.started <= epoch <= end:
                return mark.name
        return None

    def window(self, since: float) -> dict[str, float]:
        """Figures over the answers and deliveries of the last wall seconds (progress line)."""
        now = self.now()
        placed = [lat for at, lat in self.placements if at >= now - since]
        cutoff = time.time() - since
        latencies = [
            lat
            for d in self.deliveries[-5000:]
            if d.at >= cutoff and (lat := self.commit_latency(d)) is not None
        ]
        errors = sum(
            1
            for a in self.answers[-5000:]
            if a.at >= now - since and (a.status >= 500 or a.status == 0)
        )
        return {
            "orders_per_min": len(placed) * 60.0 / since,
            "place_p50": percentile(placed, 0.5) * 1000,
            "place_p99": percentile(placed, 0.99) * 1000,
            "push_p50": percentile(latencies, 0.5) * 1000,
            "push_p99": percentile(latencies, 0.99) * 1000,
            "errors": errors,
        }
