"""Three people in three browsers complete an order on two nodes behind nginx, all live."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from app.launcher.cluster import Cluster
from tests.web.browser import Watched, open_watched
from tests.web.journey import (
    Journey,
    customer_orders,
    loaded,
    owner_board_rings_and_accepts,
    owner_builds_and_opens_store,
    path_between,
    rider_drives,
    rider_goes_online,
    rider_takes_the_offer,
)

pytestmark = pytest.mark.system


async def mark_document(*people: Watched) -> None:
    """Tag each page's document; the tag survives only if the page is never reloaded."""
    for person in people:
        await person.page.evaluate("window.__sameDocument = true")


async def assert_same_document(*people: Watched) -> None:
    for person in people:
        assert await person.page.evaluate("window.__sameDocument === true"), (
            f"{person.name}'s page was reloaded"
        )


async def test_order_from_new_store_to_delivery_updates_every_screen_live(
    cluster: Cluster, browser: Browser, tmp_path: Path
) -> None:
    journey = Journey(lat=37.5700, lng=126.9800)
    owner = await open_watched(browser, "owner", cluster.url)
    rider = await open_watched(
        browser,
        "rider",
        cluster.url,
        permissions=["geolocation"],
        geolocation=journey.rider_start,
    )
    customer = await open_watched(browser, "customer", cluster.url)
    people = (owner, rider, customer)
    try:
        await owner_builds_and_opens_store(owner, tmp_path, journey)
        await owner.shot("owner-board")
        await rider_goes_online(rider)
        await rider.shot("rider-online")
        await customer_orders(customer, journey)
        await customer.shot("customer-order-placed")
        await mark_document(*people)

        await owner_board_rings_and_accepts(owner, journey)
        await expect(customer.page.locator("body")).to_have_attribute(
            "data-order-status", "accepted"
        )
        await expect(customer.page.locator('[data-step="accepted"]')).to_have_class(
            re.compile(r"\bdone\b")
        )
        await expect(customer.page.locator("#eta")).to_have_text(re.compile("Estimated arrival"))

        await rider_takes_the_offer(rider, journey)
        await expect(customer.page.locator("#rider-line")).to_have_text("Your rider: Ria Rider")
        await expect(customer.page.locator('[data-marker="rider"]')).to_be_visible()
        card = owner.page.locator(f'.order-card[data-order-id="{journey.order_id}"]')
        await expect(card.locator(".rider")).to_have_text("Rider: Ria Rider")

        started = time.perf_counter()
        await card.get_by_role("button", name="Mark ready").click()
        await expect(card).to_have_attribute("data-status", "ready")
        await expect(rider.page.locator("body")).to_have_attribute("data-active-status", "ready")
        await expect(customer.page.locator("body")).to_have_attribute("data-order-status", "ready")
        print(
            f"owner's click to all three screens showing 'ready': {time.perf_counter() - started:.3f} s"
        )
        await rider.shot("rider-active-delivery")
        await rider.page.get_by_role("button", name="Picked up").click()
        await expect(customer.page.locator("body")).to_have_attribute(
            "data-order-status", "picked_up"
        )
        await expect(card).to_have_attribute("data-status", "picked_up")

        start = {"lat": journey.rider_start["latitude"], "lng": journey.rider_start["longitude"]}
        delays = await rider_drives(rider, customer, path_between(start, journey.home, 4)[:3])
        print("rider's fix to the customer's map (s):", ", ".join(f"{d:.3f}" for d in delays))
        await customer.shot("customer-order-rider-on-the-way")

        await rider.page.get_by_role("button", name="Delivered").click()
        await expect(customer.page.locator("body")).to_have_attribute(
            "data-order-status", "delivered"
        )
        await expect(customer.page.locator("#eta")).to_have_text(re.compile("^Delivered"))
        await expect(customer.page.locator('[data-marker="rider"]')).to_have_count(0)
        await expect(owner.page.locator("#done")).to_contain_text(f"#{journey.order_id}")
        await expect(rider.page.locator("#delivered-count")).to_have_text("1")
        await expect(rider.page.locator("#earned")).to_have_text(journey.rider_fee)
        await assert_same_document(*people)
        await customer.shot("customer-order-delivered")
        await owner.shot("owner-board-after-delivery")
        await rider.shot("rider-history")

        await customer.page.goto("/customer/orders")
        await loaded(customer.page)
        await expect(customer.page.locator("#orders")).to_contain_text("Delivered")
        await customer.shot("customer-order-history")
        await rider.page.locator("#online-switch").uncheck()
        await expect(rider.page.locator("#online-label")).to_have_text("Offline: no offers")
    finally:
        for person in people:
            print(f"{person.name}'s browser reported:", *person.problems, sep="\n  ")
            await person.context.close()
    for person in people:
        person.assert_clean()
