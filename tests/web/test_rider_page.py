"""The rider's page without device location: a simulated position moved on the map."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.web.browser import Watched, open_watched
from tests.web.journey import sign_up
from tests.web.single_node import node, node_api, open_store

__all__ = ["node", "node_api"]


@pytest.fixture
async def rider(browser: Browser, node: Node) -> AsyncIterator[Watched]:
    """A rider's browser that does not share its location."""
    person = await open_watched(browser, "rider", node.url)
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def position(rider: Watched) -> tuple[float, float]:
    body = rider.page.locator("body")
    return float(await body.get_attribute("data-lat") or "nan"), float(
        await body.get_attribute("data-lng") or "nan"
    )


async def test_rider_without_device_location_moves_by_keyboard_and_gets_an_offer(
    node: Node, node_api: Api, rider: Watched
) -> None:
    page = rider.page
    await sign_up(page, "rider", "Sam Simulated")
    await expect(page.locator("#pos-source")).to_have_text("Simulated (location not shared)")
    start = await position(rider)

    await page.get_by_role("img", name="Map of your position").focus()
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowUp")
    await page.get_by_role("button", name="Move east").press("Enter")
    moved = await position(rider)
    assert moved[0] > start[0] and moved[1] > start[1], (start, moved)
    await expect(page.locator('[data-marker="me"]')).to_have_attribute("data-lat", str(moved[0]))

    await page.locator("#online-switch").press("Space")
    await expect(page.locator("#online-label")).to_have_text("Online: receiving offers")

    # A store 300 m away gets an order and accepts it: dispatch offers it to this rider.
    store_id, owner_email = await open_store(
        node_api,
        [{"name": "Mandu", "price": 12000}],
        lat=round(moved[0] + 0.0027, 6),
        lng=moved[1],
    )
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        customer = Api(http)
        await customer.sign_in_as("customer")
        menu = (await customer.get(f"/api/stores/{store_id}")).json()["menu"]
        placed = await customer.post(
            "/api/orders",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "store_id": store_id,
                "items": [
                    {"menu_item_id": menu[0]["items"][0]["id"], "quantity": 1, "option_ids": []}
                ],
                "address": {"text": "3 Test-ro", "lat": moved[0] - 0.003, "lng": moved[1]},
                "payment": {"method": "card", "card_number": "4242424242424242"},
            },
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        owner = Api(http)
        await owner.login(owner_email)
        accepted = await owner.post(f"/api/orders/{order_id}/accept", json={"prep_minutes": 10})
        assert accepted.status_code == 200, accepted.text

    offer = page.locator(f'.offer[data-order-id="{order_id}"]')
    await expect(offer).to_contain_text("Gimbap Corner")
    await offer.get_by_role("button", name="Accept").press("Enter")
    await expect(page.locator("body")).to_have_attribute("data-active-status", "accepted")
    before = await position(rider)
    await page.get_by_role("button", name="Move toward the next stop").click()
    after = await position(rider)
    assert after[0] > before[0], "the rider did not move toward the store (north of them)"
    await rider.shot("rider-simulated-position")
    # Going offline with an order on board is not offered.
    await expect(page.locator("#online-switch")).to_be_disabled()
