"""Races on orders, proven by making them happen across two app instances."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from app.db import utcnow
from app.orders.hooks import OrderHooks
from app.orders.service import reject_unanswered
from app.payments.gateway import PaymentGateway
from tests.client import Api
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import new_key, open_shop, order_body, place
from tests.waiting import wait_until


async def _cast(apps: AppPool) -> tuple[Api, Api, Api, Api]:
    """An owner and a customer, each with a client on node A and one on node B."""
    node_a, node_b = await apps.start(), await apps.start()
    owner_a, owner_b = await apps.client(node_a), await apps.client(node_b)
    customer_a, customer_b = await apps.client(node_a), await apps.client(node_b)
    await owner_a.sign_in_as("owner")
    owner_a.share_session_with(owner_b)
    await customer_a.sign_in_as("customer")
    customer_a.share_session_with(customer_b)
    return owner_a, owner_b, customer_a, customer_b


async def test_twenty_concurrent_posts_with_one_key_make_one_order_and_one_charge(
    apps: AppPool, infra: Infra
) -> None:
    owner_a, _, customer_a, customer_b = await _cast(apps)
    shop = await open_shop(owner_a)
    key, body = new_key(), order_body(shop)
    responses = await asyncio.gather(
        *(
            (customer_a if i % 2 else customer_b).post(
                "/api/orders", json=body, headers={"Idempotency-Key": key}
            )
            for i in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r.json() for r in responses if r.status_code == 201]
    assert created and all(order["id"] == created[0]["id"] for order in created)
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency-in-progress"
    assert infra.query("SELECT COUNT(*) FROM orders") == [(1,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(1,)]
    # Once done, every retry gets the same order.
    again = await customer_b.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json()["id"] == created[0]["id"]


async def test_accept_and_cancel_racing_have_exactly_one_winner_each_round(
    apps: AppPool, infra: Infra
) -> None:
    owner_a, owner_b, customer_a, customer_b = await _cast(apps)
    shop = await open_shop(owner_a)
    outcomes = {"accepted": 0, "cancelled": 0}
    for round_ in range(12):
        order = await place(customer_a, shop)
        owner, customer = (owner_a, customer_b) if round_ % 2 else (owner_b, customer_a)
        accept, cancel = await asyncio.gather(
            owner.post(f"/api/orders/{order['id']}/accept", json={"prep_minutes": 15}),
            customer.post(f"/api/orders/{order['id']}/cancel", json={"reason": "changed my mind"}),
        )
        codes = sorted([accept.status_code, cancel.status_code])
        assert codes == [200, 409], (accept.text, cancel.text)
        loser = accept if accept.status_code == 409 else cancel
        assert loser.json()["code"] == "invalid-transition"
        final = (await customer_a.get(f"/api/orders/{order['id']}")).json()
        [(charge_status,)] = infra.query(
            "SELECT status FROM sandbox_charges WHERE reference = %s", final["payment"]["reference"]
        )
        if cancel.status_code == 200:
            outcomes["cancelled"] += 1
            assert final["status"] == "cancelled" and final["payment"]["status"] == "refunded"
            assert charge_status == "refunded"
        else:
            outcomes["accepted"] += 1
            assert final["status"] == "accepted" and final["payment"]["status"] == "captured"
            assert charge_status == "captured"
    assert sum(outcomes.values()) == 12


async def test_fifty_concurrent_orders_to_one_store_get_gapless_store_seqs(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    owner = await apps.client(node_a)
    await owner.sign_in_as("owner")
    shop = await open_shop(owner)
    customers = []
    for i in range(10):
        client = await apps.client(node_a if i % 2 else node_b)
        await client.sign_in_as("customer")
        customers.append(client)
    responses = await asyncio.gather(*(place(customers[i % 10], shop) for i in range(50)))
    assert len({order["id"] for order in responses}) == 50
    store_seqs = infra.query(
        "SELECT seq FROM outbox_events WHERE stream = %s ORDER BY seq", f"store:{shop.id}"
    )
    assert [seq for (seq,) in store_seqs] == list(range(1, 51))
    for order in responses:
        rows = infra.query(
            "SELECT seq, type FROM outbox_events WHERE stream = %s", f"order:{order['id']}"
        )
        assert rows == [(1, "order.placed")] and order["stream_seq"] == 1


async def test_unanswered_order_is_rejected_and_refunded_once_with_two_sweepers(
    apps: AppPool, infra: Infra
) -> None:
    settings = infra.settings(store_accept_timeout=0.5)
    node_a, node_b = await apps.start(settings), await apps.start(settings)
    owner, customer = await apps.client(node_a), await apps.client(node_b)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    order = await place(customer, shop)

    async def answered() -> dict[str, Any] | None:
        current: dict[str, Any] = (await customer.get(f"/api/orders/{order['id']}")).json()
        # The rejection commits first with the refund pending; the card refund follows it.
        settled = current["status"] != "placed" and current["payment"]["status"] != "refund_pending"
        return current if settled else None

    current = await wait_until(
        answered, timeout=15, interval=0.1, what="the unanswered order to be rejected and settled"
    )
    assert current["status"] == "rejected" and current["payment"]["status"] == "refunded"
    events = infra.query(
        "SELECT type FROM outbox_events WHERE stream = %s ORDER BY seq", f"order:{order['id']}"
    )
    assert [t for (t,) in events] == ["order.placed", "order.rejected", "order.refunded"]
    assert infra.query(
        "SELECT COUNT(*) FROM order_timeline WHERE order_id = %s AND status = 'rejected'",
        order["id"],
    ) == [(1,)]
    assert infra.query("SELECT status FROM sandbox_charges") == [("refunded",)]


async def test_sweepers_racing_on_the_same_due_orders_reject_each_exactly_once(
    apps: AppPool, infra: Infra
) -> None:
    # Background sweeps stay out of the way (an hour); the test races the sweep itself.
    settings = infra.settings(store_accept_timeout=3600)
    node_a, node_b = await apps.start(settings), await apps.start(settings)
    owner, customer = await apps.client(node_a), await apps.client(node_b)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    orders = [await place(customer, shop) for _ in range(10)]
    sweeps = []
    for node in (node_a, node_b) * 4:
        services = node.container
        sweeps.append(
            reject_unanswered(
                db=services.db,
                gateway=services.get(PaymentGateway),
                hooks=services.get(OrderHooks),
                # Every order's time to answer counts as over.
                as_of=utcnow() + timedelta(hours=2),
            )
        )
    counts = await asyncio.gather(*sweeps)
    assert sum(counts) == 10
    for order in orders:
        assert infra.query(
            "SELECT COUNT(*) FROM order_timeline WHERE order_id = %s AND status = 'rejected'",
            order["id"],
        ) == [(1,)]
    assert infra.query("SELECT status, COUNT(*) FROM sandbox_charges GROUP BY status") == [
        ("refunded", 10)
    ]
