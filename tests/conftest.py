"""Fixtures: real MariaDB and redis-servers for the run, app instances and API clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from quart.testing.app import TestApp

from app import DeliveryApp, create_app
from app.config import Settings
from tests.client import Api
from tests.harness import Infra, start_infra

_INFRA: Infra | None = None
LIFESPAN_TIMEOUT = 30


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """MariaDB and two redis-servers, started once for the whole run."""
    global _INFRA
    _INFRA = start_infra(tmp_path_factory.mktemp("services"))
    try:
        yield _INFRA
    finally:
        _INFRA.stop()


@pytest.fixture
def settings(infra: Infra) -> Settings:
    """Settings on the real services, with every table and Redis emptied first."""
    infra.clean()
    return infra.settings()


class AppPool:
    """Starts in-process app instances (each its own engine and Redis clients) for a test."""

    def __init__(self, stack: AsyncExitStack, settings: Settings) -> None:
        self._stack = stack
        self.settings = settings
        self.apps: list[DeliveryApp] = []

    async def start(self, settings: Settings | None = None) -> DeliveryApp:
        return await self.serve(create_app(settings or self.settings))

    async def serve(self, app: DeliveryApp) -> DeliveryApp:
        """Run `app`'s serving lifecycle for the rest of the test."""
        # Quart's 6 s lifespan default is short for a loaded 2-core machine: workers finish
        # the step they are in before stopping, rather than leaving row locks behind.
        lifespan = TestApp(
            app.quart, startup_timeout=LIFESPAN_TIMEOUT, shutdown_timeout=LIFESPAN_TIMEOUT
        )
        await self._stack.enter_async_context(lifespan)
        self.apps.append(app)
        return app

    async def client(self, app: DeliveryApp) -> Api:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60
        )
        await self._stack.enter_async_context(http)
        return Api(http)


@pytest.fixture
async def apps(settings: Settings) -> AsyncIterator[AppPool]:
    """Make app instances on demand: `app = await apps.start(); api = await apps.client(app)`."""
    async with AsyncExitStack() as stack:
        yield AppPool(stack, settings)


@pytest.fixture
async def app(apps: AppPool) -> DeliveryApp:
    """One running app instance."""
    return await apps.start()


@pytest.fixture
async def api_factory(apps: AppPool, app: DeliveryApp) -> Callable[[], Any]:
    """New API clients (separate cookie jars) on the one app."""

    async def make() -> Api:
        return await apps.client(app)

    return make


@pytest.fixture
async def api(api_factory: Callable[[], Any]) -> Api:
    """An anonymous API client on the one app."""
    client: Api = await api_factory()
    return client


UNIT_TIER = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier: `unit` (tests/unit), `system` (marked so) or `integration`."""
    for item in items:
        if item.path.is_relative_to(UNIT_TIER):
            item.add_marker(pytest.mark.unit)
        elif item.get_closest_marker("system") is None:
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which real services the tests ran on."""
    if _INFRA is not None:
        terminalreporter.section("services used")
        for line in _INFRA.description:
            terminalreporter.write_line(line)
