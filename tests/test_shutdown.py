"""Stopping: bounded and clean."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest
import redis
from redis.asyncio import Redis

from app.config import Settings
from app.db import Database
from app.lifecycle import stop_task
from realtime.relay import Relay
from tests.harness import Infra
from tests.realtime.seed import write_event


def _relay_locks(infra: Infra) -> list[bytes]:
    client = redis.Redis(port=infra.cache_redis.port)
    try:
        return list(client.keys("rt:lock:*"))
    finally:
        client.close()


async def test_a_stuck_task_is_left_behind_and_named_with_the_line_it_is_stuck_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def deaf_to_cancellation() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    task = asyncio.create_task(deaf_to_cancellation(), name="deaf")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="delivery.lifecycle"):
        stopped = await stop_task(task, grace=0.1, unwind=0.2)
    assert not stopped and time.monotonic() - started < 1.0
    [record] = caplog.records
    assert "deaf did not stop within 0.3 s" in record.getMessage()
    assert "in deaf_to_cancellation" in record.getMessage()
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=1)
    assert task.done()


async def test_relay_stops_at_once_however_close_before_the_stop_a_commit_wakes_it(
    settings: Settings, infra: Infra
) -> None:
    import app.models  # noqa: F401  (every mapper, so that relationships resolve)

    db = Database(infra.database_url)
    events = Redis.from_url(infra.cache_redis.url)
    try:
        # A commit wakes the relay a few loop iterations before the shutdown stops it: each
        # count of iterations in between is a different interleaving of wake-up and stop.
        for between in range(6):
            relay = Relay(db, events)
            db.event_listeners[:] = [relay.wake]
            relay.start()
            await write_event(db, "store:1", between)
            for _ in range(between):
                await asyncio.sleep(0)
            started = time.monotonic()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await relay.stop()
            took = time.monotonic() - started
            assert took < 2.0, f"the relay took {took:.1f} s to stop ({between} iterations)"
            running = [t for t in asyncio.all_tasks() if t.get_name() == "outbox-relay"]
            assert not running, f"the relay still runs ({between} iterations)"
            assert _relay_locks(infra) == []
    finally:
        db.event_listeners.clear()
        await events.aclose()
        await db.close()
