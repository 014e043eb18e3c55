"""The two-node cluster behind real nginx, for system tests: `from tests.system import cluster`.

It is the same launcher `delivery cluster` runs (app.launcher.cluster.Cluster), started once per
test run in a temporary folder, with its own MariaDB and two redis-servers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from app.launcher.cluster import Cluster
from tests.client import Api
from tests.harness import require_binary

# Cheap password hashing and generous per-address limits: every test client comes from 127.0.0.1.
NODE_ENV = {
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "1024",
    "LOG_LEVEL": "WARNING",
    "SIGNUP_MAX_PER_ADDRESS": "1000000",
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000000",
}


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """MariaDB, a session Redis, a cache Redis, an events Redis, two nodes and nginx."""
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",)):
        require_binary(*names)
    running = Cluster(
        folder=tmp_path_factory.mktemp("cluster"), nodes=2, node_env=dict(NODE_ENV)
    ).start()
    try:
        yield running
    finally:
        running.stop()


def http_client(base_url: str) -> httpx.AsyncClient:
    """An HTTP client for one node or for nginx (close it, or use `async with`)."""
    return httpx.AsyncClient(base_url=base_url, timeout=30)


async def signed_in(base_url: str, role: str = "customer") -> Api:
    """A fresh account of `role`, signed in through `base_url`."""
    api = Api(http_client(base_url))
    try:
        await api.sign_in_as(role)
    except BaseException:
        await api.http.aclose()
        raise
    return api


People = Callable[[str, str], Awaitable[Api]]


@pytest.fixture
async def people() -> AsyncIterator[People]:
    """`await people(base_url, role)`: signed-in clients, closed when the test ends."""
    made: list[Api] = []

    async def make(base_url: str, role: str = "customer") -> Api:
        api = await signed_in(base_url, role)
        made.append(api)
        return api

    try:
        yield make
    finally:
        for api in made:
            await api.http.aclose()


def session_cookie(api: Api) -> str:
    """The `delivery_session` cookie an API client holds."""
    value = api.http.cookies.get("delivery_session")
    assert value, "not signed in"
    return str(value)


async def run_out(cluster: Cluster, session_id: str) -> None:
    """End a session as running out would: gone from the session Redis, with no sign-out to
    announce it to the nodes."""
    assert cluster.session_redis is not None
    sessions = Redis.from_url(cluster.session_redis.url)
    try:
        assert await sessions.delete(f"session:{session_id}") == 1
    finally:
        await sessions.aclose()
