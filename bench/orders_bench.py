"""Orders placed per second end to end (HTTP → MariaDB commit), through one and two nodes.

Starts the production topology with the launcher (`bench/common.py`), opens a store, then
fires orders with a fixed concurrency and prints throughput and p50/p99 latency. In the same run, a bare script performs the same inserts straight into MariaDB
(one transaction per order: idempotency key, order, lines, timeline, payment, gateway ledger
row, two stream heads and two outbox rows) as the ceiling, and the ratio is printed.

    .venv/bin/python bench/orders_bench.py [--orders 1000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

import httpx
from common import latency_line, start_cluster

PASSWORD = "bench-password-123"
CARD = "4111111111111111"


class Client:
    """A signed-in customer on one node."""

    def __init__(self, http: httpx.AsyncClient, csrf: str) -> None:
        self.http, self.csrf = http, csrf

    async def post(self, path: str, body: dict[str, object], **headers: str) -> httpx.Response:
        return await self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf, **headers})


async def sign_in(url: str, email: str, role: str) -> Client:
    http = httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=200))
    signup = await http.post(
        "/api/auth/signup", json={"email": email, "password": PASSWORD, "name": email, "role": role}
    )
    assert signup.status_code in (201, 409), signup.text
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Client(http, login.json()["csrf_token"])


async def open_store(owner: Client) -> dict[str, object]:
    store = (
        await owner.post(
            "/api/stores",
            {
                "name": "Bench Kitchen",
                "category": "korean",
                "address": "Seoul",
                "lat": 37.5665,
                "lng": 126.978,
                "phone": "02-000-0000",
                "min_order": 0,
                "delivery_fee": 3000,
            },
        )
    ).json()
    item = (
        await owner.post(
            f"/api/stores/{store['id']}/menu",
            {"name": "Bibimbap", "price": 9000, "group": "Rice", "description": "", "options": []},
        )
    ).json()
    await owner.http.patch(
        f"/api/stores/{store['id']}", json={"open": True}, headers={"X-CSRF-Token": owner.csrf}
    )
    return {"store_id": store["id"], "item_id": item["id"]}


async def fire(
    clients: list[Client], menu: dict[str, object], orders: int, concurrency: int
) -> tuple[float, list[float]]:
    keys = itertools.count()
    latencies: list[float] = []
    body = {
        "store_id": menu["store_id"],
        "items": [{"menu_item_id": menu["item_id"], "quantity": 2, "option_ids": []}],
        "address": {"text": "Seoul City Hall", "lat": 37.5665, "lng": 126.978},
        "payment": {"method": "card", "card_number": CARD},
    }
    remaining = iter(range(orders))

    async def worker(index: int) -> None:
        client = clients[index % len(clients)]
        for _ in remaining:
            started = time.perf_counter()
            response = await client.post(
                "/api/orders", body, **{"Idempotency-Key": f"k{next(keys)}"}
            )
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 201, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return orders / (time.perf_counter() - started), latencies


async def bare_inserts(
    url: str, orders: int, concurrency: int, store_id: int, customer_id: int
) -> float:
    """The same rows, inserted by a script with no HTTP, no validation, no framework."""
    from urllib.parse import urlsplit

    import aiomysql

    parts = urlsplit(url)
    pool = await aiomysql.create_pool(
        host=parts.hostname,
        port=parts.port,
        user="root",
        password="",
        db=parts.path.strip("/"),
        minsize=concurrency,
        maxsize=concurrency,
        autocommit=False,
    )
    counter = itertools.count()
    remaining = iter(range(orders))
    now = "2026-11-24 12:00:00"

    async def worker() -> None:
        async with pool.acquire() as conn, conn.cursor() as cur:
            for _ in remaining:
                n = next(counter)
                ref = f"bare_{n}"
                await cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                await cur.execute(
                    "INSERT INTO idempotency_keys (user_id, `key`, request_hash, state, payment_reference, expires_at, created_at, updated_at) VALUES (%s,%s,%s,'in_progress',%s,%s,%s,%s)",
                    (customer_id, f"bare-{n}", "h" * 64, ref, now, now, now),
                )
                await cur.execute(
                    "INSERT INTO sandbox_charges (reference, provider_reference, amount, card_last4, status, created_at) VALUES (%s,%s,21000,'1111','captured',%s)",
                    (ref, "p" + ref, now),
                )
                await cur.execute(
                    "INSERT INTO orders (customer_id, store_id, status, dispatch, version, subtotal, delivery_fee, coupon_discount, points_used, total, paid_amount, address_text, address_lat, address_lng, stream_seq, created_at, updated_at) VALUES (%s,%s,'placed','none',1,18000,3000,0,0,21000,21000,'Seoul',37.5,126.9,1,%s,%s)",
                    (customer_id, store_id, now, now),
                )
                order_id = cur.lastrowid
                await cur.execute(
                    "INSERT INTO order_items (order_id, menu_item_id, name, price, quantity, options_json, line_total, created_at, updated_at) VALUES (%s,1,'Bibimbap',9000,2,'[]',18000,%s,%s)",
                    (order_id, now, now),
                )
                await cur.execute(
                    "INSERT INTO order_timeline (order_id, status, at, created_at, updated_at) VALUES (%s,'placed',%s,%s,%s)",
                    (order_id, now, now, now),
                )
                await cur.execute(
                    "INSERT INTO payments (order_id, method, amount, status, reference, created_at, updated_at) VALUES (%s,'card',21000,'captured',%s,%s,%s)",
                    (order_id, ref, now, now),
                )
                for stream in (f"order:{order_id}", f"store:{store_id}"):
                    await cur.execute(
                        "INSERT INTO stream_heads (stream, last_seq, created_at, updated_at) VALUES (%s,1,%s,%s) ON DUPLICATE KEY UPDATE last_seq = last_seq + 1",
                        (stream, now, now),
                    )
                    await cur.execute(
                        "SELECT last_seq FROM stream_heads WHERE stream = %s", (stream,)
                    )
                    (seq,) = await cur.fetchone()
                    await cur.execute(
                        "INSERT INTO outbox_events (stream, seq, type, at, payload, published, created_at, updated_at) VALUES (%s,%s,'order.placed',%s,'{}',1,%s,%s)",
                        (stream, seq, now, now, now),
                    )
                await cur.execute(
                    "UPDATE idempotency_keys SET state='done' WHERE user_id=%s AND `key`=%s",
                    (customer_id, f"bare-{n}"),
                )
                await conn.commit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = orders / (time.perf_counter() - started)
    pool.close()
    await pool.wait_closed()
    return rate


async def main(orders: int, concurrency: int) -> None:
    cluster = await start_cluster("orders-bench")
    try:
        node1, node2 = (node.url for node in cluster.node_list[:2])
        print(f"{orders} orders per run, concurrency {concurrency}", flush=True)
        owner = await sign_in(node1, "owner@bench.example.com", "owner")
        menu = await open_store(owner)
        one = [await sign_in(node1, f"c{i}@bench.example.com", "customer") for i in range(20)]
        two = [
            await sign_in((node1, node2)[i % 2], f"c{i}@bench.example.com", "customer")
            for i in range(20)
        ]
        await fire(one, menu, min(100, orders), concurrency)  # warm-up
        rate1, lat1 = await fire(one, menu, orders, concurrency)
        print(latency_line("through 1 node", rate1, "orders/s", lat1), flush=True)
        rate2, lat2 = await fire(two, menu, orders, concurrency)
        print(latency_line("through 2 nodes", rate2, "orders/s", lat2), flush=True)
        customer_id = 2  # the first customer signed up after the owner
        bare = await bare_inserts(
            cluster.database_url,
            orders,
            concurrency,
            int(menu["store_id"]),
            customer_id,  # type: ignore[call-overload]
        )
        print(f"{'bare inserts into MariaDB':<28} {bare:8.1f} orders/s", flush=True)
        print(
            f"ratio: 1 node {rate1 / bare:.2f} of bare, 2 nodes {rate2 / bare:.2f} of bare "
            "(every process shares this machine's cores)"
        )
        for client in [owner, *one, *two]:
            await client.http.aclose()
    finally:
        await asyncio.to_thread(cluster.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.concurrency))
