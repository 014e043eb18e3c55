"""An order action sent again after its answer was lost (a 503, a dropped connection).

A 503 with Retry-After or a dropped connection can come after the action was committed; sent
again, as the 503 asks, it was refused 409 `invalid-transition` for being already done. A
repeat now gets the order as it is and writes nothing.
"""

from __future__ import annotations

import asyncio

from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import open_shop, place
from tests.orders.test_concurrency import _cast


def _events(infra: Infra, order_id: int) -> list[str]:
    rows = infra.query(
        "SELECT type FROM outbox_events WHERE stream = %s ORDER BY seq", f"order:{order_id}"
    )
    return [row[0] for row in rows]


async def test_an_accept_sent_again_on_another_node_gets_the_accepted_order_once(
    apps: AppPool, infra: Infra
) -> None:
    owner_a, owner_b, customer_a, _ = await _cast(apps)
    order = await place(customer_a, await open_shop(owner_a))
    path = f"/api/orders/{order['id']}/accept"
    first = await owner_a.post(path, json={"prep_minutes": 15})
    assert first.status_code == 200, first.text
    again = await owner_b.post(path, json={"prep_minutes": 15})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert _events(infra, order["id"]) == ["order.placed", "order.accepted"]
    assert infra.query("SELECT COUNT(*) FROM order_timeline WHERE order_id = %s", order["id"]) == [
        (2,)
    ]


async def test_two_accepts_racing_on_two_nodes_both_answer_the_order_and_accept_it_once(
    apps: AppPool, infra: Infra
) -> None:
    owner_a, owner_b, customer_a, _ = await _cast(apps)
    shop = await open_shop(owner_a)
    for _ in range(6):
        order = await place(customer_a, shop)
        path = f"/api/orders/{order['id']}/accept"
        answers = await asyncio.gather(
            owner_a.post(path, json={"prep_minutes": 15}),
            owner_b.post(path, json={"prep_minutes": 15}),
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert {a.json()["stream_seq"] for a in answers} == {2}
        assert _events(infra, order["id"]) == ["order.placed", "order.accepted"]


async def test_a_cancel_sent_again_refunds_once(apps: AppPool, infra: Infra) -> None:
    owner_a, _, customer_a, customer_b = await _cast(apps)
    order = await place(customer_a, await open_shop(owner_a))
    path = f"/api/orders/{order['id']}/cancel"
    first = await customer_a.post(path, json={"reason": "changed my mind"})
    again = await customer_b.post(path, json={"reason": "changed my mind"})
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert again.json()["status"] == "cancelled"
    assert again.json()["payment"]["status"] == "refunded"
    assert _events(infra, order["id"]) == ["order.placed", "order.cancelled", "order.refunded"]
    assert infra.query(
        "SELECT status, amount FROM sandbox_charges WHERE reference = %s",
        order["payment"]["reference"],
    ) == [("refunded", order["paid_amount"])]


async def test_an_action_that_leads_elsewhere_is_still_refused(apps: AppPool) -> None:
    owner_a, _, customer_a, customer_b = await _cast(apps)
    order = await place(customer_a, await open_shop(owner_a))
    rejected = await owner_a.post(f"/api/orders/{order['id']}/reject", json={"reason": "closed"})
    assert rejected.status_code == 200
    cancel = await customer_b.post(f"/api/orders/{order['id']}/cancel", json={"reason": "x"})
    assert cancel.status_code == 409 and cancel.json()["code"] == "invalid-transition"
