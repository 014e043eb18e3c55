"""Opening hours and pauses in the browser, on one real node: the owner's hours editor and pause
buttons, and a customer's store list, store page, cart and checkout following the store live."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded
from tests.web.single_node import add_to_cart, customer, node, node_api, open_store, sign_in

__all__ = ["customer", "node", "node_api"]

SEOUL = ZoneInfo("Asia/Seoul")


def day_of(end: datetime, now: datetime) -> str:
    """How the pages name the day `end` falls on, seen at `now`: `today` or `tomorrow` in Seoul
    (a pause of minutes ends one or the other)."""
    return "today" if end.astimezone(SEOUL).date() == now.astimezone(SEOUL).date() else "tomorrow"


@pytest.fixture
async def owner_api(node: Node) -> AsyncIterator[Api]:
    """An API client on the node, for the store's owner to sign in with."""
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        yield Api(http)


async def test_owner_sets_hours_and_pauses_from_the_store_page(
    browser: Browser, node: Node, node_api: Api, owner_api: Api
) -> None:
    store_id, email = await open_store(node_api, [{"name": "Kimchi stew", "price": 9000}])
    owner = await open_watched(browser, "owner", node.url)
    try:
        await sign_in(owner, email)
        page = owner.page
        await page.goto(f"/owner/stores/{store_id}")
        await loaded(page)
        taking = page.locator("#taking")
        await expect(page.locator("#state-badge")).to_have_text("Open")

        before = datetime.now(SEOUL)
        await taking.get_by_role("button", name="Pause 15 min").click()
        await expect(page.locator("#state-badge")).to_have_text("Paused")
        after = datetime.now(SEOUL)
        await expect(page.locator("#pause-left")).to_contain_text(
            re.compile(r"Paused: 1[45]:\d\d left")
        )
        # Today in Seoul, unless the pause ends past midnight there (the page said it at some
        # moment between the two readings of the clock).
        days = {
            day_of(start + timedelta(minutes=15), now)
            for start in (before, after)
            for now in (before, after)
            if now >= start
        }
        await expect(page.locator("#state-detail")).to_contain_text(
            re.compile(rf"takes orders again ({'|'.join(days)}) at")
        )
        await owner.shot("owner-store-paused")
        await taking.get_by_role("button", name="Resume now").click()
        await expect(page.locator("#state-badge")).to_have_text("Open")
        await expect(page.locator("#pause-left")).to_be_hidden()

        hours = page.locator("#hours-form")
        await expect(hours.get_by_label("Time zone")).to_have_value("Asia/Seoul")
        await hours.get_by_role("button", name="Add opening").click()
        await hours.get_by_role("button", name="Add opening").click()
        rows = hours.locator("tr.hours-row")
        await rows.nth(0).get_by_label("Day").select_option(label="Friday")
        await rows.nth(0).get_by_label("Opens").fill("17:00")
        await rows.nth(0).get_by_label("Closes").fill("02:00")
        # Saturday 01:00 falls inside Friday's night: refused, with the reason.
        await rows.nth(1).get_by_label("Day").select_option(label="Saturday")
        await rows.nth(1).get_by_label("Opens").fill("01:00")
        await rows.nth(1).get_by_label("Closes").fill("05:00")
        owner.tolerate = re.compile(r"\b400\b")
        await hours.get_by_role("button", name="Save hours").click()
        await expect(hours.locator(".problem")).to_contain_text("overlaps Friday 17:00–02:00")
        owner.tolerate = None
        await rows.nth(1).get_by_label("Opens").fill("11:00")
        await rows.nth(1).get_by_label("Closes").fill("15:00")
        closed = (datetime.now(SEOUL).date() + timedelta(days=3)).isoformat()
        await hours.get_by_label("Date").fill(closed)
        await hours.get_by_role("button", name="Add closed date").click()
        await expect(hours.locator("#closed-dates")).to_contain_text(closed)
        await hours.get_by_role("button", name="Save hours").click()
        await expect(hours.locator(".problem")).to_be_hidden()
        await expect(page.locator("#toast")).to_have_text("Opening hours saved")
        await owner.shot("owner-store-hours")

        await owner_api.login(email)
        store = (await owner_api.get(f"/api/stores/{store_id}")).json()
        assert store["hours"] == [
            {"day": 4, "opens": "17:00", "closes": "02:00"},
            {"day": 5, "opens": "11:00", "closes": "15:00"},
        ]
        assert store["closed_dates"] == [closed]
        # The page states what the server says.
        want = "Open" if store["open_now"] else "Closed"
        await expect(page.locator("#state-badge")).to_have_text(want)
    finally:
        await owner.context.close()
    owner.assert_clean()


async def test_customer_sees_the_store_close_pause_and_sell_out_as_it_happens(
    node_api: Api, owner_api: Api, customer: Watched
) -> None:
    store_id, email = await open_store(
        node_api,
        [{"name": "Tuna gimbap", "price": 6000}, {"name": "Ramyeon", "price": 5000}],
        min_order=5000,
    )
    later_id, later_email = await open_store(
        node_api, [{"name": "Late noodles", "price": 9000}], name="Night Noodles"
    )
    await owner_api.login(email)
    page = customer.page

    # A store whose hours start tomorrow shows when, in the list.
    tomorrow = datetime.now(SEOUL).date() + timedelta(days=1)
    other = Api(httpx.AsyncClient(base_url=str(owner_api.http.base_url), timeout=30))
    try:
        await other.login(later_email)
        saved = await other.put(
            f"/api/stores/{later_id}/hours",
            json={"weekly": [{"day": tomorrow.weekday(), "opens": "23:30", "closes": "01:00"}]},
        )
        assert saved.status_code == 200, saved.text
    finally:
        await other.http.aclose()
    await page.goto("/customer")
    await loaded(page)
    card = page.locator(f'[data-store-id="{later_id}"]')
    await expect(card).to_contain_text("Closed")
    await expect(card).to_contain_text("Closed: opens tomorrow at 23:30")
    await expect(page.locator(f'[data-store-id="{store_id}"]')).to_contain_text("Open")
    await customer.shot("customer-stores-opening-times")

    await add_to_cart(customer, store_id, "Tuna gimbap")
    await add_to_cart(customer, store_id, "Ramyeon")
    await expect(page.locator("#to-checkout")).to_be_visible()

    paused = await owner_api.post(f"/api/stores/{store_id}/pause", json={"minutes": 30})
    assert paused.status_code == 200, paused.text
    await expect(page.locator("#store-state")).to_have_text("Paused")
    # Today in Seoul, unless the pause runs past midnight there (paused after 23:30).
    until = datetime.fromisoformat(paused.json()["paused_until"])
    day = day_of(until, datetime.now(SEOUL))
    await expect(page.locator("#store-when")).to_contain_text(f"takes orders again {day} at")
    await expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)
    await expect(page.locator("#cart-blocked")).to_contain_text(
        "Gimbap Corner is not taking orders"
    )
    await expect(page.get_by_role("button", name="Go to checkout")).to_be_disabled()
    await customer.shot("customer-store-paused-live")

    resumed = await owner_api.delete(f"/api/stores/{store_id}/pause")
    assert resumed.status_code == 200
    await expect(page.locator("#store-state")).to_have_text("Open")
    await expect(page.locator("#cart-blocked")).to_have_count(0)
    await expect(page.locator("#to-checkout")).to_be_visible()

    ramyeon = await item_id(owner_api, store_id, "Ramyeon")
    sold = await owner_api.patch(f"/api/menu-items/{ramyeon}", json={"sold_out": True})
    assert sold.status_code == 200
    await expect(page.locator(".menu-item", has_text="Ramyeon")).to_contain_text("Sold out")
    await expect(page.locator("#cart-blocked")).to_have_text(
        "Ramyeon is sold out: remove it to order."
    )
    await customer.shot("customer-cart-item-sold-out")
    await page.get_by_role("button", name="One less Ramyeon").click()
    await expect(page.locator("#cart-blocked")).to_have_count(0)

    await page.locator("#to-checkout").click()
    await loaded(page)
    await page.get_by_label("Card number").fill("4242424242424242")
    await expect(page.locator("#place-order")).to_be_enabled()
    closed = await owner_api.patch(f"/api/stores/{store_id}", json={"open": False})
    assert closed.status_code == 200
    await expect(page.locator("#place-order")).to_be_disabled()
    await expect(page.locator("#order-blocked")).to_have_text(
        "Gimbap Corner is not taking orders. Closed for now."
    )
    await customer.shot("customer-checkout-store-closed")
    opened = await owner_api.patch(f"/api/stores/{store_id}", json={"open": True})
    assert opened.status_code == 200
    await expect(page.locator("#place-order")).to_be_enabled()
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))


async def item_id(api: Api, store_id: int, name: str) -> int:
    page = (await api.get(f"/api/stores/{store_id}")).json()
    return next(i["id"] for g in page["menu"] for i in g["items"] if i["name"] == name)
