"""Chromium through Playwright for the web UI tests: watched pages and screenshots."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    WebSocket,
)
from playwright.async_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The order board rings with WebAudio; the test browser has no one to click "allow sound".
    "--autoplay-policy=no-user-gesture-required",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
NODE_IN_ACK = re.compile(r'"node"\s*:\s*"([^"]+)"')


@dataclass
class Watched:
    """A page whose console errors, uncaught exceptions and failed requests are recorded."""

    name: str
    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)
    # While set, failures matching it are expected (a node being killed on purpose).
    tolerate: re.Pattern[str] | None = None
    tolerated: list[str] = field(default_factory=list)
    # The `node` named in each subscribe acknowledgement the page received, latest last.
    socket_nodes: list[str] = field(default_factory=list)

    def _record(self, text: str) -> None:
        if self.tolerate is not None and self.tolerate.search(text):
            self.tolerated.append(text)
        else:
            self.problems.append(text)

    def attach(self) -> Watched:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self._record(f"console error: {message.text} at {message.location}")

        def on_page_error(error: Any) -> None:
            self._record(f"uncaught exception: {error}")

        def on_request_failed(request: Request) -> None:
            self._record(f"request failed: {request.method} {request.url} {request.failure}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                self._record(f"HTTP {response.status}: {response.request.method} {response.url}")

        def on_frame(payload: str | bytes) -> None:
            text = payload if isinstance(payload, str) else payload.decode(errors="replace")
            self.socket_nodes.extend(NODE_IN_ACK.findall(text))

        def on_websocket(socket: WebSocket) -> None:
            if "/socket.io/" in socket.url:
                socket.on("framereceived", on_frame)

        async def on_polling(response: Response) -> None:
            # Before the upgrade to a WebSocket, Socket.IO answers over long-polling.
            if "/socket.io/" in response.url and "transport=polling" in response.url:
                # The page may go away before the body is read.
                with contextlib.suppress(PlaywrightError):
                    on_frame(await response.text())

        self.page.on("websocket", on_websocket)
        self.page.on("response", on_polling)
        self.page.on("console", on_console)
        self.page.on("pageerror", on_page_error)
        self.page.on("requestfailed", on_request_failed)
        self.page.on("response", on_response)
        return self

    async def shot(self, name: str) -> Path:
        """Save a full-page screenshot for reviewers."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        assert not self.problems, f"{self.name}'s browser reported:\n" + "\n".join(self.problems)


async def open_watched(
    browser: Browser, name: str, base_url: str, **context_options: Any
) -> Watched:
    """A fresh browser context (own cookies and storage) with one watched page."""
    options: dict[str, Any] = {
        "viewport": {"width": 1280, "height": 900},
        "locale": "en-US",
        "timezone_id": "Asia/Seoul",
        **context_options,
    }
    context = await browser.new_context(base_url=base_url, **options)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    return Watched(name=name, context=context, page=page).attach()
