"""The accept race: 100 riders pressing accept on one offer at once, half through each node.

Riders go on shift next to one store. For each race an order is placed and accepted by the
store; once every rider holds the offer, all press accept at the same moment. Resolution
latency is from the simultaneous presses to the last answer; exactly one 200 and only 409
`already-assigned` are checked, and the store then cancels the order so the winner is free for
the next race. For scale, the same crowd also sends a trivial signed-in request
(`GET /api/me`) all at once, and the ratio of the two p50s is the figure. Last, a batch of
orders is offered to every rider at once and assignments per second are measured.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from typing import Any

from app.bench.common import (
    SEOUL,
    Client,
    close_all,
    connect_db,
    latency_figures,
    open_store,
    order_body,
    say,
    sign_in,
    start_cluster,
    stop_cluster,
)
from app.launcher.cluster import Cluster


def _count_offers(cluster: Cluster, order_id: int) -> int:
    conn = connect_db(cluster)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM offers WHERE order_id = %s AND status = 'offered'",
                (order_id,),
            )
            row = cursor.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


async def wait_offered(cluster: Cluster, order_id: int, count: int, within: float = 300) -> None:
    """Until `count` riders hold an open offer of `order_id`."""
    deadline = time.monotonic() + within
    while (found := await asyncio.to_thread(_count_offers, cluster, order_id)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"order {order_id}: {found} of {count} offers after {within} s")
        await asyncio.sleep(0.02)


class Race:
    """A store, a customer and a crowd of riders on shift beside the store."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.urls = [node.url for node in cluster.node_list]
        self.keys = 0

    async def setup(self, riders: int) -> None:
        """Accounts, the store, and every rider on shift near it."""
        self.owner = await sign_in(self.urls[0], "owner@bench.example.com", "owner")
        self.customer = await sign_in(self.urls[-1], "customer@bench.example.com", "customer")
        self.menu = await open_store(self.owner, lat=SEOUL[0] - 0.0005, lng=SEOUL[1] - 0.001)
        self.riders: list[Client] = list(
            await asyncio.gather(
                *(
                    sign_in(self.urls[i % len(self.urls)], f"rider{i}@bench.example.com", "rider")
                    for i in range(riders)
                )
            )
        )
        for i, rider in enumerate(self.riders):
            shift = {"online": True, "lat": SEOUL[0] + 0.0005 * (i % 40), "lng": SEOUL[1]}
            assert (await rider.send("PUT", "/api/riders/me/shift", shift)).status_code == 200

    async def searching_order(self) -> int:
        """An order placed and accepted by the store: dispatch offers it to the riders."""
        self.keys += 1
        placed = await self.customer.post(
            "/api/orders", order_body(*self.menu), **{"Idempotency-Key": f"race-{self.keys}"}
        )
        assert placed.status_code == 201, placed.text
        order_id = int(placed.json()["id"])
        accepted = await self.owner.post(f"/api/orders/{order_id}/accept", {"prep_minutes": 10})
        assert accepted.status_code == 200, accepted.text
        return order_id

    async def races(self, count: int) -> list[float]:
        """`count` races; the resolution latency of each (ms)."""
        latencies = []
        for _ in range(count):
            order_id = await self.searching_order()
            await wait_offered(self.cluster, order_id, len(self.riders))
            path = f"/api/dispatch/offers/{order_id}/accept"
            started = time.perf_counter()
            answers = await asyncio.gather(*(r.post(path) for r in self.riders))
            latencies.append((time.perf_counter() - started) * 1000)
            codes = sorted(a.status_code for a in answers)
            assert codes.count(200) == 1 and set(codes) <= {200, 409}, codes
            assert {a.json()["code"] for a in answers if a.status_code == 409} <= {
                "already-assigned"
            }
            cancel = await self.owner.post(f"/api/orders/{order_id}/cancel", {"reason": "bench"})
            assert cancel.status_code == 200, cancel.text
        return latencies

    async def baseline(self, count: int) -> list[float]:
        """The same crowd sending `GET /api/me` all at once, `count` times (ms)."""
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            answers = await asyncio.gather(*(r.send("GET", "/api/me") for r in self.riders))
            latencies.append((time.perf_counter() - started) * 1000)
            assert all(a.status_code == 200 for a in answers)
        return latencies

    async def throughput(self, orders: int) -> float:
        """`orders` offered to every rider at once, every rider pressing; assignments/s.

        Each rider walks the offers in its own random order until it wins one, skipping orders
        it has seen taken (what `offer.withdrawn` tells a real client). No order may end with
        two riders and no rider with two orders.
        """
        ids = [await self.searching_order() for _ in range(orders)]
        for order_id in ids:
            await wait_offered(self.cluster, order_id, len(self.riders))
        taken: set[int] = set()
        last_assignment = 0.0

        async def walk(rider: Client, seed: int) -> None:
            nonlocal last_assignment
            for order_id in random.Random(seed).sample(ids, len(ids)):
                if order_id in taken:
                    continue
                answer = await rider.post(f"/api/dispatch/offers/{order_id}/accept")
                taken.add(order_id)
                if answer.status_code == 200:
                    last_assignment = time.perf_counter()
                    return
                code = answer.json()["code"]
                assert code in ("already-assigned", "rider-busy"), answer.text
                if code == "rider-busy":
                    return

        started = time.perf_counter()
        await asyncio.gather(*(walk(rider, n) for n, rider in enumerate(self.riders)))
        elapsed = last_assignment - started
        conn = connect_db(self.cluster)
        try:
            with conn.cursor() as cursor:
                marks = ",".join(["%s"] * len(ids))
                cursor.execute(f"SELECT rider_id FROM orders WHERE id IN ({marks})", ids)
                riders = [row[0] for row in cursor.fetchall()]
        finally:
            conn.close()
        assert all(r is not None for r in riders), "an order was left without a rider"
        assert len(set(riders)) == len(riders), "a rider got two orders"
        return orders / elapsed

    async def close(self) -> None:
        """Close every client."""
        await close_all([self.owner, self.customer, *self.riders])


async def run(*, riders: int, races: int, orders: int) -> dict[str, Any]:
    """The accept race's resolution p50/p99, beside the same crowd's `GET /api/me`."""
    cluster = await start_cluster("bench-dispatch", DISPATCH_OFFER_TTL="3600")
    try:
        race = Race(cluster)
        await race.setup(riders)
        say(f"  {riders} riders, half on each node; {races} races after 2 for warm-up")
        await race.races(2)
        latencies = await race.races(races)
        floor = await race.baseline(races)
        assignments = await race.throughput(min(orders, riders))
        await race.close()
    finally:
        await stop_cluster(cluster)
    race_figures = latency_figures(latencies)
    floor_figures = latency_figures(floor)
    say(
        f"  accept race: p50 {race_figures['p50_ms']:.0f} ms  p99 {race_figures['p99_ms']:.0f} ms"
        f"   ({riders} x GET /api/me at once: p50 {floor_figures['p50_ms']:.0f} ms,"
        f" p99 {floor_figures['p99_ms']:.0f} ms)"
    )
    say(
        f"  {min(orders, riders)} orders offered to {riders} riders: {assignments:.1f} assignments/s"
    )
    return {
        "riders": riders,
        "races": races,
        "race": race_figures,
        "me_at_once": floor_figures,
        "assignments_per_s": round(assignments, 1),
        "race_to_me_p50_ratio": round(statistics.median(latencies) / statistics.median(floor), 2),
    }
