"""The console's interventions on the two-node cluster behind nginx: a suspension ends the
account's sessions and sockets on every node, a reassignment takes the order's stream from the
first rider on every node, and the `ops` stream brings every store's order events and riders'
positions (throttled) to admins only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

import app.models  # noqa: F401  (every mapper, so that relationships resolve)
from app.auth.passwords import Passwords
from app.auth.service import ensure_admin
from app.db import Database
from app.launcher.cluster import Cluster
from tests.client import DEFAULT_PASSWORD, Api, assert_problem
from tests.realtime.flows import act, open_store, place_order
from tests.realtime.streams import StreamClient
from tests.system import People, cluster, http_client, people, session_cookie
from tests.waiting import wait_until

__all__ = ["cluster", "people"]

pytestmark = pytest.mark.system

NEAR_STORE = {"lat": 37.5680, "lng": 126.9779}


@pytest.fixture
async def sockets() -> AsyncIterator[list[StreamClient]]:
    """Socket clients closed when the test ends."""
    made: list[StreamClient] = []
    try:
        yield made
    finally:
        for client in made:
            await client.close()


@pytest.fixture
async def events_redis(cluster: Cluster) -> AsyncIterator[Redis]:
    """The cluster's events Redis, as one more node would reach it."""
    assert cluster.events_redis is not None
    client = Redis.from_url(cluster.events_redis.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def admin(cluster: Cluster) -> AsyncIterator[Api]:
    """An admin (made as `delivery create-admin` would), signed in through nginx."""
    db = Database(cluster.database_url)
    email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
    try:
        await ensure_admin(
            db=db,
            passwords=Passwords(time_cost=1, memory_kib=1024),
            email=email,
            password=DEFAULT_PASSWORD,
        )
    finally:
        await db.close()
    api = Api(http_client(cluster.url))
    try:
        await api.login(email)
        yield api
    finally:
        await api.http.aclose()


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


async def on_shift(rider: Api) -> None:
    shift = await rider.put("/api/riders/me/shift", json={"online": True, **NEAR_STORE})
    assert shift.status_code == 200, shift.text


async def searching_order(owner: Api, customer: Api) -> dict[str, Any]:
    store_id, item_id = await open_store(owner)
    order = await place_order(customer, store_id=store_id, item_id=item_id)
    accepted: dict[str, Any] = await act(owner, order["id"], "accept", {"prep_minutes": 10})
    return accepted


async def test_a_suspension_ends_every_session_and_socket_of_the_account_on_every_node(
    cluster: Cluster, people: People, admin: Api, sockets: list[StreamClient]
) -> None:
    node_a, node_b = (node.url for node in cluster.node_list)
    suspended = await people(node_a, "customer")
    bystander = await people(node_b, "customer")
    assert suspended.user is not None
    async with http_client(node_b) as other_http:
        second = Api(other_http)
        await second.login(suspended.user["email"])
        theirs = [
            await StreamClient(url, session_cookie(api)).connect()
            for url in (node_a, node_b)
            for api in (suspended, second)
        ]
        other = await StreamClient(node_a, session_cookie(bystander)).connect()
        sockets += [*theirs, other]
        done = await admin.patch(f"/api/admin/users/{uid(suspended)}", json={"suspended": True})
        assert done.status_code == 200, done.text

        await wait_until(
            lambda: all(not c.sio.connected for c in theirs),
            timeout=5,
            what="every socket of the suspended account closed, on both nodes",
        )
        for url in (node_a, node_b):
            for api in (suspended, second):
                async with http_client(url) as probe:
                    probe.cookies.set("delivery_session", session_cookie(api))
                    assert_problem(await probe.get("/api/me"), 401, "unauthenticated")
        refused = await second.http.post(
            "/api/auth/login",
            json={"email": suspended.user["email"], "password": DEFAULT_PASSWORD},
        )
        assert_problem(refused, 403, "account-suspended")
        # Nobody else is touched.
        assert other.sio.connected and other.disconnects == 0
        assert (await bystander.get("/api/me")).status_code == 200


async def test_a_reassigned_orders_first_rider_leaves_its_stream_on_every_node(
    cluster: Cluster, people: People, admin: Api, sockets: list[StreamClient]
) -> None:
    node_a, node_b = (node.url for node in cluster.node_list)
    owner, customer = await people(node_b, "owner"), await people(node_b, "customer")
    first, second = await people(node_a, "rider"), await people(node_b, "rider")
    for rider in (first, second):
        await on_shift(rider)
    order = await searching_order(owner, customer)
    stream = f"order:{order['id']}"
    taken = await admin.post(
        f"/api/admin/orders/{order['id']}/assign", json={"rider_id": uid(first)}
    )
    assert taken.status_code == 200, taken.text
    formers = [await StreamClient(url, session_cookie(first)).connect() for url in (node_a, node_b)]
    watcher = await StreamClient(node_a, session_cookie(customer)).connect()
    sockets += [*formers, watcher]
    for client in (*formers, watcher):
        assert (await client.subscribe(stream, after_seq=taken.json()["stream_seq"]))["ok"] is True

    moved = await admin.post(
        f"/api/admin/orders/{order['id']}/assign",
        json={"rider_id": uid(second), "from_rider_id": uid(first)},
    )
    assert moved.status_code == 200, moved.text
    await wait_until(
        lambda: all(c.revoked for c in formers), timeout=5, what="the stream revoked on both nodes"
    )
    for client in formers:
        assert client.revoked == [{"stream": stream, "code": "not-found"}]
        assert client.sio.connected  # the session is fine; only the order is gone
    # The customer sees the order change hands, in order, and nothing else is lost.
    await wait_until(
        lambda: (
            [e["type"] for e in watcher.events[stream]][-2:]
            == ["order.rider_released", "order.rider_assigned"]
        ),
        what="the customer's events of the reassignment",
    )
    assert watcher.events[stream][-1]["data"]["rider"]["id"] == uid(second)
    newcomer = await StreamClient(node_b, session_cookie(second)).connect()
    sockets.append(newcomer)
    assert (await newcomer.subscribe(stream))["ok"] is True


async def test_the_ops_stream_brings_every_stores_order_events_and_throttled_positions(
    cluster: Cluster, people: People, admin: Api, sockets: list[StreamClient]
) -> None:
    node_a, node_b = (node.url for node in cluster.node_list)
    owner, customer = await people(node_b, "owner"), await people(node_b, "customer")
    busy, steady = await people(node_b, "rider"), await people(node_b, "rider")
    watcher = await StreamClient(node_a, session_cookie(admin)).connect()
    stranger = await StreamClient(node_a, session_cookie(customer)).connect()
    sockets += [watcher, stranger]
    ack = await watcher.subscribe("ops")
    assert ack["ok"] is True and ack["recovered"] is False and ack["events"] == []
    assert await stranger.subscribe("ops") == {"ok": False, "code": "forbidden"}

    order = await searching_order(owner, customer)
    store = f"store:{order['store_id']}"

    def ops_types() -> list[str]:
        return [e["type"] for e in watcher.received if e["stream"] == store]

    await wait_until(
        lambda: ops_types()[:2] == ["order.placed", "order.accepted"],
        what="the store's order events on the ops stream",
    )
    event = next(e for e in watcher.received if e["type"] == "order.accepted")
    assert event["seq"] == 2 and event["data"]["id"] == order["id"]

    for rider in (busy, steady):
        await on_shift(rider)
    # Ten positions in a burst: one reaches the operators (the next may, 5 s later).
    for step in range(10):
        ping = {"lat": NEAR_STORE["lat"] + step * 1e-4, "lng": NEAR_STORE["lng"]}
        assert (await busy.put("/api/riders/me/location", json=ping)).status_code == 204
    # Published after the burst on the same channel: once it is here, so is the burst.
    assert (await steady.put("/api/riders/me/location", json=NEAR_STORE)).status_code == 204
    await wait_until(
        lambda: any(m.get("rider_id") == uid(steady) for m in watcher.locations),
        what="the second rider's position on the ops stream",
    )
    from_busy = [m for m in watcher.locations if m.get("rider_id") == uid(busy)]
    assert len(from_busy) == 1, from_busy
    assert from_busy[0]["lat"] == pytest.approx(NEAR_STORE["lat"])
    assert set(from_busy[0]) == {"rider_id", "lat", "lng", "at"}
    # Nobody but the admin heard any of it.
    assert stranger.locations == [] and stranger.received == []


async def test_an_ops_subscriber_is_told_to_read_again_when_its_node_may_have_missed_events(
    cluster: Cluster, admin: Api, sockets: list[StreamClient], events_redis: Redis
) -> None:
    watcher = await StreamClient(cluster.node_list[0].url, session_cookie(admin)).connect()
    sockets.append(watcher)
    assert (await watcher.subscribe("ops"))["ok"] is True
    # Every node's listener loses the events Redis for a moment: what was published then is
    # not handed on, and `ops` has no log to fill it from.
    await events_redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    await wait_until(lambda: watcher.revoked, what="the ops subscription dropped as unavailable")
    assert watcher.revoked == [{"stream": "ops", "code": "unavailable"}]
    assert watcher.sio.connected
    again = await watcher.subscribe("ops")
    assert again["ok"] is True and again["recovered"] is False
