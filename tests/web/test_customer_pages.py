"""Customer pages on one real node: coupons, the minimum order, sold-out items, a declined card."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import expect

from tests.client import Api
from tests.web.browser import Watched
from tests.web.journey import loaded
from tests.web.single_node import ADMIN, add_to_cart, customer, node, node_api, open_store

__all__ = ["customer", "node", "node_api"]


async def test_customer_claims_a_live_coupon_and_pays_less_with_it(
    node_api: Api, customer: Watched
) -> None:
    await node_api.login(ADMIN["email"], ADMIN["password"])
    now = datetime.now(UTC)
    campaign = await node_api.post(
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
    store_id, _ = await open_store(node_api, [{"name": "Tuna gimbap", "price": 12000}])
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
    await page.get_by_label("Coupon").select_option(
        label="Lunch ₩2,000 off: −₩2,000 (min. ₩10,000)"
    )
    await expect(page.locator("#place-order")).to_have_text("Place order · ₩13,000")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    await expect(page.locator("#order-total")).to_have_text("₩13,000")
    await expect(page.locator("#items")).to_contain_text("−₩2,000")


async def test_cart_under_the_minimum_cannot_check_out_and_sold_out_items_cannot_be_added(
    node_api: Api, customer: Watched
) -> None:
    store_id, _ = await open_store(
        node_api,
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
    node_api: Api, customer: Watched
) -> None:
    store_id, _ = await open_store(node_api, [{"name": "Cheese gimbap", "price": 11000}])
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
