"""The kitchen's clock in the browser: the board counts down to an unanswered order's automatic
rejection, and when the owner delays an accepted order the customer's page moves its ETA live."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from tests.client import Api
from tests.waiting import wait_until
from tests.web.browser import Watched
from tests.web.single_node import customer, node, node_api
from tests.web.test_live_pages import order_with_board_open, owner

__all__ = ["customer", "node", "node_api", "owner"]

SEOUL = ZoneInfo("Asia/Seoul")  # the test browsers' zone (tests/web/browser.py)


def _clock(at: str) -> str:
    """The hour and minute a page in Seoul shows for `at` (en-US, 12-hour)."""
    return datetime.fromisoformat(at).astimezone(SEOUL).strftime("%I:%M")


async def test_the_board_counts_down_and_a_delay_moves_the_customer_s_eta_live(
    node_api: Api, owner: Watched, customer: Watched
) -> None:
    _, order_id = await order_with_board_open(node_api, owner, customer)
    board = owner.page
    card = board.locator(f'.order-card[data-order-id="{order_id}"]')

    # A new order counts down to its automatic rejection, from the order's own `accept_by`.
    countdown = card.locator(".accept-countdown")
    await expect(countdown).to_have_text(re.compile(r"^Answer within [45]:\d\d$"))
    accept_by = await countdown.get_attribute("data-accept-by")
    snapshot = await (await customer.page.request.get(f"/api/orders/{order_id}")).json()
    assert accept_by == snapshot["accept_by"]
    first = await countdown.text_content()

    async def ticked() -> bool:
        return await countdown.text_content() != first

    await wait_until(ticked, timeout=5, what="the countdown to tick")
    await owner.shot("owner-board-accept-countdown")

    # Accepted: the customer's page shows the server's estimate.
    await card.get_by_label(f"Preparation minutes for order {order_id}").fill("15")
    await card.get_by_role("button", name="Accept").click()
    await expect(card).to_have_attribute("data-status", "accepted")
    await expect(card.locator(".accept-countdown")).to_have_count(0)
    eta_line = customer.page.locator("#eta")
    await expect(eta_line).to_have_text(re.compile(r"^Estimated arrival around .+, in 1[56] min$"))
    accepted_eta = await eta_line.get_attribute("data-eta")
    assert accepted_eta
    await expect(eta_line).to_contain_text(_clock(accepted_eta))
    await expect(card.locator(".kitchen-clock")).to_contain_text(_clock(accepted_eta))

    # The owner needs 10 more minutes: the customer's page moves without a reload.
    await card.get_by_role("button", name=f"Delay order {order_id} by 10 minutes").click()
    await expect(card.locator(".kitchen-clock")).to_contain_text("delayed 10 min")
    moved = (datetime.fromisoformat(accepted_eta) + timedelta(minutes=10)).isoformat()
    await expect(eta_line).to_have_attribute("data-eta", moved.replace("+00:00", "Z"))
    await expect(eta_line).to_have_text(re.compile(r"^Estimated arrival around .+, in 2[56] min$"))
    await expect(eta_line).to_contain_text(_clock(moved))
    await expect(customer.page.locator("#delay-line")).to_have_text(
        "The store needed 10 more minutes."
    )
    await expect(customer.page.locator("#toast")).to_contain_text("10 more minutes")
    await customer.shot("customer-order-eta-delayed")

    # Delays add up.
    await card.get_by_role("button", name=f"Delay order {order_id} by 20 minutes").click()
    await expect(card.locator(".kitchen-clock")).to_contain_text("delayed 30 min")
    later = (datetime.fromisoformat(accepted_eta) + timedelta(minutes=30)).isoformat()
    await expect(eta_line).to_have_attribute("data-eta", later.replace("+00:00", "Z"))
    await expect(eta_line).to_have_text(re.compile(r"^Estimated arrival around .+, in 4[56] min$"))
    await owner.shot("owner-board-delay")
