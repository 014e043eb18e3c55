"""The rider's page with bundles (the batch dispatcher offering two orders as one): one card for
both offers, "Accept both", then two active deliveries, each picked up and delivered on its own,
both back after a reload."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect
from redis.asyncio import Redis

from app.config import Settings
from app.launcher.nodes import Node
from tests.client import Api
from tests.dispatch.test_bundles import bundle_of
from tests.harness import Infra
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded, sign_up
from tests.web.single_node import ADMIN, open_store
from tests.web.test_rider_earnings_and_layout import PHONE, go_online, screen, where

STREETS = ["7 Bundle-ro, Apt 301", "7 Bundle-ro, Apt 302"]


@pytest.fixture
def node(infra: Infra, settings: Settings) -> Iterator[Node]:
    """A node dispatching in batches with bundles on; a batch runs only when a test makes it
    due (the period is long)."""
    started = infra.start_node(
        "web-bundles",
        DELIVERY_ADMIN_EMAIL=ADMIN["email"],
        DELIVERY_ADMIN_PASSWORD=ADMIN["password"],
        DISPATCH_STRATEGY="batch",
        DISPATCH_BATCH_SECONDS="300",
        DISPATCH_RADIUS_KM="5",
        DISPATCH_BUNDLES="true",
    )
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(infra.cache_redis.url)
    yield client
    await client.aclose()


@pytest.fixture
async def rider(browser: Browser, node: Node) -> AsyncIterator[Watched]:
    person = await open_watched(browser, "rider", node.url, viewport=PHONE)
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def two_accepted_orders(node: Node, rider: Page) -> tuple[list[int], Api]:
    """A store 300 m north of the rider gets two orders for neighbours 0.8 km south of it and
    accepts both; their ids and the owner's API client (open until the test ends)."""
    lat, lng = await where(rider)
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        store_id, owner_email = await open_store(
            Api(http), [{"name": "Mandu", "price": 12000}], lat=round(lat + 0.0027, 6), lng=lng
        )
        customer = Api(http)
        await customer.sign_in_as("customer")
        menu = (await customer.get(f"/api/stores/{store_id}")).json()["menu"]
        ids = []
        for street in STREETS:
            placed = await customer.post(
                "/api/orders",
                headers={"Idempotency-Key": uuid.uuid4().hex},
                json={
                    "store_id": store_id,
                    "items": [
                        {"menu_item_id": menu[0]["items"][0]["id"], "quantity": 1, "option_ids": []}
                    ],
                    "address": {"text": street, "lat": round(lat - 0.0045, 6), "lng": lng},
                    "rider_note": f"Door of {street[-3:]}",
                    "payment": {"method": "card", "card_number": "4242424242424242"},
                },
            )
            assert placed.status_code == 201, placed.text
            ids.append(int(placed.json()["id"]))
    owner = Api(httpx.AsyncClient(base_url=node.url, timeout=30))
    await owner.login(owner_email)
    for order_id in ids:
        accepted = await owner.post(f"/api/orders/{order_id}/accept", json={"prep_minutes": 10})
        assert accepted.status_code == 200, accepted.text
    return ids, owner


def delivery(page: Page, order_id: int) -> Locator:
    return page.locator(f'#active .active-order[data-order-id="{order_id}"]')


async def test_the_rider_takes_a_bundle_with_one_button_and_delivers_both_orders_one_by_one(
    node: Node, infra: Infra, redis: Redis, rider: Watched
) -> None:
    page = rider.page
    await sign_up(page, "rider", "Bo Bundle")
    await go_online(page)
    ids, owner = await two_accepted_orders(node, page)
    try:
        bundle_id = await bundle_of(redis, infra, ids)

        # One card for both offers: the store, both drop-offs, the fees together, one button.
        card = page.locator("#offers .offer")
        await expect(card).to_have_count(1)
        await expect(card).to_have_attribute("data-bundle-id", str(bundle_id))
        await expect(card).to_contain_text("Two orders together")
        await expect(card).to_contain_text("Pick up at Gimbap Corner (both orders")
        for order_id in ids:
            await expect(card.locator(f'li[data-order-id="{order_id}"]')).to_contain_text(
                re.compile(rf"Order #{order_id}: drop-off 0\.\d km from the store, south")
            )
        await expect(card).not_to_contain_text("Bundle-ro")
        await expect(card.locator(".countdown")).to_have_text(re.compile(r"^\d+ s$"))
        offers = (await rider_offers(page)).get("offers", [])
        assert sorted(o["order_id"] for o in offers) == ids
        total = sum(int(o["fee"]) for o in offers)
        await expect(card.locator(".fee")).to_have_text(f"fee ₩{total:,} for both")
        await expect(card.get_by_role("button", name="Accept", exact=True)).to_have_count(0)
        await screen(page, "rider-bundle-offer")

        await card.get_by_role("button", name="Accept both").click()
        await expect(page.locator("#active .active-order")).to_have_count(2)
        await expect(page.locator("#offers .offer")).to_have_count(0)
        await expect(page.locator("#active-h")).to_have_text("Active deliveries (2)")
        for order_id, street in zip(ids, STREETS, strict=True):
            await expect(delivery(page, order_id)).to_contain_text(street)
            await expect(delivery(page, order_id)).to_contain_text(f"Door of {street[-3:]}")
        # The map shows the store once and both doors, on one route.
        await expect(page.locator('#map [data-marker^="store-"]')).to_have_count(1)
        for order_id in ids:
            await expect(page.locator(f'#map [data-marker="home-{order_id}"]')).to_have_count(1)
        await expect(page.locator("#toast.show")).to_have_count(0, timeout=10_000)
        await rider.shot("rider-two-deliveries")

        # A reload shows both again (from the rider's assigned orders).
        await page.reload()
        await loaded(page)
        await expect(page.locator("#active .active-order")).to_have_count(2)
        await expect(page.locator("body")).to_have_attribute("data-active-count", "2")

        # Each order goes its own way: the first is picked up and delivered, the second stays.
        first, second = ids
        assert (await owner.post(f"/api/orders/{first}/ready")).status_code == 200
        await expect(delivery(page, first)).to_have_attribute("data-status", "ready")
        await expect(delivery(page, second)).to_have_attribute("data-status", "accepted")
        await expect(
            delivery(page, second).get_by_role("button", name="Picked up")
        ).to_be_disabled()
        await delivery(page, first).get_by_role("button", name="Picked up").click()
        await expect(delivery(page, first)).to_have_attribute("data-status", "picked_up")
        # Picked up: it can no longer be given back; the other one still can.
        await expect(delivery(page, first).get_by_role("button", name="Give back")).to_have_count(0)
        await expect(delivery(page, second).get_by_role("button", name="Give back")).to_be_enabled()
        await delivery(page, first).get_by_role("button", name="Delivered").click()
        await expect(page.locator(".toast")).to_contain_text("Delivered. You earned")
        await expect(delivery(page, first)).to_have_count(0)
        await expect(page.locator("#active .active-order")).to_have_count(1)
        await expect(page.locator("#active-h")).to_have_text("Active delivery")
        await expect(page.locator("#delivered-count")).to_have_text("1")
        # Still carrying one: no offers, and going offline is refused on the page.
        await expect(page.get_by_role("switch")).to_be_disabled()

        assert (await owner.post(f"/api/orders/{second}/ready")).status_code == 200
        await expect(delivery(page, second)).to_have_attribute("data-status", "ready")
        await delivery(page, second).get_by_role("button", name="Picked up").click()
        await expect(delivery(page, second)).to_have_attribute("data-status", "picked_up")
        await delivery(page, second).get_by_role("button", name="Delivered").click()
        await expect(page.locator("#active .active-order")).to_have_count(0)
        await expect(page.locator("#active")).to_have_text("No active delivery.")
        await expect(page.locator("#delivered-count")).to_have_text("2")
        await expect(page.get_by_role("switch")).to_be_enabled()
    finally:
        await owner.http.aclose()


async def rider_offers(page: Page) -> dict[str, Any]:
    """The rider's open offers, read with the page's own session."""
    result = await page.evaluate("fetch('/api/dispatch/offers').then((r) => r.json())")
    assert isinstance(result, dict), result
    return result


async def test_a_bundle_half_taken_while_the_rider_accepts_says_why_and_leaves_the_screen(
    node: Node, infra: Infra, redis: Redis, rider: Watched
) -> None:
    page = rider.page
    await sign_up(page, "rider", "Cy Contested")
    await go_online(page)
    ids, owner = await two_accepted_orders(node, page)
    admin = Api(httpx.AsyncClient(base_url=node.url, timeout=30))
    other = Api(httpx.AsyncClient(base_url=node.url, timeout=30))
    try:
        await admin.login(ADMIN["email"], ADMIN["password"])
        await other.sign_in_as("rider")
        lat, lng = await where(page)
        shift = await other.put(
            "/api/riders/me/shift", json={"online": True, "lat": lat, "lng": lng}
        )
        assert shift.status_code == 200, shift.text
        other_id = int(other.user["id"])
        await bundle_of(redis, infra, ids)
        card = page.locator("#offers .offer")
        await expect(card).to_have_count(1)

        # The rider presses "Accept both" just as an operator gives the first order to another
        # rider: the accept reaches the node after that assignment (held, then sent on as is).
        async def after_the_operator(route: Route) -> None:
            taken = await admin.post(
                f"/api/admin/orders/{ids[0]}/assign", json={"rider_id": other_id}
            )
            assert taken.status_code == 200, taken.text
            await route.continue_()

        await page.route("**/api/dispatch/bundles/*/accept", after_the_operator)
        # The refusal is this test's point: the browser's report of it is expected, once.
        rider.tolerate = re.compile(r"409.*/api/dispatch/bundles/\d+/accept")
        await card.get_by_role("button", name="Accept both").click()

        problem = page.locator("#problem")
        await expect(problem).to_contain_text("Could not take both orders.")
        await expect(problem).to_contain_text("Another rider took one of these orders first.")
        await expect(page.locator("#offers .offer")).to_have_count(0)
        await expect(page.locator("#active .active-order")).to_have_count(0)
        # Neither order is the rider's: the first is the other rider's, the second unassigned.
        riders = infra.query(
            "SELECT id, rider_id FROM orders WHERE id IN (%s, %s) ORDER BY id", *ids
        )
        assert riders == [(ids[0], other_id), (ids[1], None)]
        rider.tolerate = None
        assert len(rider.tolerated) == 2, rider.tolerated  # the response and the console line
        await screen(page, "rider-bundle-half-taken")
    finally:
        for client in (owner, admin, other):
            await client.http.aclose()
