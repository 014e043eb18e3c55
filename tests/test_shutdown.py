"""Stopping: bounded and clean, for the relay, for an app instance and for a Hypercorn node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import time
import uuid

import httpx
import pytest
import redis
from quart.testing import app as quart_testing
from redis.asyncio import Redis

from app import create_app
from app.config import Settings
from app.db import Database
from app.lifecycle import stop_task
from realtime.relay import Relay
from tests.client import Api
from tests.harness import Infra
from tests.orders.helpers import Shop, new_key, open_shop, order_body, place
from tests.realtime.seed import write_event
from tests.realtime.streams import StreamClient
from tests.system import People, people, session_cookie
from tests.waiting import wait_until

__all__ = ["people"]

# A node sent SIGTERM must be gone within this; an app instance must have stopped within this.
NODE_EXIT_BOUND = 10.0
APP_STOP_BOUND = 8.0


def _relay_locks(infra: Infra) -> list[bytes]:
    client = redis.Redis(port=infra.cache_redis.port)
    try:
        return list(client.keys("rt:lock:*"))
    finally:
        client.close()


def _app_connections(infra: Infra) -> int:
    [(count,)] = infra.query(
        "SELECT COUNT(*) FROM information_schema.processlist "
        "WHERE db = %s AND id <> CONNECTION_ID()",
        infra.database_name,
    )
    return int(count)  # type: ignore[call-overload]


def _open_transactions(infra: Infra) -> int:
    [(count,)] = infra.query("SELECT COUNT(*) FROM information_schema.innodb_trx")
    return int(count)  # type: ignore[call-overload]


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


async def _clients(app: object, count: int) -> list[Api]:
    made = []
    for _ in range(count):
        api = Api(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                base_url="http://testserver",
                timeout=60,
            )
        )
        made.append(api)
    return made


async def test_an_app_stops_within_its_bound_right_after_a_burst_and_leaves_nothing_open(
    settings: Settings, infra: Infra, caplog: pytest.LogCaptureFixture
) -> None:
    before = _app_connections(infra)
    app = create_app(settings)
    lifespan = quart_testing.TestApp(app.quart, startup_timeout=30, shutdown_timeout=30)
    await lifespan.startup()
    clients = await _clients(app, 7)
    try:
        owner, customers = clients[0], clients[1:]
        await owner.sign_in_as("owner")
        for customer in customers:
            await customer.sign_in_as("customer")
        shop = await open_shop(owner)
        orders = await asyncio.gather(*(place(customers[i % 6], shop) for i in range(30)))
        # Accepted orders start dispatch searches: the relay, the search worker and the
        # sweeper are all busy when the shutdown begins.
        accepted = await asyncio.gather(
            *(
                owner.post(f"/api/orders/{o['id']}/accept", json={"prep_minutes": 10})
                for o in orders[::2]
            )
        )
        assert all(r.status_code == 200 for r in accepted), [r.text for r in accepted]
    finally:
        for client in clients:
            await client.http.aclose()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            await lifespan.shutdown()
        took = time.monotonic() - started
    assert took < APP_STOP_BOUND, f"the app took {took:.1f} s to stop"
    complaints = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert complaints == []
    assert _relay_locks(infra) == []
    await wait_until(lambda: _open_transactions(infra) == 0, timeout=5, what="no open transaction")
    await wait_until(
        lambda: _app_connections(infra) <= before, timeout=5, what="every connection closed"
    )


async def _keep_ordering(customer: Api, shop: Shop, placed: list[int]) -> None:
    """Place orders one after another until the node goes away."""
    while True:
        try:
            response = await customer.post(
                "/api/orders", json=order_body(shop), headers={"Idempotency-Key": new_key()}
            )
        except httpx.HTTPError:
            return
        if response.status_code == 201:
            placed.append(response.json()["id"])


async def test_sigterm_in_the_middle_of_a_burst_stops_a_node_within_ten_seconds_cleanly(
    settings: Settings, infra: Infra, people: People
) -> None:
    node = infra.start_node(f"stopping-{uuid.uuid4().hex[:8]}")
    owner = await people(node.url, "owner")
    shop = await open_shop(owner)
    customers = [await people(node.url) for _ in range(6)]
    sockets = [await StreamClient(node.url, session_cookie(owner)).connect()]
    await sockets[0].subscribe(f"store:{shop.id}")
    for customer in customers:
        order = await place(customer, shop)
        follower = await StreamClient(node.url, session_cookie(customer)).connect()
        await follower.subscribe(f"order:{order['id']}")
        sockets.append(follower)
    placed: list[int] = []
    burst = [asyncio.create_task(_keep_ordering(c, shop, placed)) for c in customers * 3]
    code: int | None = None
    try:
        await wait_until(lambda: len(placed) >= 20, timeout=60, what="orders placed in the burst")
        assert node.process is not None
        started = time.monotonic()
        node.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = await asyncio.to_thread(node.process.wait, NODE_EXIT_BOUND + 20)
        took = time.monotonic() - started
    finally:
        for task in burst:
            task.cancel()
        await asyncio.gather(*burst, return_exceptions=True)
        for client in sockets:
            client.sio.reconnection = False
            await client.close()
    log = node.log_path.read_text(errors="replace")
    assert code == 0, f"exit code {code} after {took:.1f} s"
    assert took < NODE_EXIT_BOUND, f"the node took {took:.1f} s to exit"
    assert "did not stop" not in log
    assert "Traceback" not in log
    assert " WARNING " not in log and " ERROR " not in log
    assert _relay_locks(infra) == []
