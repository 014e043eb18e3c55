"""The console's interventions on the two-node cluster behind nginx: a suspension ends the
account's sessions and sockets on every node (also sessions begun before they were indexed by
user) and takes an owner's stores off sale on every node, a reassignment takes the order's
stream from the first rider on every node, and the `ops` stream brings every store's order
events and riders' positions (throttled) to admins only."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from redis.asyncio import Redis

import app.models  # noqa: F401  (every mapper, so that relationships resolve)
from app.auth.passwords import Passwords
from app.auth.service import ensure_admin
from app.db import Database
from app.launcher.cluster import Cluster
from tests.client import DEFAULT_PASSWORD, Api, assert_problem
from tests.realtime.flows import CARD, act, open_store, place_order
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


@pytest.fixture
async def session_redis(cluster: Cluster) -> AsyncIterator[Redis]:
    """The cluster's session Redis."""
    assert cluster.session_redis is not None
    client = Redis.from_url(cluster.session_redis.url)
    try:
        yield client
    finally:
        await client.aclose()


async def session_from_before_the_index(session_redis: Redis, user: dict[str, Any]) -> str:
    """A session of `user` as the release before the per-user index wrote it (the same key
    and fields, but no entry in `user-sessions:{id}`); returns its id."""
    session_id = secrets.token_urlsafe(32)
    payload = {
        "user_id": user["id"],
        "role": user["role"],
        "csrf_token": secrets.token_urlsafe(32),
        "created_at": int(time.time()),
        "email": user["email"],
        "name": user["name"],
    }
    await session_redis.set(f"session:{session_id}", json.dumps(payload), ex=3600)
    return session_id


async def me_status(url: str, session_id: str) -> int:
    async with http_client(url) as probe:
        probe.cookies.set("delivery_session", session_id)
        return (await probe.get("/api/me")).status_code


async def socket_refusal(url: str, session_id: str) -> Any:
    """What a socket connecting with this session is refused with (fails if it connects)."""
    client = StreamClient(url, session_id)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect()
    return client.connect_errors[-1]["code"]


async def test_a_suspension_ends_the_sessions_begun_before_they_were_indexed_on_every_node(
    cluster: Cluster,
    people: People,
    admin: Api,
    sockets: list[StreamClient],
    session_redis: Redis,
) -> None:
    node_a, node_b = (node.url for node in cluster.node_list)
    customer = await people(node_a, "customer")
    user = customer.user
    assert user is not None
    # Three devices signed in before the upgrade: each node is asked first about one, the
    # third is not used while the account is suspended.
    first, second, idle = [await session_from_before_the_index(session_redis, user) for _ in "abc"]
    assert [await me_status(url, first) for url in (node_a, node_b)] == [200, 200]
    theirs = [await StreamClient(url, first).connect() for url in (node_a, node_b)]
    sockets += theirs

    done = await admin.patch(f"/api/admin/users/{uid(customer)}", json={"suspended": True})
    assert done.status_code == 200, done.text
    await wait_until(
        lambda: all(not c.sio.connected for c in theirs),
        timeout=5,
        what="the sockets of the session from before the index closed, on both nodes",
    )
    assert [await me_status(url, first) for url in (node_a, node_b)] == [401, 401]
    assert [await me_status(url, second) for url in (node_b, node_a)] == [401, 401]
    assert [await socket_refusal(url, idle) for url in (node_b, node_a)] == [
        "unauthenticated",
        "unauthenticated",
    ]
    assert await session_redis.exists(f"session:{first}", f"session:{second}") == 0

    restored = await admin.patch(f"/api/admin/users/{uid(customer)}", json={"suspended": False})
    assert restored.status_code == 200, restored.text
    # A new sign-in works on both nodes; what the suspension ended stays ended.
    async with http_client(node_b) as fresh_http:
        fresh = Api(fresh_http)
        await fresh.login(user["email"])
        assert (await fresh.get("/api/me")).status_code == 200
        assert await me_status(node_a, session_cookie(fresh)) == 200
        socket = await StreamClient(node_a, session_cookie(fresh)).connect()
        sockets.append(socket)
        assert (await socket.subscribe(f"rider:{uid(customer)}")) == {
            "ok": False,
            "code": "not-found",
        }
    assert [await me_status(url, idle) for url in (node_a, node_b)] == [401, 401]


async def test_a_node_that_missed_the_suspension_refuses_sessions_from_before_the_index(
    cluster: Cluster, people: People, sockets: list[StreamClient], session_redis: Redis
) -> None:
    customer = await people(cluster.node_list[1].url, "customer")
    assert customer.user is not None
    busy, idle = [await session_from_before_the_index(session_redis, customer.user) for _ in "ab"]
    node = cluster.node_list[0].url
    clients = [await StreamClient(node, session_id).connect() for session_id in (busy, idle)]
    sockets += clients
    stream = f"rider:{uid(customer)}"
    assert (await clients[0].subscribe(stream))["code"] == "not-found"  # the session is fine
    # What a suspension records in the session Redis, with no word of it reaching any node.
    await session_redis.set(f"user-sessions-ended:{uid(customer)}", int(time.time()), ex=3600)
    assert await clients[0].subscribe(stream) == {"ok": False, "code": "unauthenticated"}
    await wait_until(
        lambda: all(not c.sio.connected for c in clients), what="the periodic session sweep"
    )
    # The idle one was never read again: the sweep itself found it ended.
    assert await session_redis.exists(f"session:{idle}") == 1


async def test_a_suspended_owners_store_is_off_sale_on_every_node_until_the_owner_is_restored(
    cluster: Cluster, people: People, admin: Api, sockets: list[StreamClient]
) -> None:
    node_a, node_b = (node.url for node in cluster.node_list)
    owner = await people(node_b, "owner")
    customers = {url: await people(url, "customer") for url in (node_a, node_b)}
    store_id, item_id = await open_store(owner)
    name = f"Owner Suspension {uuid.uuid4().hex[:8]}"
    renamed = await owner.patch(f"/api/stores/{store_id}", json={"name": name})
    assert renamed.status_code == 200, renamed.text
    search = f"/api/stores?q={name}&lat={NEAR_STORE['lat']}&lng={NEAR_STORE['lng']}&radius_km=3"
    page = StreamClient(node_a, session_cookie(customers[node_a]))
    sockets.append(await page.connect())
    stream = f"store-public:{store_id}"
    assert (await page.subscribe(stream))["ok"] is True

    async def listed(url: str) -> bool:
        found = (await customers[url].get(search)).json()["stores"]
        return [s["id"] for s in found] == [store_id]

    async def suspended_page(url: str) -> bool:
        shown = (await customers[url].get(f"/api/stores/{store_id}")).json()
        return bool(shown["suspended"]) and not shown["open_now"]

    order = {
        "store_id": store_id,
        "items": [{"menu_item_id": item_id, "quantity": 1, "option_ids": []}],
        "address": {"text": "2 Sejong-daero", "lat": 37.567, "lng": 126.978},
        "payment": {"method": "card", "card_number": CARD},
    }
    # Both nodes have read the list and the page (the catalog cache holds them).
    for url in (node_a, node_b):
        assert await listed(url) and not await suspended_page(url)

    done = await admin.patch(f"/api/admin/users/{uid(owner)}", json={"suspended": True})
    assert done.status_code == 200, done.text
    for url in (node_a, node_b):
        assert not await listed(url)
        assert await suspended_page(url)
        refused = await customers[url].post(
            "/api/orders", json=order, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert_problem(refused, 409, "store-suspended")
    await wait_until(lambda: page.events[stream], what="the store's suspension on its page")
    [event] = page.events[stream]
    assert event["type"] == "store.suspended" and event["data"]["suspended"] is True

    done = await admin.patch(f"/api/admin/users/{uid(owner)}", json={"suspended": False})
    assert done.status_code == 200, done.text
    for url in (node_a, node_b):
        assert await listed(url) and not await suspended_page(url)
        await place_order(customers[url], store_id=store_id, item_id=item_id)
    await wait_until(lambda: len(page.events[stream]) == 2, what="the store's restore")
    assert page.events[stream][1]["type"] == "store.unsuspended"
    assert page.events[stream][1]["data"]["open_now"] is True


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
