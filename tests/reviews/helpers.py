"""Building blocks for review tests: orders taken through their whole lifecycle to delivery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.client import Api
from tests.dispatch.helpers import go_on_shift
from tests.orders.helpers import Shop, open_shop, place
from tests.waiting import wait_until


async def _ok(api: Api, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.post(path, json=body or {})
    assert response.status_code == 200, f"{path}: {response.text}"
    moved: dict[str, Any] = response.json()
    return moved


async def deliver(order: dict[str, Any], owner: Api, rider: Api) -> dict[str, Any]:
    """Take a placed order to `delivered`: the store accepts, `rider` (on shift near the
    store, carrying nothing) is offered it and takes it, the kitchen is done, the rider picks
    it up and delivers it. Returns the delivered order."""
    order_id = order["id"]
    await _ok(owner, f"/api/orders/{order_id}/accept", {"prep_minutes": 10})

    async def offered() -> bool:
        offers = (await rider.get("/api/dispatch/offers")).json()["offers"]
        return any(offer["order_id"] == order_id for offer in offers)

    await wait_until(offered, timeout=20, what=f"the rider's offer of order {order_id}")
    await _ok(rider, f"/api/dispatch/offers/{order_id}/accept")
    await _ok(owner, f"/api/orders/{order_id}/ready")
    await _ok(rider, f"/api/orders/{order_id}/pickup")
    delivered = await _ok(rider, f"/api/orders/{order_id}/deliver")
    assert delivered["status"] == "delivered"
    return delivered


@dataclass
class Diner:
    """An open shop, its owner, a rider on shift beside it, and a customer."""

    shop: Shop
    owner: Api
    rider: Api
    customer: Api

    async def delivered_order(self, customer: Api | None = None) -> dict[str, Any]:
        """An order of `customer` (the diner's own by default) placed and delivered."""
        return await deliver(
            await place(customer or self.customer, self.shop), self.owner, self.rider
        )


async def diner(owner: Api, rider: Api, customer: Api) -> Diner:
    """Sign in an owner, a rider (put on shift by the store) and a customer; open the shop."""
    await owner.sign_in_as("owner")
    await rider.sign_in_as("rider")
    await customer.sign_in_as("customer", name="Kim Minji")
    shop = await open_shop(owner)
    await go_on_shift(rider)
    return Diner(shop=shop, owner=owner, rider=rider, customer=customer)


def review_path(order: dict[str, Any]) -> str:
    """Where the order's review is posted."""
    return f"/api/orders/{order['id']}/review"
