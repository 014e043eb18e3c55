"""Order flows through the REST API, shared by the realtime system tests and the benchmark."""

from __future__ import annotations

import uuid
from typing import Any

from tests.client import Api

CARD = "4242424242424242"


def _json(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def open_store(owner: Api, *, price: int = 12000) -> tuple[int, int]:
    """Create a store with one menu item and open it; returns (store_id, item_id)."""
    store = _json(
        await owner.post(
            "/api/stores",
            json={
                "name": "Realtime Kitchen",
                "category": "korean",
                "address": "1 Sejong-daero, Seoul",
                "lat": 37.5663,
                "lng": 126.9779,
                "phone": "02-123-4567",
                "min_order": 0,
                "delivery_fee": 0,
            },
        ),
        201,
    )
    item = _json(
        await owner.post(
            f"/api/stores/{store['id']}/menu",
            json={"name": "Bibimbap", "price": price, "group": "Mains", "options": []},
        ),
        201,
    )
    _json(await owner.patch(f"/api/stores/{store['id']}", json={"open": True}), 200)
    return int(store["id"]), int(item["id"])


async def place_order(customer: Api, *, store_id: int, item_id: int) -> dict[str, Any]:
    """Place a card-paid order of one item."""
    return _json(
        await customer.post(
            "/api/orders",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "store_id": store_id,
                "items": [{"menu_item_id": item_id, "quantity": 1, "option_ids": []}],
                "address": {"text": "2 Sejong-daero", "lat": 37.567, "lng": 126.978},
                "payment": {"method": "card", "card_number": CARD},
            },
        ),
        201,
    )


async def act(api: Api, order_id: int, action: str, body: dict[str, Any] | None = None) -> Any:
    """An order action (`accept`, `ready`, `cancel`, …); returns the order."""
    return _json(await api.post(f"/api/orders/{order_id}/{action}", json=body or {}), 200)
