"""The node a customer's page is connected to dies mid-journey; the page carries on live."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from app.launcher.cluster import Cluster
from tests.waiting import wait_until
from tests.web.browser import open_watched
from tests.web.journey import (
    Journey,
    customer_orders,
    loaded,
    node_index,
    owner_board_rings_and_accepts,
    owner_builds_and_opens_store,
    path_between,
    rider_drives,
    rider_goes_online,
    rider_takes_the_offer,
)

pytestmark = pytest.mark.system

# What a browser may report while its socket's node is down: the socket's own failures.
SOCKET_TROUBLE = re.compile(r"socket\.io|WebSocket", re.IGNORECASE)
WATCH_BANNER = """() => {
  const banner = document.getElementById("conn-banner");
  window.__bannerShown = !banner.hidden;
  new MutationObserver(() => { if (!banner.hidden) window.__bannerShown = true; })
    .observe(banner, { attributes: true, attributeFilter: ["hidden"] });
  window.__sameDocument = true;
}"""


async def test_customer_page_reconnects_through_nginx_when_its_node_dies(
    cluster: Cluster, browser: Browser, tmp_path: Path
) -> None:
    journey = Journey(lat=37.5150, lng=127.0400)
    owner = await open_watched(browser, "owner", cluster.url)
    rider = await open_watched(
        browser, "rider", cluster.url, permissions=["geolocation"], geolocation=journey.rider_start
    )
    customer = await open_watched(browser, "customer", cluster.url)
    people = (owner, rider, customer)
    killed: int | None = None
    try:
        await owner_builds_and_opens_store(owner, tmp_path, journey)
        await rider_goes_online(rider)
        await customer_orders(customer, journey)
        await owner_board_rings_and_accepts(owner, journey)
        await rider_takes_the_offer(rider, journey)
        await expect(customer.page.locator("#rider-line")).to_have_text("Your rider: Ria Rider")
        await customer.page.evaluate(WATCH_BANNER)

        killed = node_index(cluster, customer)
        for person in people:
            person.tolerate = SOCKET_TROUBLE
        cluster.kill_node(killed)
        await wait_until(
            lambda: customer.page.evaluate("window.__bannerShown === true"),
            what="the connection banner",
        )
        # The kitchen carries on while the customer's page is cut off.
        card = owner.page.locator(f'.order-card[data-order-id="{journey.order_id}"]')
        await card.get_by_role("button", name="Mark ready").click()
        await expect(card).to_have_attribute("data-status", "ready")

        await expect(customer.page.locator("#conn-banner")).to_be_hidden(timeout=30_000)
        await expect(customer.page.locator("body")).to_have_attribute("data-order-status", "ready")
        assert node_index(cluster, customer) != killed
        for person in people:
            person.tolerate = None
        await customer.shot("customer-order-after-node-failure")

        await expect(rider.page.locator("body")).to_have_attribute(
            "data-active-status", "ready", timeout=30_000
        )
        await rider.page.get_by_role("button", name="Picked up").click()
        await expect(customer.page.locator("body")).to_have_attribute(
            "data-order-status", "picked_up"
        )
        start = {"lat": journey.rider_start["latitude"], "lng": journey.rider_start["longitude"]}
        await rider_drives(rider, customer, path_between(start, journey.home, 3)[:2])
        await rider.page.get_by_role("button", name="Delivered").click()
        await expect(customer.page.locator("body")).to_have_attribute(
            "data-order-status", "delivered"
        )
        assert await customer.page.evaluate("window.__sameDocument === true"), "page reloaded"

        # What the live page shows is what a fresh load shows.
        fresh = await customer.context.new_page()
        await fresh.goto(customer.page.url)
        await loaded(fresh)
        await expect(fresh.locator("body")).to_have_attribute("data-order-status", "delivered")
        assert (
            await fresh.locator("#timeline").inner_text()
            == await customer.page.locator("#timeline").inner_text()
        )
        await rider.page.locator("#online-switch").uncheck()
        await expect(rider.page.locator("#online-label")).to_have_text("Offline: no offers")
    finally:
        for person in people:
            print(f"{person.name}'s browser reported:", *person.problems, sep="\n  ")
            print("while its node was down (expected):", *person.tolerated, sep="\n  ")
            await person.context.close()
        if killed is not None:
            cluster.restart_node(killed)
    for person in people:
        person.assert_clean()
