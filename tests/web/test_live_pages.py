"""An owner's board and a customer's order page, side by side on one node, both live."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from app.config import Settings
from app.launcher.nodes import Node
from app.orders.sweeper import sweep_interval
from tests.client import Api
from tests.harness import Infra
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded
from tests.web.single_node import add_to_cart, customer, node, node_api, open_store, sign_in

# How often the test node (on the default settings) sweeps for orders no store answered.
SWEEP_MS = sweep_interval(Settings.model_fields["store_accept_timeout"].default) * 1000

__all__ = ["customer", "node", "node_api"]


@pytest.fixture
async def owner(browser: Browser, node: Node) -> AsyncIterator[Watched]:
    """The store owner's browser (signed in by the test)."""
    person = await open_watched(browser, "owner", node.url)
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def order_with_board_open(
    node_api: Api, owner: Watched, customer: Watched
) -> tuple[int, int]:
    """The owner watches the board while the customer orders; returns (store id, order id)."""
    store_id, email = await open_store(node_api, [{"name": "Kimchi stew", "price": 10000}])
    await sign_in(owner, email)
    await owner.page.goto(f"/owner/stores/{store_id}/board")
    await loaded(owner.page)
    await add_to_cart(customer, store_id, "Kimchi stew")
    page = customer.page
    await page.locator("#to-checkout").click()
    await loaded(page)
    await page.get_by_label("Card number").fill("4242424242424242")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    order_id = int(page.url.rsplit("/", 1)[1])
    await expect(owner.page.locator("#ring-alert")).to_be_visible()
    return store_id, order_id


async def test_owner_rejects_and_the_customer_sees_it_and_the_refund_live(
    node_api: Api, owner: Watched, customer: Watched
) -> None:
    _, order_id = await order_with_board_open(node_api, owner, customer)
    card = owner.page.locator(f'.order-card[data-order-id="{order_id}"]')
    # Rejecting asks first, with the reason the customer will read; backing out changes nothing.
    await card.get_by_role("button", name="Reject").click()
    dialog = owner.page.get_by_role("alertdialog", name=f"Reject order #{order_id}?")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("refunded in full")
    await expect(dialog.get_by_role("button", name="Keep the order")).to_be_focused()
    await owner.shot("owner-reject-confirmation")
    await owner.page.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await expect(card).to_have_attribute("data-status", "placed")
    await card.get_by_role("button", name="Reject").click()
    await dialog.get_by_label("Reason the customer sees").fill("Out of kimchi")
    await dialog.get_by_role("button", name="Reject order").click()
    await expect(card).to_have_count(0)
    # A handled order no longer rings, acknowledged or not.
    await expect(owner.page.locator("#ring-alert")).to_be_hidden()
    await expect(owner.page.locator("#done")).to_contain_text("Rejected by the store")
    await expect(owner.page.locator("#today-count")).to_have_text("0")

    page = customer.page
    await expect(page.locator("body")).to_have_attribute("data-order-status", "rejected")
    await expect(page.locator('[data-step="rejected"]')).to_have_class(re.compile(r"\bfailed\b"))
    await expect(page.locator("#eta")).to_have_text(re.compile("refunded"))
    await expect(page.locator("#cancel-order")).to_be_hidden()
    # The owner's reason reaches the customer live, and stays in the order list.
    await expect(page.locator("#reason-line")).to_have_text("Reason: Out of kimchi")
    await expect(page.locator("#store-line")).to_have_text("From Gimbap Corner")
    await customer.shot("customer-order-rejected")
    await page.goto("/customer/orders")
    await loaded(page)
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    await expect(row.locator(".store-name")).to_have_text("Gimbap Corner")
    await expect(row.locator(".status")).to_contain_text("Rejected by the store")
    await expect(row.locator(".reason")).to_have_text("Reason: Out of kimchi")
    await customer.shot("customer-orders-with-reasons")


async def test_customer_cancels_while_placed_and_the_board_updates_live(
    node_api: Api, owner: Watched, customer: Watched
) -> None:
    _, order_id = await order_with_board_open(node_api, owner, customer)
    page = customer.page
    # A confirmation first: keeping the order changes nothing.
    await page.get_by_role("button", name="Cancel order").click()
    dialog = page.get_by_role("alertdialog", name=f"Cancel order #{order_id}?")
    await expect(dialog).to_contain_text("refunded in full")
    await customer.shot("customer-cancel-confirmation")
    await dialog.get_by_role("button", name="Keep the order").click()
    await expect(dialog).to_have_count(0)
    await expect(page.locator("#cancel-order")).to_be_focused()
    await expect(page.locator("body")).to_have_attribute("data-order-status", "placed")
    await page.get_by_role("button", name="Cancel order").click()
    await dialog.get_by_role("button", name="Cancel order").click()
    await expect(page.locator("body")).to_have_attribute("data-order-status", "cancelled")
    await expect(page.locator("#cancel-order")).to_be_hidden()
    await expect(page.locator("#reason-line")).to_have_text("Reason: Cancelled by the customer")

    await expect(owner.page.locator(f'.order-card[data-order-id="{order_id}"]')).to_have_count(0)
    await expect(owner.page.locator("#done")).to_contain_text(f"#{order_id}")
    await expect(owner.page.locator("#done")).to_contain_text("Cancelled")
    await expect(owner.page.locator("#ring-alert")).to_be_hidden()


async def test_owner_marks_an_item_sold_out_and_customers_can_no_longer_add_it(
    node_api: Api, owner: Watched, customer: Watched
) -> None:
    store_id, email = await open_store(node_api, [{"name": "Bulgogi", "price": 13000}])
    await sign_in(owner, email)
    await owner.page.goto(f"/owner/stores/{store_id}")
    await loaded(owner.page)
    row = owner.page.locator(".menu-edit").filter(has=owner.page.get_by_label("Name of Bulgogi"))
    await row.get_by_label("Sold out").check()
    await expect(owner.page.locator("#toast")).to_have_text("Sold out saved")
    await expect(row.get_by_label("Sold out")).to_be_checked()

    await customer.page.goto(f"/customer/stores/{store_id}")
    await loaded(customer.page)
    item = customer.page.locator(".menu-item", has_text="Bulgogi")
    await expect(item).to_contain_text("Sold out")
    await expect(item.get_by_role("button", name="Add to cart")).to_have_count(0)


async def test_signing_out_ends_the_session_and_pages_ask_to_sign_in_again(
    node_api: Api, owner: Watched
) -> None:
    store_id, email = await open_store(node_api, [{"name": "Tteokbokki", "price": 9000}])
    await sign_in(owner, email)
    await expect(owner.page.locator("#stores")).to_contain_text("Gimbap Corner")
    await owner.page.get_by_role("button", name="Sign out").click()
    await owner.page.wait_for_url(re.compile(r"/$"))
    await owner.page.goto(f"/owner/stores/{store_id}/board")
    await owner.page.wait_for_url(re.compile(rf"/\?next=/owner/stores/{store_id}/board$"))
    await loaded(owner.page)
    form = owner.page.locator("#signin-form")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill("correct-horse-battery")
    await form.get_by_role("button", name="Sign in").click()
    await owner.page.wait_for_url(re.compile(rf"^[^?]*/owner/stores/{store_id}/board$"))
    await expect(owner.page.locator("h1")).to_contain_text("order board")
    await loaded(owner.page)


async def test_the_store_cancels_with_a_typed_reason_and_the_customer_reads_it_live(
    node_api: Api, owner: Watched, customer: Watched
) -> None:
    _, order_id = await order_with_board_open(node_api, owner, customer)
    card = owner.page.locator(f'.order-card[data-order-id="{order_id}"]')
    await card.get_by_role("button", name="Accept").click()
    await expect(card).to_have_attribute("data-status", "accepted")
    await card.get_by_role("button", name=f"Cancel order {order_id}").click()
    dialog = owner.page.get_by_role("alertdialog", name=f"Cancel order #{order_id}?")
    await dialog.get_by_label("Reason the customer sees").fill("Our oven broke down")
    await owner.shot("owner-cancel-confirmation")
    await dialog.get_by_role("button", name="Cancel order").click()
    await expect(card).to_have_count(0)
    await expect(owner.page.locator("#done")).to_contain_text("Reason: Our oven broke down")

    page = customer.page
    await expect(page.locator("body")).to_have_attribute("data-order-status", "cancelled")
    await expect(page.locator("#reason-line")).to_have_text("Reason: Our oven broke down")


async def test_an_unanswered_order_is_rejected_by_itself_and_the_customer_reads_why(
    node_api: Api, owner: Watched, customer: Watched, infra: Infra
) -> None:
    _, order_id = await order_with_board_open(node_api, owner, customer)
    # The store's time to answer runs out (moved forward, not waited for): the sweep rejects it.
    infra.query(
        "UPDATE orders SET accept_by = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = %s",
        order_id,
    )
    page = customer.page
    # The rejection may come a whole sweep period after the update, then goes through the relay.
    await expect(page.locator("body")).to_have_attribute(
        "data-order-status", "rejected", timeout=SWEEP_MS + 10_000
    )
    await expect(page.locator("#reason-line")).to_have_text(
        "Reason: The store did not answer in time."
    )
    await page.goto("/customer/orders")
    await loaded(page)
    row = page.locator(f'tr[data-order-id="{order_id}"]')
    await expect(row.locator(".reason")).to_have_text("Reason: The store did not answer in time.")
