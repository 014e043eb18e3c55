"""Fixtures: real MariaDB and redis-servers for the run, app instances and API clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from quart import Quart

from app import create_app
from app.config import Settings
from tests.client import Api
from tests.harness import Infra, start_infra

_INFRA: Infra | None = None


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
        self.apps: list[Quart] = []

    async def start(self, settings: Settings | None = None) -> Quart:
        app = create_app(settings or self.settings)
        await self._stack.enter_async_context(app.test_app())
        self.apps.append(app)
        return app

    async def client(self, app: Quart) -> Api:
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
async def app(apps: AppPool) -> Quart:
    """One running app instance."""
    return await apps.start()


@pytest.fixture
async def api_factory(apps: AppPool, app: Quart) -> Callable[[], Any]:
    """New API clients (separate cookie jars) on the one app."""

    async def make() -> Api:
        return await apps.client(app)

    return make


@pytest.fixture
async def api(api_factory: Callable[[], Any]) -> Api:
    """An anonymous API client on the one app."""
    client: Api = await api_factory()
    return client


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which real services the tests ran on."""
    if _INFRA is not None:
        terminalreporter.section("services used")
        for line in _INFRA.description:
            terminalreporter.write_line(line)
