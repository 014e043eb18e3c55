"""Per-customer limits on placing orders and on declined cards (card testing), across nodes;
replays of an Idempotency-Key count for neither."""

from __future__ import annotations

import asyncio

from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import CARD, DECLINED, new_key, open_shop, order_body


async def _customer_on_two_nodes(apps: AppPool, infra: Infra, **limits: int) -> list[Api]:
    """An owner's client and one customer's client on each of two nodes with these limits."""
    settings = infra.settings(**limits)
    node_a, node_b = await apps.start(settings), await apps.start(settings)
    owner, customer_a, customer_b = (
        await apps.client(node_a),
        await apps.client(node_a),
        await apps.client(node_b),
    )
    await owner.sign_in_as("owner")
    await customer_a.sign_in_as("customer")
    customer_a.share_session_with(customer_b)
    return [owner, customer_a, customer_b]


async def test_orders_beyond_the_per_customer_limit_are_429_even_when_racing_across_nodes(
    apps: AppPool, infra: Infra
) -> None:
    owner, customer_a, customer_b = await _customer_on_two_nodes(
        apps, infra, order_max_per_customer=3, order_window_seconds=600
    )
    shop = await open_shop(owner)
    body = order_body(shop)
    responses = await asyncio.gather(
        *(
            (customer_a, customer_b)[i % 2].post(
                "/api/orders", json=body, headers={"Idempotency-Key": new_key()}
            )
            for i in range(12)
        )
    )
    placed = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(placed) == 3 and len(refused) == 9
    for response in refused:
        assert_problem(response, 429, "rate-limited")
        assert 1 <= int(response.headers["Retry-After"]) <= 600
    assert infra.query("SELECT COUNT(*) FROM orders") == [(3,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(3,)]

    # A replay of a placed order's key is its answer, not a new attempt.
    placed_key = placed[0].request.headers["Idempotency-Key"]
    for client in (customer_a, customer_b):
        again = await client.post("/api/orders", json=body, headers={"Idempotency-Key": placed_key})
        assert again.status_code == 201 and again.json()["id"] == placed[0].json()["id"]
    # Another customer is not limited by this one's orders.
    other = await apps.client(apps.apps[0])
    await other.sign_in_as("customer")
    theirs = await other.post("/api/orders", json=body, headers={"Idempotency-Key": new_key()})
    assert theirs.status_code == 201, theirs.text


async def test_after_too_many_declined_cards_a_customer_may_not_try_another_card(
    apps: AppPool, infra: Infra
) -> None:
    owner, customer_a, customer_b = await _customer_on_two_nodes(
        apps, infra, card_declines_max=3, card_declines_window_seconds=3600
    )
    shop = await open_shop(owner)
    declined_body = order_body(shop, card=DECLINED)
    keys = [new_key() for _ in range(3)]
    for i, key in enumerate(keys):
        client = (customer_a, customer_b)[i % 2]
        response = await client.post(
            "/api/orders", json=declined_body, headers={"Idempotency-Key": key}
        )
        assert_problem(response, 402, "payment-declined")
    # Replaying a declined key answers the decline again, without counting or refusing it.
    for key in keys:
        again = await customer_b.post(
            "/api/orders", json=declined_body, headers={"Idempotency-Key": key}
        )
        assert_problem(again, 402, "payment-declined")

    # Card testing stops here: the next card, even a good one, is refused before the gateway.
    for card in (CARD, "5555555555554444", DECLINED):
        refused = await customer_a.post(
            "/api/orders", json=order_body(shop, card=card), headers={"Idempotency-Key": new_key()}
        )
        problem = assert_problem(refused, 429, "rate-limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600, problem
    assert infra.query("SELECT status, COUNT(*) FROM sandbox_charges GROUP BY status") == [
        ("declined", 3)
    ]
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]
    # Someone else's card is not this customer's business.
    other = await apps.client(apps.apps[1])
    await other.sign_in_as("customer")
    fine = await other.post(
        "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
    )
    assert fine.status_code == 201, fine.text
