"""The rider's page: earnings from the server (the same on every device), a shift switch that
is large and says its state, offers first on a narrow screen, and offers without the street."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.web.browser import SCREENSHOTS, Watched, open_watched
from tests.web.journey import loaded, sign_up
from tests.web.single_node import node, node_api, open_store, sign_in

__all__ = ["node", "node_api"]

PHONE = {"width": 390, "height": 844}
SMALL_TABLET = {"width": 800, "height": 900}
STREET = "88 Secret-gil, Apt 1502"


@pytest.fixture
async def rider(browser: Browser, node: Node) -> AsyncIterator[Watched]:
    """A rider's phone-sized browser (no device location: the position is simulated)."""
    person = await open_watched(browser, "rider", node.url, viewport=PHONE)
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def screen(page: Page, name: str) -> None:
    """What the screen shows without scrolling, for reviewers."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def where(page: Page) -> tuple[float, float]:
    body = page.locator("body")
    await expect(body).to_have_attribute("data-lat", re.compile(r"\d"))
    return float(await body.get_attribute("data-lat") or "nan"), float(
        await body.get_attribute("data-lng") or "nan"
    )


async def accepted_order_near(node: Node, node_api: Api, rider: Page) -> tuple[int, Api]:
    """A store 300 m north of the rider gets an order 1.1 km south of it and accepts it; returns
    the order id and the owner's API client (open until the test ends)."""
    lat, lng = await where(rider)
    store_id, owner_email = await open_store(
        node_api, [{"name": "Mandu", "price": 12000}], lat=round(lat + 0.0027, 6), lng=lng
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
                "address": {"text": STREET, "lat": round(lat - 0.0073, 6), "lng": lng},
                "rider_note": "Ring twice",
                "payment": {"method": "card", "card_number": "4242424242424242"},
            },
        )
        assert placed.status_code == 201, placed.text
        order_id = int(placed.json()["id"])
    owner = Api(httpx.AsyncClient(base_url=node.url, timeout=30))
    await owner.login(owner_email)
    accepted = await owner.post(f"/api/orders/{order_id}/accept", json={"prep_minutes": 10})
    assert accepted.status_code == 200, accepted.text
    return order_id, owner


async def go_online(page: Page) -> None:
    await page.get_by_role("switch").check()
    await expect(page.locator("#online-label")).to_have_text("Online: receiving offers")


async def stored_fees(page: Page) -> Any:
    return await page.evaluate("localStorage.getItem('delivery.rider.fees')")


async def test_earnings_come_from_the_ledger_and_a_second_device_shows_the_same(
    browser: Browser, node: Node, node_api: Api, rider: Watched
) -> None:
    page = rider.page
    await sign_up(page, "rider", "Dana Device")
    # What an earlier version kept on the device is gone.
    await page.evaluate("localStorage.setItem('delivery.rider.fees', '{\"1\": 99999}')")
    await page.reload()
    # Until the page has read the shift and the orders, it may still set the switch from them.
    await loaded(page)
    await expect(page.locator("#earned")).to_have_text("₩0")
    assert await stored_fees(page) is None
    await go_online(page)
    order_id, owner = await accepted_order_near(node, node_api, page)
    try:
        offer = page.locator(f'.offer[data-order-id="{order_id}"]')
        await expect(offer).to_contain_text("Gimbap Corner")
        await expect(offer).to_contain_text(re.compile(r"drop-off 1\.\d km from it, south"))
        await expect(offer).not_to_contain_text("Secret-gil")
        await expect(offer).not_to_contain_text("Ring twice")
        fee_text = re.search(r"fee (₩[\d,]+)", await offer.inner_text())
        assert fee_text, "the offer shows no fee"
        await screen(page, "rider-offer-phone")
        await offer.get_by_role("button", name="Accept").click()
        await expect(page.locator("#active")).to_contain_text(STREET)
        await expect(page.locator("#active")).to_contain_text("Ring twice")
        assert (await owner.post(f"/api/orders/{order_id}/ready")).status_code == 200
        await page.get_by_role("button", name="Picked up").click()
        await expect(page.locator("body")).to_have_attribute("data-active-status", "picked_up")
        await page.get_by_role("button", name="Delivered").click()
        await expect(page.locator(".toast")).to_have_text(f"Delivered. You earned {fee_text[1]}.")
    finally:
        await owner.http.aclose()
    await expect(page.locator("#delivered-count")).to_have_text("1")
    await expect(page.locator("#earned")).to_have_text(fee_text[1])
    await expect(page.locator(f'#history li[data-order-id="{order_id}"]')).to_contain_text(
        fee_text[1]
    )
    assert await stored_fees(page) is None
    await rider.shot("rider-earnings")

    # The same rider on another device (its own storage) sees the same, from the server.
    me = await page.evaluate("fetch('/api/me').then((r) => r.json())")
    other = await open_watched(browser, "rider-tablet", node.url, viewport=SMALL_TABLET)
    try:
        await sign_in(other, me["user"]["email"])
        await expect(other.page.locator("#delivered-count")).to_have_text("1")
        await expect(other.page.locator("#earned")).to_have_text(fee_text[1])
        await other.shot("rider-earnings-second-device")
    finally:
        await other.context.close()
    other.assert_clean()


async def test_the_shift_switch_is_large_near_the_top_and_says_its_state_in_words(
    rider: Watched,
) -> None:
    page = rider.page
    await sign_up(page, "rider", "Toni Toggle")
    switch = page.get_by_role("switch")
    label = page.locator(".shift-toggle")
    await expect(switch).not_to_be_checked()
    await expect(page.locator("#online-label")).to_have_text("Offline: no offers")
    await expect(page.locator("#online-hint")).to_contain_text("Switch on")
    bar, knob = await label.bounding_box(), await switch.bounding_box()
    assert bar and knob
    # Most of a phone's width, thumb-sized, and above anything else of the page's content.
    assert bar["width"] >= 0.8 * PHONE["width"] and bar["height"] >= 60, bar
    assert knob["width"] >= 60 and knob["height"] >= 36, knob
    assert bar["y"] + bar["height"] < 0.35 * PHONE["height"], bar
    await screen(page, "rider-shift-offline")
    # The words are part of the control: pressing them switches too.
    await page.locator("#online-label").click()
    await expect(switch).to_be_checked()
    await expect(switch).to_have_attribute("aria-checked", "true")
    await expect(page.locator("#online-label")).to_have_text("Online: receiving offers")
    await expect(page.locator("#online-hint")).to_contain_text("Switch off")
    await screen(page, "rider-shift-online")
    await switch.press("Space")
    await expect(page.locator("#online-label")).to_have_text("Offline: no offers")


@pytest.mark.parametrize("viewport", [PHONE, SMALL_TABLET], ids=["390px", "800px"])
async def test_an_offer_is_on_screen_without_scrolling_on_a_narrow_screen(
    browser: Browser, node: Node, node_api: Api, viewport: dict[str, int]
) -> None:
    person = await open_watched(browser, "rider", node.url, viewport=viewport)
    page = person.page
    try:
        await sign_up(page, "rider", "Nadia Narrow")
        await go_online(page)
        order_id, owner = await accepted_order_near(node, node_api, page)
        await owner.http.aclose()
        offer = page.locator(f'.offer[data-order-id="{order_id}"]')
        await expect(offer).to_be_visible()
        assert await page.evaluate("window.scrollY") == 0
        # The whole offer, its Accept button included, is in the first screenful.
        await expect(offer.get_by_role("button", name="Accept")).to_be_in_viewport(ratio=1)
        box = await offer.bounding_box()
        assert box and box["y"] + box["height"] <= viewport["height"], box
        # Offers come before the map in the page's order too (keyboard and screen readers).
        order = await page.evaluate(
            "[...document.querySelectorAll('section.card')].map((s) => s.id)"
        )
        assert order.index("offers-card") < order.index("position-card"), order
        await screen(page, f"rider-offer-first-{viewport['width']}px")
    finally:
        await person.context.close()
    person.assert_clean()
