"""DISPATCH_STRATEGY=batch: one node at a time pairs the waiting orders with the idle riders at
least total cost, and offers each order to its one rider."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from app import DeliveryApp
from app.config import Settings
from dispatch.schedule import BATCH_HOLDER_KEY, BATCH_NEXT_KEY
from dispatch.worker import BatchWorker
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.conftest import CROWD_LIMITS
from tests.dispatch.helpers import (
    Kitchen,
    events_on,
    go_on_shift,
    history,
    kitchen,
    north_of_store,
    offered_riders,
    sign_in_riders,
)
from tests.harness import Infra
from tests.orders.helpers import open_shop
from tests.waiting import wait_until

# A long period: the tests below say when a batch is due (`batch_due_now`), except the race.
# One order per rider here (every test order goes to one door, so any two would bundle);
# bundles have tests/dispatch/test_bundles.py.
QUIET = {
    "dispatch_strategy": "batch",
    "dispatch_batch_seconds": 300,
    "dispatch_radius_km": 5,
    "dispatch_bundles": False,
}


@pytest.fixture
def settings(infra: Infra) -> Settings:
    infra.clean()
    return infra.settings(**CROWD_LIMITS, **QUIET)


@pytest.fixture
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(infra.cache_redis.url)
    yield client
    await client.aclose()


async def batch_due_now(redis: Redis) -> None:
    """Make the next batch due at once (as if the period had passed)."""
    await redis.set(BATCH_NEXT_KEY, 0)


def batches(app: DeliveryApp) -> BatchWorker:
    return app.container.get(BatchWorker)


async def started(apps: AppPool) -> DeliveryApp:
    """An instance whose first batch (at start, with nothing to do) is behind it."""
    app = await apps.start()
    await wait_until(lambda: batches(app).runs, what="the first batch")
    return app


def rider_id(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


def open_offers(infra: Infra) -> dict[int, int]:
    """Order → rider of every open offer."""
    rows = infra.query("SELECT order_id, rider_id FROM offers WHERE status = 'offered'")
    return {int(str(o)): int(str(r)) for o, r in rows}


async def ready_order(k: Kitchen) -> dict[str, Any]:
    """An accepted order whose food is ready: only the rides count in its cost."""
    order = await k.accepted_order()
    ready = await k.owner.post(f"/api/orders/{order['id']}/ready")
    assert ready.status_code == 200, ready.text
    return order


async def test_the_batch_offers_the_optimal_assignment_where_nearest_first_does_worse(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    app = await started(apps)
    owner, customer = await apps.client(app), await apps.client(app)
    first = await kitchen(owner, customer)
    kitchens = [first]
    # Three stores 0, 1 and 2 km north of the test store's spot.
    for km in (1.0, 2.0):
        shop = await open_shop(owner)
        lat, lng = north_of_store(km)
        moved = await owner.patch(f"/api/stores/{shop.id}", json={"lat": lat, "lng": lng})
        assert moved.status_code == 200, moved.text
        kitchens.append(Kitchen(owner=owner, customer=customer, shop=shop))
    riders = [await apps.client(app) for _ in range(3)]
    await asyncio.gather(*(r.sign_in_as("rider") for r in riders))
    where = (0.5, 1.5, -1.0)
    for r, km in zip(riders, where, strict=True):
        await go_on_shift(r, km)
    orders = [await ready_order(k) for k in kitchens]
    store_km = (0.0, 1.0, 2.0)

    await batch_due_now(redis)
    offers = await wait_until(
        lambda: len(o := open_offers(infra)) == 3 and o, what="three offers of one batch"
    )

    # Nearest first, order by order: 0.5 km, then 0.5 km, then the rider left 3 km away.
    free = dict(zip((rider_id(r) for r in riders), where, strict=True))
    greedy = 0.0
    for km in store_km:
        nearest = min(free, key=lambda r: abs(free[r] - km))
        greedy += abs(free.pop(nearest) - km)
    assert round(greedy, 3) == 4.0
    # The batch: the rider 1 km south to the first store, the others one store up: 2 km.
    ids = [o["id"] for o in orders]
    by_km = {km: rider_id(r) for r, km in zip(riders, where, strict=True)}
    assert offers == {ids[0]: by_km[-1.0], ids[1]: by_km[0.5], ids[2]: by_km[1.5]}
    [(total,)] = infra.query("SELECT SUM(distance_km) FROM offers WHERE status = 'offered'")
    assert round(float(str(total)), 1) == 2.0
    # Each rider was sent exactly its own offer, as the offer engine sends one.
    for r in riders:
        assert events_on(infra, f"rider:{rider_id(r)}", "offer.created") == [
            o for o, rider in offers.items() if rider == rider_id(r)
        ]
        listed = (await r.get("/api/dispatch/offers")).json()["offers"]
        assert [o["order_id"] for o in listed] == [
            o for o, rider in offers.items() if rider == rider_id(r)
        ]
    # The riders confirm, through the same accept as ever.
    for order_id, rider in offers.items():
        taker = next(r for r in riders if rider_id(r) == rider)
        accepted = await taker.post(f"/api/dispatch/offers/{order_id}/accept")
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["rider"]["id"] == rider


async def test_batches_across_two_instances_run_one_at_a_time_and_no_rider_gets_two_orders(
    apps: AppPool, infra: Infra
) -> None:
    # A batch due every 50 ms, polled by both instances: they contend for every turn.
    racing = infra.settings(
        **CROWD_LIMITS, **{**QUIET, "dispatch_batch_seconds": 0.05, "order_max_per_customer": 100}
    )
    node_a, node_b = await apps.start(racing), await apps.start(racing)
    riders = [await apps.client(node_a if i % 2 else node_b) for i in range(10)]
    await sign_in_riders(riders)
    k = await kitchen(await apps.client(node_a), await apps.client(node_b))

    async def take_whatever_is_offered(r: Api) -> int:
        while True:
            offers = (await r.get("/api/dispatch/offers")).json()["offers"]
            for offer in offers:
                taken = await r.post(f"/api/dispatch/offers/{offer['order_id']}/accept")
                if taken.status_code == 200:
                    return int(offer["order_id"])
                assert_problem(taken, 409, taken.json()["code"])
            await asyncio.sleep(0.02)

    takers = [asyncio.create_task(take_whatever_is_offered(r)) for r in riders]
    orders = await asyncio.gather(*(k.accepted_order() for _ in range(14)))
    taken = await asyncio.wait_for(asyncio.gather(*takers), timeout=60)

    # Ten orders, ten riders, one each.
    assert len(set(taken)) == 10
    rows = infra.query("SELECT id, rider_id FROM orders WHERE dispatch = 'assigned'")
    assert len(rows) == 10 and len({rider for _, rider in rows}) == 10
    assert Counter(
        int(str(o)) for (o,) in infra.query("SELECT order_id FROM offers WHERE status='accepted'")
    ) == Counter(taken)
    # Every rider was offered one order, ever: no batch offered a rider holding an offer.
    per_rider = infra.query("SELECT rider_id, COUNT(*) FROM offers GROUP BY rider_id")
    assert sorted(int(str(n)) for _, n in per_rider) == [1] * 10
    # The four left wait with no offer: every rider carries one.
    waiting = {o["id"] for o in orders} - set(taken)
    assert len(waiting) == 4 and not set(open_offers(infra)) & waiting
    # Both instances ran batches, and never two at once.
    runs = sorted((start, end) for app in (node_a, node_b) for start, end, _ in batches(app).runs)
    assert batches(node_a).runs and batches(node_b).runs
    for (_, end), (start, _) in itertools.pairwise(runs):
        assert start >= end, "two batches overlapped"


async def test_a_node_that_dies_holding_the_turn_delays_the_next_batch_only_by_its_lease(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    app = await started(apps)
    rider = await apps.client(app)
    await sign_in_riders([rider])
    k = await kitchen(await apps.client(app), await apps.client(app))
    # A node took the turn and died: its lease has two seconds left.
    await redis.set(BATCH_HOLDER_KEY, "a-node-that-died", px=2000)
    died = time.monotonic()
    await batch_due_now(redis)
    order = await k.accepted_order()

    def offered_it() -> float | None:
        # A batch is recorded once it has handed the turn back, after its offers committed.
        return next(
            (s for s, _, o in batches(app).runs if any(p.order_id == order["id"] for p in o.pairs)),
            None,
        )

    offered_at = await wait_until(offered_it, what="the batch that offered the order")
    assert open_offers(infra).get(order["id"])
    since = [start for start, _, _ in batches(app).runs if start > died]
    assert offered_at in since and min(since) >= died + 1.9
    # The turn is this node's now (or free between its batches), never the dead one's again.
    assert await redis.get(BATCH_HOLDER_KEY) in (None, batches(app).token.encode())


async def test_an_unanswered_offer_lapses_and_the_next_batch_offers_another_rider(
    apps: AppPool, infra: Infra
) -> None:
    quick = infra.settings(
        **CROWD_LIMITS, **{**QUIET, "dispatch_batch_seconds": 0.1, "dispatch_offer_ttl": 1.0}
    )
    app = await apps.start(quick)
    near, far = await apps.client(app), await apps.client(app)
    await asyncio.gather(near.sign_in_as("rider"), far.sign_in_as("rider"))
    await go_on_shift(near, 0.2)
    await go_on_shift(far, 2.0)
    k = await kitchen(await apps.client(app), await apps.client(app))
    order = await k.accepted_order()

    await wait_until(lambda: rider_id(near) in offered_riders(infra, order["id"]), what="near")
    # The near rider lets it lapse; the far one gets it, and the near one is not asked again.
    await wait_until(lambda: rider_id(far) in offered_riders(infra, order["id"]), what="far")
    assert offered_riders(infra, order["id"], "expired") == {rider_id(near)}
    late = await near.post(f"/api/dispatch/offers/{order['id']}/accept")
    assert_problem(late, 409, "offer-closed")
    taken = await far.post(f"/api/dispatch/offers/{order['id']}/accept")
    assert taken.status_code == 200, taken.text
    kinds = [kind for kind, _ in history(infra, order["id"])]
    assert kinds[:3] == ["search_started", "offered", "expired"]
    assert kinds.count("offered") == 2 and kinds[-1] == "accepted"


async def test_a_released_order_goes_to_another_rider_in_the_next_batch(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    app = await started(apps)
    first, second = await apps.client(app), await apps.client(app)
    await asyncio.gather(first.sign_in_as("rider"), second.sign_in_as("rider"))
    await go_on_shift(first, 0.2)
    await go_on_shift(second, 1.0)
    k = await kitchen(await apps.client(app), await apps.client(app))
    order = await k.accepted_order()
    await batch_due_now(redis)
    await wait_until(lambda: open_offers(infra).get(order["id"]), what="the first offer")
    assert open_offers(infra) == {order["id"]: rider_id(first)}
    taken = await first.post(f"/api/dispatch/offers/{order['id']}/accept")
    assert taken.status_code == 200, taken.text

    released = await first.post(f"/api/dispatch/offers/{order['id']}/release")
    assert released.status_code == 200 and released.json()["dispatch"] == "searching"
    await batch_due_now(redis)
    await wait_until(lambda: open_offers(infra).get(order["id"]), what="the second offer")
    # The nearer rider handed it back: it goes to the other.
    assert open_offers(infra) == {order["id"]: rider_id(second)}


async def test_offers_of_a_cancelled_or_since_assigned_order_are_withdrawn(
    apps: AppPool, infra: Infra, redis: Redis
) -> None:
    app = await started(apps)
    riders = [await apps.client(app) for _ in range(2)]
    await sign_in_riders(riders)
    one, two = (rider_id(r) for r in riders)
    k = await kitchen(await apps.client(app), await apps.client(app))
    cancelled, taken = await k.accepted_order(), await k.accepted_order()
    await batch_due_now(redis)
    offers = await wait_until(
        lambda: len(o := open_offers(infra)) == 2 and o, what="both orders offered"
    )
    # An offer of the second order to the other rider, as an older batch could have left.
    holder = offers[taken["id"]]
    other = two if holder == one else one
    infra.query(
        "INSERT INTO offers (order_id, rider_id, round, status, distance_km, fee, expires_at,"
        " created_at, updated_at) SELECT order_id, %s, round, status, distance_km, fee,"
        " expires_at, created_at, updated_at FROM offers WHERE order_id = %s",
        other,
        taken["id"],
    )

    gone = await k.owner.post(f"/api/orders/{cancelled['id']}/cancel", json={"reason": "sold out"})
    assert gone.status_code == 200, gone.text
    accepted = await next(r for r in riders if rider_id(r) == holder).post(
        f"/api/dispatch/offers/{taken['id']}/accept"
    )
    assert accepted.status_code == 200, accepted.text

    await wait_until(lambda: not open_offers(infra), what="no offer left open")
    assert offered_riders(infra, cancelled["id"], "withdrawn") == {offers[cancelled["id"]]}
    assert offered_riders(infra, taken["id"], "lost") == {other}
    await wait_until(
        lambda: (
            events_on(infra, f"rider:{other}", "offer.withdrawn")
            == sorted(
                [taken["id"]] + ([cancelled["id"]] if offers[cancelled["id"]] == other else [])
            )
        ),
        what="offer.withdrawn to the other rider",
    )
