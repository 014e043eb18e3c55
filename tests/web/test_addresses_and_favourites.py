"""The address book, checkout on a map with notes the kitchen and the rider see, favourites and
"Order again", on one real node through Chromium."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded, sign_up
from tests.web.single_node import add_to_cart, customer, node, node_api, open_store, sign_in

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


@pytest.fixture
async def rider(browser: Browser, node: Node) -> AsyncIterator[Watched]:
    """A rider's browser that does not share its location (a simulated position)."""
    person = await open_watched(browser, "rider", node.url)
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def saved_addresses(page: Page) -> list[dict[str, Any]]:
    response = await page.request.get("/api/me/addresses")
    assert response.ok
    addresses: list[dict[str, Any]] = (await response.json())["addresses"]
    return addresses


async def picked(page: Page, marker_in: str) -> tuple[float, float]:
    marker = page.locator(f'{marker_in} [data-marker="home"]')
    return float(await marker.get_attribute("data-lat") or "nan"), float(
        await marker.get_attribute("data-lng") or "nan"
    )


async def test_address_book_adds_edits_moves_the_default_and_deletes_on_the_map(
    node_api: Api, customer: Watched
) -> None:
    page = customer.page
    await page.get_by_role("link", name="Addresses").click()
    await page.wait_for_url("**/customer/addresses")
    await loaded(page)
    await expect(page.locator("#addresses")).to_contain_text("No saved addresses yet")

    form = page.locator("#address-form")
    await form.get_by_label("Label").fill("Home")
    await form.get_by_label("Address", exact=True).fill("12 Sejong-daero, Jung-gu")
    await form.get_by_label("Note for the rider").fill("Gate code 1234, 3rd floor")
    before = await picked(page, "#addr-map")
    await page.locator("#addr-map svg").click(position={"x": 420, "y": 140})
    home_point = await picked(page, "#addr-map")
    assert home_point != before
    await expect(page.locator("#addr-point")).to_have_text(
        f"{home_point[0]:.6f}, {home_point[1]:.6f}"
    )
    await form.get_by_role("button", name="Save address").click()
    home = page.locator(".address", has_text="Home")
    await expect(home).to_contain_text("Default")
    await expect(home).to_contain_text("For the rider: Gate code 1234, 3rd floor")
    [saved] = await saved_addresses(page)
    assert (saved["lat"], saved["lng"]) == home_point and saved["default"] is True

    await form.get_by_label("Label").fill("Work")
    await form.get_by_label("Address", exact=True).fill("5 Teheran-ro, Gangnam-gu")
    await page.locator("#addr-map svg").click(position={"x": 200, "y": 300})
    await form.get_by_label("Make this my default address").check()
    await form.get_by_role("button", name="Save address").click()
    work = page.locator(".address", has_text="Work")
    await expect(work).to_contain_text("Default")
    await expect(home).not_to_contain_text("Default")
    await expect(page.locator(".address").first).to_have_attribute(
        "data-address-id", str((await saved_addresses(page))[0]["id"])
    )
    await expect(page.locator(".address").first).to_contain_text("Work")

    await home.get_by_role("button", name="Make Home the default").click()
    await expect(home).to_contain_text("Default")
    await expect(page.locator(".address").first).to_contain_text("Home")
    await home.get_by_role("button", name="Edit Home").click()
    await form.get_by_label("Note for the rider").fill("Leave it at the door")
    await page.keyboard.press("Tab")
    await page.locator("#addr-map svg").focus()
    await page.keyboard.press("ArrowUp")
    await form.get_by_role("button", name="Save changes").click()
    await expect(home).to_contain_text("For the rider: Leave it at the door")
    edited = next(a for a in await saved_addresses(page) if a["label"] == "Home")
    assert edited["lat"] > home_point[0] and edited["lng"] == home_point[1]
    await customer.shot("customer-address-book")

    await work.get_by_role("button", name="Delete Work").click()
    await expect(page.locator(".address")).to_have_count(1)
    assert [a["label"] for a in await saved_addresses(page)] == ["Home"]

    # At checkout the default is chosen and its note goes to the rider unless one is typed.
    store_id, _ = await open_store(node_api, [{"name": "Bibimbap", "price": 11000}])
    await add_to_cart(customer, store_id, "Bibimbap")
    await page.locator("#to-checkout").click()
    await loaded(page)
    await expect(page.get_by_label("Deliver to")).to_have_value(str(edited["id"]))
    await expect(page.locator("#co-new")).to_be_hidden()
    await expect(page.locator("#rider-note-hint")).to_contain_text("Leave it at the door")
    await page.get_by_label("Card number").fill("4242424242424242")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    await expect(page.locator("#rider-note")).to_have_text("For the rider: Leave it at the door")
    await expect(page.locator("#items")).to_contain_text("Deliver to 12 Sejong-daero, Jung-gu")


async def test_checkout_on_the_map_with_notes_the_kitchen_and_the_rider_see(
    node_api: Api, customer: Watched, owner: Watched, rider: Watched
) -> None:
    store_id, email = await open_store(node_api, [{"name": "Jjajangmyeon", "price": 12000}])
    await sign_in(owner, email)
    await owner.page.goto(f"/owner/stores/{store_id}/board")
    await loaded(owner.page)
    await sign_up(rider.page, "rider", "Rita Rider")
    await rider.page.locator("#online-switch").press("Space")
    await expect(rider.page.locator("#online-label")).to_have_text("Online: receiving offers")

    page = customer.page
    await add_to_cart(customer, store_id, "Jjajangmyeon")
    await page.locator("#to-checkout").click()
    await loaded(page)
    # No saved address yet: a new one, placed by clicking the map (no coordinates to type).
    await expect(page.get_by_label("Deliver to")).to_have_value("")
    await expect(page.locator("#co-lat")).to_have_count(0)
    await expect(page.locator('#co-map [data-marker="store"]')).to_have_count(1)
    await page.get_by_label("Address").fill("7 Namdaemun-ro, Jung-gu")
    await page.locator("#co-map svg").click(position={"x": 300, "y": 260})
    point = await picked(page, "#co-map")
    await expect(page.locator("#co-point")).to_have_text(f"{point[0]:.6f}, {point[1]:.6f}")
    await page.get_by_label("Note for the kitchen").fill("No onions, please")
    await page.get_by_label("Note for the rider").fill("Call when downstairs")
    await page.get_by_label("Card number").fill("4242424242424242")
    await customer.shot("customer-checkout-map-and-notes")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    order_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("#store-note")).to_have_text("For the kitchen: No onions, please")
    await expect(page.locator("#rider-note")).to_have_text("For the rider: Call when downstairs")
    order = await (await page.request.get(f"/api/orders/{order_id}")).json()
    assert (order["address"]["lat"], order["address"]["lng"]) == point

    card = owner.page.locator(f'.order-card[data-order-id="{order_id}"]')
    await expect(card).to_contain_text("Note: No onions, please")
    await expect(card).not_to_contain_text("Call when downstairs")
    await owner.shot("owner-board-kitchen-note")
    await card.get_by_role("button", name="Accept").click()
    await expect(card).to_have_attribute("data-status", "accepted")

    offer = rider.page.locator(f'.offer[data-order-id="{order_id}"]')
    await expect(offer).to_contain_text("Gimbap Corner")
    await expect(offer).not_to_contain_text("Call when downstairs")
    await offer.get_by_role("button", name="Accept").click()
    await expect(rider.page.locator("body")).to_have_attribute("data-active-status", "accepted")
    await expect(rider.page.locator("#active-rider-note")).to_have_text(
        "Customer's note: Call when downstairs"
    )
    await rider.shot("rider-active-delivery-note")


async def test_favourite_heart_and_order_again_from_past_orders(
    node: Node, node_api: Api, customer: Watched
) -> None:
    store_id, email = await open_store(
        node_api, [{"name": "Tteokbokki", "price": 9000}, {"name": "Sundae", "price": 6000}]
    )
    page = customer.page
    await page.goto(f"/customer/stores/{store_id}")
    await loaded(page)
    heart = page.get_by_role("button", name="Add to favourites")
    await expect(heart).to_have_attribute("aria-pressed", "false")
    await heart.click()
    await expect(page.locator("#favourite")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#favourite")).to_have_text("♥ Favourite")
    await customer.shot("customer-store-favourite")
    await page.get_by_role("link", name="Stores").click()
    await loaded(page)
    await expect(page.locator("#favourites")).to_contain_text("Gimbap Corner")
    await customer.shot("customer-favourites")

    await add_to_cart(customer, store_id, "Tteokbokki")
    await add_to_cart(customer, store_id, "Tteokbokki")
    await add_to_cart(customer, store_id, "Sundae")
    await page.locator("#to-checkout").click()
    await loaded(page)
    await page.get_by_label("Card number").fill("4242424242424242")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    order_id = int(page.url.rsplit("/", 1)[1])

    # The store sells out of sundae since.
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        owner = Api(http)
        await owner.login(email)
        menu = (await owner.get(f"/api/stores/{store_id}")).json()["menu"][0]["items"]
        sundae = next(item for item in menu if item["name"] == "Sundae")
        sold = await owner.patch(f"/api/menu-items/{sundae['id']}", json={"sold_out": True})
        assert sold.status_code == 200, sold.text

    await page.get_by_role("link", name="Orders").click()
    await loaded(page)
    await customer.shot("customer-orders-order-again")
    await page.get_by_role("button", name=f"Order #{order_id} again").click()
    await page.wait_for_url(f"**/customer/stores/{store_id}")
    await loaded(page)
    note = page.locator("#reorder-note")
    await expect(note).to_contain_text(f"Your cart holds order #{order_id} again")
    await expect(note).to_contain_text("Not added: Sundae. It is sold out right now.")
    await expect(page.locator("#cart")).to_contain_text("Tteokbokki")
    await expect(page.locator("#cart")).not_to_contain_text("Sundae")
    await expect(page.locator("#cart-subtotal")).to_have_text("₩18,000")
    await customer.shot("customer-order-again-cart")

    await page.locator("#favourite").click()
    await expect(page.locator("#favourite")).to_have_attribute("aria-pressed", "false")
    await page.get_by_role("link", name="Stores").click()
    await loaded(page)
    await expect(page.locator("#favourites")).to_contain_text("No favourites yet")


async def test_an_order_without_notes_and_a_reorder_with_nothing_missing_show_no_gaps(
    node_api: Api, customer: Watched, owner: Watched, rider: Watched
) -> None:
    """What is absent is left out: no note lines, no list of missing items, and no "null"."""
    store_id, email = await open_store(node_api, [{"name": "Mandu", "price": 12000}])
    await sign_in(owner, email)
    await owner.page.goto(f"/owner/stores/{store_id}/board")
    await loaded(owner.page)
    await sign_up(rider.page, "rider", "Rita Rider")
    await rider.page.locator("#online-switch").check()
    await expect(rider.page.locator("#online-label")).to_have_text("Online: receiving offers")

    page = customer.page
    await add_to_cart(customer, store_id, "Mandu")
    await page.locator("#to-checkout").click()
    await loaded(page)
    await page.get_by_label("Card number").fill("4242424242424242")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    await loaded(page)
    order_id = int(page.url.rsplit("/", 1)[1])
    items = page.locator("#items")
    await expect(items.locator("p").last).to_have_text("Deliver to 1 Test-ro")
    await expect(items.locator(".note")).to_have_count(0)
    await expect(items).not_to_contain_text("null")

    card = owner.page.locator(f'.order-card[data-order-id="{order_id}"]')
    await card.get_by_role("button", name="Accept").click()
    await (
        rider.page.locator(f'.offer[data-order-id="{order_id}"]')
        .get_by_role("button", name="Accept")
        .click()
    )
    active = rider.page.locator("#active")
    await expect(rider.page.locator("body")).to_have_attribute("data-active-status", "accepted")
    await expect(active).to_contain_text("Deliver to 1 Test-ro")
    await expect(active.locator(".note")).to_have_count(0)
    await expect(active).not_to_contain_text("null")

    await page.get_by_role("link", name="Orders").click()
    await loaded(page)
    await page.get_by_role("button", name=f"Order #{order_id} again").click()
    await page.wait_for_url(f"**/customer/stores/{store_id}")
    await loaded(page)
    await expect(page.locator("#reorder-note")).to_have_text(
        f"Your cart holds order #{order_id} again: review it and check out."
    )
    await expect(page.locator("#cart-subtotal")).to_have_text("₩12,000")
