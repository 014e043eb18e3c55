"""A node dies while an order waits on the card gateway: the customer is told to retry, and the
retry places the order and charges the card exactly once. nginx never replays the dead POST."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from app.launcher.cluster import Cluster
from tests.client import assert_problem
from tests.cluster.helpers import in_rotation, query, served
from tests.orders.helpers import new_key, open_shop, order_body
from tests.system import People
from tests.waiting import wait_until

pytestmark = pytest.mark.system

RETRY_WITHIN = 150.0


def taken(cluster: Cluster, keys: list[str]) -> int:
    """How many of `keys` a node has taken and not answered yet."""
    return len(
        query(
            cluster,
            "SELECT id FROM idempotency_keys WHERE `key` IN %s AND state = 'in_progress'",
            keys,
        )
    )


async def test_an_order_whose_node_dies_in_flight_is_unavailable_and_its_retry_charges_once(
    breakable_cluster: Cluster, people: People
) -> None:
    cluster = breakable_cluster
    owner = await people(cluster.url, "owner")
    shop = await open_shop(owner)
    customers = [await people(cluster.url, "customer") for _ in range(2)]
    keys = [new_key() for _ in customers]
    body = order_body(shop)
    last_charge = query(cluster, "SELECT COALESCE(MAX(id), 0) FROM sandbox_charges")[0][0]
    survivor_node = cluster.node_list[0]

    await in_rotation(cluster)
    posted_before = await served(survivor_node, "POST", "/api/orders")
    # Two orders at once: nginx's round robin hands one to each node, and both wait 5 s on the
    # card gateway once their Idempotency-Key is taken.
    posts = [
        asyncio.create_task(
            customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
        )
        for customer, key in zip(customers, keys, strict=True)
    ]
    try:
        await wait_until(
            lambda: taken(cluster, keys) == 2, timeout=30, what="both orders to be in flight"
        )
        cluster.kill_node(1)
        answers = await asyncio.gather(*posts)
    finally:
        for post in posts:
            post.cancel()
    statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [201, 503], (
        f"one order on each node expected (409: nginx replayed it), got {statuses}"
    )
    lost = statuses.index(503)
    kept = 1 - lost

    # The client is told to retry, in the API's shape, at once rather than after a time-out.
    assert_problem(answers[lost], 503, "unavailable")
    assert int(answers[lost].headers["retry-after"]) >= 1
    # nginx did not replay the POST on the live node: it answered the other order only (a replay
    # would also have answered the client 409 idempotency-in-progress, not 503).
    assert await served(survivor_node, "POST", "/api/orders") == posted_before + 1

    # The retry with the same key: "still in progress" while the dead request's key looks
    # alive, then the order, placed once.
    customer, key = customers[lost], keys[lost]
    started = time.monotonic()
    in_progress = 0

    async def retried() -> httpx.Response | None:
        nonlocal in_progress
        retry = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
        if retry.status_code == 201:
            return retry
        assert_problem(retry, 409, "idempotency-in-progress")
        in_progress += 1
        return None

    # A 409 in progress carries no Retry-After: a client waits a second between retries.
    retry = await wait_until(retried, timeout=RETRY_WITHIN, interval=1, what="the retry's order")
    took = time.monotonic() - started
    print(f"the retry succeeded after {took:.1f} s ({in_progress} answers 409 in progress)")
    again = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json()["id"] == retry.json()["id"]

    placed = [retry.json(), answers[kept].json()]
    for who, order in zip((customers[lost], customers[kept]), placed, strict=True):
        assert who.user is not None
        assert query(cluster, "SELECT id FROM orders WHERE customer_id = %s", who.user["id"]) == [
            (order["id"],)
        ]
        assert query(
            cluster, "SELECT reference, status FROM payments WHERE order_id = %s", order["id"]
        ) == [(order["payment"]["reference"], "captured")]
    charges = query(
        cluster, "SELECT reference, status FROM sandbox_charges WHERE id > %s", last_charge
    )
    captured = sorted(str(reference) for reference, status in charges if status == "captured")
    assert captured == sorted(order["payment"]["reference"] for order in placed), charges
