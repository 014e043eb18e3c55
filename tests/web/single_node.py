"""One real node on the test services, an admin, stores made through the API, watched browsers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from app.config import Settings
from app.launcher.nodes import Node
from tests.client import DEFAULT_PASSWORD, Api
from tests.harness import Infra
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded, sign_up

ADMIN = {"email": "admin@example.com", "password": "admin-password-123"}


@pytest.fixture
def node(infra: Infra, settings: Settings) -> Iterator[Node]:
    """A `delivery serve` node on freshly emptied test services, with an admin created at start."""
    started = infra.start_node(
        "web-pages",
        DELIVERY_ADMIN_EMAIL=ADMIN["email"],
        DELIVERY_ADMIN_PASSWORD=ADMIN["password"],
        SIGNUP_MAX_PER_ADDRESS="1000",
    )
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def node_api(node: Node) -> AsyncIterator[Api]:
    """An API client on the node."""
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        yield Api(http)


@pytest.fixture
async def customer(browser: Browser, node: Node, node_api: Api) -> AsyncIterator[Watched]:
    """A customer's browser, signed up on the landing page, with the address set near the store."""
    person = await open_watched(browser, "customer", node.url)
    await sign_up(person.page, "customer", "Chris Customer")
    await person.page.locator("#addr-text").fill("1 Test-ro")
    await person.page.locator("#addr-lat").fill("37.5660")
    await person.page.locator("#addr-lng").fill("126.9770")
    await person.page.get_by_role("button", name="Use this address").click()
    # The stores near the new address are read at once: leave the page only once they are.
    await expect(person.page.locator("body")).to_have_attribute("data-stores-at", "37.566,126.977")
    try:
        yield person
    finally:
        await person.context.close()
    person.assert_clean()


async def open_store(api: Api, items: list[dict[str, Any]], **store: Any) -> tuple[int, str]:
    """An open store of a fresh owner with `items`; returns its id and the owner's email."""
    owner = Api(httpx.AsyncClient(base_url=str(api.http.base_url), timeout=30))
    try:
        email = (await owner.sign_in_as("owner"))["email"]
        body = {
            "name": "Gimbap Corner",
            "category": "korean",
            "address": "2 Test-ro",
            "lat": 37.5665,
            "lng": 126.978,
            "phone": "02-555-0101",
            "min_order": 10000,
            "delivery_fee": 3000,
            **store,
        }
        created = await owner.post("/api/stores", json=body)
        assert created.status_code == 201, created.text
        store_id = int(created.json()["id"])
        for item in items:
            sold_out = item.pop("sold_out", False)
            made = await owner.post(f"/api/stores/{store_id}/menu", json={"group": "Mains", **item})
            assert made.status_code == 201, made.text
            if sold_out:
                patched = await owner.patch(
                    f"/api/menu-items/{made.json()['id']}", json={"sold_out": True}
                )
                assert patched.status_code == 200, patched.text
        opened = await owner.patch(f"/api/stores/{store_id}", json={"open": True})
        assert opened.status_code == 200, opened.text
        return store_id, email
    finally:
        await owner.http.aclose()


async def sign_in(person: Watched, email: str, password: str = DEFAULT_PASSWORD) -> None:
    """Sign in on the landing page."""
    page = person.page
    await page.goto("/")
    await loaded(page)
    form = page.locator("#signin-form")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/(customer|owner|rider)$"))
    await loaded(page)


async def add_to_cart(person: Watched, store_id: int, item: str) -> None:
    """Open the store's page (unless there already) and add `item` without options."""
    page = person.page
    if not page.url.endswith(f"/customer/stores/{store_id}"):
        await page.goto(f"/customer/stores/{store_id}")
        await loaded(page)
    await (
        page.locator(".menu-item", has_text=item).get_by_role("button", name="Add to cart").click()
    )
