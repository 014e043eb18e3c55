"""Checkout shows the server's quote and refuses an address beyond the store's radius;
problems are sentences next to their fields and go once a later action succeeds; the cart and
the points keep within what the server takes; browsers get pages for a missing page and for
another owner's store."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.harness import Infra
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded, sign_up
from tests.web.single_node import ADMIN, add_to_cart, customer, node, node_api, open_store

__all__ = ["customer", "node", "node_api"]


async def _checkout(customer: Watched, store_id: int, item: str) -> None:
    page = customer.page
    await add_to_cart(customer, store_id, item)
    await page.locator("#to-checkout").click()
    await loaded(page)


async def test_checkout_shows_what_the_server_will_charge_with_a_coupon_above_the_food(
    node_api: Api, customer: Watched, infra: Infra
) -> None:
    # A campaign from before campaigns had to cover their discount: ₩50,000 off from ₩10,000.
    now = datetime.now(UTC).replace(tzinfo=None)
    infra.query(
        "INSERT INTO coupon_campaigns (name, discount, min_order, quantity, issued, valid_days,"
        " starts_at, ends_at, created_at, updated_at)"
        " VALUES (%s, 50000, 10000, 5, 0, 30, %s, %s, %s, %s)",
        "Grand opening",
        now - timedelta(minutes=1),
        now + timedelta(hours=1),
        now,
        now,
    )
    store_id, _ = await open_store(node_api, [{"name": "Tuna gimbap", "price": 13000}])
    page = customer.page
    await page.get_by_role("link", name="Points & coupons").click()
    await loaded(page)
    await page.get_by_role("button", name="Claim Grand opening").click()
    await expect(page.locator("#my-coupons")).to_contain_text("Grand opening")
    # The campaigns are read again after a claim: leave the page only once they are shown.
    await expect(page.locator("#campaigns .badge.ok")).to_have_text("Claimed")

    await _checkout(customer, store_id, "Tuna gimbap")
    await page.get_by_label("Card number").fill("4242424242424242")
    await expect(page.locator("#place-order")).to_have_text("Place order · ₩16,000")
    await page.get_by_label("Coupon").select_option(label="Grand opening: −₩50,000 (min. ₩10,000)")
    # The coupon pays for the food, not the delivery: the card pays the ₩3,000 fee.
    await expect(page.locator("#place-order")).to_have_text("Place order · ₩3,000")
    quote = page.locator("#quote")
    await expect(quote.locator("#quote-subtotal")).to_have_text("₩13,000")
    await expect(quote.locator("#quote-coupon_discount")).to_have_text("−₩13,000")
    await expect(quote.locator("#quote-total")).to_have_text("₩3,000")
    await expect(quote.locator("#quote-paid_amount")).to_have_text("₩3,000")
    await customer.shot("checkout-server-quote")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    await expect(page.locator("#order-total")).to_have_text("₩3,000")
    assert infra.query("SELECT amount FROM sandbox_charges") == [(3000,)]


async def test_a_bad_field_is_told_in_a_sentence_beside_it(
    node_api: Api, customer: Watched
) -> None:
    store_id, _ = await open_store(node_api, [{"name": "Cheese gimbap", "price": 11000}])
    page = customer.page
    await _checkout(customer, store_id, "Cheese gimbap")
    await page.get_by_label("Card number").fill("1234 5678")
    customer.tolerate = re.compile(r"\b400\b")
    await page.locator("#place-order").click()
    problem = page.locator("#problem")
    await expect(problem).to_contain_text("Card number must be 16 digits.")
    await expect(problem).not_to_contain_text("should match")
    await expect(problem).not_to_contain_text("payment.card")
    beside = page.locator("#card-field .field-error")
    await expect(beside).to_have_text("Card number must be 16 digits.")
    await expect(page.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")
    customer.tolerate = None
    assert customer.tolerated, "the refusal never reached the page"
    await customer.shot("checkout-field-error")

    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    await expect(page.locator("#order-total")).to_have_text("₩14,000")


async def test_an_old_problem_goes_once_a_later_action_succeeds(
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
    page = customer.page
    await page.get_by_role("link", name="Points & coupons").click()
    await loaded(page)
    customer.tolerate = re.compile(r"\b409\b")
    await page.get_by_role("button", name="Convert").click()
    points_problem = page.locator("#points-problem")
    await expect(points_problem).to_be_visible()
    await expect(points_problem).to_contain_text("Not enough points")
    customer.tolerate = None
    await page.get_by_role("button", name="Claim Lunch ₩2,000 off").click()
    await expect(page.locator("#my-coupons")).to_contain_text("Lunch ₩2,000 off")
    await expect(points_problem).to_be_hidden()


async def test_the_cart_and_the_points_stay_within_what_the_server_takes(
    node_api: Api, customer: Watched
) -> None:
    store_id, _ = await open_store(node_api, [{"name": "Veggie gimbap", "price": 8000}])
    page = customer.page
    await add_to_cart(customer, store_id, "Veggie gimbap")
    # A cart already near the most one line may hold.
    cart = json.loads(await page.evaluate("localStorage.getItem('delivery.cart')"))
    cart["lines"][0]["quantity"] = 98
    await page.evaluate(f"localStorage.setItem('delivery.cart', {json.dumps(json.dumps(cart))})")
    await page.reload()
    await loaded(page)
    more = page.get_by_role("button", name="One more Veggie gimbap")
    await more.click()
    quantity = page.locator("#cart [aria-label=quantity]")
    await expect(quantity).to_have_text("99")
    await expect(more).to_be_disabled()
    await expect(page.locator("#max-quantity-note")).to_have_text(
        "An order may hold at most 99 of each item."
    )
    await customer.shot("cart-at-most-99")
    await add_to_cart(customer, store_id, "Veggie gimbap")
    await expect(quantity).to_have_text("99")

    await page.locator("#to-checkout").click()
    await loaded(page)
    await expect(page.locator("#place-order")).to_have_text("Place order · ₩795,000")
    # The customer has no usable points: more is said at once, and nothing can be placed.
    await page.get_by_label("Use points").fill("500")
    await expect(page.locator("#points-note")).to_have_text(
        "You have 0 usable points: use at most that many."
    )
    await expect(page.locator("#place-order")).to_be_disabled()
    await customer.shot("checkout-points-over-balance")
    await page.get_by_label("Use points").fill("0")
    await expect(page.locator("#points-note")).to_be_hidden()
    await expect(page.locator("#place-order")).to_be_enabled()

    # Emptied at checkout, the cart cannot be ordered.
    await page.evaluate(
        f"localStorage.setItem('delivery.cart', {json.dumps(json.dumps({**cart, 'lines': [{**cart['lines'][0], 'quantity': 1}]}))})"
    )
    await page.reload()
    await loaded(page)
    await page.get_by_role("button", name="One less Veggie gimbap").click()
    await expect(page.locator("#cart")).to_contain_text("Your cart is empty.")
    await expect(page.locator("#place-order")).to_be_disabled()
    await expect(page.locator("#place-order")).to_have_text("Place order")


async def test_a_missing_page_and_another_owners_store_are_pages_for_people(
    browser: Browser, node: Node, node_api: Api, customer: Watched
) -> None:
    page = customer.page
    customer.tolerate = re.compile(r"\b404\b")
    for path in ("/customer/nope", "/nope"):
        response = await page.goto(path)
        assert response is not None and response.status == 404
        await loaded(page)
        await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        await expect(page.locator("body")).not_to_contain_text('"code"')
    await customer.shot("page-not-found")
    await page.get_by_role("link", name="Back to your home page").click()
    await page.wait_for_url("**/customer")
    await loaded(page)
    customer.tolerate = None

    store_id, _ = await open_store(node_api, [{"name": "Kimbap", "price": 9000}])
    owner = await open_watched(browser, "owner", node.url)
    try:
        await sign_up(owner.page, "owner", "Olive Owner")
        owner.tolerate = re.compile(r"\b403\b")
        response = await owner.page.goto(f"/owner/stores/{store_id}/board")
        assert response is not None and response.status == 403
        await loaded(owner.page)
        await expect(
            owner.page.get_by_role("heading", name="This store is not yours")
        ).to_be_visible()
        await expect(owner.page.locator("body")).not_to_contain_text("Something went wrong")
        await owner.shot("owner-store-not-yours")
        owner.tolerate = None
        owner.assert_clean()
    finally:
        await owner.context.close()


async def test_an_address_beyond_the_stores_radius_is_refused_before_the_order(
    node_api: Api, customer: Watched, infra: Infra
) -> None:
    # The customer's address is 37.5660, 126.9770; the store is 2.2 km north and delivers 1 km.
    store_id, _ = await open_store(
        node_api, [{"name": "Tuna gimbap", "price": 13000}], lat=37.5860, delivery_radius_km=1
    )
    customer.tolerate = re.compile(r"\b409\b")
    await _checkout(customer, store_id, "Tuna gimbap")
    page = customer.page
    await page.get_by_label("Card number").fill("4242424242424242")
    note = page.locator("#delivery-note")
    await expect(note).to_have_text(
        "Out of range: Gimbap Corner delivers up to 1 km away and this address is 2.2 km away. "
        "Choose an address nearer the store."
    )
    await expect(page.locator("#problem")).to_contain_text("delivers up to 1 km away")
    await expect(page.locator("#place-order")).to_be_disabled()
    await customer.shot("checkout-out-of-range")
    assert infra.query("SELECT COUNT(*) FROM orders WHERE store_id = %s", store_id) == [(0,)]
