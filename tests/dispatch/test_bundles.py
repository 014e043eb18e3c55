"""Bundles in the batch dispatcher: one rider offered two orders as one, accepting both or
neither, carrying them and delivering each; and the bundle's accept racing single accepts of
its orders across two instances."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from app.config import Settings
from dispatch.schedule import BATCH_HOLDER_KEY
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.conftest import CROWD_LIMITS
from tests.dispatch.helpers import Kitchen, go_on_shift, history, kitchen
from tests.dispatch.test_batch import batch_due_now, rider_id, started
from tests.harness import Infra
from tests.waiting import wait_until

BUNDLING = {
    "dispatch_strategy": "batch",
    "dispatch_batch_seconds": 300,
    "dispatch_radius_km": 5,
    "dispatch_bundles": True,
}


@pytest.fixture
def settings(infra: Infra) -> Settings:
    infra.clean()
    return infra.settings(**CROWD_LIMITS, **BUNDLING)


@pytest.fixture
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(infra.cache_redis.url)
    yield client
    await client.aclose()


def bundle_offers(infra: Infra) -> dict[int, list[tuple[int, int]]]:
    """Bundle id → (order, rider) of its open offers."""
    rows = infra.query(
        "SELECT bundle_id, order_id, rider_id FROM offers"
        " WHERE status = 'offered' AND bundle_id IS NOT NULL ORDER BY order_id"
    )
    found: dict[int, list[tuple[int, int]]] = {}
    for bundle, order, rider in rows:
        found.setdefault(int(str(bundle)), []).append((int(str(order)), int(str(rider))))
    return found


def carried(infra: Infra, rider: int) -> tuple[int | None, int | None]:
    [(first, second)] = infra.query(
        "SELECT active_order_id, second_order_id FROM rider_states WHERE rider_id = %s", rider
    )
    return (
        None if first is None else int(str(first)),
        None if second is None else int(str(second)),
    )


def payloads(infra: Infra, stream: str, event_type: str) -> list[dict[str, Any]]:
    rows = infra.query(
        "SELECT payload FROM outbox_events WHERE stream = %s AND type = %s ORDER BY seq",
        stream,
        event_type,
    )
    return [json.loads(str(payload)) for (payload,) in rows]


async def bundle_of(redis: Redis, infra: Infra, ids: list[int]) -> int:
    """Run batches until one offers these two orders as a bundle; its id. (A batch skips an
    order whose row another transaction holds, such as the search step its acceptance
    started: the next batch takes it, here made due at once.)"""

    async def offered() -> int | None:
        found = [b for b, p in bundle_offers(infra).items() if [o for o, _ in p] == ids]
        if found:
            return found[0]
        if not await redis.exists(BATCH_HOLDER_KEY):
            await batch_due_now(redis)
        return None

    return await wait_until(offered, what=f"orders {ids} offered as a bundle")


async def bundled(
    apps: AppPool, app: Any, redis: Redis, infra: Infra
) -> tuple[Api, Kitchen, int, list[int]]:
    """One rider on shift, two orders of one store to one door, and the batch's bundle."""
    rider = await apps.client(app)
    await rider.sign_in_as("rider")
    await go_on_shift(rider, 0.5)
    k = await kitchen(await apps.client(app), await apps.client(app))
    orders = [await k.accepted_order(), await k.accepted_order()]
    ids = [o["id"] for o in orders]
    bundle_id = await bundle_of(redis, infra, ids)
    assert bundle_offers(infra) == {bundle_id: [(i, rider_id(rider)) for i in ids]}
    return rider, k, bundle_id, ids


async def test_one_rider_is_offered_two_orders_of_one_store_as_one_bundle_and_takes_both(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    app = await started(apps)
    rider, k, bundle_id, ids = await bundled(apps, app, redis, infra)
    me = rider_id(rider)

    # The rider's stream got the bundle as one event, and no single offer.
    [event] = payloads(infra, f"rider:{me}", "offer.bundle_created")
    assert event["bundle_id"] == bundle_id
    assert [o["order_id"] for o in event["offers"]] == ids
    assert sorted(event["pickups"]) == ids and sorted(event["dropoffs"]) == ids
    assert event["fee"] == sum(o["fee"] for o in event["offers"])
    assert payloads(infra, f"rider:{me}", "offer.created") == []
    listed = (await rider.get("/api/dispatch/offers")).json()["offers"]
    assert sorted((o["order_id"], o["bundle_id"]) for o in listed) == [(i, bundle_id) for i in ids]

    # Half a bundle cannot be taken.
    single = await rider.post(f"/api/dispatch/offers/{ids[0]}/accept")
    assert_problem(single, 409, "offer-bundled")
    assert str(bundle_id) in single.json()["detail"]
    # Someone else's bundle, or none: 404.
    assert_problem(
        await rider.post(f"/api/dispatch/bundles/{bundle_id + 999}/accept"), 404, "not-found"
    )
    other = await apps.client(app)
    await other.sign_in_as("rider")
    await go_on_shift(other, 0.5)
    assert_problem(await other.post(f"/api/dispatch/bundles/{bundle_id}/accept"), 404, "not-found")

    taken = await rider.post(f"/api/dispatch/bundles/{bundle_id}/accept")
    assert taken.status_code == 200, taken.text
    body = taken.json()
    assert body["bundle_id"] == bundle_id
    assert [o["id"] for o in body["orders"]] == ids
    assert all(o["rider"]["id"] == me and o["dispatch"] == "assigned" for o in body["orders"])
    assert carried(infra, me) == (ids[0], ids[1])
    # Sent again after a lost answer: the same two orders.
    again = await rider.post(f"/api/dispatch/bundles/{bundle_id}/accept")
    assert again.status_code == 200 and [o["id"] for o in again.json()["orders"]] == ids
    for order_id in ids:
        assert history(infra, order_id)[-1] == ("accepted", me)
        # Each customer sees its order's assignment, as for a single order.
        assert payloads(infra, f"order:{order_id}", "order.rider_assigned")
    # Carrying two, the rider is offered nothing and cannot go off shift.
    assert (await rider.get("/api/dispatch/offers")).json()["offers"] == []
    off = await rider.put("/api/riders/me/shift", json={"online": False})
    assert_problem(off, 409, "rider-busy")

    # Picked up and delivered one at a time; the rider is free after the second.
    for order_id in ids:
        assert (await k.owner.post(f"/api/orders/{order_id}/ready")).status_code == 200
        assert (await rider.post(f"/api/orders/{order_id}/pickup")).status_code == 200
    first = await rider.post(f"/api/orders/{ids[0]}/deliver")
    assert first.status_code == 200, first.text
    assert carried(infra, me) == (ids[1], None)
    second = await rider.post(f"/api/orders/{ids[1]}/deliver")
    assert second.status_code == 200, second.text
    assert carried(infra, me) == (None, None)
    earned = (await rider.get("/api/riders/me/earnings")).json()
    assert earned["deliveries"] == 2
    assert earned["total"] == event["fee"]


async def test_a_rider_hands_back_one_order_of_a_bundle_and_keeps_the_other(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    app = await started(apps)
    rider, _k, bundle_id, ids = await bundled(apps, app, redis, infra)
    me = rider_id(rider)
    assert (await rider.post(f"/api/dispatch/bundles/{bundle_id}/accept")).status_code == 200

    released = await rider.post(f"/api/dispatch/offers/{ids[0]}/release")
    assert released.status_code == 200 and released.json()["dispatch"] == "searching"
    assert carried(infra, me) == (ids[1], None)
    kept = (await rider.get(f"/api/orders/{ids[1]}")).json()
    assert kept["rider"]["id"] == me
    # Still carrying one: busy for any other offer, and the bundle cannot be taken again.
    again = await rider.post(f"/api/dispatch/bundles/{bundle_id}/accept")
    assert_problem(again, 409, "already-assigned")
    released = await rider.post(f"/api/dispatch/offers/{ids[1]}/release")
    assert released.status_code == 200, released.text
    assert carried(infra, me) == (None, None)


async def test_a_cancelled_order_withdraws_its_bundle_and_the_other_order_waits_again(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    app = await started(apps)
    rider, k, bundle_id, ids = await bundled(apps, app, redis, infra)
    gone = await k.owner.post(f"/api/orders/{ids[1]}/cancel", json={"reason": "sold out"})
    assert gone.status_code == 200, gone.text

    await wait_until(lambda: not bundle_offers(infra), what="the bundle withdrawn")
    rows = infra.query(
        "SELECT order_id, status FROM offers WHERE bundle_id = %s ORDER BY order_id", bundle_id
    )
    assert [(int(str(o)), str(s)) for o, s in rows] == [
        (ids[0], "withdrawn"),
        (ids[1], "withdrawn"),
    ]
    late = await rider.post(f"/api/dispatch/bundles/{bundle_id}/accept")
    assert_problem(late, 409, "invalid-transition")
    # The order left is offered again by the next batch, alone.
    await batch_due_now(redis)
    await wait_until(
        lambda: infra.query(
            "SELECT 1 FROM offers WHERE order_id = %s AND status = 'offered'", ids[0]
        ),
        what="the order left offered again",
    )
    [(bundle,)] = infra.query(
        "SELECT bundle_id FROM offers WHERE order_id = %s AND status = 'offered'", ids[0]
    )
    assert bundle is None


async def test_a_bundle_accept_racing_single_accepts_across_two_instances_gives_each_order_one_rider(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    node_a, node_b = await started(apps), await apps.start()
    k = await kitchen(await apps.client(node_a), await apps.client(node_b))
    outcomes: list[str] = []
    for round_ in range(6):
        bundler = await apps.client(node_a if round_ % 2 else node_b)
        await bundler.sign_in_as("rider")
        await go_on_shift(bundler, 0.5)
        orders = [await k.accepted_order(), await k.accepted_order()]
        ids = [o["id"] for o in orders]
        bundle_id = await bundle_of(redis, infra, ids)
        # Two riders holding single offers of the same orders, as a node still running the
        # `offers` strategy leaves them while a deployment switches to `batch`.
        singles = [await apps.client(node) for node in (node_a, node_b)]
        for single in singles:
            await single.sign_in_as("rider")
            await go_on_shift(single, 0.6)
        for single, order_id in zip(singles, ids, strict=True):
            infra.query(
                "INSERT INTO offers (order_id, rider_id, round, status, distance_km, fee,"
                " expires_at, created_at, updated_at) SELECT order_id, %s, round, status,"
                " distance_km, fee, expires_at, created_at, updated_at FROM offers"
                " WHERE order_id = %s AND bundle_id = %s",
                rider_id(single),
                order_id,
                bundle_id,
            )

        answers = await asyncio.gather(
            bundler.post(f"/api/dispatch/bundles/{bundle_id}/accept"),
            *(
                single.post(f"/api/dispatch/offers/{order_id}/accept")
                for single, order_id in zip(singles, ids, strict=True)
            ),
        )
        bundle_answer, *single_answers = answers
        for answer in answers:
            assert answer.status_code in (200, 409), answer.text
        holders = {
            int(str(o)): int(str(r))
            for o, r in infra.query(
                "SELECT id, rider_id FROM orders WHERE id IN (%s, %s)", ids[0], ids[1]
            )
            if r is not None
        }
        me = rider_id(bundler)
        if bundle_answer.status_code == 200:
            # The bundle won both; every single accept lost.
            outcomes.append("bundle")
            assert holders == {ids[0]: me, ids[1]: me}
            assert all(a.status_code == 409 for a in single_answers)
            assert carried(infra, me) == (ids[0], ids[1])
        else:
            # Neither order went to the bundle's rider; each single accept that won holds it.
            outcomes.append("singles")
            assert bundle_answer.json()["code"] in ("already-assigned", "offer-closed")
            assert me not in holders.values()
            assert carried(infra, me) == (None, None)
            for single, order_id, answer in zip(singles, ids, single_answers, strict=True):
                if answer.status_code == 200:
                    assert holders[order_id] == rider_id(single)
                    assert carried(infra, rider_id(single)) == (order_id, None)
                else:
                    assert holders.get(order_id) != rider_id(single)
        # Nobody holds more than two orders, and two only from one bundle.
        for rider, first, second in infra.query(
            "SELECT rider_id, active_order_id, second_order_id FROM rider_states"
        ):
            if second is not None:
                assert first is not None
                linked = infra.query(
                    "SELECT COUNT(DISTINCT bundle_id) FROM offers WHERE rider_id = %s"
                    " AND order_id IN (%s, %s) AND status = 'accepted' AND bundle_id IS NOT NULL",
                    rider,
                    first,
                    second,
                )
                assert linked == [(1,)], (rider, first, second)
        for order_id in ids:
            accepted = infra.query(
                "SELECT COUNT(*) FROM offers WHERE order_id = %s AND status = 'accepted'", order_id
            )
            assert int(str(accepted[0][0])) == (1 if order_id in holders else 0)
        # The round's riders and orders leave the next rounds (a carrier stays on shift, busy
        # anyway; an order nobody won is cancelled, so the next batch bundles the next two).
        for order_id in ids:
            if order_id not in holders:
                gone = await k.owner.post(f"/api/orders/{order_id}/cancel", json={"reason": "x"})
                assert gone.status_code == 200, gone.text
        for rider_api in (bundler, *singles):
            await rider_api.put("/api/riders/me/shift", json={"online": False})
    assert set(outcomes) <= {"bundle", "singles"} and len(outcomes) == 6
