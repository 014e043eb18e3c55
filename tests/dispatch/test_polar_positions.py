"""Riders and stores nearer a pole than Redis's geo index reaches (±85.05112878°): valid WGS84,
so accepted, but off the index; never a 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest

from app import DeliveryApp
from dispatch.geo import INDEXED_LAT, RIDERS_KEY
from tests.client import Api
from tests.dispatch.helpers import go_on_shift, kitchen, offered_riders
from tests.harness import Infra
from tests.orders.helpers import new_key, order_body
from tests.waiting import wait_until

Factory = Callable[[], Awaitable[Api]]


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


async def indexed(app: DeliveryApp, rider: Api) -> bool:
    """Whether the rider is in the geo index that offers search."""
    return await app.container.cache_redis.zscore(RIDERS_KEY, str(uid(rider))) is not None


@pytest.mark.parametrize("lat", [90.0, -90.0, 89.999, -(INDEXED_LAT + 1e-6)])
async def test_a_rider_going_on_shift_near_a_pole_is_on_shift_but_not_indexed(
    app: DeliveryApp, api_factory: Factory, lat: float
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    response = await rider.put("/api/riders/me/shift", json={"online": True, "lat": lat, "lng": 0})
    assert response.status_code == 200, response.text
    assert response.json() == {"online": True}
    assert not await indexed(app, rider)


async def test_a_rider_moving_past_the_indexed_latitudes_leaves_the_index_and_comes_back(
    app: DeliveryApp, api_factory: Factory
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    assert await indexed(app, rider)
    for lat, expected in ((INDEXED_LAT, True), (85.06, False), (-90.0, False), (37.5, True)):
        moved = await rider.put("/api/riders/me/location", json={"lat": lat, "lng": 179.9})
        assert moved.status_code == 204, moved.text
        assert await indexed(app, rider) is expected, lat


async def test_an_order_from_a_store_near_a_pole_searches_and_others_are_still_offered(
    app: DeliveryApp, api_factory: Factory, infra: Infra, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="delivery")
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    polar = await kitchen(await api_factory(), await api_factory())
    moved = await polar.owner.patch(f"/api/stores/{polar.shop.id}", json={"lat": 89.5})
    assert moved.status_code == 200, moved.text
    # A kilometre from the store (within its delivery radius), nearer the pole.
    address = {"text": "Ice station", "lat": 89.51, "lng": polar.shop.store["lng"]}
    placed = await polar.customer.post(
        "/api/orders",
        json=order_body(polar.shop, address=address),
        headers={"Idempotency-Key": new_key()},
    )
    assert placed.status_code == 201, placed.text
    accepted = await polar.owner.post(
        f"/api/orders/{placed.json()['id']}/accept", json={"prep_minutes": 10}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["dispatch"] == "searching"
    # The search goes on for everyone else: an order in Seoul reaches the rider.
    seoul = await kitchen(await api_factory(), await api_factory())
    order = await seoul.accepted_order()
    await wait_until(lambda: offered_riders(infra, order["id"]) == {uid(rider)}, what="offer")
    assert offered_riders(infra, placed.json()["id"]) == set()
    # The search of the polar order found no one; it did not fail and retry.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
