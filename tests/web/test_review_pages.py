"""Reviews in the web UI on one real node: the customer rates a delivered order on its page,
a store's page shows its rating and reviews with replies, page by page, and its owner replies
(and sees a new review arrive live)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.dispatch.helpers import go_on_shift
from tests.orders.helpers import open_shop, place
from tests.reviews.helpers import deliver, review_path
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded
from tests.web.single_node import add_to_cart, customer, node, node_api, open_store, sign_in

__all__ = ["customer", "node", "node_api"]


class Clients:
    """API clients on the node, each with its own cookie jar."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[Api] = []

    def new(self) -> Api:
        api = Api(httpx.AsyncClient(base_url=self.url, timeout=30))
        self.made.append(api)
        return api


@pytest.fixture
async def clients(node: Node) -> AsyncIterator[Clients]:
    """Fresh API clients on the node, closed after the test."""
    made = Clients(node.url)
    try:
        yield made
    finally:
        for api in made.made:
            await api.http.aclose()


async def _rider(api: Api) -> Api:
    await api.sign_in_as("rider")
    await go_on_shift(api)
    return api


async def test_the_customer_rates_a_delivered_order_on_its_page(
    node: Node, node_api: Api, customer: Watched, clients: Clients
) -> None:
    store_id, owner_email = await open_store(
        node_api, [{"name": "Tuna gimbap", "price": 12000}], lat=37.5660, lng=126.9770
    )
    page = customer.page
    await add_to_cart(customer, store_id, "Tuna gimbap")
    await page.locator("#to-checkout").click()
    await loaded(page)
    await page.get_by_label("Card number").fill("4242424242424242")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    order_id = int(page.url.rsplit("/", 1)[1])
    review_card = page.locator("#review-card")
    await expect(review_card).to_be_hidden()

    owner, rider = clients.new(), await _rider(clients.new())
    await owner.login(owner_email)
    await deliver({"id": order_id}, owner, rider)
    # The page follows the order live: once delivered it offers the review form.
    await expect(page.locator("#status-badge")).to_have_text(re.compile("Delivered", re.I))
    form = page.locator("#review-form")
    await expect(form).to_be_visible()
    await expect(page.locator("#review-h")).to_have_text("Rate your order")

    await form.get_by_role("button", name="Send review").click()
    await expect(form.locator(".problem")).to_have_text("No rating yet Choose from 1 to 5 stars.")
    await form.get_by_label("4 stars").check()
    await form.get_by_label("What did you think? (optional)").fill("Warm rice, crisp laver.")
    await customer.shot("customer-order-review-form")
    await form.get_by_role("button", name="Send review").click()

    mine = page.locator("#my-review .review")
    await expect(mine).to_contain_text("Warm rice, crisp laver.")
    await expect(mine.get_by_role("img", name="4 out of 5 stars")).to_be_visible()
    await expect(mine).to_contain_text("Chris Customer")
    await expect(form).to_be_hidden()
    await expect(page.locator("#review-h")).to_have_text("Your review")
    await customer.shot("customer-order-reviewed")

    stored = (await owner.get(f"/api/stores/{store_id}/reviews")).json()["reviews"]
    assert [(r["order_id"], r["rating"], r["text"]) for r in stored] == [
        (order_id, 4, "Warm rice, crisp laver.")
    ]
    # Coming back later: the review is shown, the form is not offered again.
    await page.reload()
    await loaded(page)
    await expect(page.locator("#my-review .review")).to_contain_text("Warm rice, crisp laver.")
    await expect(form).to_be_hidden()


async def test_store_page_shows_rating_and_reviews_and_the_owner_replies(
    node: Node, browser: Browser, customer: Watched, clients: Clients
) -> None:
    owner = clients.new()
    owner_email = (await owner.sign_in_as("owner"))["email"]
    shop = await open_shop(owner)
    rider = await _rider(clients.new())
    diners = []
    for name in ("Lee Jiwoo", "Park Seojun", "Choi Yuna"):
        api = clients.new()
        await api.sign_in_as("customer", name=name)
        diners.append(api)
    ratings = [5, 4, 4, 3, 5, 2]
    reviews = []
    for i, rating in enumerate(ratings):
        diner = diners[i % 3]
        order = await deliver(await place(diner, shop), owner, rider)
        made = await diner.post(
            review_path(order), json={"rating": rating, "text": f"Visit {i + 1}"}
        )
        assert made.status_code == 201, made.text
        reviews.append(made.json())
    oldest, newest = reviews[0], reviews[-1]
    replied = await owner.post(
        f"/api/reviews/{newest['id']}/reply", json={"text": "Sorry, we will do better."}
    )
    assert replied.status_code == 200, replied.text

    page = customer.page
    await page.goto(f"/customer/stores/{shop.id}")
    await loaded(page)
    # 23 / 6 = 3.83…: the server's one-decimal mean.
    await expect(page.locator("#store-head .rating-line")).to_have_text("★ 3.8 · 6 reviews")
    items = page.locator("#reviews .review")
    await expect(items).to_have_count(5)
    first = items.first
    await expect(first).to_contain_text("Visit 6")
    await expect(first.locator(".reply")).to_contain_text("Sorry, we will do better.")
    await expect(page.locator(f'#reviews [data-review-id="{oldest["id"]}"]')).to_have_count(0)
    await customer.shot("customer-store-reviews")
    await page.get_by_role("button", name="More reviews").click()
    await expect(items).to_have_count(6)
    await expect(items.last).to_contain_text("Visit 1")
    await expect(page.get_by_role("button", name="More reviews")).to_be_hidden()
    # The customer has no reply boxes.
    await expect(page.locator("#reviews .reply-form")).to_have_count(0)
    await expect(page.locator("#reviews")).not_to_contain_text("null")

    person = await open_watched(browser, "owner", node.url)
    try:
        await sign_in(person, owner_email)
        owner_page = person.page
        await owner_page.goto(f"/owner/stores/{shop.id}")
        await loaded(owner_page)
        await expect(owner_page.locator("#reviews-summary")).to_have_text("★ 3.8 · 6 reviews")
        listed = owner_page.locator("#reviews .review")
        await expect(listed).to_have_count(6)
        await expect(owner_page.locator("#reviews .reply-form")).to_have_count(5)
        target = owner_page.locator(f'#reviews [data-review-id="{oldest["id"]}"]')
        await target.get_by_label("Reply to Lee Jiwoo").fill("Thank you for coming back!")
        await target.get_by_role("button", name="Reply").click()
        await expect(target.locator(".reply")).to_contain_text("Thank you for coming back!")
        await expect(target.locator(".reply-form")).to_have_count(0)
        await expect(owner_page.locator("#reviews .reply-form")).to_have_count(4)
        await person.shot("owner-store-reviews")
        # A review written while the owner's page is open shows there at once, rating and all.
        late = await deliver(await place(diners[1], shop), owner, rider)
        made = await diners[1].post(review_path(late), json={"rating": 1, "text": "Cold soup."})
        assert made.status_code == 201, made.text
        # (23 + 1) / 7 = 3.43…
        await expect(owner_page.locator("#reviews-summary")).to_have_text("★ 3.4 · 7 reviews")
        await expect(listed.first).to_contain_text("Cold soup.")
        await expect(listed).to_have_count(7)
    finally:
        await person.context.close()
    person.assert_clean()
    page_one = (await owner.get(f"/api/stores/{shop.id}/reviews?limit=10")).json()["reviews"]
    answered = {r["id"]: r["reply"]["text"] for r in page_one if r["reply"]}
    assert answered == {
        newest["id"]: "Sorry, we will do better.",
        oldest["id"]: "Thank you for coming back!",
    }
