"""REALTIME_FANOUT=socketio-redis: python-socketio's AsyncRedisManager carries events between nodes.

It is the baseline the benchmark compares the hub with, so it has to work: a cluster of its own
(every relay must emit through the manager) delivers changes made on one node to a subscriber
on the other, in seq order, with the replay on subscribe and location updates as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from app.launcher.cluster import Cluster
from realtime.eventlog import CHANNEL
from realtime.manager_fanout import MANAGER_CHANNEL
from tests.realtime.flows import act, open_store, place_order
from tests.realtime.streams import StreamClient
from tests.system import NODE_ENV, People, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def baseline_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(
        folder=tmp_path_factory.mktemp("baseline-cluster"),
        nodes=2,
        node_env={**NODE_ENV, "REALTIME_FANOUT": "socketio-redis"},
    ).start()
    try:
        yield running
    finally:
        running.stop()


async def test_events_made_on_one_node_reach_a_subscriber_on_the_other(
    baseline_cluster: Cluster, people: People
) -> None:
    node_a, node_b = (node.url for node in baseline_cluster.node_list)
    assert baseline_cluster.events_redis is not None
    redis = Redis.from_url(baseline_cluster.events_redis.url)
    expected = {MANAGER_CHANNEL.encode(): 2, CHANNEL.encode(): 0}

    async def listening() -> bool:
        return dict(await redis.pubsub_numsub(MANAGER_CHANNEL, CHANNEL)) == expected

    try:
        # Both nodes listen on the manager's channel (once their listeners are up), none on
        # the hub's.
        await wait_until(listening, timeout=15, what=f"pub/sub listeners {expected}")
    finally:
        await redis.aclose()
    owner = await people(node_b, "owner")
    store_id, item_id = await open_store(owner)
    stream = f"store:{store_id}"
    customer = await people(node_b, "customer")
    first = await place_order(customer, store_id=store_id, item_id=item_id)
    board = await StreamClient(node_a, session_cookie(owner)).connect()
    try:
        # The event made before subscribing comes in the replay, the rest live.
        ack = await board.subscribe(stream, after_seq=0)
        assert ack["ok"] and ack["recovered"] and [e["seq"] for e in ack["events"]] == [1]
        more = await asyncio.gather(
            *(place_order(customer, store_id=store_id, item_id=item_id) for _ in range(5))
        )
        orders = [first, *more]
        await asyncio.gather(
            *(act(owner, order["id"], "accept", {"prep_minutes": 10}) for order in orders)
        )
        head = 2 * len(orders)  # order.placed and order.accepted on the store stream
        await wait_until(lambda: board.last.get(stream) == head, what="every event on node A")
        assert board.seqs(stream) == list(range(1, head + 1))
        assert board.gaps == []
        types = [event["type"] for event in board.events[stream]]
        assert types.count("order.placed") == 6 and types.count("order.accepted") == 6
    finally:
        await board.close()
