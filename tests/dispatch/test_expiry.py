"""Unanswered offers expire, the radius widens, and that survives the death of a node."""

from __future__ import annotations

import httpx

from app.config import Settings
from tests.client import Api
from tests.conftest import AppPool
from tests.dispatch.conftest import CROWD_LIMITS, node_env
from tests.dispatch.helpers import go_on_shift, history, kitchen
from tests.harness import Infra
from tests.waiting import wait_until


def rounds_offered(infra: Infra, order_id: int, rider_id: int) -> list[int]:
    """The rounds in which `rider_id` was offered `order_id`."""
    rows = infra.query(
        "SELECT round FROM offers WHERE order_id = %s AND rider_id = %s ORDER BY round",
        order_id,
        rider_id,
    )
    return [int(str(r)) for (r,) in rows]


async def test_with_no_rider_in_range_the_radius_widens_until_a_farther_rider_gets_the_offer(
    apps: AppPool, infra: Infra
) -> None:
    app = await apps.start(infra.settings(dispatch_offer_ttl=0.5, **CROWD_LIMITS))
    five_km, ten_km = await apps.client(app), await apps.client(app)
    for rider, km in ((five_km, 5.0), (ten_km, 10.0)):
        await rider.sign_in_as("rider")
        await go_on_shift(rider, km)
    k = await kitchen(await apps.client(app), await apps.client(app))
    order = await k.accepted_order()
    assert five_km.user and ten_km.user
    far, farther = int(five_km.user["id"]), int(ten_km.user["id"])

    # Round 1 (3 km) reaches nobody, round 2 (6 km) the rider 5 km away, round 3 (12 km) both.
    await wait_until(lambda: rounds_offered(infra, order["id"], farther), what="round 3")
    assert rounds_offered(infra, order["id"], farther)[:1] == [3]
    assert rounds_offered(infra, order["id"], far)[:2] == [2, 3]
    assert infra.query(
        "SELECT status FROM offers WHERE order_id = %s AND round = 2", order["id"]
    ) == [("expired",)]
    events = history(infra, order["id"])
    assert ("expired", far) in events
    widened = infra.query(
        "SELECT round, detail FROM dispatch_history WHERE order_id = %s AND kind = 'widened' "
        "ORDER BY id LIMIT 2",
        order["id"],
    )
    assert widened == [(2, "radius 6 km"), (3, "radius 12 km")]

    async def taken() -> bool:
        response = await ten_km.post(f"/api/dispatch/offers/{order['id']}/accept")
        # Offers last 0.5 s here: the one seen may have run out, and the next round renews it.
        if response.status_code == 409 and response.json()["code"] == "offer-closed":
            return False
        assert response.status_code == 200, response.text
        return True

    await wait_until(taken, what="the farther rider taking the order")


async def test_expiry_and_reoffer_happen_on_another_node_after_the_offering_node_is_killed(
    settings: Settings, infra: Infra
) -> None:
    env = node_env(DISPATCH_OFFER_TTL="2")
    node_a = infra.start_node("dispatch-a", **env)
    node_b = None
    try:
        async with (
            httpx.AsyncClient(base_url=node_a.url, timeout=30) as rider_http,
            httpx.AsyncClient(base_url=node_a.url, timeout=30) as owner_http,
            httpx.AsyncClient(base_url=node_a.url, timeout=30) as customer_http,
        ):
            rider = Api(rider_http)
            await rider.sign_in_as("rider")
            await go_on_shift(rider, 0.5)
            k = await kitchen(Api(owner_http), Api(customer_http))
            order = await k.accepted_order()
            assert rider.user
            me = int(rider.user["id"])
            # Node A, the only node running, makes round 1; then it dies before the deadline.
            await wait_until(
                lambda: rounds_offered(infra, order["id"], me) == [1],
                timeout=10,
                what="round 1 made by node A",
            )
            node_a.kill()
            assert rounds_offered(infra, order["id"], me) == [1]
        node_b = infra.start_node("dispatch-b", **env)
        await wait_until(
            lambda: rounds_offered(infra, order["id"], me)[:2] == [1, 2],
            timeout=20,
            what="round 2 made by node B",
        )
        assert infra.query(
            "SELECT status FROM offers WHERE order_id = %s AND round = 1", order["id"]
        ) == [("expired",)]
        assert ("expired", me) in history(infra, order["id"])
    finally:
        node_a.stop()
        if node_b is not None:
            node_b.stop()
