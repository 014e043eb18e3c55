"""An owner, a customer and a rider in three browsers on two nodes behind nginx, through the
store's hours and pause, the address book and order notes, the kitchen's clock, delivery, a
review and its reply, ordering again and favourites; every other party's screen follows live.

The customer's socket is on one node and the owner's and the rider's on the other, so that what
the owner does reaches the customer's page across nodes (the pause, the delay), and so does
what the rider does (pickup, delivery)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from app.launcher.cluster import Cluster
from tests.waiting import wait_until
from tests.web.browser import Watched, open_watched
from tests.web.journey import (
    Journey,
    loaded,
    node_index,
    owner_builds_and_opens_store,
    sign_up,
)
from tests.web.single_node import sign_in

pytestmark = pytest.mark.system

SEOUL = ZoneInfo("Asia/Seoul")  # the stores' default zone and the test browsers' (browser.py)
ADDRESS = "8 Seongsu-ro, Apt 1203"
SAVED_NOTE = "Gate code 1234"
KITCHEN_NOTE = "No onions, please"
RIDER_NOTE = "Call me from the lobby, gate code 1234"
REVIEW = "Hot, quick, and the rider found the gate."
REPLY = "Thank you, see you again soon!"
REFUND_REASON = "The fried egg was missing."
SIGN_OUT_LEFT = re.compile(r"request failed: POST \S+/api/auth/logout net::ERR_ABORTED$")
TRIES = 16  # sign-ins until a socket lands on the wanted node: each is a coin toss of nginx's hash


async def email_of(person: Watched) -> str:
    me = await (await person.page.request.get("/api/me")).json()
    return str(me["user"]["email"])


def subscribed_after(person: Watched, seen: int) -> Callable[[], bool]:
    return lambda: len(person.socket_nodes) > seen


async def settle_on_node(
    cluster: Cluster, person: Watched, url: str, wanted: Callable[[int], bool]
) -> int:
    """Sign in again until nginx sends `person`'s socket to a node that is `wanted`.

    nginx keeps a browser's socket on the node its session cookie hashes to; a new sign-in is a
    new cookie. Returns the node's index once `url` (a page that follows a stream) shows it.
    """
    email = await email_of(person)
    page = person.page
    for _ in range(TRIES):
        seen = len(person.socket_nodes)
        await page.goto(url)
        await loaded(page)
        await wait_until(subscribed_after(person, seen), what="the page's subscription")
        index = node_index(cluster, person)
        if wanted(index):
            return index
        # The page leaves for the landing page as soon as the 204 arrives, which Chromium may
        # report as the logout request aborted; the session has ended all the same.
        person.tolerate = SIGN_OUT_LEFT
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("#signin-form")).to_be_visible()
        person.tolerate = None
        await sign_in(person, email)
    raise AssertionError(f"{person.name}'s socket never reached the wanted node in {TRIES} tries")


def weekly_around_now() -> tuple[list[dict[str, Any]], re.Pattern[str]]:
    """Hours that take orders from an hour ago to three hours ahead (in Seoul, past midnight
    too), and another day's lunch; plus the closing the pages should show."""
    start = datetime.now(SEOUL) - timedelta(hours=1)
    end = start + timedelta(hours=4)
    rows = [
        {"day": start.weekday(), "opens": start.strftime("%H:%M"), "closes": end.strftime("%H:%M")},
        {"day": (start.weekday() + 2) % 7, "opens": "11:00", "closes": "15:00"},
    ]
    tomorrow = "tomorrow at " if end.date() != datetime.now(SEOUL).date() else ""
    return rows, re.compile(f"^Open until {tomorrow}{end.strftime('%H:%M')}$")


async def owner_sets_hours(owner: Watched, journey: Journey) -> re.Pattern[str]:
    """On the store page, the owner saves weekly hours; returns how the pages say when the
    opening under way ends."""
    page = owner.page
    await page.goto(f"/owner/stores/{journey.store_id}")
    await loaded(page)
    rows, closes = weekly_around_now()
    hours = page.locator("#hours-form")
    await expect(hours.get_by_label("Time zone")).to_have_value("Asia/Seoul")
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    for index, row in enumerate(rows):
        await hours.get_by_role("button", name="Add opening").click()
        line = hours.locator("tr.hours-row").nth(index)
        await line.get_by_label("Day").select_option(label=days[row["day"]])
        await line.get_by_label("Opens").fill(row["opens"])
        await line.get_by_label("Closes").fill(row["closes"])
    await hours.get_by_role("button", name="Save hours").click()
    await expect(page.locator("#toast")).to_have_text("Opening hours saved")
    await expect(page.locator("#state-badge")).to_have_text("Open")
    await expect(page.locator("#state-detail")).to_have_text(closes)
    await owner.shot("journey-owner-hours")
    return closes


async def customer_saves_an_address(customer: Watched) -> dict[str, float]:
    """Share the device's location as the area, then save Home in the address book by clicking
    the map; returns the saved point."""
    page = customer.page
    await page.get_by_role("link", name="Stores").click()
    await loaded(page)
    await page.get_by_role("button", name="Use my location").click()
    # The fields hold the default area until the device answers: wait for its answer.
    await expect(page.locator("#toast")).to_contain_text("Location filled in")
    await page.locator("#addr-text").fill("Seongsu-dong")
    here = [float(await page.locator(f"#addr-{axis}").input_value()) for axis in ("lat", "lng")]
    await page.get_by_role("button", name="Use this address").click()
    # The stores near it are read at once: go on once they are (leaving cuts the read off).
    await expect(page.locator("body")).to_have_attribute(
        "data-stores-at", f"{here[0]!r},{here[1]!r}"
    )

    await page.get_by_role("link", name="Addresses").click()
    await page.wait_for_url("**/customer/addresses")
    await loaded(page)
    await expect(page.locator("#addresses")).to_contain_text("No saved addresses yet")
    form = page.locator("#address-form")
    await form.get_by_label("Label").fill("Home")
    await form.get_by_label("Address", exact=True).fill(ADDRESS)
    await form.get_by_label("Note for the rider").fill(SAVED_NOTE)
    box = await page.locator("#addr-map svg").bounding_box()
    assert box, "the address map is not shown"
    # A little north-east of the shared location, which the map is centred on.
    await page.locator("#addr-map svg").click(
        position={"x": box["width"] * 0.6, "y": box["height"] * 0.4}
    )
    marker = page.locator('#addr-map [data-marker="home"]')
    point = {
        "lat": float(await marker.get_attribute("data-lat") or "nan"),
        "lng": float(await marker.get_attribute("data-lng") or "nan"),
    }
    await expect(page.locator("#addr-point")).to_have_text(
        f"{point['lat']:.6f}, {point['lng']:.6f}"
    )
    await form.get_by_role("button", name="Save address").click()
    home = page.locator(".address", has_text="Home")
    await expect(home).to_contain_text("Default")
    await expect(home).to_contain_text(f"For the rider: {SAVED_NOTE}")
    await customer.shot("journey-customer-address-book")
    return point


async def test_hours_pause_notes_delay_delivery_review_reply_reorder_and_favourite(
    cluster: Cluster, browser: Browser, tmp_path: Path
) -> None:
    journey = Journey(lat=37.5440, lng=127.0560, store_name="Seongsu Bapsang")
    owner = await open_watched(browser, "owner", cluster.url)
    rider = await open_watched(
        browser,
        "rider",
        cluster.url,
        permissions=["geolocation"],
        geolocation=journey.rider_start,
    )
    customer = await open_watched(
        browser,
        "customer",
        cluster.url,
        permissions=["geolocation"],
        geolocation={"latitude": journey.home["lat"], "longitude": journey.home["lng"]},
    )
    people = (owner, rider, customer)
    try:
        # --- Everyone signs in; the customer's socket is on the other node than the others'.
        await owner_builds_and_opens_store(owner, tmp_path, journey)
        store_url = f"/customer/stores/{journey.store_id}"
        kitchen = node_index(cluster, owner)
        await sign_up(rider.page, "rider", "Ria Rider")
        await settle_on_node(cluster, rider, "/rider", lambda index: index == kitchen)
        await expect(rider.page.locator("#pos-source")).to_have_text("From your device")
        await rider.page.locator("#online-switch").check()
        await expect(rider.page.locator("#online-label")).to_have_text("Online: receiving offers")
        await sign_up(customer.page, "customer", "Chris Customer")
        home_node = await settle_on_node(
            cluster, customer, store_url, lambda index: index != kitchen
        )

        # --- The customer saves Home in the address book and fills the cart.
        point = await customer_saves_an_address(customer)
        page = customer.page
        await page.goto(store_url)
        await loaded(page)
        await expect(page.locator("#store-state")).to_have_text("Open")
        await expect(page.locator("#store-when")).to_have_text("Open now")
        item = page.locator(".menu-item", has_text="Bibimbap")
        await item.get_by_label(re.compile("Fried egg")).check()
        await item.get_by_role("button", name="Add to cart").click()
        await expect(page.locator("#cart-subtotal")).to_have_text("₩12,000")

        # --- The owner sets weekly hours: the customer's open page shows them at once.
        closes = await owner_sets_hours(owner, journey)
        await expect(page.locator("#store-when")).to_have_text(closes)

        # --- The owner pauses: the customer's page says so, and ordering is refused.
        await owner.page.get_by_role("button", name="Pause 15 min").click()
        await expect(owner.page.locator("#state-badge")).to_have_text("Paused")
        await expect(owner.page.locator("#pause-left")).to_contain_text(
            re.compile(r"Paused: 1[45]:\d\d left")
        )
        await owner.shot("journey-owner-paused")
        again = re.compile(r"takes orders again (today|tomorrow) at \d\d:\d\d")
        await expect(page.locator("#store-state")).to_have_text("Paused")
        await expect(page.locator("#store-when")).to_have_text(
            re.compile(rf"^Paused: {again.pattern}$")
        )
        await expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)
        await expect(page.locator("#cart-blocked")).to_have_text(
            re.compile(rf"^{journey.store_name} is not taking orders\. Paused: {again.pattern}\.$")
        )
        await expect(page.get_by_role("button", name="Go to checkout")).to_be_disabled()
        await customer.shot("journey-customer-store-paused")

        await page.get_by_role("link", name="Cart").click()
        await page.wait_for_url("**/customer/checkout")
        await loaded(page)
        blocked = page.locator("#order-blocked")
        await expect(blocked).to_have_text(
            re.compile(rf"^{journey.store_name} is not taking orders\. Paused: {again.pattern}\.$")
        )
        await expect(page.locator("#place-order")).to_be_disabled()
        await customer.shot("journey-customer-checkout-paused")
        # The server refuses too, and says when the store takes orders again.
        refused = await place_order_directly(customer, journey.store_id, point)
        assert refused["status"] == 409 and refused["code"] == "store-closed", refused
        assert refused["next_open"], refused

        # --- The owner resumes; the customer checks out to Home with notes for both.
        await owner.page.get_by_role("button", name="Resume now").click()
        await expect(owner.page.locator("#state-badge")).to_have_text("Open")
        await expect(blocked).to_be_hidden()
        await expect(page.locator("#place-order")).to_be_enabled()
        await owner.page.get_by_role("link", name="Order board").click()
        await owner.page.wait_for_url(f"**/owner/stores/{journey.store_id}/board")
        await loaded(owner.page)

        await page.get_by_label("Deliver to").select_option(label=f"Home: {ADDRESS}")
        await expect(page.locator("#co-new")).to_be_hidden()
        await expect(page.locator("#rider-note-hint")).to_contain_text(SAVED_NOTE)
        await page.get_by_label("Note for the kitchen").fill(KITCHEN_NOTE)
        await page.get_by_label("Note for the rider").fill(RIDER_NOTE)
        await page.get_by_label("Card number").fill("4242 4242 4242 4242")
        await expect(page.locator("#place-order")).to_have_text("Place order · ₩15,000")
        # The server's fee for Home, by its distance from the store.
        await expect(page.locator("#delivery-note")).to_have_text(
            re.compile(rf"^\d+\.\d km from {journey.store_name}: delivery ₩3,000\.$")
        )
        await customer.shot("journey-customer-checkout-saved-address")
        await page.locator("#place-order").click()
        await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
        journey.order_id = int(page.url.rsplit("/", 1)[1])
        await loaded(page)
        await expect(page.locator("body")).to_have_attribute("data-order-status", "placed")
        await expect(page.locator("#order-total")).to_have_text("₩15,000")
        await expect(page.locator("#items")).to_contain_text(f"Deliver to {ADDRESS}")
        await expect(page.locator("#store-note")).to_have_text(f"For the kitchen: {KITCHEN_NOTE}")
        await expect(page.locator("#rider-note")).to_have_text(f"For the rider: {RIDER_NOTE}")
        order = await (await page.request.get(f"/api/orders/{journey.order_id}")).json()
        assert (order["address"]["lat"], order["address"]["lng"]) == (point["lat"], point["lng"])

        # --- The board rings with the kitchen's note only, and the owner accepts.
        board = owner.page
        card = board.locator(f'.order-card[data-order-id="{journey.order_id}"]')
        await expect(card).to_have_attribute("data-status", "placed")
        await expect(board.locator("#ring-text")).to_have_text(f"New order #{journey.order_id}!")
        await expect(card).to_contain_text(f"Note: {KITCHEN_NOTE}")
        await expect(card).not_to_contain_text(RIDER_NOTE)
        await owner.shot("journey-owner-board-kitchen-note")
        await board.get_by_role("button", name="Acknowledge").click()
        await card.get_by_label(f"Preparation minutes for order {journey.order_id}").fill("15")
        await card.get_by_role("button", name="Accept").click()
        await expect(card).to_have_attribute("data-status", "accepted")
        await expect(page.locator("body")).to_have_attribute("data-order-status", "accepted")

        # --- The rider: an offer without the notes; once assigned, the address and the note.
        offer = rider.page.locator(f'.offer[data-order-id="{journey.order_id}"]')
        await expect(offer).to_contain_text(journey.store_name)
        await expect(offer).not_to_contain_text(RIDER_NOTE)
        await expect(offer).not_to_contain_text(KITCHEN_NOTE)
        await expect(rider.page.locator("#active-rider-note")).to_have_count(0)
        await rider.shot("journey-rider-offer")
        await offer.get_by_role("button", name="Accept").click()
        active = rider.page.locator("#active")
        await expect(rider.page.locator("body")).to_have_attribute("data-active-status", "accepted")
        await expect(active).to_contain_text(f"Deliver to {ADDRESS}")
        await expect(rider.page.locator("#active-rider-note")).to_have_text(
            f"Customer's note: {RIDER_NOTE}"
        )
        await expect(active).not_to_contain_text(KITCHEN_NOTE)
        await rider.shot("journey-rider-active-note")
        await expect(page.locator("#rider-line")).to_have_text("Your rider: Ria Rider")
        await expect(card.locator(".rider")).to_have_text("Rider: Ria Rider")

        # --- The kitchen needs longer: the customer's ETA moves as the owner clicks.
        eta = page.locator("#eta")
        await expect(eta).to_have_text(re.compile(r"^Estimated arrival around .+, in \d+ min$"))
        assigned_eta = await eta.get_attribute("data-eta")
        assert assigned_eta
        await card.get_by_role(
            "button", name=f"Delay order {journey.order_id} by 10 minutes"
        ).click()
        await expect(card.locator(".kitchen-clock")).to_contain_text("delayed 10 min")
        moved = datetime.fromisoformat(assigned_eta) + timedelta(minutes=10)
        await expect(eta).to_have_attribute("data-eta", moved.isoformat().replace("+00:00", "Z"))
        await expect(eta).to_contain_text(moved.astimezone(SEOUL).strftime("%I:%M"))
        await expect(page.locator("#delay-line")).to_have_text("The store needed 10 more minutes.")
        await expect(page.locator("#toast")).to_contain_text("10 more minutes")
        await customer.shot("journey-customer-eta-delayed")
        await owner.shot("journey-owner-board-delayed")

        # --- Ready, picked up, delivered: each screen follows.
        await card.get_by_role("button", name="Mark ready").click()
        await expect(rider.page.locator("body")).to_have_attribute("data-active-status", "ready")
        await expect(page.locator("body")).to_have_attribute("data-order-status", "ready")
        await rider.page.get_by_role("button", name="Picked up").click()
        await expect(page.locator("body")).to_have_attribute("data-order-status", "picked_up")
        await rider.page.get_by_role("button", name="Delivered").click()
        await expect(page.locator("body")).to_have_attribute("data-order-status", "delivered")
        await expect(board.locator("#done")).to_contain_text(f"#{journey.order_id}")
        await expect(rider.page.locator("#delivered-count")).to_have_text("1")

        # --- The owner refunds part of the delivered order; the customer's page shows it live.
        await board.get_by_role("button", name=f"Refund part of order {journey.order_id}").click()
        dialog = board.locator("dialog.refund-dialog")
        await expect(dialog).to_be_visible()
        await dialog.get_by_label("An amount").check()
        await dialog.get_by_label("Amount to refund (₩)").fill("2000")
        await dialog.get_by_label("Reason the customer sees").fill(REFUND_REASON)
        await owner.shot("journey-owner-refund-dialog")
        await dialog.get_by_role("button", name="Review refund").click()
        sure = board.get_by_role("alertdialog", name="Refund ₩2,000?")
        await expect(sure).to_contain_text("goes back to the customer")
        await owner.shot("journey-owner-refund-confirm")
        await sure.get_by_role("button", name="Refund ₩2,000").click()
        await expect(board.locator("#toast")).to_contain_text("Refunded ₩2,000")
        await expect(board.locator("#done")).to_contain_text("Refunded ₩2,000")
        refunds = page.locator("#refunds")
        await expect(refunds).to_contain_text("Refunded ₩2,000")
        await expect(refunds).to_contain_text(REFUND_REASON)
        await expect(refunds).to_contain_text("₩2,000 to your card")
        await expect(page.locator("#toast")).to_contain_text(
            f"The store refunded ₩2,000: {REFUND_REASON}"
        )
        await customer.shot("journey-customer-order-refunded")

        # --- The customer reviews the delivered order on its page.
        form = page.locator("#review-form")
        await expect(form).to_be_visible()
        await form.get_by_label("5 stars").check()
        await form.get_by_label("What did you think? (optional)").fill(REVIEW)
        await form.get_by_role("button", name="Send review").click()
        mine = page.locator("#my-review .review")
        await expect(mine).to_contain_text(REVIEW)
        await expect(mine.get_by_role("img", name="5 out of 5 stars")).to_be_visible()
        await expect(form).to_be_hidden()
        await customer.shot("journey-customer-order-reviewed")

        # --- The owner answers it on the store page.
        await board.get_by_role("link", name="Menu & settings").click()
        await board.wait_for_url(f"**/owner/stores/{journey.store_id}")
        await loaded(board)
        await expect(board.locator("#reviews-summary")).to_have_text("1 review · rated from 3")
        review = board.locator(f'#reviews .review[data-order-id="{journey.order_id}"]')
        await expect(review).to_contain_text(REVIEW)
        await review.get_by_label("Reply to Chris Customer").fill(REPLY)
        await review.get_by_role("button", name="Reply").click()
        await expect(review.locator(".reply")).to_contain_text(REPLY)
        await owner.shot("journey-owner-review-replied")

        # --- The owner delivers farther, at fees by distance; a tier that misses the radius
        # is refused with a sentence, and the corrected one is saved.
        delivery = board.locator("#delivery-form")
        owner.tolerate = re.compile(r"\b400\b.*/api/stores/\d+")
        await delivery.get_by_label("Delivery radius (km)").fill("4")
        await delivery.get_by_role("button", name="Add distance tier").click()
        rows = delivery.locator(".tier-row")
        await rows.nth(0).get_by_label("Up to (km)").fill("1.5")
        await rows.nth(1).get_by_label("Up to (km)").fill("3.5")
        await rows.nth(1).get_by_label("Fee (₩)").fill("4500")
        await delivery.get_by_role("button", name="Save delivery").click()
        await expect(delivery.locator(".problem")).to_contain_text(
            "The last tier must end at the delivery radius (4 km), not at 3.5 km."
        )
        owner.tolerate = None
        assert owner.tolerated, "the refusal never reached the page"
        await rows.nth(1).get_by_label("Up to (km)").fill("4")
        await delivery.get_by_role("button", name="Save delivery").click()
        await expect(board.locator("#toast")).to_contain_text("Delivery area saved")
        await owner.shot("journey-owner-delivery-tiers")
        saved = await (await board.request.get(f"/api/stores/{journey.store_id}")).json()
        assert saved["delivery_radius_km"] == 4
        assert saved["delivery_fee_tiers"] == [
            {"up_to_km": 1.5, "fee": 3000},
            {"up_to_km": 4, "fee": 4500},
        ]

        # --- The customer orders it again (the cart is filled), sees the reply, and keeps
        # the store as a favourite.
        await page.get_by_role("link", name="Orders").click()
        await page.wait_for_url("**/customer/orders")
        await loaded(page)
        await expect(page.locator("#orders")).to_contain_text("Delivered")
        await page.get_by_role("button", name=f"Order #{journey.order_id} again").click()
        await page.wait_for_url(f"**{store_url}")
        await loaded(page)
        await expect(page.locator("#reorder-note")).to_have_text(
            f"Your cart holds order #{journey.order_id} again: review it and check out."
        )
        await expect(page.locator("#cart")).to_contain_text("Bibimbap + Fried egg")
        await expect(page.locator("#cart-subtotal")).to_have_text("₩12,000")
        await expect(page.locator("#to-checkout")).to_be_visible()
        shown = page.locator(f'#reviews .review[data-order-id="{journey.order_id}"]')
        await expect(shown).to_contain_text(REVIEW)
        await expect(shown.locator(".reply")).to_contain_text(f"The store replied: {REPLY}")
        await expect(page.locator("#reviews .reply-form")).to_have_count(0)
        await customer.shot("journey-customer-order-again-and-reply")
        await page.get_by_role("button", name="Add to favourites").click()
        await expect(page.locator("#favourite")).to_have_attribute("aria-pressed", "true")
        await page.get_by_role("link", name="Stores").click()
        await loaded(page)
        await expect(page.locator("#favourites")).to_contain_text(journey.store_name)
        await customer.shot("journey-customer-favourites")

        # Every page of the customer's followed its streams on the node the others were not on.
        await page.goto(store_url)
        await loaded(page)
        assert node_index(cluster, customer) == home_node != kitchen
        assert node_index(cluster, owner) == kitchen == node_index(cluster, rider)

        await rider.page.locator("#online-switch").uncheck()
        await expect(rider.page.locator("#online-label")).to_have_text("Offline: no offers")
    finally:
        for person in people:
            print(f"{person.name}'s browser reported:", *person.problems, sep="\n  ")
            await person.context.close()
    for person in people:
        person.assert_clean()


async def place_order_directly(
    customer: Watched, store_id: int, point: dict[str, float]
) -> dict[str, Any]:
    """What the server answers the customer's browser for an order sent past the page."""
    me = await (await customer.page.request.get("/api/me")).json()
    store = await (await customer.page.request.get(f"/api/stores/{store_id}")).json()
    item = store["menu"][0]["items"][0]
    response = await customer.page.request.post(
        "/api/orders",
        headers={"X-CSRF-Token": me["csrf_token"], "Idempotency-Key": "journey-paused-order"},
        data={
            "store_id": store_id,
            "items": [{"menu_item_id": item["id"], "quantity": 2, "option_ids": []}],
            "address": {"text": ADDRESS, **point},
            "payment": {"method": "card", "card_number": "4242424242424242"},
        },
    )
    body: dict[str, Any] = await response.json()
    return body
