"""Orders placed per second end to end (HTTP → MariaDB commit), through one and two nodes.

A bare script then performs the same inserts straight into MariaDB (one transaction per order:
idempotency key, order, lines, timeline, payment, gateway ledger row, two stream heads and two
outbox rows) as the ceiling, and the ratio of each to it is the figure. The same rows once more
through SQLAlchemy, as the nodes send them (Core statements built once, a session per order),
give what SQLAlchemy's execution costs a process per order over the bare driver: the most that
leaving SQLAlchemy for the driver on the order's path could save.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiomysql
from sqlalchemy import Insert, bindparam, insert, update

from app.bench.common import (
    Client,
    close_all,
    latency_figures,
    open_store,
    order_body,
    say,
    sign_in,
    start_cluster,
    stop_cluster,
)
from app.db import Database, table_of, utcnow
from app.orders.models import IdempotencyRecord, Order, OrderItem, OrderTimeline
from app.outbox import OutboxEvent, next_seqs
from app.payments.models import Payment, SandboxCharge


async def fire(
    clients: list[Client], menu: tuple[int, int], orders: int, concurrency: int, tag: str
) -> tuple[float, list[float]]:
    """Place `orders` orders with `concurrency` in flight; orders/s and latencies (ms)."""
    keys = itertools.count()
    latencies: list[float] = []
    body = order_body(*menu, quantity=2)
    remaining = iter(range(orders))

    async def worker(index: int) -> None:
        client = clients[index % len(clients)]
        for _ in remaining:
            started = time.perf_counter()
            response = await client.post(
                "/api/orders", body, **{"Idempotency-Key": f"{tag}{next(keys)}"}
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return orders / (time.perf_counter() - started), latencies


async def _timed(
    orders: int, concurrency: int, worker: Callable[[], Awaitable[None]]
) -> tuple[float, float]:
    """`concurrency` workers placing `orders` orders between them: orders/s, and this
    process's CPU ms per order (the bare script and its SQLAlchemy twin, measured alike)."""
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = orders / (time.perf_counter() - started)
    return rate, (time.process_time() - cpu) * 1000 / orders


async def bare_inserts(
    url: str, orders: int, concurrency: int, store_id: int, customer_id: int
) -> tuple[float, float]:
    """The same rows, inserted by a script with no HTTP, no validation, no framework: (orders/s,
    this process's CPU ms per order, the floor of a Python process issuing those statements)."""
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

    rate, cpu_ms = await _timed(orders, concurrency, worker)
    pool.close()
    await pool.wait_closed()
    return rate, cpu_ms


_INSERT: dict[type[Any], Insert] = {
    model: insert(table_of(model))
    for model in (IdempotencyRecord, Order, OrderItem, OrderTimeline, Payment, OutboxEvent)
}
# The sandbox gateway's ledger is its own schema (not our `Base`).
_INSERT[SandboxCharge] = insert(SandboxCharge)
_KEY_DONE = update(table_of(IdempotencyRecord)).where(
    table_of(IdempotencyRecord).c.id == bindparam("key_id")
)


async def sqlalchemy_inserts(
    url: str, orders: int, concurrency: int, store_id: int, customer_id: int
) -> tuple[float, float]:
    """The bare script's rows through SQLAlchemy as a node sends them: the Core statements of
    the order's path, built once, in a unit of work per order (orders/s, CPU ms per order)."""
    db = Database(url)
    counter = itertools.count()
    remaining = iter(range(orders))
    now = utcnow()
    stamps = {"created_at": now, "updated_at": now}

    async def order() -> None:
        n = next(counter)
        ref = f"core_{n}"
        async with db.uow() as uow:
            session = uow.session
            key = await session.execute(
                _INSERT[IdempotencyRecord],
                {
                    "user_id": customer_id,
                    "key": f"core-{n}",
                    "request_hash": "h" * 64,
                    "state": "in_progress",
                    "payment_reference": ref,
                    "expires_at": now,
                    **stamps,
                },
            )
            await session.execute(
                _INSERT[SandboxCharge],
                {
                    "reference": ref,
                    "provider_reference": "p" + ref,
                    "amount": 21000,
                    "card_last4": "1111",
                    "status": "captured",
                    "created_at": now,
                },
            )
            inserted = await session.execute(
                _INSERT[Order],
                {
                    "customer_id": customer_id,
                    "store_id": store_id,
                    "status": "placed",
                    "dispatch": "none",
                    "version": 1,
                    "subtotal": 18000,
                    "delivery_fee": 3000,
                    "coupon_discount": 0,
                    "points_used": 0,
                    "total": 21000,
                    "paid_amount": 21000,
                    "address_text": "Seoul",
                    "address_lat": 37.5,
                    "address_lng": 126.9,
                    "stream_seq": 1,
                    **stamps,
                },
            )
            order_id = inserted.lastrowid  # type: ignore[attr-defined]
            for model, row in (
                (
                    OrderItem,
                    {
                        "menu_item_id": 1,
                        "name": "Bibimbap",
                        "price": 9000,
                        "quantity": 2,
                        "options_json": "[]",
                        "line_total": 18000,
                    },
                ),
                (OrderTimeline, {"status": "placed", "at": now}),
                (
                    Payment,
                    {"method": "card", "amount": 21000, "status": "captured", "reference": ref},
                ),
            ):
                await session.execute(_INSERT[model], [{"order_id": order_id, **row, **stamps}])
            # Written as published, as the bare script does: the nodes' relays leave them be.
            seqs = await next_seqs(uow, [f"order:{order_id}", f"store:{store_id}"])
            await session.execute(
                _INSERT[OutboxEvent],
                [
                    {
                        "stream": stream,
                        "seq": seq,
                        "type": "order.placed",
                        "at": now,
                        "payload": "{}",
                        "published": 1,
                        **stamps,
                    }
                    for stream, seq in seqs.items()
                ],
            )
            await session.execute(
                _KEY_DONE,
                {"key_id": key.lastrowid, "state": "done"},  # type: ignore[attr-defined]
            )
            await uow.commit()

    async def worker() -> None:
        for _ in remaining:
            await order()

    rate, cpu_ms = await _timed(orders, concurrency, worker)
    await db.close()
    return rate, cpu_ms


async def run(*, orders: int, concurrency: int) -> dict[str, Any]:
    """Orders/s through one node, through two, and bare inserts of the same rows."""
    cluster = await start_cluster("bench-orders")
    try:
        node1, node2 = (node.url for node in cluster.node_list[:2])
        say(f"  {orders} orders per run, concurrency {concurrency}")
        owner = await sign_in(node1, "owner@bench.example.com", "owner")
        menu = await open_store(owner)
        one = [await sign_in(node1, f"c{i}@bench.example.com", "customer") for i in range(20)]
        two = [
            await sign_in((node1, node2)[i % 2], f"c{i}@bench.example.com", "customer")
            for i in range(20)
        ]
        await fire(one, menu, min(100, orders), concurrency, "warm")
        rate1, lat1 = await fire(one, menu, orders, concurrency, "one")
        say(f"  through 1 node   {rate1:8.1f} orders/s")
        rate2, lat2 = await fire(two, menu, orders, concurrency, "two")
        say(f"  through 2 nodes  {rate2:8.1f} orders/s")
        bare, bare_cpu = await bare_inserts(
            cluster.database_url, orders, concurrency, menu[0], int(one[0].user["id"])
        )
        say(
            f"  bare inserts     {bare:8.1f} orders/s"
            f" (the script's own CPU: {bare_cpu:.2f} ms per order)"
        )
        core, core_cpu = await sqlalchemy_inserts(
            cluster.database_url, orders, concurrency, menu[0], int(one[0].user["id"])
        )
        say(
            f"  through SQLAlchemy {core:6.1f} orders/s"
            f" (the script's own CPU: {core_cpu:.2f} ms per order,"
            f" {core_cpu - bare_cpu:.2f} ms more than bare)"
        )
        await close_all([owner, *one, *two])
    finally:
        await stop_cluster(cluster)
    return {
        "orders": orders,
        "concurrency": concurrency,
        "one_node_per_s": round(rate1, 1),
        "two_nodes_per_s": round(rate2, 1),
        "bare_per_s": round(bare, 1),
        "bare_client_cpu_ms": round(bare_cpu, 3),
        "sqlalchemy_per_s": round(core, 1),
        "sqlalchemy_client_cpu_ms": round(core_cpu, 3),
        "one_node_ratio": round(rate1 / bare, 3),
        "two_nodes_ratio": round(rate2 / bare, 3),
        "one_node_latency": latency_figures(lat1),
        "two_nodes_latency": latency_figures(lat2),
    }
