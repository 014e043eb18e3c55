"""Realtime access follows the data: sockets on one node lose at once what a change made through
the other node took away, as the attacks on the running cluster tried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from app.db import Database
from app.launcher.cluster import Cluster
from app.orders.models import Order
from realtime.control import ControlChannel
from realtime.fanout import publish_location
from tests.client import Api
from tests.realtime.flows import act, open_store, place_order
from tests.realtime.seed import insert_order, insert_store
from tests.realtime.streams import StreamClient
from tests.system import People, http_client, run_out, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system

# A little north of the store `open_store` makes, well inside the first offer radius.
NEAR_STORE = {"lat": 37.5680, "lng": 126.9779}


@pytest.fixture
async def sockets() -> AsyncIterator[list[StreamClient]]:
    """Socket clients to close when the test ends: `sockets.append(await ….connect())`."""
    made: list[StreamClient] = []
    try:
        yield made
    finally:
        for client in made:
            await client.close()


@pytest.fixture
async def events_redis(cluster: Cluster) -> AsyncIterator[Redis]:
    """The cluster's cache/events Redis, as one more node would reach it."""
    assert cluster.events_redis is not None
    client = Redis.from_url(cluster.events_redis.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def cache_redis(cluster: Cluster) -> AsyncIterator[Redis]:
    """The cluster's cache Redis, where the positions' gates and parked positions live."""
    assert cluster.cache_redis is not None
    client = Redis.from_url(cluster.cache_redis.url)
    try:
        yield client
    finally:
        await client.aclose()


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


async def on_shift(rider: Api) -> None:
    shift = await rider.put("/api/riders/me/shift", json={"online": True, **NEAR_STORE})
    assert shift.status_code == 200, shift.text


async def take(rider: Api, order_id: int) -> dict[str, Any]:
    """Wait for the rider's offer of `order_id`, then accept it."""

    async def offered() -> bool:
        listing = (await rider.get("/api/dispatch/offers")).json()
        return any(offer["order_id"] == order_id for offer in listing["offers"])

    await wait_until(offered, what=f"an offer of order {order_id}")
    taken = await rider.post(f"/api/dispatch/offers/{order_id}/accept")
    assert taken.status_code == 200, taken.text
    body: dict[str, Any] = taken.json()
    return body


async def round_trip(client: StreamClient) -> None:
    """An acknowledged request: whatever the node queued for this socket before has arrived."""
    await client.sio.call("unsubscribe", {"stream": "order:1"}, timeout=15)


def events_after(client: StreamClient, stream: str, seq: int) -> list[dict[str, Any]]:
    return [e for e in client.received if e["stream"] == stream and e["seq"] > seq]


async def test_a_rider_who_hands_an_order_back_leaves_its_stream_on_every_node_at_once(
    cluster: Cluster, people: People, sockets: list[StreamClient]
) -> None:
    node_a, node_b = cluster.node_list[0].url, cluster.node_list[1].url
    owner, customer = await people(node_b, "owner"), await people(node_b, "customer")
    first, second = await people(node_b, "rider"), await people(node_b, "rider")
    store_id, item_id = await open_store(owner)
    order = await place_order(customer, store_id=store_id, item_id=item_id)
    await on_shift(first)  # before the search starts, so that its first round finds the rider
    await act(owner, order["id"], "accept", {"prep_minutes": 10})
    stream = f"order:{order['id']}"
    taken = await take(first, order["id"])
    # Both watch the order through node A; everything else happens through node B.
    watcher = await StreamClient(node_a, session_cookie(customer)).connect()
    former = await StreamClient(node_a, session_cookie(first)).connect()
    sockets += [watcher, former]
    for client in (watcher, former):
        assert (await client.subscribe(stream, after_seq=taken["stream_seq"]))["ok"] is True
    await on_shift(second)

    released = await first.post(f"/api/dispatch/offers/{order['id']}/release")
    assert released.status_code == 200, released.text
    await wait_until(lambda: former.revoked, timeout=5, what="the stream revoked on node A")
    assert former.revoked == [{"stream": stream, "code": "not-found"}]
    # Asking again is refused as for any order that is not the caller's.
    again = await former.subscribe(stream, after_seq=released.json()["stream_seq"])
    assert again == {"ok": False, "code": "not-found"}

    # The next rider takes it and starts moving: the customer hears both, the former rider
    # neither the new rider's name nor their position.
    assigned = await take(second, order["id"])
    moved = await second.put("/api/riders/me/location", json={"lat": 37.5690, "lng": 126.9790})
    assert moved.status_code == 204
    await wait_until(
        lambda: watcher.last.get(stream) == assigned["stream_seq"] and watcher.locations,
        what="the new rider's assignment and position on node A",
    )
    names = [e["data"]["rider"] for e in watcher.events[stream] if e["type"].endswith("assigned")]
    assert names[-1]["id"] == uid(second)
    await round_trip(former)
    assert events_after(former, stream, released.json()["stream_seq"]) == []
    assert former.locations == []
    assert watcher.revoked == []


async def test_signing_out_disconnects_that_sessions_sockets_on_every_node_at_once(
    cluster: Cluster, people: People, sockets: list[StreamClient]
) -> None:
    node_a, node_b = cluster.node_list[0].url, cluster.node_list[1].url
    owner, customer = await people(node_b, "owner"), await people(node_a, "customer")
    store_id, item_id = await open_store(owner)
    order = await place_order(customer, store_id=store_id, item_id=item_id)
    stream = f"order:{order['id']}"
    assert customer.user is not None
    async with http_client(node_a) as other_http:
        elsewhere = Api(other_http)  # the same customer signed in a second time
        await elsewhere.login(customer.user["email"])
        signed_out = [
            await StreamClient(url, session_cookie(customer)).connect() for url in (node_a, node_b)
        ]
        still_in = await StreamClient(node_a, session_cookie(elsewhere)).connect()
        sockets += [*signed_out, still_in]
        for client in (*signed_out, still_in):
            assert (await client.subscribe(stream, after_seq=order["stream_seq"]))["ok"] is True

        out = await customer.post("/api/auth/logout")
        assert out.status_code == 204, out.text
        # An event made right after the sign-out answered reaches the other session only: the
        # sign-out's sockets were dropped on both nodes before it.
        accepted = await act(owner, order["id"], "accept", {"prep_minutes": 10})
        await wait_until(
            lambda: still_in.last.get(stream) == accepted["stream_seq"],
            what="the acceptance on the session still signed in",
        )
        await wait_until(
            lambda: all(c.disconnects and not c.sio.connected for c in signed_out),
            timeout=5,
            what="the signed-out session's sockets disconnected on both nodes",
        )
        for client in signed_out:
            assert events_after(client, stream, order["stream_seq"]) == []
            # Socket.IO may try again: the session is gone, so it is refused.
            assert all(e["code"] == "unauthenticated" for e in client.connect_errors)
        assert still_in.sio.connected and still_in.disconnects == 0


async def test_an_open_socket_whose_session_ended_can_subscribe_no_more_and_is_disconnected(
    cluster: Cluster, people: People, sockets: list[StreamClient]
) -> None:
    customer = await people(cluster.node_list[1].url, "customer")
    stream = f"order:{999_999_999}"
    client = await StreamClient(cluster.node_list[0].url, session_cookie(customer)).connect()
    sockets.append(client)
    assert (await client.subscribe(stream))["code"] == "not-found"  # the session is fine
    # The session runs out (as its TTL would) with no sign-out to announce it.
    await run_out(cluster, session_cookie(customer))
    assert await client.subscribe(stream) == {"ok": False, "code": "unauthenticated"}
    await wait_until(lambda: client.disconnects, what="the periodic session sweep")
    assert not client.sio.connected


async def test_a_user_ended_by_a_control_message_loses_every_socket_on_every_node(
    cluster: Cluster, people: People, sockets: list[StreamClient], events_redis: Redis
) -> None:
    suspended, bystander = await people(cluster.url, "rider"), await people(cluster.url, "rider")
    assert suspended.user is not None
    async with http_client(cluster.node_list[1].url) as other_http:
        elsewhere = Api(other_http)
        await elsewhere.login(suspended.user["email"])
        theirs = [
            await StreamClient(node.url, session_cookie(api)).connect()
            for node in cluster.node_list
            for api in (suspended, elsewhere)
        ]
        other = await StreamClient(cluster.node_list[0].url, session_cookie(bystander)).connect()
        sockets += [*theirs, other]
        # What an account suspension sends (its sessions are still there: no sweep does this).
        await ControlChannel(events_redis).user_ended(uid(suspended))
        await wait_until(
            lambda: all(not c.sio.connected for c in theirs),
            timeout=5,
            what="every socket of the user disconnected, on both nodes",
        )
        own = f"rider:{uid(bystander)}"
        assert (await other.subscribe(own))["ok"] is True
        assert other.disconnects == 0


async def test_a_node_back_on_the_events_redis_rechecks_every_subscription(
    cluster: Cluster,
    people: People,
    sockets: list[StreamClient],
    cluster_db: Database,
    events_redis: Redis,
) -> None:
    owner, customer = await people(cluster.url, "owner"), await people(cluster.url, "customer")
    rider = await people(cluster.url, "rider")
    store_id = await insert_store(cluster_db, owner_id=uid(owner))
    order_id = await insert_order(
        cluster_db, customer_id=uid(customer), store_id=store_id, rider_id=uid(rider)
    )
    stream = f"order:{order_id}"
    carrier = await StreamClient(cluster.node_list[0].url, session_cookie(rider)).connect()
    watcher = await StreamClient(cluster.node_list[0].url, session_cookie(customer)).connect()
    sockets += [carrier, watcher]
    for client in (carrier, watcher):
        assert (await client.subscribe(stream))["ok"] is True
    # The rider loses the order with no control message (the node that changed it died before
    # sending one) while the nodes' listeners lose the events Redis for a moment.
    async with cluster_db.uow() as uow:
        await uow.session.execute(update(Order).where(Order.id == order_id).values(rider_id=None))
        await uow.commit()
    await events_redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    await wait_until(lambda: carrier.revoked, what="the re-check after the reconnect")
    assert carrier.revoked == [{"stream": stream, "code": "not-found"}]
    await round_trip(watcher)
    assert watcher.revoked == []


@pytest.mark.parametrize("ending", ["deliver", "release"])
async def test_a_position_parked_just_before_delivery_or_a_release_is_never_sent(
    cluster: Cluster,
    people: People,
    sockets: list[StreamClient],
    events_redis: Redis,
    cache_redis: Redis,
    ending: str,
) -> None:
    node_a, node_b = cluster.node_list[0].url, cluster.node_list[1].url
    owner, customer = await people(node_b, "owner"), await people(node_b, "customer")
    rider = await people(node_b, "rider")
    store_id, item_id = await open_store(owner)
    order = await place_order(customer, store_id=store_id, item_id=item_id)
    other_order = await place_order(customer, store_id=store_id, item_id=item_id)
    await on_shift(rider)
    await act(owner, order["id"], "accept", {"prep_minutes": 10})
    await take(rider, order["id"])
    if ending == "deliver":
        await act(owner, order["id"], "ready")
        await act(rider, order["id"], "pickup")
    watcher = await StreamClient(node_a, session_cookie(customer)).connect()
    sockets.append(watcher)
    for each in (order, other_order):
        assert (await watcher.subscribe(f"order:{each['id']}"))["ok"] is True

    # As if a ping a moment ago had shut the order's one-a-second gate: the next position is
    # parked, to go out when the gate reopens, which is after the order is delivered or
    # handed back.
    gate, pending = f"dispatch:loc:gate:{order['id']}", f"dispatch:loc:pending:{order['id']}"
    await cache_redis.set(gate, b"1", px=3000)
    ping = await rider.put("/api/riders/me/location", json={"lat": 37.5700, "lng": 126.9800})
    assert ping.status_code == 204
    path = f"/api/orders/{order['id']}/deliver"
    if ending == "release":
        path = f"/api/dispatch/offers/{order['id']}/release"
    ended = await rider.post(path)
    assert ended.status_code == 200, ended.text
    assert await cache_redis.exists(pending), "the parked position left before the order ended"

    async def settled() -> bool:
        # The parked position was taken up, and the gate it shut again has reopened since.
        return not await cache_redis.exists(pending) and not await cache_redis.exists(gate)

    await wait_until(settled, what="the parked position taken up")
    # A position published after it on the same channel, heard by the same socket: whatever
    # the parked one caused has arrived before this.
    await publish_location(
        events_redis, order_id=other_order["id"], lat=37.5, lng=127.0, at="2030-01-01T00:00:00Z"
    )
    await wait_until(lambda: watcher.locations, what="the later position")
    assert [m["order_id"] for m in watcher.locations] == [other_order["id"]]
