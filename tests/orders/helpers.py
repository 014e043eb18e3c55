"""Building blocks for order tests: a store with a menu, a signed-in cast, an order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from tests.client import Api

CARD = "4111111111111111"
DECLINED = "4000000000000002"
TIMEOUT = "4000000000000119"
CITY_HALL = {"text": "110 Sejong-daero, Jung-gu, Seoul", "lat": 37.5665, "lng": 126.9780}
_keys = itertools.count(1)


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return f"key-{next(_keys)}"


@dataclass
class Shop:
    """An open store with two items: one with options, one plain."""

    owner: Api
    store: dict[str, Any]
    burger: dict[str, Any]
    fries: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.store["id"])


async def open_shop(owner: Api, *, min_order: int = 10_000, delivery_fee: int = 3_000) -> Shop:
    """Create, fill and open a store as `owner` (already signed in as an owner)."""
    created = await owner.post(
        "/api/stores",
        json={
            "name": "Order Test Burgers",
            "category": "burger",
            "address": "1 Sejong-daero, Seoul",
            "lat": 37.5660,
            "lng": 126.9770,
            "phone": "02-123-4567",
            "min_order": min_order,
            "delivery_fee": delivery_fee,
        },
    )
    assert created.status_code == 201, created.text
    store = created.json()
    burger = await owner.post(
        f"/api/stores/{store['id']}/menu",
        json={
            "name": "Bulgogi Burger",
            "price": 8_000,
            "group": "Burgers",
            "description": "Soy-glazed beef",
            "options": [{"name": "Cheese", "price": 500}, {"name": "Bacon", "price": 1_500}],
        },
    )
    assert burger.status_code == 201, burger.text
    fries = await owner.post(
        f"/api/stores/{store['id']}/menu",
        json={"name": "Fries", "price": 3_000, "group": "Sides", "description": "", "options": []},
    )
    assert fries.status_code == 201, fries.text
    opened = await owner.patch(f"/api/stores/{store['id']}", json={"open": True})
    assert opened.status_code == 200, opened.text
    return Shop(owner=owner, store=opened.json(), burger=burger.json(), fries=fries.json())


def order_body(shop: Shop, *, card: str = CARD, quantity: int = 2, **extra: Any) -> dict[str, Any]:
    """An order of `quantity` burgers with cheese and one fries: 2×8,500 + 3,000 = 20,000."""
    cheese = shop.burger["options"][0]["id"]
    body: dict[str, Any] = {
        "store_id": shop.id,
        "items": [
            {"menu_item_id": shop.burger["id"], "quantity": quantity, "option_ids": [cheese]},
            {"menu_item_id": shop.fries["id"], "quantity": 1, "option_ids": []},
        ],
        "address": CITY_HALL,
        "payment": {"method": "card", "card_number": card},
    }
    body.update(extra)
    return body


async def place(
    customer: Api, shop: Shop, *, key: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Place an order and assert it was created."""
    response = await customer.post(
        "/api/orders",
        json=order_body(shop, **kwargs),
        headers={"Idempotency-Key": key or new_key()},
    )
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order
