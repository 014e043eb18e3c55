"""The accept race: 100 riders pressing accept on one offer at once, half through each node.

Riders go on shift next to one store. For each race an order is placed and accepted by the
store; once every rider holds the offer, all press accept at the same moment. Resolution
latency is from the simultaneous presses to the last answer; exactly one 200 and only 409
`already-assigned` are checked, and the store then cancels the order so the winner is free for
the next race. For scale, the same crowd also sends a trivial signed-in request
(`GET /api/me`) all at once, and the ratio of the two p50s is the figure.
"""

from __future__ import annotations

import asyncio
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

    async def close(self) -> None:
        """Close every client."""
        await close_all([self.owner, self.customer, *self.riders])


async def run(*, riders: int, races: int) -> dict[str, Any]:
    """The accept race's resolution p50/p99, beside the same crowd's `GET /api/me`."""
    cluster = await start_cluster("bench-dispatch", DISPATCH_OFFER_TTL="3600")
    try:
        race = Race(cluster)
        await race.setup(riders)
        say(f"  {riders} riders, half on each node; {races} races after 2 for warm-up")
        await race.races(2)
        latencies = await race.races(races)
        floor = await race.baseline(races)
        await race.close()
    finally:
        await asyncio.to_thread(cluster.stop)
    race_figures = latency_figures(latencies)
    floor_figures = latency_figures(floor)
    say(
        f"  accept race: p50 {race_figures['p50_ms']:.0f} ms  p99 {race_figures['p99_ms']:.0f} ms"
        f"   ({riders} x GET /api/me at once: p50 {floor_figures['p50_ms']:.0f} ms)"
    )
    return {
        "riders": riders,
        "races": races,
        "race": race_figures,
        "me_at_once": floor_figures,
        "race_to_me_p50_ratio": round(statistics.median(latencies) / statistics.median(floor), 2),
    }
