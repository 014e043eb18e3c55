"""A customer, a store owner and 30 riders racing for the order, every request through nginx on
the bridge and every node's query and event over the network: one rider wins, the order is
delivered, and the customer's screen follows it live."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from app.launcher.netns import NetnsCluster
from tests.client import Api, assert_problem
from tests.dispatch.helpers import sign_in_riders
from tests.netns.conftest import query
from tests.orders.helpers import open_shop, place
from tests.realtime.streams import StreamClient
from tests.system import People, http_client, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system

RIDERS = 30


def offered(cluster: NetnsCluster, order_id: int, status: str) -> set[int]:
    rows = query(
        cluster, "SELECT rider_id FROM offers WHERE order_id = %s AND status = %s", order_id, status
    )
    return {int(rider) for (rider,) in rows}


@pytest.mark.timeout(600)
async def test_a_customer_an_owner_and_thirty_racing_riders_across_the_network(
    network_cluster: NetnsCluster, people: People
) -> None:
    cluster = network_cluster
    owner = await people(cluster.url, "owner")
    customer = await people(cluster.url, "customer")
    shop = await open_shop(owner)
    riders = [Api(http_client(cluster.url)) for _ in range(RIDERS)]
    watcher: StreamClient | None = None
    try:
        await sign_in_riders(riders)
        order = await place(customer, shop)
        stream = f"order:{order['id']}"
        watcher = await StreamClient(cluster.url, session_cookie(customer)).connect()
        ack = await watcher.subscribe(stream, after_seq=order["stream_seq"])
        assert ack["ok"], ack

        accepted = await owner.post(f"/api/orders/{order['id']}/accept", json={"prep_minutes": 10})
        assert accepted.status_code == 200, accepted.text
        ids = {int(r.user["id"]) for r in riders if r.user}
        assert len(ids) == RIDERS
        await wait_until(
            lambda: ids <= offered(cluster, order["id"], "offered"),
            timeout=60,
            what=f"the offer of order {order['id']} to all {RIDERS} riders",
        )
        # All press accept at once; nginx spreads them over both nodes.
        answers = await asyncio.gather(
            *(r.post(f"/api/dispatch/offers/{order['id']}/accept") for r in riders)
        )
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 409: RIDERS - 1}, statuses
        for answer in answers:
            if answer.status_code == 409:
                assert_problem(answer, 409, "already-assigned")
        [winner] = [r for r, a in zip(riders, answers, strict=True) if a.status_code == 200]
        winner_id = int(winner.user["id"]) if winner.user else 0
        assert query(cluster, "SELECT rider_id FROM orders WHERE id = %s", order["id"]) == [
            (winner_id,)
        ]
        assert offered(cluster, order["id"], "accepted") == {winner_id}
        # The others' offers are withdrawn (after the winner's commit, by the dispatcher).
        await wait_until(
            lambda: offered(cluster, order["id"], "lost") == ids - {winner_id},
            timeout=30,
            what="every other rider's offer marked lost",
        )

        assert (await owner.post(f"/api/orders/{order['id']}/ready")).status_code == 200
        assert (await winner.post(f"/api/orders/{order['id']}/pickup")).status_code == 200
        done = await winner.post(f"/api/orders/{order['id']}/deliver")
        assert done.status_code == 200 and done.json()["status"] == "delivered", done.text

        seen = (await customer.get(f"/api/orders/{order['id']}")).json()
        assert seen["status"] == "delivered" and seen["rider"]["id"] == winner_id
        last = seen["stream_seq"]
        await wait_until(
            lambda: watcher is not None and watcher.last.get(stream) == last,
            timeout=30,
            what=f"{stream} up to seq {last} on the customer's socket",
        )
        assert watcher.seqs(stream) == list(range(order["stream_seq"] + 1, last + 1))
        types = [event["type"] for event in watcher.events[stream]]
        for step in ("order.accepted", "order.ready", "order.picked_up", "order.delivered"):
            assert step in types, types
        assert types.index("order.accepted") < types.index("order.delivered")
        assert watcher.gaps == [] and watcher.duplicates == 0
    finally:
        if watcher is not None:
            await watcher.close()
        for rider in riders:
            await rider.http.aclose()
