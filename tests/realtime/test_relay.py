"""The outbox relay on real MariaDB and Redis: racing relays publish every event once, in order."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.config import Settings
from app.db import Database
from app.outbox import emit
from realtime.eventlog import CHANNEL, LOG_MAX_LEN, head_key, log_key, replay
from realtime.relay import Relay
from tests.waiting import wait_until

STREAMS = [f"store:{n}" for n in range(1, 6)]


async def _write(db: Database, writer: int, count: int) -> None:
    for n in range(count):
        streams = [STREAMS[(writer + n) % len(STREAMS)], STREAMS[(writer * 3 + n) % len(STREAMS)]]
        async with db.uow() as uow:
            await emit(uow, "order.placed", sorted(set(streams)), {"writer": writer, "n": n})
            await uow.commit()


async def wait_until_head(redis: Redis, stream: str, seq: int) -> None:
    """Wait for the log of `stream` to reach `seq` (another node's relay may be appending)."""

    async def reached() -> bool:
        return int(await redis.get(head_key(stream)) or 0) >= seq

    await wait_until(reached, timeout=10, what=f"the log of {stream} to reach {seq}")


async def _unpublished(db: Database) -> int:
    from sqlalchemy import func, select

    from app.outbox import OutboxEvent

    async with db.uow() as uow:
        count = await uow.session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published == 0)
        )
    return int(count or 0)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """A database of its own on the test's MariaDB, closed at the end."""
    assert settings.database_url
    database = Database(settings.database_url)
    yield database
    await database.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    """A client of the test's events Redis, closed at the end."""
    assert settings.cache_redis_url
    client = Redis.from_url(settings.cache_redis_url)
    yield client
    await client.aclose()


async def test_racing_relays_publish_every_event_once_and_in_seq_order(
    settings: Settings,
) -> None:
    assert settings.database_url and settings.cache_redis_url
    dbs = [Database(settings.database_url) for _ in range(5)]
    redises = [Redis.from_url(settings.cache_redis_url) for _ in range(5)]
    relays = [
        Relay(db, r, sweep_interval=0.005) for db, r in zip(dbs[1:], redises[1:], strict=True)
    ]
    received: dict[str, list[int]] = defaultdict(list)
    pubsub = redises[0].pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)

    async def listen() -> None:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                event = json.loads(message["data"])
                received[event["stream"]].append(event["seq"])

    listener = asyncio.create_task(listen())
    try:
        for relay in relays:
            relay.start()
        await asyncio.gather(*(_write(dbs[0], writer, 15) for writer in range(8)))

        async def all_published() -> bool:
            return await _unpublished(dbs[0]) == 0

        await wait_until(all_published, timeout=20, what="every outbox event published")
        heads = {s: int(await redises[0].get(head_key(s)) or 0) for s in STREAMS}
        await wait_until(
            lambda: all(len(received[s]) >= heads[s] for s in STREAMS), what="every message"
        )
        total = 0
        for stream in STREAMS:
            assert received[stream] == list(range(1, heads[stream] + 1)), stream
            logged = await redises[0].xrange(log_key(stream))
            assert [int(entry_id.split(b"-")[0]) for entry_id, _ in logged] == received[stream]
            total += heads[stream]
        # Nodes started by other tests may run relays on the same services and take a share.
        assert sum(relay.published for relay in relays) <= total
        assert total == sum(
            1
            for w in range(8)
            for n in range(15)
            for _ in {STREAMS[(w + n) % 5], STREAMS[(w * 3 + n) % 5]}
        )
        # More than one relay did real work: the race happened.
        assert sum(1 for relay in relays if relay.published) >= 2
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await pubsub.aclose()
        for relay in relays:
            await relay.stop()
        for db in dbs:
            await db.close()
        for client in redises:
            await client.aclose()


async def _events(db: Database, stream: str, count: int) -> None:
    for n in range(count):
        async with db.uow() as uow:
            await emit(uow, "order.ready", [stream], {"n": n})
            await uow.commit()


async def test_replay_uses_the_log_then_the_outbox_when_the_log_is_gone(
    db: Database, redis: Redis
) -> None:
    await _events(db, "rider:7", 12)
    await Relay(db, redis).run_once()
    await wait_until_head(redis, "rider:7", 12)
    from_log = await replay(db=db, redis=redis, stream="rider:7", after=10)
    assert from_log.recovered and [e["seq"] for e in from_log.events] == [11, 12]
    assert from_log.events[0]["data"] == {"n": 10}
    await redis.delete(log_key("rider:7"), head_key("rider:7"))
    from_outbox = await replay(db=db, redis=redis, stream="rider:7", after=0)
    assert from_outbox.recovered and from_outbox.last_seq == 12
    assert [e["seq"] for e in from_outbox.events] == list(range(1, 13))
    ahead = await replay(db=db, redis=redis, stream="rider:7", after=99)
    assert not ahead.recovered and ahead.events == [] and ahead.last_seq == 12
    nothing = await replay(db=db, redis=redis, stream="rider:7", after=None)
    assert nothing.recovered and nothing.events == [] and nothing.last_seq == 12


async def test_the_log_is_bounded_and_replay_reaches_past_it_through_the_outbox(
    db: Database, redis: Redis
) -> None:
    count = LOG_MAX_LEN + 30
    async with db.uow() as uow:
        for n in range(count):
            await emit(uow, "order.ready", ["store:9"], {"n": n})
        await uow.commit()
    await Relay(db, redis).run_once()
    await wait_until_head(redis, "store:9", count)
    assert await redis.xlen(log_key("store:9")) == LOG_MAX_LEN
    old = await replay(db=db, redis=redis, stream="store:9", after=5)
    assert old.recovered and [e["seq"] for e in old.events] == list(range(6, count + 1))


async def test_a_log_behind_the_database_is_filled_in_order_before_new_events(
    db: Database, redis: Redis
) -> None:
    # Redis came back from older data: the log stops at seq 2 while the database says 4 went
    # out. The next event (5) cannot be appended after 2: the stream takes the careful path,
    # which appends 3 and 4 again first.
    await _events(db, "rider:8", 4)
    await Relay(db, redis).run_once()
    await wait_until_head(redis, "rider:8", 4)
    kept = (await redis.xrange(log_key("rider:8")))[:2]
    await redis.delete(log_key("rider:8"))
    for entry_id, fields in kept:
        await redis.xadd(log_key("rider:8"), fields, id=entry_id)
    await redis.set(head_key("rider:8"), 2)
    async with db.uow() as uow:
        await emit(uow, "order.placed", ["rider:8"], {"n": 4})
        await uow.commit()
    assert await Relay(db, redis).run_once() == 3
    entries = await redis.xrange(log_key("rider:8"))
    assert [json.loads(fields[b"e"])["seq"] for _id, fields in entries] == [1, 2, 3, 4, 5]
    assert await _unpublished(db) == 0
