"""The write position a catalog version carries only moves forward, however bumps interleave."""

from __future__ import annotations

import asyncio
import random

from redis.asyncio import Redis

from app.catalog.cache import CatalogCache, position_key, version_key
from app.config import Settings
from tests.harness import Infra


async def test_racing_bumps_from_many_nodes_keep_the_newest_position_of_each_domain(
    infra: Infra, settings: Settings
) -> None:
    # Each bump carries the primary's position read after its write; they reach Redis in any
    # order (here shuffled, from eight nodes' caches at once).
    positions = [f"0-1-{n},7-2-{3 * n}" for n in range(1, 201)]
    random.shuffle(positions)
    clients = [Redis.from_url(infra.cache_redis.url) for _ in range(8)]
    try:

        async def bump(index: int, position: str) -> None:
            async def read_position() -> str:
                return position

            cache = CatalogCache(clients[index % 8], write_position=read_position)
            await cache.bump("store:1")

        await asyncio.gather(*(bump(i, p) for i, p in enumerate(positions)))
        assert await clients[0].get(version_key("store:1")) == b"200"
        assert await clients[0].get(position_key("store:1")) == b"0-1-200,7-2-600"
    finally:
        for client in clients:
            await client.aclose()


async def test_a_bump_without_a_replica_records_no_position(
    infra: Infra, settings: Settings
) -> None:
    client = Redis.from_url(infra.cache_redis.url)
    try:
        await CatalogCache(client).bump("list")
        assert await client.get(version_key("list")) == b"1"
        assert await client.exists(position_key("list")) == 0
    finally:
        await client.aclose()
