"""Who may follow which stream: the three parties of an order, a store's owner, the rider."""

from __future__ import annotations

import pytest
import socketio

from app.db import Database
from app.launcher.cluster import Cluster
from tests.realtime.seed import insert_order, insert_store
from tests.realtime.streams import StreamClient
from tests.system import People, session_cookie

pytestmark = pytest.mark.system


async def _codes(url: str, cookie: str, streams: list[str]) -> list[object]:
    client = await StreamClient(url, cookie).connect()
    try:
        acks = [await client.subscribe(stream) for stream in streams]
    finally:
        await client.close()
    return [ack["ok"] or ack["code"] for ack in acks]


async def test_connection_without_a_session_cookie_is_refused_as_unauthenticated(
    cluster: Cluster,
    people: People,
) -> None:
    for cookie in (None, "not-a-session"):
        client = StreamClient(cluster.url, cookie)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect()
        assert client.connect_errors, "no connect_error was received"
        assert client.connect_errors[-1]["code"] == "unauthenticated"
        assert client.connect_errors[-1]["data"] == {"code": "unauthenticated"}


async def test_only_a_rider_may_follow_a_rider_stream_and_every_other_is_not_found(
    cluster: Cluster,
    people: People,
) -> None:
    rider = await people(cluster.url, "rider")
    other = await people(cluster.url, "rider")
    customer = await people(cluster.url, "customer")
    streams = [
        f"rider:{rider.user['id']}",  # type: ignore[index]
        f"rider:{other.user['id']}",  # type: ignore[index]
        f"rider:{customer.user['id']}",  # type: ignore[index]
        "rider:999999999",
    ]
    # Another rider's stream answers as one that does not exist: ids cannot be enumerated.
    assert await _codes(cluster.url, session_cookie(rider), streams) == [
        True,
        "not-found",
        "not-found",
        "not-found",
    ]
    # A customer is no rider, even for their own id.
    assert await _codes(cluster.url, session_cookie(customer), streams[2:3]) == ["not-found"]


async def test_another_owners_store_stream_is_forbidden_as_stores_are_public(
    cluster: Cluster, people: People, cluster_db: Database
) -> None:
    owner = await people(cluster.url, "owner")
    rival = await people(cluster.url, "owner")
    store_id = await insert_store(cluster_db, owner_id=owner.user["id"])  # type: ignore[index]
    stream = f"store:{store_id}"
    assert await _codes(cluster.url, session_cookie(owner), [stream]) == [True]
    # Anyone may look a store up (GET /api/stores/{id}), so its existence is no secret.
    assert (await rival.get(f"/api/stores/{store_id}")).status_code == 200
    assert await _codes(cluster.url, session_cookie(rival), [stream, "store:999999999"]) == [
        "forbidden",
        "not-found",
    ]


async def test_an_order_stream_is_open_to_its_customer_store_owner_and_rider_only(
    cluster: Cluster, people: People, cluster_db: Database
) -> None:
    customer = await people(cluster.url, "customer")
    stranger = await people(cluster.url, "customer")
    owner = await people(cluster.url, "owner")
    rider = await people(cluster.url, "rider")
    other_rider = await people(cluster.url, "rider")
    store_id = await insert_store(cluster_db, owner_id=owner.user["id"])  # type: ignore[index]
    order_id = await insert_order(
        cluster_db,
        customer_id=customer.user["id"],  # type: ignore[index]
        store_id=store_id,
        rider_id=rider.user["id"],  # type: ignore[index]
    )
    stream = f"order:{order_id}"
    for party in (customer, owner, rider):
        assert await _codes(cluster.url, session_cookie(party), [stream]) == [True]
    # An outsider cannot tell an order that exists from one that does not, as over REST.
    for outsider in (stranger, other_rider):
        assert await _codes(cluster.url, session_cookie(outsider), [stream]) == ["not-found"]
        assert (await outsider.get(f"/api/orders/{order_id}")).status_code == 404
    assert (
        await _codes(
            cluster.url, session_cookie(customer), ["order:999999999", "orders:1", "order:-1", ""]
        )
        == ["not-found"] * 4
    )
