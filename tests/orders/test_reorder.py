"""Ordering again: a cart to review from an earlier order, checked against today's menu."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.client import Api, assert_problem
from tests.dispatch.helpers import kitchen
from tests.harness import Infra
from tests.orders.helpers import new_key, order_body

Factory = Callable[[], Awaitable[Api]]


async def test_an_unchanged_menu_gives_back_the_same_cart_and_places_nothing(
    api_factory: Factory, infra: Infra
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    body = order_body(k.shop)
    placed = await k.customer.post("/api/orders", json=body, headers={"Idempotency-Key": new_key()})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    again = await k.customer.post(f"/api/orders/{order_id}/reorder")
    assert again.status_code == 200, again.text
    assert again.json() == {"store_id": k.shop.id, "items": body["items"], "unavailable": []}
    assert infra.query("SELECT COUNT(*) FROM orders") == [(1,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(1,)]
    # An empty JSON body is the same request.
    assert (
        await k.customer.post(f"/api/orders/{order_id}/reorder", json={})
    ).json() == again.json()
    # The cart places as it is.
    replaced = await k.customer.post(
        "/api/orders",
        json={**body, "items": again.json()["items"]},
        headers={"Idempotency-Key": new_key()},
    )
    assert replaced.status_code == 201 and replaced.json()["total"] == placed.json()["total"]


async def test_sold_out_deleted_items_and_lost_options_are_listed_with_the_reason(
    api_factory: Factory,
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    cheese, bacon = (o["id"] for o in k.shop.burger["options"])
    made = await k.owner.post(
        f"/api/stores/{k.shop.id}/menu", json={"name": "Cola", "price": 2_000, "group": "Drinks"}
    )
    cola = made.json()
    lines: list[dict[str, Any]] = [
        {"menu_item_id": k.shop.burger["id"], "quantity": 1, "option_ids": [cheese, bacon]},
        {"menu_item_id": k.shop.burger["id"], "quantity": 2, "option_ids": [cheese]},
        {"menu_item_id": k.shop.fries["id"], "quantity": 3, "option_ids": []},
        {"menu_item_id": cola["id"], "quantity": 1, "option_ids": []},
    ]
    placed = await k.customer.post(
        "/api/orders",
        json={**order_body(k.shop), "items": lines},
        headers={"Idempotency-Key": new_key()},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    # The owner re-enters the burger's options without bacon (cheese gets a new id), sells out
    # the fries and takes the cola off the menu.
    changed = await k.owner.patch(
        f"/api/menu-items/{k.shop.burger['id']}",
        json={"options": [{"name": "Cheese", "price": 700}, {"name": "Egg", "price": 900}]},
    )
    assert changed.status_code == 200, changed.text
    new_cheese = changed.json()["options"][0]["id"]
    assert new_cheese != cheese
    sold_out = await k.owner.patch(f"/api/menu-items/{k.shop.fries['id']}", json={"sold_out": True})
    assert sold_out.status_code == 200
    assert (await k.owner.delete(f"/api/menu-items/{cola['id']}")).status_code == 204

    again = await k.customer.post(f"/api/orders/{order_id}/reorder")
    assert again.status_code == 200, again.text
    assert again.json() == {
        "store_id": k.shop.id,
        "items": [{"menu_item_id": k.shop.burger["id"], "quantity": 2, "option_ids": [new_cheese]}],
        "unavailable": [
            {"name": "Bulgogi Burger", "why": "The option “Bacon” is no longer offered."},
            {"name": "Fries", "why": "It is sold out right now."},
            {"name": "Cola", "why": "It is no longer on the menu."},
        ],
    }
    # The order itself is as it was.
    assert (await k.customer.get(f"/api/orders/{order_id}")).json()["items"] == placed.json()[
        "items"
    ]


async def test_only_the_orders_customer_may_order_it_again(
    api_factory: Factory,
) -> None:
    k = await kitchen(await api_factory(), await api_factory())
    placed = await k.customer.post(
        "/api/orders", json=order_body(k.shop), headers={"Idempotency-Key": new_key()}
    )
    order_id = placed.json()["id"]
    stranger = await api_factory()
    await stranger.sign_in_as("customer")
    assert_problem(await stranger.post(f"/api/orders/{order_id}/reorder"), 404, "not-found")
    assert_problem(await k.customer.post(f"/api/orders/{order_id + 100}/reorder"), 404, "not-found")
    assert_problem(await k.owner.post(f"/api/orders/{order_id}/reorder"), 403, "forbidden")
    rider = await api_factory()
    await rider.sign_in_as("rider")
    assert_problem(await rider.post(f"/api/orders/{order_id}/reorder"), 403, "forbidden")
    anonymous = await api_factory()
    assert_problem(await anonymous.post(f"/api/orders/{order_id}/reorder"), 401, "unauthenticated")
    refused = assert_problem(
        await k.customer.post(f"/api/orders/{order_id}/reorder", json={"items": []}),
        400,
        "validation",
    )
    assert refused["errors"][0]["field"] == "items"
