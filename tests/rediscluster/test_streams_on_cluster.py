"""Stream guarantees with the events on a Redis Cluster: sharded channels, two nodes, nginx."""

from __future__ import annotations

import asyncio

import pytest

from app.db import Database
from app.launcher.cluster import Cluster
from realtime.eventlog import CHANNEL, stream_channel
from tests.client import Api
from tests.realtime.seed import write_event
from tests.realtime.streams import StreamClient
from tests.system import People, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system


def _subscribers(cluster: Cluster, channel: str) -> int:
    """How many connections listen to a shard channel, asked of the master of its slot."""
    assert cluster.cluster_redis is not None
    master = cluster.cluster_redis.master_of(channel)
    _, count = master.command("PUBSUB", "SHARDNUMSUB", channel)
    return int(count)


def _master(cluster: Cluster, rider: Api) -> int:
    assert cluster.cluster_redis is not None
    stream = f"rider:{rider.user['id']}"  # type: ignore[index]
    return cluster.cluster_redis.master_of(stream_channel(stream)).port


def _classic_subscribers(cluster: Cluster, channel: str) -> int:
    assert cluster.cluster_redis is not None
    return sum(
        int(server.command("PUBSUB", "NUMSUB", channel)[1])
        for server in cluster.cluster_redis.masters_now()
    )


async def test_each_node_listens_only_to_the_streams_its_own_clients_follow(
    cluster_on_redis_cluster: Cluster, people: People
) -> None:
    cluster = cluster_on_redis_cluster
    node_a, node_b = (node.url for node in cluster.node_list)
    riders = [await people(cluster.url, "rider") for _ in range(3)]
    streams = [f"rider:{rider.user['id']}" for rider in riders]  # type: ignore[index]
    channels = [stream_channel(stream) for stream in streams]
    on_a = await StreamClient(node_a, session_cookie(riders[0])).connect()
    on_b = await StreamClient(node_b, session_cookie(riders[1])).connect()
    also_on_b = await StreamClient(node_b, session_cookie(riders[0])).connect()
    try:
        assert (await on_a.subscribe(streams[0], after_seq=0))["ok"]
        assert (await on_b.subscribe(streams[1], after_seq=0))["ok"]
        # A listens to the first stream only, B to the second only; nobody to the third.
        assert [_subscribers(cluster, c) for c in channels] == [1, 1, 0]
        # No node hears every event: nothing listens on the single-server channel.
        assert _classic_subscribers(cluster, CHANNEL) == 0

        # A second node with a follower of the first stream listens to it too.
        assert (await also_on_b.subscribe(streams[0], after_seq=0))["ok"]
        assert [_subscribers(cluster, c) for c in channels] == [2, 1, 0]

        # Its last follower there leaves: B stops listening to it, A goes on.
        assert (await also_on_b.unsubscribe(streams[0]))["ok"]
        await wait_until(lambda: _subscribers(cluster, channels[0]) == 1, what="B unsubscribed")
        assert _subscribers(cluster, channels[1]) == 1

        # A socket that disconnects takes its node's subscription with it.
        await on_a.close()
        await wait_until(lambda: _subscribers(cluster, channels[0]) == 0, what="A unsubscribed")
        assert _subscribers(cluster, channels[1]) == 1
    finally:
        for client in (on_a, on_b, also_on_b):
            await client.close()


async def test_concurrent_writers_on_many_shards_reach_every_follower_once_in_order(
    cluster_on_redis_cluster: Cluster, people: People, cluster_db: Database
) -> None:
    cluster = cluster_on_redis_cluster
    assert cluster.cluster_redis is not None
    # Riders until their streams' logs (and channels) sit on at least two masters.
    riders = [await people(cluster.url, "rider") for _ in range(4)]
    while len({_master(cluster, rider) for rider in riders}) < 2:
        riders.append(await people(cluster.url, "rider"))
    streams = [f"rider:{rider.user['id']}" for rider in riders]  # type: ignore[index]
    urls = [cluster.node_list[0].url, cluster.node_list[1].url, cluster.url]
    followers: list[tuple[str, StreamClient]] = []
    for rider, stream in zip(riders, streams, strict=True):
        for url in urls:
            client = await StreamClient(url, session_cookie(rider)).connect()
            followers.append((stream, client))
    try:
        for stream, client in followers:
            assert (await client.subscribe(stream, after_seq=0))["ok"]
        total = 40
        await asyncio.gather(
            *(write_event(cluster_db, stream, n) for n in range(total) for stream in streams)
        )
        for stream, client in followers:
            await wait_until(
                lambda c=client, s=stream: c.last.get(s) == total, timeout=30, what="every event"
            )
            assert client.seqs(stream) == list(range(1, total + 1))
            # Once each, in order: the server never sent a seq twice, nor one out of turn.
            assert client.duplicates == 0 and client.gaps == [], (client.duplicates, client.gaps)
    finally:
        for _, client in followers:
            await client.close()


async def test_a_client_that_comes_back_with_after_seq_gets_exactly_what_it_missed(
    cluster_on_redis_cluster: Cluster, people: People, cluster_db: Database
) -> None:
    cluster = cluster_on_redis_cluster
    rider = await people(cluster.url, "rider")
    stream = f"rider:{rider.user['id']}"  # type: ignore[index]
    cookie = session_cookie(rider)
    first = await StreamClient(cluster.node_list[0].url, cookie).connect()
    try:
        await first.subscribe(stream, after_seq=0)
        for n in range(1, 6):
            await write_event(cluster_db, stream, n)
        await wait_until(lambda: first.last.get(stream) == 5, what="five events")
    finally:
        await first.close()
    for n in range(6, 10):
        await write_event(cluster_db, stream, n)
    late = await StreamClient(cluster.node_list[1].url, cookie).connect()
    try:
        ack = await late.subscribe(stream, after_seq=5)
        assert ack["ok"] and ack["recovered"]
        await wait_until(lambda: late.last.get(stream) == 9, what="the missed events")
        assert late.seqs(stream) == [6, 7, 8, 9]
        assert [e["data"]["n"] for e in late.events[stream]] == [6, 7, 8, 9]
    finally:
        await late.close()
