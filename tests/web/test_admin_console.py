"""The operations console through nginx on two nodes: an operator gives a stuck order to a rider
while the rider's and the customer's pages follow live, then cancels another order with a
refund after confirming; screenshots of the console for reviewers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, expect

import app.models  # noqa: F401  (every mapper, so that relationships resolve)
from app.auth.passwords import Passwords
from app.auth.service import ensure_admin
from app.db import Database
from app.launcher.cluster import Cluster
from tests.client import DEFAULT_PASSWORD, Api
from tests.system import http_client
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded, sign_up
from tests.web.single_node import sign_in

pytestmark = pytest.mark.system

# This test's own part of town, away from the other journeys' riders.
STORE = {"lat": 37.6010, "lng": 127.0120}
HOME = {"text": "12 Console-ro", "lat": 37.5985, "lng": 127.0090}
RIDER_DEVICE = {"latitude": 37.6022, "longitude": 127.0131}


@pytest.fixture
async def people(browser: Browser, cluster: Cluster) -> AsyncIterator[dict[str, Watched]]:
    """The operator's, the rider's and the customer's browsers, all through nginx."""
    made = {
        "admin": await open_watched(browser, "admin", cluster.url),
        "rider": await open_watched(
            browser,
            "rider",
            cluster.url,
            permissions=["geolocation"],
            geolocation=RIDER_DEVICE,
        ),
        "customer": await open_watched(browser, "customer", cluster.url),
    }
    try:
        yield made
    finally:
        for person in made.values():
            await person.context.close()
    for person in made.values():
        person.assert_clean()


async def make_admin(cluster: Cluster) -> str:
    """An admin account, made as `delivery create-admin` would; returns its email."""
    db = Database(cluster.database_url)
    email = f"operator-{uuid.uuid4().hex[:8]}@example.com"
    try:
        await ensure_admin(
            db=db,
            passwords=Passwords(time_cost=1, memory_kib=1024),
            email=email,
            password=DEFAULT_PASSWORD,
            name="Olga Operator",
        )
    finally:
        await db.close()
    return email


def body(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


async def kitchen(owner: Api, customer: Api) -> tuple[int, int]:
    """An open store in this test's part of town; returns (store id, item id)."""
    store = body(
        await owner.post(
            "/api/stores",
            json={
                "name": "Console Kitchen",
                "category": "korean",
                "address": "1 Console-ro",
                **STORE,
                "phone": "02-555-0101",
                "min_order": 0,
                "delivery_fee": 0,
            },
        ),
        201,
    )
    item = body(
        await owner.post(
            f"/api/stores/{store['id']}/menu",
            json={"name": "Japchae", "price": 13000, "group": "Mains", "options": []},
        ),
        201,
    )
    body(await owner.patch(f"/api/stores/{store['id']}", json={"open": True}))
    return int(store["id"]), int(item["id"])


async def order(customer: Api, store_id: int, item_id: int) -> dict[str, Any]:
    return body(
        await customer.post(
            "/api/orders",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={
                "store_id": store_id,
                "items": [{"menu_item_id": item_id, "quantity": 1, "option_ids": []}],
                "address": HOME,
                "payment": {"method": "card", "card_number": "4242424242424242"},
            },
        ),
        201,
    )


async def test_an_operator_assigns_a_stuck_order_while_rider_and_customer_watch(
    cluster: Cluster, people: dict[str, Watched]
) -> None:
    admin, rider, customer = people["admin"], people["rider"], people["customer"]
    email = await make_admin(cluster)
    async with http_client(cluster.url) as owner_http, http_client(cluster.url) as shop_http:
        owner, buyer = Api(owner_http), Api(shop_http)
        await owner.sign_in_as("owner")
        customer_user = await buyer.sign_in_as("customer")
        store_id, item_id = await kitchen(owner, buyer)

        # The rider goes online in the browser, near the store.
        await sign_up(rider.page, "rider", "Rafa Rider")
        await rider.page.locator("#online-switch").check()
        await expect(rider.page.locator("#online-label")).to_have_text("Online: receiving offers")

        # The operator opens the console.
        page = admin.page
        await page.goto("/")
        await loaded(page)
        form = page.locator("#signin-form")
        await form.get_by_label("Email").fill(email)
        await form.get_by_label("Password").fill(DEFAULT_PASSWORD)
        await form.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(re.compile(r"/admin$"))
        await loaded(page)
        await expect(page.get_by_role("navigation", name="Main")).to_contain_text("Operations")
        await expect(page.locator("#live-state")).to_have_text("Live")

        # An order the store accepted, and one still waiting for the store: both appear live.
        stuck = await order(buyer, store_id, item_id)
        waiting = await order(buyer, store_id, item_id)
        body(await owner.post(f"/api/orders/{stuck['id']}/accept", json={"prep_minutes": 10}))
        card = page.locator(f'#queue-searching .ops-order[data-order-id="{stuck["id"]}"]')
        await expect(card).to_be_visible()
        await expect(card.locator(".age")).to_have_text(re.compile(r"^\d+ s$|^\d+ min \d+ s$"))
        await expect(
            page.locator(f'#queue-unaccepted .ops-order[data-order-id="{waiting["id"]}"]')
        ).to_be_visible()
        await expect(page.locator("#stuck-searching")).to_have_text(re.compile(r"^[1-9]\d*$"))

        # The customer watches the stuck order.
        await sign_in(customer, customer_user["email"])
        await customer.page.goto(f"/customer/orders/{stuck['id']}")
        await loaded(customer.page)
        await expect(customer.page.locator("#rider-line")).to_have_text(
            "Looking for a rider nearby…"
        )

        # The operator picks the rider on shift and assigns the order.
        await expect(page.locator("#riders")).to_contain_text("Rafa Rider")
        picker = card.locator("select.rider-pick")
        choice = picker.locator("option", has_text="Rafa Rider")
        await expect(choice).to_have_count(1)
        await picker.select_option(value=await choice.get_attribute("value"))
        await admin.shot("admin-console-before-assign")
        await card.get_by_role("button", name="Assign").click()

        # Everyone sees it at once, without a reload.
        moved = page.locator(f'#queue-assigned .ops-order[data-order-id="{stuck["id"]}"]')
        await expect(moved).to_contain_text("Rafa Rider")
        await expect(card).to_have_count(0)
        await expect(rider.page.locator("body")).to_have_attribute("data-active-status", "accepted")
        await expect(rider.page.locator("#active")).to_contain_text(f"Order #{stuck['id']}")
        await expect(customer.page.locator("#rider-line")).to_have_text("Your rider: Rafa Rider")
        await expect(page.locator('#audit tr[data-action="order.assign"]')).to_contain_text(
            f"assigned order {stuck['id']}"
        )
        await admin.shot("admin-console-after-assign")
        await rider.shot("admin-assigned-rider")
        await customer.shot("admin-assigned-customer")

        # Cancelling asks first; backing out changes nothing, confirming refunds.
        waiting_card = page.locator(
            f'#queue-unaccepted .ops-order[data-order-id="{waiting["id"]}"]'
        )
        await waiting_card.get_by_role("button", name="Cancel order").click()
        dialog = page.get_by_role("alertdialog", name=f"Cancel order {waiting['id']}?")
        await expect(dialog).to_contain_text("₩13,000 back in full")
        await dialog.get_by_role("button", name="Keep the order").click()
        await expect(waiting_card).to_be_visible()
        await waiting_card.get_by_role("button", name="Cancel order").click()
        await dialog.get_by_label("Reason").fill("Duplicate order, confirmed by phone.")
        await admin.shot("admin-console-cancel-dialog")
        await dialog.get_by_role("button", name="Cancel and refund").click()
        await expect(waiting_card).to_have_count(0)
        await expect(page.locator('#audit tr[data-action="order.cancel"]')).to_contain_text(
            "Duplicate order, confirmed by phone."
        )
        seen = body(await buyer.get(f"/api/orders/{waiting['id']}"))
        assert seen["status"] == "cancelled"
        assert seen["payment"]["status"] in ("refund_pending", "refunded")

        # Suspending the store, after confirming: its open page says so at once.
        await customer.page.goto(f"/customer/stores/{store_id}")
        await loaded(customer.page)
        await expect(customer.page.locator("#store-state")).to_have_text("Open")
        suspend = page.locator("#suspend-store")
        await suspend.get_by_label("Store id").fill(str(store_id))
        await suspend.get_by_role("button", name="Suspend store").click()
        confirm = page.get_by_role("alertdialog", name=f"Suspend store {store_id}?")
        await confirm.get_by_role("button", name="Suspend").click()
        await expect(page.locator('#audit tr[data-action="store.suspend"]')).to_contain_text(
            f"suspended store {store_id}"
        )
        await expect(customer.page.locator("#store-state")).to_have_text("Suspended")
        await expect(customer.page.locator("#store-when")).to_contain_text(
            "Suspended by the platform's operators"
        )
        await customer.shot("admin-suspended-store-page")
        await admin.shot("admin-console")
