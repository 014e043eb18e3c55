"""A session that ends under an open page (a restart of the embedded server forgets every
session; a session expires) sends the person to sign in, and back to the page after."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from playwright.async_api import Browser, expect

from app.demo_accounts import DEMO_PASSWORD
from app.launcher.nodes import Node
from tests.client import DEFAULT_PASSWORD, Api
from tests.harness import Infra
from tests.web.browser import Watched, open_watched
from tests.web.journey import loaded
from tests.web.single_node import customer, node, node_api

__all__ = ["customer", "node", "node_api"]

ROOT = Path(__file__).resolve().parents[2]
# What a page may report while its server restarts or its session is gone: the socket's own
# failures and the 401 that sends it to sign in.
SESSION_END = re.compile(r"socket\.io|WebSocket|HTTP 401|status of 401")


@pytest.fixture
def embedded_env(tmp_path: Path) -> dict[str, str]:
    """`delivery` on the embedded defaults (SQLite, in-process Redis) in a folder of its own."""
    return {
        "VAR_DIR": str(tmp_path / "var"),
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def embedded(embedded_env: dict[str, str], tmp_path: Path) -> Iterator[Node]:
    """An embedded node with the demo loaded, as `make run` serves it."""

    def delivery(command: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", command],
            env={**_outer_env(), **embedded_env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    delivery("migrate")
    demo = delivery("demo")
    # The demo ends with every sign-in, the admin's included, and how to be several people.
    tail = demo.stdout.split("Demo sign-ins", 1)[1]
    for email in ("customer@", "owner@", "rider1@", "rider2@", "admin@"):
        assert f"{email}demo.delivery" in tail, demo.stdout
    assert "one browser profile" in tail
    started = Node(name="embedded", env=embedded_env, log_dir=tmp_path / "logs").start()
    try:
        yield started
    finally:
        started.stop()


def _outer_env() -> dict[str, str]:
    """This process's environment without any service setting (the embedded mode needs none)."""
    services = {
        "DATABASE_URL",
        "SESSION_REDIS_URL",
        "CACHE_REDIS_URL",
        "EVENTS_REDIS_URL",
        "STORAGE_URL",
        "SECRET_KEY",
    }
    return {key: value for key, value in os.environ.items() if key not in services}


async def test_a_restart_of_the_embedded_server_sends_the_page_to_sign_in_and_back(
    browser: Browser, embedded: Node
) -> None:
    owner = await open_watched(browser, "owner", embedded.url)
    try:
        page = owner.page
        await page.goto("/")
        await loaded(page)
        # The landing page of the demo: every sign-in, and one browser profile per role.
        demo = page.locator("section.demo")
        for name in ("Demo Customer", "Demo Owner", "Demo Rider 1", "Demo Admin"):
            await expect(demo.get_by_role("button", name=re.compile(name))).to_be_visible()
        await expect(page.locator("#role-advice")).to_contain_text("browser profile")
        await owner.shot("landing-demo-sign-ins")

        await demo.get_by_role("button", name=re.compile("Demo Owner")).click()
        await page.wait_for_url(re.compile(r"/owner$"))
        await loaded(page)
        href = await page.get_by_role("link", name="Menu & settings").first.get_attribute("href")
        assert href
        here = f"{href}?view=menu#menu"
        # Leaving before the stores' pictures arrive would abort them.
        await page.wait_for_load_state("networkidle")
        await page.goto(here)
        await loaded(page)
        store_name = await page.locator("#store-name").text_content()
        await expect(page.locator("body")).to_have_attribute("data-connection", "connected")

        # The restart forgets every session: the page's socket is refused as unauthenticated.
        owner.tolerate = SESSION_END
        embedded.stop()
        embedded.start()
        await page.wait_for_url(f"**/?next={quote(here, safe='')}", timeout=60_000)
        await loaded(page)
        await owner.shot("signin-after-session-ended")
        await page.locator("#signin-form").get_by_label("Email").fill("owner@demo.delivery")
        await page.locator("#signin-form").get_by_label("Password").fill(DEMO_PASSWORD)
        await page.locator("#signin-form").get_by_role("button", name="Sign in").click()
        # Back where the owner was, live again.
        await page.wait_for_url(re.compile(re.escape(here) + "$"))
        await loaded(page)
        await expect(page.locator("#store-name")).to_have_text(store_name or "")
        await expect(page.locator("body")).to_have_attribute("data-connection", "connected")
        await expect(page.locator("#conn-banner")).to_be_hidden()
    finally:
        await owner.context.close()
    owner.assert_clean()


async def test_an_action_after_the_session_expired_leads_to_sign_in_and_back(
    customer: Watched, infra: Infra
) -> None:
    page = customer.page
    me = await (await page.request.get("/api/me")).json()
    await page.goto("/customer/rewards?from=menu")
    await loaded(page)
    # The session ends on the server (expired): the page does not know until it asks.
    client = redis.Redis(host="127.0.0.1", port=infra.session_redis.port)
    try:
        client.flushdb()
    finally:
        client.close()
    customer.tolerate = SESSION_END
    await page.get_by_role("button", name="Convert").click()
    await page.wait_for_url(f"**/?next={quote('/customer/rewards?from=menu', safe='')}")
    await loaded(page)
    form = page.locator("#signin-form")
    await form.get_by_label("Email").fill(me["user"]["email"])
    await form.get_by_label("Password").fill(DEFAULT_PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/customer/rewards\?from=menu$"))
    await loaded(page)
    await expect(page.locator("h1")).to_have_text("Points and coupons")


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/customer",
        "https://evil.example/customer",
        "/\\evil.example/customer",
        "/%2F/evil.example/customer",
        "javascript:alert(1)",
        "/owner/stores/1",
        "/customers-elsewhere",
    ],
)
async def test_sign_in_returns_only_to_a_page_of_this_site_in_the_role_s_part(
    browser: Browser, node: Node, node_api: Api, target: str
) -> None:
    email = (await node_api.sign_in_as("customer"))["email"]
    person = await open_watched(browser, "customer", node.url)
    try:
        page = person.page
        await page.goto(f"/?next={quote(target, safe='')}")
        await loaded(page)
        form = page.locator("#signin-form")
        await form.get_by_label("Email").fill(email)
        await form.get_by_label("Password").fill(DEFAULT_PASSWORD)
        await form.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{node.url}/customer")
        await loaded(page)
    finally:
        await person.context.close()
    person.assert_clean()
