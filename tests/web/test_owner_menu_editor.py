"""The owner's menu editor: every field of an item, a store that cannot open empty, a delete
that asks first; and the rider's give-back that asks first."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.waiting import wait_until
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded
from tests.web.single_node import node, node_api, open_store, sign_in

__all__ = ["node", "node_api"]


@pytest.fixture
async def owner(browser: Browser, node: Node) -> AsyncIterator[Watched]:
    """The store owner's browser (signed in by the test)."""
    person = await open_watched(browser, "owner", node.url)
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def test_owner_edits_group_description_and_options_of_an_item(
    node_api: Api, owner: Watched
) -> None:
    store_id, email = await open_store(
        node_api,
        [
            {"name": "Bulgogi", "price": 13000, "options": [{"name": "Rice", "price": 1000}]},
            {"name": "Cola", "price": 2000, "group": "Drinks"},
        ],
    )
    await sign_in(owner, email)
    page = owner.page
    await page.goto(f"/owner/stores/{store_id}")
    await loaded(page)
    row = page.locator(".menu-edit").filter(has=page.get_by_label("Name of Bulgogi"))
    await row.get_by_text("Group, description and options").click()
    await expect(row.get_by_label("Options of Bulgogi")).to_have_value("Rice, 1000")
    await row.get_by_label("Name of Bulgogi").fill("Bulgogi set")
    await row.get_by_label("Group of Bulgogi").fill("Sets")
    await row.get_by_label("Description of Bulgogi").fill("Marinated beef, with soup")
    await row.get_by_label("Options of Bulgogi").fill("Rice, 1000\nExtra beef, 4000\nNo onion, 0")
    await owner.shot("owner-menu-item-editor")
    await row.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#toast")).to_have_text("Bulgogi set saved")

    # The menu now shows it in its new group, with its new options.
    await expect(page.locator("#menu h3")).to_have_text(["Sets", "Drinks"])
    stored = (await node_api.get(f"/api/stores/{store_id}")).json()["menu"]
    [item] = stored[0]["items"]
    assert (item["name"], item["group"], item["description"]) == (
        "Bulgogi set",
        "Sets",
        "Marinated beef, with soup",
    )
    assert [(o["name"], o["price"]) for o in item["options"]] == [
        ("Rice", 1000),
        ("Extra beef", 4000),
        ("No onion", 0),
    ]

    # A bad option line is refused with the server's words, and nothing changes.
    row = page.locator(".menu-edit").filter(has=page.get_by_label("Name of Bulgogi set"))
    await row.get_by_text("Group, description and options").click()
    await row.get_by_label("Options of Bulgogi set").fill("Extra beef, a lot")
    owner.tolerate = re.compile(r"HTTP 400|status of 400")
    await row.get_by_role("button", name="Save changes").click()
    await expect(row.locator(".problem")).to_contain_text("must be a whole number")
    owner.tolerate = None
    again = (await node_api.get(f"/api/stores/{store_id}")).json()["menu"][0]["items"][0]
    assert len(again["options"]) == 3


async def test_an_empty_store_cannot_open_and_the_page_says_why(
    node_api: Api, owner: Watched
) -> None:
    store_id, email = await open_store(node_api, [{"name": "Kimbap", "price": 5000}])
    await sign_in(owner, email)
    page = owner.page
    await page.goto(f"/owner/stores/{store_id}")
    await loaded(page)
    await page.locator("#open-switch").uncheck()
    await expect(page.locator("#open-label")).to_have_text("Closed")
    await expect(page.locator("#empty-menu-note")).to_be_hidden()

    # Deleting asks first; keeping the item changes nothing.
    row = page.locator(".menu-edit").filter(has=page.get_by_label("Name of Kimbap"))
    await row.get_by_role("button", name="Delete Kimbap").click()
    dialog = page.get_by_role("alertdialog", name="Delete Kimbap?")
    await expect(dialog).to_contain_text("can no longer be ordered")
    await owner.shot("owner-delete-item-confirmation")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(dialog).to_have_count(0)
    await expect(row).to_be_visible()
    await row.get_by_role("button", name="Delete Kimbap").click()
    await dialog.get_by_role("button", name="Delete item").click()
    await expect(page.locator(".menu-edit")).to_have_count(0)

    # With nothing on the menu the page says what opening needs, and the server refuses it.
    await expect(page.locator("#empty-menu-note")).to_be_visible()
    owner.tolerate = re.compile(r"HTTP 409|status of 409")
    await page.locator("#open-switch").check()
    await expect(page.locator("#problem")).to_contain_text("The menu is empty")
    await expect(page.locator("#problem")).to_contain_text("menu item")
    await expect(page.locator("#open-switch")).not_to_be_checked()
    await owner.shot("owner-store-empty-menu-refused")
    stored = (await node_api.get(f"/api/stores/{store_id}")).json()
    assert stored["open"] is False


async def test_the_rider_confirms_before_giving_an_order_back(
    browser: Browser, node: Node, node_api: Api
) -> None:
    store_id, owner_email = await open_store(node_api, [{"name": "Bibimbap", "price": 12000}])
    base = str(node_api.http.base_url)
    async with (
        httpx.AsyncClient(base_url=base, timeout=30) as owner_http,
        httpx.AsyncClient(base_url=base, timeout=30) as customer_http,
        httpx.AsyncClient(base_url=base, timeout=30) as rider_http,
    ):
        owner_api, customer_api, rider_api = Api(owner_http), Api(customer_http), Api(rider_http)
        rider_user = await rider_api.sign_in_as("rider")
        shift = await rider_api.put(
            "/api/riders/me/shift", json={"online": True, "lat": 37.5670, "lng": 126.9780}
        )
        assert shift.status_code == 200, shift.text
        await owner_api.login(owner_email)
        await customer_api.sign_in_as("customer")
        order_id = await _accepted_order(node_api, owner_api, customer_api, store_id)

        async def offered() -> bool:
            offers = (await rider_api.get("/api/dispatch/offers")).json()["offers"]
            return any(o["order_id"] == order_id for o in offers)

        await wait_until(offered, what="the offer to reach the rider")
        taken = await rider_api.post(f"/api/dispatch/offers/{order_id}/accept")
        assert taken.status_code == 200, taken.text

    rider = await open_watched(browser, "rider", node.url)
    try:
        await sign_in(rider, rider_user["email"])
        page = rider.page
        active = page.locator("#active")
        await expect(active).to_contain_text(f"Order #{order_id}")
        await active.get_by_role("button", name="Give back").click()
        dialog = page.get_by_role("alertdialog", name=f"Give back order #{order_id}?")
        await expect(dialog).to_contain_text("Another rider will be looked for")
        await rider.shot("rider-give-back-confirmation")
        await dialog.get_by_role("button", name="Keep the delivery").click()
        await expect(dialog).to_have_count(0)
        await expect(active).to_contain_text(f"Order #{order_id}")
        await active.get_by_role("button", name="Give back").click()
        await dialog.get_by_role("button", name="Give back").click()
        await expect(active).to_contain_text("No active delivery.")
    finally:
        await rider.context.close()
    rider.assert_clean()


async def _accepted_order(node_api: Api, owner: Api, customer: Api, store_id: int) -> int:
    """An order of the store, placed by `customer` and accepted by `owner`."""
    store = (await node_api.get(f"/api/stores/{store_id}")).json()
    item = store["menu"][0]["items"][0]
    placed = await customer.post(
        "/api/orders",
        json={
            "store_id": store_id,
            "items": [{"menu_item_id": item["id"], "quantity": 1, "option_ids": []}],
            "address": {"text": "1 Test-ro", "lat": 37.5660, "lng": 126.9770},
            "payment": {"method": "card", "card_number": "4111111111111111"},
        },
        headers={"Idempotency-Key": f"order-{store_id}"},
    )
    assert placed.status_code == 201, placed.text
    order_id = int(placed.json()["id"])
    accepted = await owner.post(f"/api/orders/{order_id}/accept", json={"prep_minutes": 10})
    assert accepted.status_code == 200, accepted.text
    return order_id
