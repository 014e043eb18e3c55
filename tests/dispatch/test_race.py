"""Exactly one winner per order, however many riders press accept on however many instances."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.helpers import (
    events_on,
    kitchen,
    offered_riders,
    sign_in_riders,
)
from tests.harness import Infra
from tests.waiting import wait_until

RIDERS = 100
ROUNDS = 6


async def _crowd(apps: AppPool, size: int) -> tuple[list[Api], Api, Api]:
    """`size` riders, half on each of two instances, plus an owner and a customer."""
    node_a, node_b = await apps.start(), await apps.start()
    riders = [await apps.client(node_a if i % 2 else node_b) for i in range(size)]
    await sign_in_riders(riders)
    return riders, await apps.client(node_a), await apps.client(node_b)


async def _race(infra: Infra, riders: list[Api], order_id: int) -> list[int]:
    """Wait until every rider holds the offer, then have all press accept at once."""
    ids = {int(r.user["id"]) for r in riders if r.user}
    await wait_until(lambda: ids <= offered_riders(infra, order_id), what=f"offers of {order_id}")
    responses = await asyncio.gather(
        *(r.post(f"/api/dispatch/offers/{order_id}/accept") for r in riders)
    )
    losers = [r for r in responses if r.status_code != 200]
    for response in losers:
        assert_problem(response, 409, "already-assigned")
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, Counter(r.status_code for r in responses)
    return [
        int(r.user["id"])
        for r, resp in zip(riders, responses, strict=True)
        if resp is winners[0] and r.user
    ]


async def test_hundred_riders_on_two_instances_pressing_accept_get_one_200_and_99_already_assigned(
    apps: AppPool, infra: Infra
) -> None:
    riders, owner, customer = await _crowd(apps, RIDERS)
    kitchen_ = await kitchen(owner, customer)
    order = await kitchen_.accepted_order()
    [winner] = await _race(infra, riders, order["id"])

    assert infra.query("SELECT rider_id, dispatch FROM orders WHERE id = %s", order["id"]) == [
        (winner, "assigned")
    ]
    assert infra.query(
        "SELECT rider_id FROM rider_states WHERE active_order_id = %s", order["id"]
    ) == [(winner,)]
    assert events_on(infra, f"rider:{winner}", "order.rider_assigned") == [order["id"]]
    losers = {int(r.user["id"]) for r in riders if r.user} - {winner}
    # Every loser is told, on its own stream, that the offer is gone.
    for loser in losers:
        await wait_until(
            lambda loser=loser: (
                events_on(infra, f"rider:{loser}", "offer.withdrawn") == [order["id"]]
            ),
            what=f"offer.withdrawn for rider {loser}",
        )
    assert offered_riders(infra, order["id"], "lost") == losers
    assert offered_riders(infra, order["id"], "accepted") == {winner}
    seen = await customer.get(f"/api/orders/{order['id']}")
    assert seen.json()["rider"]["id"] == winner and seen.json()["dispatch"] == "assigned"


async def test_order_after_order_never_gets_two_riders(apps: AppPool, infra: Infra) -> None:
    riders, owner, customer = await _crowd(apps, RIDERS)
    kitchen_ = await kitchen(owner, customer)
    winners: list[int] = []
    for _ in range(ROUNDS):
        order = await kitchen_.accepted_order()
        idle = [r for r in riders if r.user and int(r.user["id"]) not in winners]
        winners += await _race(infra, idle, order["id"])
    assert len(set(winners)) == ROUNDS
    rows = infra.query("SELECT id, rider_id FROM orders WHERE dispatch = 'assigned'")
    assert len(rows) == ROUNDS and len({rider for _, rider in rows}) == ROUNDS
    accepted = infra.query(
        "SELECT order_id, COUNT(*) FROM offers WHERE status = 'accepted' GROUP BY order_id"
    )
    assert all(count == 1 for _, count in accepted) and len(accepted) == ROUNDS
    # Busy riders are not offered the next orders.
    [(last_order,)] = infra.query("SELECT MAX(id) FROM orders")
    assert not offered_riders(infra, int(str(last_order)), "lost") & set(winners[:-1])


async def test_one_rider_accepting_two_orders_at_once_gets_one_and_rider_busy(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    rider_a, rider_b = await apps.client(node_a), await apps.client(node_b)
    await sign_in_riders([rider_a])
    rider_a.share_session_with(rider_b)
    kitchen_ = await kitchen(await apps.client(node_a), await apps.client(node_b))
    me = int(rider_a.user["id"]) if rider_a.user else 0
    for _ in range(5):
        first, second = await kitchen_.accepted_order(), await kitchen_.accepted_order()
        for order in (first, second):
            await wait_until(
                lambda order=order: me in offered_riders(infra, order["id"]), what="offers"
            )
        one, two = await asyncio.gather(
            rider_a.post(f"/api/dispatch/offers/{first['id']}/accept"),
            rider_b.post(f"/api/dispatch/offers/{second['id']}/accept"),
        )
        assert sorted([one.status_code, two.status_code]) == [200, 409], (one.text, two.text)
        assert_problem(one if one.status_code == 409 else two, 409, "rider-busy")
        taken = first if one.status_code == 200 else second
        # Carrying one order, the rider is shown no other offer.
        assert (await rider_a.get("/api/dispatch/offers")).json() == {"offers": []}
        assert infra.query("SELECT active_order_id FROM rider_states WHERE rider_id = %s", me) == [
            (taken["id"],)
        ]
        assert infra.query(
            "SELECT COUNT(*) FROM orders WHERE rider_id = %s AND status IN ('accepted','ready')", me
        ) == [(1,)]
        # Hand it back so the next round starts with an idle rider again.
        released = await rider_a.post(f"/api/dispatch/offers/{taken['id']}/release")
        assert released.status_code == 200, released.text
