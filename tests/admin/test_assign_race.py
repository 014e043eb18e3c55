"""An operator's manual assignment races riders' accepts on two instances: exactly one of them
gets the order, by the same optimistic lock, and every other gets 409 `already-assigned`."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.admin.helpers import audit_rows, uid
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.helpers import go_on_shift, kitchen, offered_riders, sign_in_riders
from tests.harness import Infra
from tests.rewards.helpers import sign_in_admin
from tests.waiting import wait_until

RIDERS = 40
ROUNDS = 4


async def test_manual_assign_against_forty_riders_on_two_instances_has_one_winner(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    riders = [await apps.client(node_a if i % 2 else node_b) for i in range(RIDERS)]
    await sign_in_riders(riders)
    admin = await sign_in_admin(apps, node_a)
    desk = await kitchen(await apps.client(node_b), await apps.client(node_a))
    chosen: list[Api] = []
    outcomes: Counter[str] = Counter()

    for round_ in range(ROUNDS):
        # The operator's pick: a rider of their own, on shift but not pressing accept.
        pick = await apps.client(node_b)
        await pick.sign_in_as("rider")
        await go_on_shift(pick, 1.5)
        chosen.append(pick)
        racing = [r for r in riders if uid(r) not in _busy(infra)]
        order = await desk.accepted_order()
        ids = {uid(r) for r in racing}
        order_id = int(order["id"])

        def all_offered(ids: set[int] = ids, order_id: int = order_id) -> bool:
            return ids <= offered_riders(infra, order_id)

        await wait_until(all_offered, what=f"offers of order {order_id}")
        path = f"/api/dispatch/offers/{order['id']}/accept"
        answers = await asyncio.gather(
            admin.post(f"/api/admin/orders/{order['id']}/assign", json={"rider_id": uid(pick)}),
            *(r.post(path) for r in racing),
        )
        winners = [a for a in answers if a.status_code == 200]
        assert len(winners) == 1, (round_, Counter(a.status_code for a in answers))
        for answer in answers:
            if answer.status_code != 200:
                assert_problem(answer, 409, "already-assigned")
        winner = int(winners[0].json()["rider"]["id"])
        outcomes["operator" if winners[0] is answers[0] else "rider"] += 1
        assert infra.query(
            "SELECT rider_id FROM rider_states WHERE active_order_id = %s", order["id"]
        ) == [(winner,)]
        assert infra.query("SELECT rider_id, dispatch FROM orders WHERE id = %s", order["id"]) == [
            (winner, "assigned")
        ]
        # The audit log holds the operator's assignment only when it won.
        audited = [row for row in audit_rows(infra) if row[2] == order["id"]]
        assert len(audited) == (1 if winners[0] is answers[0] else 0)

    # Every rider carries one order at most, and no order has two.
    carried = infra.query(
        "SELECT active_order_id, COUNT(*) FROM rider_states "
        "WHERE active_order_id IS NOT NULL GROUP BY active_order_id"
    )
    assert len(carried) == ROUNDS and all(int(str(n)) == 1 for _, n in carried)
    assert sum(outcomes.values()) == ROUNDS


def _busy(infra: Infra) -> set[int]:
    rows = infra.query("SELECT rider_id FROM rider_states WHERE active_order_id IS NOT NULL")
    return {int(str(rider)) for (rider,) in rows}
