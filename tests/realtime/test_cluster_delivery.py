"""Events reach subscribers on every node, in seq order, with nothing lost (two nodes + nginx)."""

from __future__ import annotations

import asyncio

import pytest

from app.db import Database
from app.launcher.cluster import Cluster
from tests.realtime.seed import write_event
from tests.realtime.streams import StreamClient
from tests.system import People, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system


async def test_committed_events_nobody_published_reach_a_subscriber_via_the_sweep(
    cluster: Cluster, people: People, cluster_db: Database
) -> None:
    rider = await people(cluster.node_list[0].url, "rider")
    stream = f"rider:{rider.user['id']}"  # type: ignore[index]
    client = await StreamClient(cluster.node_list[0].url, session_cookie(rider)).connect()
    try:
        ack = await client.subscribe(stream, after_seq=0)
        assert ack["ok"] and ack["recovered"] and ack["last_seq"] == 0
        # Committed by this process, which runs no relay: only a node's sweep can publish them.
        for n in range(1, 6):
            await write_event(cluster_db, stream, n)
        await wait_until(lambda: client.last.get(stream) == 5, what="the swept events")
        assert client.seqs(stream) == [1, 2, 3, 4, 5]
        assert [e["data"]["n"] for e in client.events[stream]] == [1, 2, 3, 4, 5]
        assert client.gaps == []
    finally:
        await client.close()


async def test_subscribe_after_seq_replays_what_was_missed_from_the_log(
    cluster: Cluster, people: People, cluster_db: Database
) -> None:
    rider = await people(cluster.url, "rider")
    stream = f"rider:{rider.user['id']}"  # type: ignore[index]
    for n in range(1, 8):
        await write_event(cluster_db, stream, n)
    first = await StreamClient(cluster.url, session_cookie(rider)).connect()
    try:
        await first.subscribe(stream, after_seq=0)
        await wait_until(lambda: first.last.get(stream) == 7, what="seven events")
    finally:
        await first.close()
    late = await StreamClient(cluster.node_list[1].url, session_cookie(rider)).connect()
    try:
        ack = await late.subscribe(stream, after_seq=3)
        assert ack["ok"] and ack["recovered"]
        assert [e["seq"] for e in ack["events"]] == [4, 5, 6, 7]
        assert ack["last_seq"] == 7
        none = await late.subscribe(stream)
        assert none["events"] == [] and none["last_seq"] == 7
    finally:
        await late.close()


async def test_concurrent_writers_are_seen_gapless_by_subscribers_on_both_nodes_and_nginx(
    cluster: Cluster, people: People, cluster_db: Database
) -> None:
    rider = await people(cluster.url, "rider")
    stream = f"rider:{rider.user['id']}"  # type: ignore[index]
    cookie = session_cookie(rider)
    urls = [cluster.node_list[0].url, cluster.node_list[1].url, cluster.url]
    clients = [await StreamClient(url, cookie).connect() for url in urls]
    try:
        for client in clients:
            await client.subscribe(stream, after_seq=0)
        total = 60
        await asyncio.gather(*(write_event(cluster_db, stream, n) for n in range(total)))
        for client in clients:
            await wait_until(lambda c=client: c.last.get(stream) == total, what="every event")
            assert client.seqs(stream) == list(range(1, total + 1))
    finally:
        for client in clients:
            await client.close()
