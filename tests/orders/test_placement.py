"""Placing orders: server-side prices, one transaction with the charge, clear refusals."""

from __future__ import annotations

from tests.client import assert_problem
from tests.harness import Infra
from tests.orders.helpers import CARD, DECLINED, TIMEOUT, new_key, open_shop, order_body, place


async def test_totals_are_computed_from_the_catalog(api_factory) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    order = await place(customer, shop)
    assert order["status"] == "placed" and order["stream_seq"] == 1
    burger_line, fries_line = order["items"]
    assert burger_line["price"] == 8_000 and burger_line["quantity"] == 2
    assert burger_line["options"] == [
        {"id": shop.burger["options"][0]["id"], "name": "Cheese", "price": 500}
    ]
    assert burger_line["line_total"] == 17_000 and fries_line["line_total"] == 3_000
    assert order["subtotal"] == 20_000 and order["delivery_fee"] == 3_000
    assert order["total"] == 23_000 and order["paid_amount"] == 23_000
    assert order["payment"]["method"] == "card" and order["payment"]["status"] == "captured"
    assert [t["status"] for t in order["timeline"]] == ["placed"]
    assert order["dispatch"] == "none" and order["rider"] is None
    fetched = await customer.get(f"/api/orders/{order['id']}")
    assert fetched.json() == order


async def test_prices_sent_by_the_client_are_refused(api_factory) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    body = order_body(shop)
    body["items"][0]["price"] = 1
    response = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": new_key()})
    problem = assert_problem(response, 400, "validation")
    assert problem["errors"][0]["field"] == "items[0].price"


async def test_closed_store_sold_out_item_foreign_option_and_minimum(
    api_factory, infra: Infra
) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner, min_order=15_000)

    small = order_body(shop, quantity=1)
    small["items"] = small["items"][:1]
    assert_problem(
        await customer.post("/api/orders", json=small, headers={"Idempotency-Key": new_key()}),
        400,
        "below-minimum-order",
    )
    foreign = order_body(shop)
    foreign["items"][1]["option_ids"] = [shop.burger["options"][0]["id"]]
    problem = assert_problem(
        await customer.post("/api/orders", json=foreign, headers={"Idempotency-Key": new_key()}),
        400,
        "validation",
    )
    assert problem["errors"][0]["field"] == "items[1].option_ids"

    await owner.patch(f"/api/menu-items/{shop.fries['id']}", json={"sold_out": True})
    assert_problem(
        await customer.post(
            "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
        ),
        409,
        "item-unavailable",
    )
    await owner.patch(f"/api/stores/{shop.id}", json={"open": False})
    assert_problem(
        await customer.post(
            "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
        ),
        409,
        "store-closed",
    )
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'captured'") == [(0,)]


async def test_only_customers_order_and_the_key_is_required(api_factory) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    assert_problem(
        await owner.post(
            "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
        ),
        403,
        "forbidden",
    )
    problem = assert_problem(
        await customer.post("/api/orders", json=order_body(shop)), 400, "validation"
    )
    assert problem["errors"][0]["field"] == "Idempotency-Key"


async def test_declined_card_leaves_nothing_behind(api_factory, infra: Infra) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    key = new_key()
    body = order_body(shop, card=DECLINED)
    response = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    assert_problem(response, 402, "payment-declined")
    again = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    assert_problem(again, 402, "payment-declined")
    for table in ("orders", "order_items", "payments"):
        assert infra.query(f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    # Opening the store was the only event.
    assert infra.query("SELECT DISTINCT type FROM outbox_events") == [("store.opened",)]
    assert infra.query("SELECT status FROM sandbox_charges") == [("declined",)]
    assert (await customer.get("/api/orders")).json() == {"orders": []}


async def test_gateway_time_out_ends_in_one_definite_state(api_factory, infra: Infra) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    key = new_key()
    body = order_body(shop, card=TIMEOUT)
    first = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    retry = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": key})
    captured = infra.query("SELECT reference FROM sandbox_charges WHERE status = 'captured'")
    orders = infra.query("SELECT id, status FROM orders")
    if first.status_code == 201:
        assert retry.json() == first.json()
        assert orders == [(first.json()["id"], "placed")] and len(captured) == 1
        assert infra.query("SELECT reference FROM payments") == captured
    else:
        assert_problem(first, 503, "unavailable")
        assert orders == [] and captured == []


async def test_same_key_returns_the_first_answer_and_another_body_is_refused(
    api_factory, infra: Infra
) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    key = new_key()
    first = await place(customer, shop, key=key)
    second = await customer.post(
        "/api/orders", json=order_body(shop), headers={"Idempotency-Key": key}
    )
    assert second.status_code == 201 and second.json() == first
    other = await customer.post(
        "/api/orders", json=order_body(shop, quantity=3), headers={"Idempotency-Key": key}
    )
    assert_problem(other, 422, "idempotency-mismatch")
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(1,)]
    # Keys are per user: another customer using the same string gets an order of their own.
    stranger = await api_factory()
    await stranger.sign_in_as("customer")
    theirs = await place(stranger, shop, key=key)
    assert theirs["id"] != first["id"] and theirs["customer_id"] == stranger.user["id"]


async def test_card_number_and_amounts_are_validated(api_factory) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    cases = [
        (order_body(shop, card="4111"), "payment.card.card_number"),
        (order_body(shop, quantity=0), "items[0].quantity"),
        (order_body(shop, use_points=-5), "use_points"),
        ({**order_body(shop), "payment": {"method": "bitcoin"}}, "payment"),
        ({**order_body(shop), "address": {"text": "x", "lat": 91, "lng": 0}}, "address.lat"),
        ({**order_body(shop), "items": []}, "items"),
    ]
    for body, field in cases:
        response = await customer.post(
            "/api/orders", json=body, headers={"Idempotency-Key": new_key()}
        )
        problem = assert_problem(response, 400, "validation")
        assert any(e["field"].startswith(field) for e in problem["errors"]), (field, problem)
    assert CARD
