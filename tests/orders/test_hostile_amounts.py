"""Amounts a client can drive past what a column holds get a clear 400, never a 500."""

from __future__ import annotations

from typing import Any

from tests.client import Api, assert_problem
from tests.harness import Infra
from tests.orders.helpers import CARD, CITY_HALL, new_key, open_shop


async def test_an_order_past_the_largest_total_is_refused_and_writes_nothing(
    api_factory: Any, infra: Infra
) -> None:
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    caviar = await owner.post(
        f"/api/stores/{shop.id}/menu",
        json={"name": "Caviar platter", "price": 10_000_000, "group": "Mains", "options": []},
    )
    assert caviar.status_code == 201, caviar.text
    # 3 × 99 × ₩10,000,000 = ₩2,970,000,000: past a 32-bit column.
    body = {
        "store_id": shop.id,
        "items": [{"menu_item_id": caviar.json()["id"], "quantity": 99, "option_ids": []}] * 3,
        "address": CITY_HALL,
        "payment": {"method": "card", "card_number": CARD},
    }
    customer_api: Api = customer
    response = await customer_api.post(
        "/api/orders", json=body, headers={"Idempotency-Key": new_key()}
    )
    problem = assert_problem(response, 400, "validation")
    assert "₩10,000,000" in problem["detail"]
    assert problem["errors"] == [
        {
            "field": "items",
            "message": "An order may cost at most ₩10,000,000.",
            "type": "less_than_equal",
        }
    ]
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(0,)]


async def test_the_largest_total_is_accepted_and_stored_exactly(
    api_factory: Any, infra: Infra
) -> None:
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner, delivery_fee=0)
    item = await owner.post(
        f"/api/stores/{shop.id}/menu",
        json={"name": "Banquet", "price": 5_000_000, "group": "Mains", "options": []},
    )
    body = {
        "store_id": shop.id,
        "items": [{"menu_item_id": item.json()["id"], "quantity": 2, "option_ids": []}],
        "address": CITY_HALL,
        "payment": {"method": "card", "card_number": CARD},
    }
    response = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": new_key()})
    assert response.status_code == 201, response.text
    assert response.json()["total"] == 10_000_000
    assert infra.query("SELECT paid_amount FROM orders") == [(10_000_000,)]
