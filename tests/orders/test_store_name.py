"""Every order names its store: in the answers, the lists, and the events of every party."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.harness import Infra
from tests.orders.helpers import open_shop, place


def _event_store_names(infra: Infra, order_id: int) -> list[tuple[str, object]]:
    rows = infra.query(
        "SELECT type, payload FROM outbox_events WHERE stream = %s ORDER BY seq",
        f"order:{order_id}",
    )
    return [(str(kind), json.loads(str(payload))["store_name"]) for kind, payload in rows]


async def test_orders_carry_the_store_name_everywhere_they_are_shown(
    api_factory: Callable[[], Any], infra: Infra
) -> None:
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    placed = await place(customer, shop)
    assert placed["store_name"] == "Order Test Burgers"
    assert (await customer.get(f"/api/orders/{placed['id']}")).json()["store_name"] == (
        "Order Test Burgers"
    )

    # The view shows the store's name as it is now, for the customer and the owner alike.
    renamed = await owner.patch(f"/api/stores/{shop.id}", json={"name": "Burger Palace"})
    assert renamed.status_code == 200, renamed.text
    mine = (await customer.get("/api/orders")).json()["orders"]
    assert [(o["id"], o["store_name"]) for o in mine] == [(placed["id"], "Burger Palace")]
    board = (await owner.get(f"/api/orders?store_id={shop.id}")).json()["orders"]
    assert [o["store_name"] for o in board] == ["Burger Palace"]

    rejected = await owner.post(f"/api/orders/{placed['id']}/reject", json={"reason": "Closing"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["store_name"] == "Burger Palace"
    # The events carry it too: the order page updates from them.
    assert _event_store_names(infra, placed["id"]) == [
        ("order.placed", "Order Test Burgers"),
        ("order.rejected", "Burger Palace"),
        ("order.refunded", "Burger Palace"),
    ]
