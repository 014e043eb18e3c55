"""Changes made through the REST API on one node reach subscribers on the other node and nginx."""

from __future__ import annotations

import asyncio

import pytest

from app.launcher.cluster import Cluster
from tests.realtime.flows import act, open_store, place_order
from tests.realtime.streams import StreamClient
from tests.system import People, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system


@pytest.mark.parametrize("watch_via", ["node A", "nginx"])
async def test_subscriber_receives_in_seq_order_what_is_done_through_the_other_node(
    cluster: Cluster, people: People, watch_via: str
) -> None:
    node_a, node_b = cluster.node_list[0].url, cluster.node_list[1].url
    watch_url = node_a if watch_via == "node A" else cluster.url
    owner = await people(node_b, "owner")
    store_id, item_id = await open_store(owner)
    store_stream = f"store:{store_id}"
    board = await StreamClient(watch_url, session_cookie(owner)).connect()
    customers = [await people(node_b, "customer") for _ in range(4)]
    watchers: list[StreamClient] = []
    try:
        await board.subscribe(store_stream, after_seq=0)
        orders = await asyncio.gather(
            *(place_order(c, store_id=store_id, item_id=item_id) for c in customers)
        )
        for customer, order in zip(customers, orders, strict=True):
            watcher = await StreamClient(watch_url, session_cookie(customer)).connect()
            watchers.append(watcher)
            ack = await watcher.subscribe(f"order:{order['id']}", after_seq=order["stream_seq"])
            assert ack["ok"] and ack["recovered"]
        # The owner works every order at once, all through node B.
        await asyncio.gather(
            *(act(owner, order["id"], "accept", {"prep_minutes": 10}) for order in orders)
        )
        await asyncio.gather(*(act(owner, order["id"], "ready") for order in orders))
        await asyncio.gather(
            *(act(owner, order["id"], "cancel", {"reason": "closing"}) for order in orders)
        )
        for watcher, order in zip(watchers, orders, strict=True):
            stream = f"order:{order['id']}"
            final = await owner.get(f"/api/orders/{order['id']}")
            last = final.json()["stream_seq"]
            await wait_until(
                lambda w=watcher, s=stream, n=last: w.last.get(s) == n,
                what=f"{stream} up to seq {last}",
            )
            seqs = watcher.seqs(stream)
            assert seqs == list(range(order["stream_seq"] + 1, last + 1))
            types = [e["type"] for e in watcher.events[stream]]
            assert types[:2] == ["order.accepted", "order.ready"] and "order.cancelled" in types
            assert watcher.events[stream][-1]["data"]["id"] == order["id"]
            assert watcher.duplicates == 0 and watcher.gaps == []
        placed = [e for e in board.events[store_stream] if e["type"] == "order.placed"]
        assert sorted(e["data"]["id"] for e in placed) == sorted(o["id"] for o in orders)
        head = max(e["seq"] for e in board.events[store_stream])
        assert board.seqs(store_stream) == list(range(1, head + 1))
    finally:
        for client in [board, *watchers]:
            await client.close()
