"""A client that stops reading is disconnected once its queue passes the bound; others go on.

The stalled client speaks Engine.IO long-polling by hand: it connects, subscribes, then never
polls again, so everything for it waits in the server's queue (the state a stalled tab or a dead
link leaves a socket in). It runs on a third node of the cluster whose bound is lowered to
REALTIME_MAX_CLIENT_QUEUE=20, with a well-behaved subscriber on the same stream beside it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest

from app.launcher.cluster import Cluster
from app.launcher.nodes import Node
from tests.realtime.flows import open_store, place_order
from tests.realtime.polling import PollingClient
from tests.realtime.streams import StreamClient
from tests.system import NODE_ENV, People, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system

BOUND = 20


@pytest.fixture(scope="module")
def bounded_node(cluster: Cluster) -> Iterator[Node]:
    """A third node on the cluster's database and Redis, with a small client queue bound."""
    node = Node(
        name="node-bounded",
        env={**cluster.env(), **NODE_ENV, "REALTIME_MAX_CLIENT_QUEUE": str(BOUND)},
        log_dir=cluster.log_dir,
    ).start()
    try:
        yield node
    finally:
        node.stop()


async def dropped_count(node: Node) -> float:
    async with httpx.AsyncClient(base_url=node.url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    match = re.search(r"^realtime_slow_clients_dropped_total (\S+)$", text, re.M)
    assert match, "the counter is missing from /metrics"
    return float(match.group(1))


async def test_a_client_that_stops_reading_is_dropped_and_recovers_on_reconnect(
    cluster: Cluster, bounded_node: Node, people: People
) -> None:
    owner = await people(cluster.node_list[0].url, "owner")
    store_id, item_id = await open_store(owner)
    stream = f"store:{store_id}"
    customers = [await people(cluster.node_list[1].url, "customer") for _ in range(3)]
    steady = await StreamClient(bounded_node.url, session_cookie(owner)).connect()
    dropped_before = await dropped_count(bounded_node)
    async with httpx.AsyncClient(base_url=bounded_node.url, timeout=30) as http:
        stalled = PollingClient(http, session_cookie(owner))
        await stalled.connect()
        ack = await stalled.subscribe(stream, after_seq=0)
        assert ack["ok"] and ack["recovered"], ack
        await steady.subscribe(stream, after_seq=0)

        # Over twice the bound of events (one `order.placed` each on the store stream), made
        # through the other nodes; the stalled client reads none of them.
        orders = []
        while len(orders) <= 2 * BOUND:
            orders += await asyncio.gather(
                *(place_order(c, store_id=store_id, item_id=item_id) for c in customers)
            )
        await wait_until(
            lambda: steady.last.get(stream) == len(orders), what="the steady subscriber"
        )
        await wait_until_dropped(bounded_node, dropped_before)

        # The stalled socket is gone: its next poll is refused, so the client reconnects.
        assert (await stalled.poll()).status_code == 400

    # The steady subscriber, on the same node and stream, lost nothing and stayed connected.
    assert steady.seqs(stream) == list(range(1, len(orders) + 1))
    assert steady.connects == 1 and steady.sio.connected
    assert steady.gaps == [] and steady.duplicates == 0

    # Reconnecting with the seq it had, the dropped client gets exactly what it missed.
    again = await StreamClient(bounded_node.url, session_cookie(owner)).connect()
    try:
        ack = await again.subscribe(stream, after_seq=0)
        assert ack["ok"] and ack["recovered"]
        assert again.seqs(stream) == list(range(1, len(orders) + 1))
    finally:
        await again.close()
        await steady.close()


async def wait_until_dropped(node: Node, before: float) -> None:
    """Wait for the node's housekeeping (every second) to drop the stalled client."""

    async def dropped_since() -> float:
        return await dropped_count(node) - before

    dropped = await wait_until(dropped_since, timeout=15, what="the stalled client to be dropped")
    assert dropped == 1, "only the stalled client may be dropped"
