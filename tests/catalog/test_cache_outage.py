"""A cache Redis outage degrades catalog reads to the database, never to an error."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.launcher.servers import RedisServer
from tests.catalog.conftest import CITY_HALL, add_item, create_store
from tests.client import Api
from tests.conftest import AppPool
from tests.harness import Infra
from tests.waiting import wait_until

LIST = f"/api/stores?lat={CITY_HALL[0]}&lng={CITY_HALL[1]}"


@pytest.fixture
def own_cache(tmp_path: Path) -> Iterator[RedisServer]:
    """A cache redis-server of this test's own, so stopping it leaves the shared one alone."""
    server = RedisServer(tmp_path / "cache-redis", persistent=True).start()
    try:
        yield server
    finally:
        server.stop()


async def _until_cached(api: Api, path: str) -> dict[str, object]:
    """Poll until `path` is served from the cache again, with a deadline."""

    async def cached_body() -> dict[str, object] | None:
        response = await api.get(path)
        assert response.status_code == 200, response.text
        return response.json() if response.headers["x-cache"] == "hit" else None

    body: dict[str, object] = await wait_until(
        cached_body, timeout=15, what=f"{path} served from the cache again"
    )
    return body


async def _setup(apps: AppPool, infra: Infra, cache: RedisServer) -> tuple[Api, dict[str, object]]:
    app = await apps.start(infra.settings(cache_redis_url=cache.url))
    owner = await apps.client(app)
    await owner.sign_in_as("owner")
    store = await create_store(owner, name="Before")
    await add_item(owner, int(store["id"]))
    for path in (LIST, f"/api/stores/{store['id']}"):
        await owner.get(path)
        assert (await owner.get(path)).headers["x-cache"] == "hit"
    return owner, store


async def test_reads_and_writes_work_while_the_cache_redis_is_down(
    apps: AppPool, infra: Infra, own_cache: RedisServer
) -> None:
    owner, store = await _setup(apps, infra, own_cache)
    page = f"/api/stores/{store['id']}"
    own_cache.kill()

    responses = await asyncio.gather(*(owner.get(p) for p in (LIST, page) * 10))
    assert {r.status_code for r in responses} == {200}
    assert {r.headers["x-cache"] for r in responses} == {"bypass"}
    assert responses[1].json()["menu"][0]["items"][0]["name"] == "Bibimbap"

    changed = await owner.patch(page, json={"name": "During"})
    assert changed.status_code == 200, changed.text
    assert (await owner.get(page)).json()["name"] == "During"
    assert [s["name"] for s in (await owner.get(LIST)).json()["stores"]] == ["During"]

    own_cache.start()
    assert (await _until_cached(owner, page))["name"] == "During"


async def test_a_write_during_the_outage_is_not_hidden_by_an_entry_that_survived_it(
    apps: AppPool, infra: Infra, own_cache: RedisServer
) -> None:
    owner, store = await _setup(apps, infra, own_cache)
    page = f"/api/stores/{store['id']}"
    # A clean stop writes the append-only file: the entries cached above come back on start.
    own_cache.stop()
    assert (await owner.patch(page, json={"name": "During"})).status_code == 200
    own_cache.start()
    served: set[str] = set()

    async def read_until_a_hit() -> bool:
        # Every read, from the cache or not, must show the write made during the outage.
        for path, read in ((page, lambda b: b["name"]), (LIST, lambda b: b["stores"][0]["name"])):
            response = await owner.get(path)
            assert response.status_code == 200
            assert read(response.json()) == "During", response.headers["x-cache"]
            served.add(response.headers["x-cache"])
        return "hit" in served

    await wait_until(read_until_a_hit, timeout=15, what="a read served from the cache")


async def test_a_frozen_cache_redis_costs_a_read_a_moment_not_the_socket_timeout(
    apps: AppPool, infra: Infra, own_cache: RedisServer
) -> None:
    owner, store = await _setup(apps, infra, own_cache)
    page = f"/api/stores/{store['id']}"
    assert own_cache.process is not None
    # SIGSTOP: the server keeps its socket open but never answers, like a hung host.
    own_cache.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        responses = await asyncio.gather(*(owner.get(p) for p in (LIST, page) * 5))
        assert {r.status_code for r in responses} == {200}
        assert {r.headers["x-cache"] for r in responses} == {"bypass"}
        changed = await owner.patch(page, json={"name": "While frozen"})
        assert changed.status_code == 200, changed.text
        assert (await owner.get(page)).json()["name"] == "While frozen"
        assert time.monotonic() - started < 4
    finally:
        own_cache.process.send_signal(signal.SIGCONT)
    assert (await _until_cached(owner, page))["name"] == "While frozen"
