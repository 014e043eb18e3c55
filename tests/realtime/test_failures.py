"""Crashes: a node killed under its clients, the events Redis restarted empty."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from app.db import Database
from app.launcher.cluster import Cluster
from tests.realtime.seed import write_event
from tests.realtime.streams import StreamClient
from tests.system import People, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system


class Writer:
    """Commits events on a stream at a steady pace until stopped; counts what it committed."""

    def __init__(self, db: Database, stream: str) -> None:
        self.db, self.stream, self.committed = db, stream, 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def _run(self) -> None:
        # Stopped by the flag between commits, not cancelled: a cancellation landing after a
        # commit and before the count would leave an event committed and not counted.
        while not self._stopping.is_set():
            self.committed = await write_event(self.db, self.stream, self.committed + 1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.02)

    def start(self) -> Writer:
        self._task = asyncio.create_task(self._run())
        return self

    async def wait_for(self, count: int) -> None:
        await wait_until(lambda: self.committed >= count, what=f"{count} commits")

    async def stop(self) -> int:
        assert self._task is not None
        self._stopping.set()
        await self._task
        return self.committed


def _node_index(cluster: Cluster, node_id: str) -> int:
    pid = int(node_id.rsplit("/", 1)[1])
    for index, node in enumerate(cluster.node_list):
        if node.process is not None and node.process.pid == pid:
            return index
    raise AssertionError(f"no node has pid {pid}")


async def test_killed_node_client_reconnects_through_nginx_with_gapless_history(
    cluster: Cluster, people: People, cluster_db: Database
) -> None:
    rider = await people(cluster.url, "rider")
    stream = f"rider:{rider.user['id']}"  # type: ignore[index]
    client = await StreamClient(cluster.url, session_cookie(rider)).connect()
    writer = Writer(cluster_db, stream)
    try:
        ack = await client.subscribe(stream, after_seq=0)
        victim = _node_index(cluster, ack["node"])
        writer.start()
        await writer.wait_for(20)
        await wait_until(lambda: client.last.get(stream, 0) >= 10, what="events before the crash")
        cluster.kill_node(victim)
        await writer.wait_for(writer.committed + 40)
        total = await writer.stop()
        await wait_until(lambda: client.last.get(stream) == total, timeout=30, what="all events")
        assert client.seqs(stream) == list(range(1, total + 1))
        assert client.connects >= 2, "the client never reconnected"
        replays = [a for a in client.acks if a["stream"] == stream][1:]
        assert replays and all(a["ok"] and a["recovered"] for a in replays)
        assert {_node_index(cluster, a["node"]) for a in replays} == {1 - victim}
        assert client.resyncs == []
    finally:
        if writer._task is not None and not writer._task.done():
            await writer.stop()
        await client.close()
        if not cluster.node_list[victim].alive:
            await asyncio.to_thread(cluster.restart_node, victim)


async def test_events_redis_restarted_empty_loses_no_event_for_connected_or_new_clients(
    cluster: Cluster, people: People, cluster_db: Database
) -> None:
    rider = await people(cluster.url, "rider")
    stream = f"rider:{rider.user['id']}"  # type: ignore[index]
    cookie = session_cookie(rider)
    clients = [await StreamClient(node.url, cookie).connect() for node in cluster.node_list]
    writer = Writer(cluster_db, stream)
    try:
        for client in clients:
            await client.subscribe(stream, after_seq=0)
        writer.start()
        await writer.wait_for(15)
        await asyncio.to_thread(cluster.restart_events_redis, wipe=True)
        await writer.wait_for(writer.committed + 30)
        total = await writer.stop()
        for client in clients:
            await wait_until(
                lambda c=client: c.last.get(stream) == total, timeout=30, what="every event"
            )
            assert client.seqs(stream) == list(range(1, total + 1))
        late = await StreamClient(cluster.url, cookie).connect()
        clients.append(late)
        ack = await late.subscribe(stream, after_seq=0)
        assert ack["recovered"] and [e["seq"] for e in ack["events"]] == list(range(1, total + 1))
    finally:
        if writer._task is not None and not writer._task.done():
            await writer.stop()
        for client in clients:
            await client.close()
