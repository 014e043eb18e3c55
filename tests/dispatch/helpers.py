"""Building blocks for dispatch tests: riders on shift, an accepted order, what was offered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tests.client import Api
from tests.harness import Infra
from tests.orders.helpers import Shop, open_shop, place

# The test store of tests/orders/helpers.py stands here.
STORE_LAT, STORE_LNG = 37.5660, 126.9770
KM_PER_DEG_LAT = 111.2


def north_of_store(km: float) -> tuple[float, float]:
    """A point `km` north of the test store."""
    return STORE_LAT + km / KM_PER_DEG_LAT, STORE_LNG


async def go_on_shift(rider: Api, km_north: float = 0.5) -> None:
    """Put a signed-in rider on shift `km_north` of the store."""
    lat, lng = north_of_store(km_north)
    response = await rider.put(
        "/api/riders/me/shift", json={"online": True, "lat": lat, "lng": lng}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"online": True}


async def sign_in_riders(clients: Sequence[Api], *, km_north: float = 0.5) -> None:
    """Sign up, sign in and put on shift one rider per client, all at once."""
    await asyncio.gather(*(c.sign_in_as("rider") for c in clients))
    await asyncio.gather(*(go_on_shift(c, km_north + 0.001 * i) for i, c in enumerate(clients)))


@dataclass
class Kitchen:
    """An owner with an open shop and a customer, ready to make accepted orders."""

    owner: Api
    customer: Api
    shop: Shop

    async def accepted_order(self) -> dict[str, Any]:
        """Place an order and have the store accept it (dispatch starts)."""
        order = await place(self.customer, self.shop)
        accepted = await self.owner.post(
            f"/api/orders/{order['id']}/accept", json={"prep_minutes": 10}
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["dispatch"] == "searching"
        return dict(accepted.json())


async def kitchen(owner: Api, customer: Api) -> Kitchen:
    """Sign in an owner and a customer and open the test store."""
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    return Kitchen(owner=owner, customer=customer, shop=await open_shop(owner))


def offered_riders(infra: Infra, order_id: int, status: str = "offered") -> set[int]:
    """Riders holding an offer of `order_id` in `status`."""
    rows = infra.query(
        "SELECT rider_id FROM offers WHERE order_id = %s AND status = %s", order_id, status
    )
    return {int(str(rider)) for (rider,) in rows}


def events_on(infra: Infra, stream: str, event_type: str) -> list[int]:
    """Order ids named by `event_type` events on `stream` in the outbox."""
    import json

    rows = infra.query(
        "SELECT payload FROM outbox_events WHERE stream = %s AND type = %s ORDER BY seq",
        stream,
        event_type,
    )
    out = []
    for (payload,) in rows:
        data = json.loads(str(payload))
        out.append(int(data.get("order_id", data.get("id", 0))))
    return out


def history(infra: Infra, order_id: int) -> list[tuple[str, int | None]]:
    """The dispatch history of an order as (kind, rider_id), oldest first."""
    rows = infra.query(
        "SELECT kind, rider_id FROM dispatch_history WHERE order_id = %s ORDER BY id", order_id
    )
    return [(str(kind), None if rider is None else int(str(rider))) for kind, rider in rows]
