"""Fixtures of the browser tests: one Chromium for the run, and the two-node cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.harness import require_binary
from tests.system import cluster
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS

__all__ = ["browser", "cluster"]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """The installed Chromium (never a downloaded one), shared by the browser tests."""
    require_binary(CHROMIUM)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
