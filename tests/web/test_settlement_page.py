"""The settlement card on the owner's store page, in real Chromium on one real node: this
month by default, a chosen range's days and totals, and a range the server refuses."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.launcher.nodes import Node
from tests.client import Api
from tests.dispatch.helpers import go_on_shift
from tests.harness import Infra
from tests.orders.helpers import CARD, CITY_HALL, new_key
from tests.reviews.helpers import deliver
from tests.web.browser import open_watched
from tests.web.journey import loaded
from tests.web.single_node import node, node_api, open_store, sign_in

__all__ = ["node", "node_api"]

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
async def clients(node: Node) -> AsyncIterator[list[Api]]:
    """Three API clients on the node: the owner, a customer and a rider."""
    async with (
        httpx.AsyncClient(base_url=node.url, timeout=30) as a,
        httpx.AsyncClient(base_url=node.url, timeout=30) as b,
        httpx.AsyncClient(base_url=node.url, timeout=30) as c,
    ):
        yield [Api(a), Api(b), Api(c)]


def _delivered_on(infra: Infra, order_id: int, at: datetime) -> None:
    """Move the order's delivery to `at` (the node's clock cannot be moved)."""
    infra.query(
        "UPDATE order_timeline SET at = %s WHERE order_id = %s AND status = 'delivered'",
        at.astimezone(UTC).replace(tzinfo=None),
        order_id,
    )


async def test_owner_reads_the_settlement_by_day_on_the_store_page(
    browser: Browser, node: Node, node_api: Api, clients: list[Api], infra: Infra
) -> None:
    store_id, email = await open_store(node_api, [{"name": "Kimchi stew", "price": 20_000}])
    owner, customer, rider = clients
    await owner.login(email)
    await customer.sign_in_as("customer")
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    [item] = [
        i for g in (await owner.get(f"/api/stores/{store_id}")).json()["menu"] for i in g["items"]
    ]
    delivered = []
    for _ in range(2):
        placed = await customer.post(
            "/api/orders",
            json={
                "store_id": store_id,
                "items": [{"menu_item_id": item["id"], "quantity": 1, "option_ids": []}],
                "address": CITY_HALL,
                "payment": {"method": "card", "card_number": CARD},
            },
            headers={"Idempotency-Key": new_key()},
        )
        assert placed.status_code == 201, placed.text
        delivered.append(await deliver(placed.json(), owner, rider))
    first, second = delivered
    refund = await owner.post(
        f"/api/orders/{second['id']}/refunds", json={"amount": 2_000, "reason": "Cold."}
    )
    assert refund.status_code == 201, refund.text
    _delivered_on(infra, first["id"], datetime(2026, 3, 1, 12, tzinfo=SEOUL))
    _delivered_on(infra, second["id"], datetime(2026, 3, 2, 23, 50, tzinfo=SEOUL))

    person = await open_watched(browser, "owner", node.url)
    try:
        await sign_in(person, email)
        page = person.page
        await page.goto(f"/owner/stores/{store_id}")
        await loaded(page)
        card = page.locator("#settlement")
        # This month up to today by default: the two deliveries were moved to March.
        await expect(card.locator("tbody")).to_contain_text("No delivered orders in these days.")
        today = datetime.now(SEOUL).date()
        days = (today.isoformat(), (today + timedelta(days=1)).isoformat())
        await expect(card.get_by_label("To")).to_have_value(re.compile("|".join(days)))

        await card.get_by_label("From").fill("2026-03-01")
        await card.get_by_label("To").fill("2026-03-02")
        await card.get_by_role("button", name="Show").click()
        rows = card.locator("tbody tr")
        await expect(rows).to_have_count(2)
        # 23,000 each (20,000 + the 3,000 fee); 6.8 % of 23,000 is 1,564, of 21,000 is 1,428.
        await expect(rows.nth(0)).to_contain_text("2026-03-01")
        await expect(rows.nth(0)).to_contain_text("23,000")
        await expect(rows.nth(0)).to_contain_text("1,564")
        await expect(rows.nth(0)).to_contain_text("21,436")
        await expect(rows.nth(1)).to_contain_text("2026-03-02")
        await expect(rows.nth(1)).to_contain_text("2,000")
        await expect(rows.nth(1)).to_contain_text("1,428")
        await expect(rows.nth(1)).to_contain_text("19,572")
        total = card.locator("tfoot")
        await expect(total).to_contain_text("46,000")
        await expect(total).to_contain_text("2,992")
        await expect(total).to_contain_text("41,008")
        await expect(card.locator(".settlement-summary")).to_contain_text("2 delivered orders")
        await person.shot("owner-store-settlement")

        # A range the server refuses says why, and keeps the table it had.
        person.tolerate = re.compile(r"\b400\b")
        await card.get_by_label("From").fill("2026-03-05")
        await card.get_by_role("button", name="Show").click()
        await expect(card.locator(".problem")).to_contain_text("after it ends")
        person.tolerate = None
        await expect(rows).to_have_count(2)
    finally:
        await person.context.close()
    person.assert_clean()
