"""The steps people take in the web UI, driven through Chromium like a person would."""

from __future__ import annotations

import io
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from playwright.async_api import Page, expect

from app.launcher.cluster import Cluster
from tests.client import DEFAULT_PASSWORD
from tests.web.browser import Watched


@dataclass
class Journey:
    """Where one journey happens (its own part of town, so tests stay apart) and what it learns."""

    lat: float
    lng: float
    store_id: int = 0
    order_id: int = 0
    rider_fee: str = ""
    store_name: str = "Hanok Kitchen"

    @property
    def store(self) -> dict[str, float]:
        return {"lat": self.lat, "lng": self.lng}

    @property
    def home(self) -> dict[str, float]:
        return {"lat": round(self.lat - 0.0045, 6), "lng": round(self.lng - 0.004, 6)}

    @property
    def rider_start(self) -> dict[str, float]:
        """Playwright's geolocation for the rider's device, 150 m from the store."""
        return {"latitude": round(self.lat + 0.0012, 6), "longitude": round(self.lng + 0.0015, 6)}


def photo(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    """A real JPEG file to upload."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(buffer, "JPEG")
    path = folder / name
    path.write_bytes(buffer.getvalue())
    return path


def node_index(cluster: Cluster, person: Watched) -> int:
    """Which of the cluster's nodes answered the page's latest subscription."""
    assert person.socket_nodes, f"{person.name}'s page never subscribed"
    pid = int(person.socket_nodes[-1].rsplit("/", 1)[1])
    for index, node in enumerate(cluster.node_list):
        if node.process is not None and node.process.pid == pid:
            return index
    raise AssertionError(f"no node has pid {pid}")


async def loaded(page: Page) -> None:
    """Wait until the page has shown its first data and follows its streams."""
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")


async def sign_up(page: Page, role: str, name: str) -> None:
    """Create an account of `role` on the landing page and land on the role's home."""
    await page.goto("/")
    await loaded(page)
    form = page.locator("#signup-form")
    await form.get_by_label("Name").fill(name)
    await form.get_by_label("Email").fill(f"{role}-{uuid.uuid4().hex[:10]}@example.com")
    await form.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await form.get_by_label(
        {"customer": "Customer", "owner": "Store owner", "rider": "Rider"}[role]
    ).check()
    await form.get_by_role("button", name="Sign up").click()
    await page.wait_for_url(f"**/{role}")
    await loaded(page)


async def owner_builds_and_opens_store(owner: Watched, folder: Path, journey: Journey) -> None:
    """Sign up, create a store, add an item with a photo and an option, upload the store photo, open."""
    page = owner.page
    await sign_up(page, "owner", "Olivia Owner")
    await expect(page.get_by_text("No stores yet")).to_be_visible()
    form = page.locator("#store-form")
    await form.get_by_label("Name", exact=True).fill(journey.store_name)
    await form.get_by_label("Category").select_option("korean")
    await form.get_by_label("Phone").fill("02-123-4567")
    await form.get_by_label("Address").fill("1 Sejong-daero, Jung-gu")
    await form.get_by_label("Latitude").fill(str(journey.store["lat"]))
    await form.get_by_label("Longitude").fill(str(journey.store["lng"]))
    await form.get_by_label("Minimum order (₩)").fill("12000")
    await form.get_by_label("Delivery fee (₩)").fill("3000")
    await form.get_by_role("button", name="Create store").click()
    await page.wait_for_url(re.compile(r"/owner/stores/\d+$"))
    journey.store_id = int(page.url.rsplit("/", 1)[1])
    await loaded(page)

    item = page.locator("#item-form")
    await item.get_by_label("Name", exact=True).fill("Bibimbap")
    await item.get_by_label("Price (₩)").fill("11000")
    await item.get_by_label("Group").fill("Mains")
    await item.get_by_label("Description").fill("Rice, vegetables, gochujang")
    await item.get_by_label("Options").fill("Fried egg, 1000")
    await item.get_by_label("Photo").set_input_files(photo(folder, "bibimbap.jpg", (200, 80, 40)))
    await item.get_by_role("button", name="Add item").click()
    row = page.locator(".menu-edit")
    await expect(row).to_have_count(1)
    await expect(row.locator("img.thumb")).to_be_visible()

    await page.locator("#store-file").set_input_files(photo(folder, "store.jpg", (30, 90, 160)))
    await page.get_by_role("button", name="Upload photo").click()
    await expect(page.locator("#store-image")).to_be_visible()

    await page.locator("#open-switch").check()
    await expect(page.locator("#open-label")).to_have_text("Open for orders")
    await owner.shot("owner-store-editor")
    await page.get_by_role("link", name="Order board").click()
    await page.wait_for_url(f"**/owner/stores/{journey.store_id}/board")
    await loaded(page)
    await expect(page.locator("#store-name")).to_have_text(journey.store_name)


async def rider_goes_online(rider: Watched) -> None:
    """Sign up with the device's location shared and go online."""
    page = rider.page
    await sign_up(page, "rider", "Ria Rider")
    await expect(page.locator("#pos-source")).to_have_text("From your device")
    await page.locator("#online-switch").check()
    await expect(page.locator("#online-label")).to_have_text("Online: receiving offers")


async def customer_orders(customer: Watched, journey: Journey) -> None:
    """Choose an address, find the store, add an item with an option, check out by card."""
    page = customer.page
    await sign_up(page, "customer", "Chris Customer")
    await page.locator("#addr-text").fill("12 Sejong-daero, Apt 301")
    await page.locator("#addr-lat").fill(str(journey.home["lat"]))
    await page.locator("#addr-lng").fill(str(journey.home["lng"]))
    await page.get_by_role("button", name="Use this address").click()
    await page.locator("#search-q").fill("Hanok")
    await page.get_by_role("button", name="Search", exact=True).click()
    card = page.locator(f'[data-store-id="{journey.store_id}"]')
    await expect(card).to_contain_text(journey.store_name)
    await expect(card).to_contain_text("Open")
    await customer.shot("customer-stores")
    await card.click()
    await page.wait_for_url(f"**/customer/stores/{journey.store_id}")
    await loaded(page)
    item = page.locator(".menu-item", has_text="Bibimbap")
    await expect(item.locator("img")).to_be_visible()
    await item.get_by_label(re.compile("Fried egg")).check()
    await item.get_by_role("button", name="Add to cart").click()
    await expect(page.locator("#cart-subtotal")).to_have_text("₩12,000")
    await customer.shot("customer-store-menu")
    await page.locator("#to-checkout").click()
    await page.wait_for_url("**/customer/checkout")
    await loaded(page)
    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await expect(page.locator("#place-order")).to_have_text("Place order · ₩15,000")
    await customer.shot("customer-checkout")
    await page.locator("#place-order").click()
    await page.wait_for_url(re.compile(r"/customer/orders/\d+$"))
    journey.order_id = int(page.url.rsplit("/", 1)[1])
    await loaded(page)
    await expect(page.locator("body")).to_have_attribute("data-order-status", "placed")
    await expect(page.locator("#order-total")).to_have_text("₩15,000")


async def marker_position(page: Page, name: str) -> tuple[float, float] | None:
    """Where the page's map draws marker `name` (its lat/lng), or None when absent."""
    marker = page.locator(f'[data-marker="{name}"]')
    if await marker.count() == 0:
        return None
    lat = await marker.get_attribute("data-lat")
    lng = await marker.get_attribute("data-lng")
    return (float(lat), float(lng)) if lat and lng else None


async def owner_board_rings_and_accepts(owner: Watched, journey: Journey) -> None:
    """The new order appears on the open board by itself, rings, is acknowledged and accepted."""
    page = owner.page
    card = page.locator(f'.order-card[data-order-id="{journey.order_id}"]')
    await expect(card).to_have_attribute("data-status", "placed")
    await expect(card).to_have_class(re.compile(r"\bnew\b"))
    await expect(page.locator("#ring-alert")).to_be_visible()
    await expect(page.locator("#ring-text")).to_have_text(f"New order #{journey.order_id}!")
    await expect(page.locator("body")).to_have_attribute("data-rings", "1")
    # The chime was played on a running AudioContext, not just counted.
    await expect(page.locator("body")).to_have_attribute("data-chimes", "1")
    await expect(page.locator("#sound-note")).to_be_hidden()
    await owner.shot("owner-board-ringing")
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(page.locator("#ring-alert")).to_be_hidden()
    await card.get_by_label("Preparation minutes").fill("10")
    await card.get_by_role("button", name="Accept").click()
    await expect(card).to_have_attribute("data-status", "accepted")
    await expect(page.locator("#today-count")).to_have_text("1")
    await expect(page.locator("#today-sales")).to_have_text("₩15,000")


async def rider_takes_the_offer(rider: Watched, journey: Journey) -> None:
    """The offer card appears with a countdown; accepting it makes it the active delivery."""
    page = rider.page
    offer = page.locator(f'.offer[data-order-id="{journey.order_id}"]')
    await expect(offer).to_contain_text(journey.store_name)
    await expect(offer.locator(".countdown")).to_have_text(re.compile(r"^\d+ s$"))
    fee = re.search(r"fee (₩[\d,]+)", await offer.inner_text())
    assert fee, "the offer shows no fee"
    journey.rider_fee = fee.group(1)
    await rider.shot("rider-offer")
    await offer.get_by_role("button", name="Accept").click()
    await expect(page.locator("body")).to_have_attribute("data-active-status", "accepted")
    await expect(page.locator("#active")).to_contain_text(f"Order #{journey.order_id}")


async def rider_drives(
    rider: Watched, customer: Watched, points: list[tuple[float, float]]
) -> list[float]:
    """Move the rider's device; the customer's map follows each position without a reload.

    Returns the seconds from each new fix to the customer's map showing it.
    """
    delays = []
    for lat, lng in points:
        started = time.perf_counter()
        await rider.context.set_geolocation({"latitude": lat, "longitude": lng})
        await expect(rider.page.locator("body")).to_have_attribute("data-lat", str(lat))
        marker = customer.page.locator('[data-marker="rider"]')
        await expect(marker).to_have_attribute("data-lat", str(lat), timeout=15_000)
        await expect(marker).to_have_attribute("data-lng", str(lng))
        delays.append(time.perf_counter() - started)
    return delays


def path_between(a: dict[str, float], b: dict[str, float], steps: int) -> list[tuple[float, float]]:
    """Points from a to b (excluding a), rounded like a GPS fix."""
    return [
        (
            round(a["lat"] + (b["lat"] - a["lat"]) * i / steps, 6),
            round(a["lng"] + (b["lng"] - a["lng"]) * i / steps, 6),
        )
        for i in range(1, steps + 1)
    ]
