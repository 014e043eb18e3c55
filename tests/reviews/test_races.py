"""Races on reviews, made to happen across two app instances: the store's count and mean stay
those of its reviews table, an order is reviewed once and a review answered once."""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP, Decimal

from tests.client import Api
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import place
from tests.reviews.helpers import Diner, deliver, diner, review_path

CUSTOMERS = 24


async def _two_nodes(apps: AppPool) -> tuple[Diner, Api, Api]:
    """A diner on node A, and one client on each node that sees nothing but public reads."""
    node_a, node_b = await apps.start(), await apps.start()
    d = await diner(*[await apps.client(node_a) for _ in range(3)])
    return d, await apps.client(node_a), await apps.client(node_b)


def _mean(ratings: list[int]) -> float:
    exact = Decimal(sum(ratings)) / Decimal(len(ratings))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


async def test_many_customers_reviewing_one_store_at_once_on_two_nodes_keep_its_totals(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    d = await diner(*[await apps.client(node_a) for _ in range(3)])
    customers: list[Api] = []
    orders = []
    for i in range(CUSTOMERS):
        # Each customer signs in on one node and reviews from the other.
        here = await apps.client(node_a if i % 2 else node_b)
        there = await apps.client(node_b if i % 2 else node_a)
        await here.sign_in_as("customer", name=f"Customer {i}")
        here.share_session_with(there)
        customers.append(there)
        orders.append(await deliver(await place(here, d.shop), d.owner, d.rider))
    ratings = [1 + (i * 7) % 5 for i in range(CUSTOMERS)]
    readers = [await apps.client(node_a), await apps.client(node_b)]
    for reader in readers:  # cached on both nodes before the burst
        assert (await reader.get(f"/api/stores/{d.shop.id}")).json()["review_count"] == 0

    responses = await asyncio.gather(
        *(
            customer.post(review_path(order), json={"rating": rating})
            for customer, order, rating in zip(customers, orders, ratings, strict=True)
        )
    )
    assert [r.status_code for r in responses] == [201] * CUSTOMERS, [r.text for r in responses]

    [(stored_count, stored_sum)] = infra.query(
        "SELECT review_count, rating_sum FROM stores WHERE id = %s", d.shop.id
    )
    [(table_count, table_sum)] = infra.query(
        "SELECT COUNT(*), SUM(rating) FROM reviews WHERE store_id = %s", d.shop.id
    )
    assert (int(str(stored_count)), int(str(stored_sum))) == (CUSTOMERS, sum(ratings))
    assert (int(str(table_count)), int(str(table_sum))) == (CUSTOMERS, sum(ratings))
    for reader in readers:
        store = (await reader.get(f"/api/stores/{d.shop.id}")).json()
        assert (store["review_count"], store["rating"]) == (CUSTOMERS, _mean(ratings))
    # One event each, the store's stream still gapless across the burst.
    seqs = infra.query(
        "SELECT seq FROM outbox_events WHERE stream = %s ORDER BY seq", f"store:{d.shop.id}"
    )
    assert [int(str(seq)) for (seq,) in seqs] == list(range(1, len(seqs) + 1))
    assert infra.query("SELECT COUNT(*) FROM outbox_events WHERE type = 'review.created'") == [
        (CUSTOMERS,)
    ]


async def test_one_order_reviewed_many_times_at_once_on_two_nodes_counts_once(
    apps: AppPool, infra: Infra
) -> None:
    d, _, _ = await _two_nodes(apps)
    other_node = await apps.client(apps.apps[1])
    d.customer.share_session_with(other_node)
    order = await d.delivered_order()
    responses = await asyncio.gather(
        *(
            (d.customer if i % 2 else other_node).post(
                review_path(order), json={"rating": 1 + i % 5}
            )
            for i in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already-reviewed"}
    [winner] = [r.json() for r in responses if r.status_code == 201]
    assert infra.query("SELECT id, rating FROM reviews") == [(winner["id"], winner["rating"])]
    assert infra.query("SELECT review_count, rating_sum FROM stores WHERE id = %s", d.shop.id) == [
        (1, winner["rating"])
    ]
    assert infra.query("SELECT COUNT(*) FROM outbox_events WHERE type = 'review.created'") == [(1,)]


async def test_replies_sent_at_once_on_two_nodes_land_once(apps: AppPool, infra: Infra) -> None:
    d, _, _ = await _two_nodes(apps)
    owner_b = await apps.client(apps.apps[1])
    d.owner.share_session_with(owner_b)
    order = await d.delivered_order()
    review = (await d.customer.post(review_path(order), json={"rating": 3})).json()
    path = f"/api/reviews/{review['id']}/reply"
    responses = await asyncio.gather(
        *((d.owner if i % 2 else owner_b).post(path, json={"text": f"Reply {i}"}) for i in range(8))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already-replied"}
    [winner] = [r.json() for r in responses if r.status_code == 200]
    assert infra.query("SELECT reply_text FROM reviews") == [(winner["reply"]["text"],)]
    assert infra.query("SELECT COUNT(*) FROM outbox_events WHERE type = 'review.replied'") == [(1,)]
