"""Dispatch benchmark: 100 riders racing to accept, half through each of two real nodes.

    .venv/bin/python bench/dispatch_bench.py [--riders 100] [--races 20] [--orders 50]

Starts MariaDB, two redis-servers, two Hypercorn nodes and nginx with the cluster launcher
(`bench/common.py`, the code the tests use), signs up the riders and puts them on shift next to one store. Then:

1. Accept races: an order is placed and accepted by the store; once every rider holds the
   offer, all riders press accept at the same moment (half on each node). Resolution latency
   is from the simultaneous presses to the last answer. Exactly one 200 per race is checked,
   and the store then cancels the order so the winner is idle for the next race.
2. Throughput: `--orders` orders are offered to every rider at once; every rider walks the
   offers in its own random order pressing accept until it wins one, skipping orders it has
   seen taken (what `offer.withdrawn` tells a real client). Assignments per second = orders /
   time from the first press to the last assignment. No order may end
   with two riders and no rider with two orders.

For scale, it also times the same crowd sending a trivial signed-in request all at once.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import httpx
import pymysql
from common import start_cluster

from app.launcher.cluster import DATABASE
from app.launcher.nodes import Node

PASSWORD = "bench-password-123"
STORE = (37.5660, 126.9770)


class Client:
    """A signed-in user on one node."""

    def __init__(self, http: httpx.AsyncClient, csrf: str, user: dict[str, Any]) -> None:
        self.http, self.csrf, self.user = http, csrf, user

    async def send(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> httpx.Response:
        return await self.http.request(
            method, path, json=body, headers={"X-CSRF-Token": self.csrf, **headers}
        )


async def sign_in(url: str, email: str, role: str) -> Client:
    http = httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=200))
    body = {"email": email, "password": PASSWORD, "name": email, "role": role}
    signup = await http.post("/api/auth/signup", json=body)
    assert signup.status_code in (201, 409), signup.text
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Client(http, login.json()["csrf_token"], login.json()["user"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Bench:
    def __init__(self, db: dict[str, Any], nodes: list[Node]) -> None:
        self.db = db
        self.nodes = nodes
        self.keys = 0

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        conn = pymysql.connect(**self.db)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            conn.close()

    async def setup(self, riders: int) -> None:
        self.owner = await sign_in(self.nodes[0].url, "owner@bench.example.com", "owner")
        self.customer = await sign_in(self.nodes[1].url, "customer@bench.example.com", "customer")
        store = (
            await self.owner.send(
                "POST",
                "/api/stores",
                {
                    "name": "Bench Kitchen",
                    "category": "korean",
                    "address": "Seoul",
                    "lat": STORE[0],
                    "lng": STORE[1],
                    "phone": "02-000-0000",
                    "min_order": 0,
                    "delivery_fee": 3000,
                },
            )
        ).json()
        item = (
            await self.owner.send(
                "POST",
                f"/api/stores/{store['id']}/menu",
                {
                    "name": "Bibimbap",
                    "price": 9000,
                    "group": "Rice",
                    "description": "",
                    "options": [],
                },
            )
        ).json()
        await self.owner.send("PATCH", f"/api/stores/{store['id']}", {"open": True})
        self.store_id, self.item_id = store["id"], item["id"]
        self.riders = await asyncio.gather(
            *(
                sign_in(self.nodes[i % 2].url, f"rider{i}@bench.example.com", "rider")
                for i in range(riders)
            )
        )
        for i, rider in enumerate(self.riders):
            shift = {"online": True, "lat": STORE[0] + 0.0005 * (i % 40), "lng": STORE[1]}
            assert (await rider.send("PUT", "/api/riders/me/shift", shift)).status_code == 200

    async def searching_order(self) -> int:
        self.keys += 1
        placed = await self.customer.send(
            "POST",
            "/api/orders",
            {
                "store_id": self.store_id,
                "items": [{"menu_item_id": self.item_id, "quantity": 1, "option_ids": []}],
                "address": {"text": "Seoul City Hall", "lat": 37.5665, "lng": 126.978},
                "payment": {"method": "card", "card_number": "4111111111111111"},
            },
            **{"Idempotency-Key": f"bench-{self.keys}"},
        )
        assert placed.status_code == 201, placed.text
        order_id = int(placed.json()["id"])
        accepted = await self.owner.send(
            "POST", f"/api/orders/{order_id}/accept", {"prep_minutes": 10}
        )
        assert accepted.status_code == 200, accepted.text
        return order_id

    async def wait_offered(self, order_id: int, count: int) -> None:
        deadline = time.monotonic() + 300
        while True:
            [(n,)] = self.query(
                "SELECT COUNT(*) FROM offers WHERE order_id = %s AND status = 'offered'", order_id
            )
            if n >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"order {order_id}: {n} of {count} offers after 300 s")
            await asyncio.sleep(0.02)

    async def races(self, count: int) -> list[float]:
        latencies = []
        for _ in range(count):
            order_id = await self.searching_order()
            await self.wait_offered(order_id, len(self.riders))
            path = f"/api/dispatch/offers/{order_id}/accept"
            started = time.perf_counter()
            answers = await asyncio.gather(*(r.send("POST", path) for r in self.riders))
            latencies.append(time.perf_counter() - started)
            codes = sorted(a.status_code for a in answers)
            assert codes.count(200) == 1 and set(codes) == {200, 409}, codes
            assert {a.json()["code"] for a in answers if a.status_code == 409} == {
                "already-assigned"
            }
            cancel = await self.owner.send(
                "POST", f"/api/orders/{order_id}/cancel", {"reason": "bench"}
            )
            assert cancel.status_code == 200, cancel.text
        return latencies

    async def baseline(self, count: int) -> list[float]:
        """The same crowd sending a trivial signed-in request (GET /api/me) all at once."""
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            answers = await asyncio.gather(*(r.send("GET", "/api/me") for r in self.riders))
            latencies.append(time.perf_counter() - started)
            assert all(a.status_code == 200 for a in answers)
        return latencies

    async def throughput(self, orders: int) -> float:
        ids = [await self.searching_order() for _ in range(orders)]
        for order_id in ids:
            await self.wait_offered(order_id, len(self.riders))

        # What a rider learns from `offer.withdrawn` events: which orders are already taken.
        taken: set[int] = set()
        last_assignment = 0.0

        async def rider_walk(rider: Client) -> None:
            nonlocal last_assignment
            for order_id in random.sample(ids, len(ids)):
                if order_id in taken:
                    continue
                answer = await rider.send("POST", f"/api/dispatch/offers/{order_id}/accept")
                taken.add(order_id)
                if answer.status_code == 200:
                    last_assignment = time.perf_counter()
                    return
                code = answer.json()["code"]
                assert code in ("already-assigned", "rider-busy"), answer.text
                if code == "rider-busy":
                    return

        started = time.perf_counter()
        await asyncio.gather(*(rider_walk(r) for r in self.riders))
        elapsed = last_assignment - started
        marks = ",".join(["%s"] * len(ids))
        rows = self.query(f"SELECT id, rider_id FROM orders WHERE id IN ({marks})", *ids)
        riders = [rider for _, rider in rows]
        assert all(r is not None for r in riders), "an order was left without a rider"
        assert len(set(riders)) == len(riders), "a rider got two orders"
        [(busy,)] = self.query(
            f"SELECT COUNT(*) FROM rider_states WHERE active_order_id IN ({marks})", *ids
        )
        assert busy == len(ids)
        return orders / elapsed


async def main(riders: int, races: int, orders: int) -> None:
    cluster = await start_cluster("dispatch-bench")
    assert cluster.mariadb is not None
    nodes = cluster.node_list
    try:
        db = {
            "host": "127.0.0.1",
            "port": cluster.mariadb.port,
            "user": "root",
            "password": "",
            "database": DATABASE,
        }
        bench = Bench(db, nodes)
        await bench.setup(riders)
        print(f"nodes {', '.join(n.url for n in nodes)}; {riders} riders, half on each", flush=True)
        await bench.races(2)  # warm-up
        latencies = await bench.races(races)
        ms = [s * 1000 for s in latencies]
        print(
            f"accept race ({riders} riders at once, {races} races): resolution p50 "
            f"{statistics.median(ms):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms, "
            f"max {max(ms):.0f} ms; exactly one 200 and {riders - 1} x 409 already-assigned each",
            flush=True,
        )
        floor = [s * 1000 for s in await bench.baseline(races)]
        print(
            f"for comparison, {riders} x GET /api/me at once: p50 {statistics.median(floor):.0f} ms, "
            f"p99 {percentile(floor, 0.99):.0f} ms",
            flush=True,
        )
        rate = await bench.throughput(min(orders, riders))
        print(
            f"throughput ({min(orders, riders)} orders offered to {riders} riders, all pressing): "
            f"{rate:.1f} assignments/s; no order with two riders, no rider with two orders",
            flush=True,
        )
        for client in [bench.owner, bench.customer, *bench.riders]:
            await client.http.aclose()
    finally:
        await asyncio.to_thread(cluster.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--riders", type=int, default=100)
    parser.add_argument("--races", type=int, default=20)
    parser.add_argument("--orders", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.riders, args.races, args.orders))
