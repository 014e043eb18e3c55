"""Customer pages on one real node: coupons, the minimum order, sold-out items, a declined card."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.config import Settings
from app.launcher.nodes import Node
from tests.client import Api
from tests.harness import Infra
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded, sign_up

ADMIN = {"email": "admin@example.com", "password": "admin-password-123"}


@pytest.fixture
def node(infra: Infra, settings: Settings) -> Iterator[Node]:
    """A `delivery serve` node on freshly emptied test services, with an admin created at start."""
    started = infra.start_node(
        "web-pages",
        DELIVERY_ADMIN_EMAIL=ADMIN["email"],
        DELIVERY_ADMIN_PASSWORD=ADMIN["password"],
        SIGNUP_MAX_PER_ADDRESS="1000",
    )
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def api(node: Node) -> AsyncIterator[Api]:
    """An API client on the node."""
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        yield Api(http)


@pytest.fixture
async def customer(browser: Browser, node: Node, api: Api) -> AsyncIterator[Watched]:
    """A customer's browser, signed up on the landing page, with the address set near the store."""
    person = await open_watched(browser, "customer", node.url)
    await sign_up(person.page, "customer", "Chris Customer")
    await person.page.locator("#addr-text").fill("1 Test-ro")
    await person.page.locator("#addr-lat").fill("37.5660")
    await person.page.locator("#addr-lng").fill("126.9770")
    await person.page.get_by_role("button", name="Use this address").click()
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def open_store(api: Api, items: list[dict[str, Any]], **store: Any) -> int:
    """An open store of a fresh owner with `items`; returns its id."""
    owner = Api(api.http.__class__(base_url=str(api.http.base_url), timeout=30))
    try:
        await owner.sign_in_as("owner")
        body = {
            "name": "Gimbap Corner",
            "category": "korean",
            "address": "2 Test-ro",
            "lat": 37.5665,
            "lng": 126.978,
            "phone": "02-555-0101",
            "min_order": 10000,
            "delivery_fee": 3000,
            **store,
        }
        created = await owner.post("/api/stores", json=body)
        assert created.status_code == 201, created.text
        store_id = int(created.json()["id"])
        for item in items:
            sold_out = item.pop("sold_out", False)
            made = await owner.post(f"/api/stores/{store_id}/menu", json={"group": "Mains", **item})
            assert made.status_code == 201, made.text
            if sold_out:
                patched = await owner.patch(
                    f"/api/menu-items/{made.json()['id']}", json={"sold_out": True}
                )
                assert patched.status_code == 200, patched.text
        opened = await owner.patch(f"/api/stores/{store_id}", json={"open": True})
        assert opened.status_code == 200, opened.text
        return store_id
    finally:
        await owner.http.aclose()


async def add_to_cart(person: Watched, store_id: int, item: str) -> None:
    page = person.page
    if not page.url.endswith(f"/customer/stores/{store_id}"):
        await page.goto(f"/customer/stores/{store_id}")
        await loaded(page)
    await (
        page.locator(".menu-item", has_text=item).get_by_role("button", name="Add to cart").click()
    )


async def test_customer_claims_a_live_coupon_and_pays_less_with_it(
    api: Api, customer: Watched
) -> None:
    await api.login(ADMIN["email"], ADMIN["password"])
    now = datetime.now(UTC)
    campaign = await api.post(
        "/api/coupon-campaigns",
        json={
            "name": "Lunch ₩2,000 off",
            "discount": 2000,
            "min_order": 10000,
            "quantity": 2,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(hours=1)).isoformat(),
        },
    )
    assert campaign.status_code == 201, campaign.text
    store_id = await open_store(api, [{"name": "Tuna gimbap", "price": 12000}])
    page = customer.page

    await page.get_by_role("link", name="Points & coupons").click()
    await loaded(page)
    row = page.locator(f'tr[data-campaign-id="{campaign.json()["id"]}"]')
    await expect(row).to_contain_text("2 of 2")
    await row.get_by_role("button", name="Claim Lunch ₩2,000 off").click()
    await expect(row).to_contain_text("Claimed")
    await expect(row).to_contain_text("1 of 2")
    await expect(page.locator("#my-coupons")).to_contain_text("Lunch ₩2,000 off: −₩2,000")
    await customer.shot("customer-points-and-coupons")

    await add_to_cart(customer, store_id, "Tuna gimbap")
    await page.locator("#to-checkout").click()
    await loaded(page)
    await page.get_by_label("Card number").fill("4242424242424242")
    await page.get_by_label("Coupon").select_option(label="Lunch ₩2,000 off: −₩2,000 (min. ₩10,000)")
    await expect(page.locator("#place-order")).to_have_text("Place order · ₩13,000")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    await expect(page.locator("#order-total")).to_have_text("₩13,000")
    await expect(page.locator("#items")).to_contain_text("−₩2,000")


async def test_cart_under_the_minimum_cannot_check_out_and_sold_out_items_cannot_be_added(
    api: Api, customer: Watched
) -> None:
    store_id = await open_store(
        api,
        [
            {"name": "Veggie gimbap", "price": 8000},
            {"name": "Beef gimbap", "price": 9000, "sold_out": True},
        ],
        min_order=15000,
    )
    page = customer.page
    await add_to_cart(customer, store_id, "Veggie gimbap")
    sold_out = page.locator(".menu-item", has_text="Beef gimbap")
    await expect(sold_out).to_contain_text("Sold out")
    await expect(sold_out.get_by_role("button", name="Add to cart")).to_have_count(0)
    await expect(page.locator("#min-order-note")).to_have_text(
        "Minimum order is ₩15,000: add ₩7,000 more."
    )
    await expect(page.get_by_role("button", name="Go to checkout")).to_be_disabled()
    await customer.shot("customer-cart-below-minimum")
    await page.get_by_role("button", name="One more Veggie gimbap").click()
    await expect(page.locator("#min-order-note")).to_have_count(0)
    await expect(page.locator("#cart-subtotal")).to_have_text("₩16,000")
    await expect(page.locator("#to-checkout")).to_be_visible()


async def test_a_declined_card_shows_the_problem_and_the_cart_stays(
    api: Api, customer: Watched
) -> None:
    store_id = await open_store(api, [{"name": "Cheese gimbap", "price": 11000}])
    page = customer.page
    await add_to_cart(customer, store_id, "Cheese gimbap")
    await page.locator("#to-checkout").click()
    await loaded(page)
    await page.get_by_label("Card number").fill("4000 0000 0000 0002")
    customer.tolerate = re.compile(r"\b402\b")
    await page.locator("#place-order").click()
    problem = page.locator("#problem")
    await expect(problem).to_be_visible()
    await expect(problem).to_contain_text(re.compile("declin", re.IGNORECASE))
    customer.tolerate = None
    assert customer.tolerated, "the decline never reached the page"
    assert page.url.endswith("/customer/checkout")
    await expect(page.locator("#cart")).to_contain_text("Cheese gimbap")
    await customer.shot("customer-checkout-declined")

    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    await expect(page.locator("#order-total")).to_have_text("₩14,000")
