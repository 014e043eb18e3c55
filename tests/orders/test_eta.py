"""The kitchen's clock on real services: an order's `accept_by`, its `eta` set at acceptance
and moved by delays, the rider's assignment and the pickup, each move an event the customer's
socket receives in a gapless stream; the delay's validation, authorization and races."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app import DeliveryApp
from app.db import rfc3339
from app.geo import KM_PER_DEGREE_LAT
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.helpers import STORE_LAT, STORE_LNG, go_on_shift
from tests.harness import Infra
from tests.orders.helpers import Shop, open_shop, place
from tests.realtime.polling import PollingClient
from tests.rewards.helpers import sign_in_admin
from tests.system import session_cookie
from tests.waiting import wait_until

# The documented pace: 18 km of straight line an hour, so 3 km is a 10-minute ride.
KM_PER_MINUTE = 18 / 60
ADDRESS_KM_SOUTH = 3.0
RIDE_TO_CUSTOMER = timedelta(minutes=ADDRESS_KM_SOUTH / KM_PER_MINUTE)
# The API's times are to the second (truncated); the rest is the request's own duration.
SLACK = timedelta(seconds=1)
MIN = timedelta(minutes=1)


def _address() -> dict[str, Any]:
    lat = STORE_LAT - ADDRESS_KM_SOUTH / KM_PER_DEGREE_LAT
    return {"text": "3 km south of the store", "lat": lat, "lng": STORE_LNG}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _now() -> datetime:
    return datetime.now(UTC)


def assert_between(value: datetime, low: datetime, high: datetime) -> None:
    assert low - SLACK <= value <= high + SLACK, (rfc3339(low), rfc3339(value), rfc3339(high))


class Cast:
    """An owner with an open shop, a customer, and their orders' clients."""

    def __init__(self, owner: Api, customer: Api, shop: Shop) -> None:
        self.owner, self.customer, self.shop = owner, customer, shop

    async def placed(self) -> dict[str, Any]:
        return await place(self.customer, self.shop, address=_address())

    async def accepted(self, prep_minutes: int = 20) -> tuple[dict[str, Any], datetime, datetime]:
        """An accepted order, and the times just before and after the store accepted it."""
        order = await self.placed()
        before = _now()
        response = await self.owner.post(
            f"/api/orders/{order['id']}/accept", json={"prep_minutes": prep_minutes}
        )
        after = _now()
        assert response.status_code == 200, response.text
        return response.json(), before, after

    async def delay(self, order_id: int, minutes: Any, api: Api | None = None) -> httpx.Response:
        return await (api or self.owner).post(
            f"/api/orders/{order_id}/delay", json={"minutes": minutes}
        )


async def _cast(apps: AppPool, app: DeliveryApp) -> Cast:
    owner, customer = await apps.client(app), await apps.client(app)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    return Cast(owner, customer, await open_shop(owner))


class Watcher:
    """The customer's socket on an order's stream, reading what it is sent as it comes."""

    def __init__(self, socket: PollingClient, stream: str) -> None:
        self.socket, self.stream = socket, stream
        self.events: list[dict[str, Any]] = []

    async def until(self, seq: int) -> list[dict[str, Any]]:
        """Read until the event numbered `seq` has come; every event so far."""

        async def arrived() -> bool:
            for packet in await self.socket.packets():
                if packet == "2":  # Engine.IO ping: answer it, or the server hangs up
                    await self.socket.send("3")
                elif packet.startswith('42["event"'):
                    self.events.append(json.loads(packet[2:])[1])
            return any(e["seq"] >= seq for e in self.events)

        if not any(e["seq"] >= seq for e in self.events):
            await wait_until(arrived, timeout=30, interval=0, what=f"event {seq} on {self.stream}")
        return self.events


async def test_a_new_order_shows_when_the_store_must_answer_and_no_eta(
    apps: AppPool, app: DeliveryApp
) -> None:
    cast = await _cast(apps, app)
    order = await cast.placed()
    timeout = timedelta(seconds=apps.settings.store_accept_timeout)
    assert _at(order["accept_by"]) - _at(order["created_at"]) in (timeout, timeout + SLACK)
    assert order["eta"] is None and order["eta_minutes"] is None and order["ready_by"] is None
    assert order["delay_minutes"] == 0
    # The store's board reads the same deadline.
    listed = (await cast.owner.get(f"/api/orders?store_id={cast.shop.id}")).json()["orders"]
    assert listed[0]["accept_by"] == order["accept_by"]
    # Answered, it no longer has a deadline.
    accepted = await cast.owner.post(f"/api/orders/{order['id']}/accept", json={"prep_minutes": 15})
    assert accepted.json()["accept_by"] is None


async def test_the_sweeper_rejects_at_the_order_s_own_accept_by(
    apps: AppPool, infra: Infra
) -> None:
    # A node with an hour to answer would never reject this order by its own setting; the
    # order's deadline, when it comes, is what counts.
    node = await apps.start(infra.settings(store_accept_timeout=3600))
    cast = await _cast(apps, node)
    order = await cast.placed()
    waiting = await cast.placed()
    due = _now() - timedelta(seconds=1)
    infra.query(
        "UPDATE orders SET accept_by = %s WHERE id = %s", due.replace(tzinfo=None), order["id"]
    )

    async def rejected() -> bool:
        got = (await cast.customer.get(f"/api/orders/{order['id']}")).json()
        return bool(got["status"] == "rejected")

    # The sweeper of a node with an hour to answer looks every 5 s.
    await wait_until(rejected, timeout=20, what="the order past its accept_by to be rejected")
    assert (await cast.customer.get(f"/api/orders/{waiting['id']}")).json()["status"] == "placed"


async def test_acceptance_sets_the_eta_from_the_kitchen_and_the_ride(
    apps: AppPool, app: DeliveryApp
) -> None:
    cast = await _cast(apps, app)
    order, before, after = await cast.accepted(prep_minutes=20)
    assert_between(_at(order["ready_by"]), before + 20 * MIN, after + 20 * MIN)
    assert_between(
        _at(order["eta"]), before + 20 * MIN + RIDE_TO_CUSTOMER, after + 20 * MIN + RIDE_TO_CUSTOMER
    )
    # 30 minutes ahead, read at once: 30 whole minutes, rounded up (31 when the address,
    # stored to a metre or so, puts the ride a fraction of a second over 10 minutes).
    assert order["eta_minutes"] in (30, 31)
    read = (await cast.customer.get(f"/api/orders/{order['id']}")).json()
    assert read["eta"] == order["eta"] and read["eta_minutes"] in (29, 30, 31)


async def test_delays_move_the_eta_by_their_minutes_and_add_up(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    cast = await _cast(apps, app)
    order, _, _ = await cast.accepted(prep_minutes=20)
    eta, ready = _at(order["eta"]), _at(order["ready_by"])

    first = await cast.delay(order["id"], 10)
    assert first.status_code == 200, first.text
    once = first.json()
    assert once["status"] == "accepted" and once["delay_minutes"] == 10
    assert _at(once["eta"]) == eta + 10 * MIN and _at(once["ready_by"]) == ready + 10 * MIN
    assert once["eta_minutes"] in (39, 40, 41)

    second = await cast.delay(order["id"], 15)
    assert second.status_code == 200, second.text
    twice = second.json()
    assert twice["delay_minutes"] == 25 and _at(twice["eta"]) == eta + 25 * MIN
    assert (await cast.customer.get(f"/api/orders/{order['id']}")).json()["eta"] == twice["eta"]

    rows = infra.query(
        "SELECT seq, payload FROM outbox_events WHERE stream = %s AND type = 'order.delayed' "
        "ORDER BY seq",
        f"order:{order['id']}",
    )
    payloads = [json.loads(str(payload)) for _, payload in rows]
    assert [(p["minutes"], p["delay_minutes"], p["eta"]) for p in payloads] == [
        (10, 10, once["eta"]),
        (15, 25, twice["eta"]),
    ]
    # The store's stream has them too (the board follows it).
    assert infra.query(
        "SELECT COUNT(*) FROM outbox_events WHERE stream = %s AND type = 'order.delayed'",
        f"store:{cast.shop.id}",
    ) == [(2,)]


async def test_a_delay_is_refused_unless_it_is_sane_and_refused_without_a_trace(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    cast = await _cast(apps, app)
    order, _, _ = await cast.accepted(prep_minutes=20)

    def snapshot() -> tuple[object, ...]:
        [row] = infra.query(
            "SELECT version, delay_minutes, eta, ready_by FROM orders WHERE id = %s", order["id"]
        )
        events = infra.query(
            "SELECT COUNT(*) FROM outbox_events WHERE stream = %s", f"order:{order['id']}"
        )
        return (*row, events[0][0])

    before = snapshot()
    for minutes in (4, 61, 0, -10, 10**30, 10.5, "ten", None, [10], True):
        bad = await cast.delay(order["id"], minutes)
        problem = assert_problem(bad, 400, "validation")
        assert problem["errors"][0]["field"] == "minutes", problem
    missing = await cast.owner.post(f"/api/orders/{order['id']}/delay", json={})
    assert_problem(missing, 400, "validation")
    extra = await cast.owner.post(
        f"/api/orders/{order['id']}/delay", json={"minutes": 10, "eta": "2030-01-01T00:00:00Z"}
    )
    assert_problem(extra, 400, "validation")
    assert snapshot() == before

    # 180 minutes in all, however many delays it takes.
    for _ in range(2):
        assert (await cast.delay(order["id"], 60)).status_code == 200
    last = await cast.delay(order["id"], 35)
    assert last.status_code == 200 and last.json()["delay_minutes"] == 155
    too_much = assert_problem(await cast.delay(order["id"], 30), 400, "validation")
    assert "25" in too_much["detail"] and too_much["errors"][0]["field"] == "minutes"
    assert (await cast.delay(order["id"], 25)).json()["delay_minutes"] == 180
    assert_problem(await cast.delay(order["id"], 5), 400, "validation")


async def test_only_the_order_s_own_owner_may_delay_it(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    cast = await _cast(apps, app)
    order, _, _ = await cast.accepted()
    other_owner, rider = await apps.client(app), await apps.client(app)
    await other_owner.sign_in_as("owner")
    await open_shop(other_owner)
    await rider.sign_in_as("rider")
    admin = await sign_in_admin(apps, app)
    anon = await apps.client(app)
    assert_problem(await cast.delay(order["id"], 10, api=anon), 401, "unauthenticated")
    assert_problem(await cast.delay(order["id"], 10, api=cast.customer), 403, "forbidden")
    assert_problem(await cast.delay(order["id"], 10, api=rider), 403, "forbidden")
    assert_problem(await cast.delay(order["id"], 10, api=admin), 403, "forbidden")
    # Another store's owner may not know the order exists; neither may anyone learn of ids.
    assert_problem(await cast.delay(order["id"], 10, api=other_owner), 404, "not-found")
    assert_problem(await cast.delay(order["id"] + 1000, 10), 404, "not-found")
    assert_problem(await cast.delay(2**63, 10), 404, "not-found")
    [(delayed,)] = infra.query("SELECT delay_minutes FROM orders WHERE id = %s", order["id"])
    assert delayed == 0


async def test_only_an_order_the_kitchen_is_preparing_can_be_delayed(
    apps: AppPool, app: DeliveryApp
) -> None:
    cast = await _cast(apps, app)
    placed = await cast.placed()
    assert_problem(await cast.delay(placed["id"], 10), 409, "invalid-transition")
    ready, _, _ = await cast.accepted()
    assert (await cast.owner.post(f"/api/orders/{ready['id']}/ready")).status_code == 200
    refused = assert_problem(await cast.delay(ready["id"], 10), 409, "invalid-transition")
    assert "ready" in refused["detail"]
    cancelled, _, _ = await cast.accepted()
    assert (await cast.owner.post(f"/api/orders/{cancelled['id']}/cancel")).status_code == 200
    assert_problem(await cast.delay(cancelled["id"], 10), 409, "invalid-transition")
    gone = (await cast.customer.get(f"/api/orders/{cancelled['id']}")).json()
    assert gone["eta"] is None and gone["eta_minutes"] is None


async def test_each_move_of_the_eta_reaches_the_customer_s_socket_in_a_gapless_stream(
    apps: AppPool, app: DeliveryApp
) -> None:
    cast = await _cast(apps, app)
    rider = await apps.client(app)
    await rider.sign_in_as("rider")
    # 2.5 km from the store: the rider needs 8 min 20 s to get there, longer than the kitchen.
    await go_on_shift(rider, km_north=2.5)
    rider_to_store = timedelta(minutes=2.5 / KM_PER_MINUTE)
    order = await cast.placed()
    stream = f"order:{order['id']}"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        socket = PollingClient(http, session_cookie(cast.customer))
        await socket.connect()
        ack = await socket.subscribe(stream, after_seq=order["stream_seq"])
        assert ack["ok"] is True, ack
        watcher = Watcher(socket, stream)

        accepted = await cast.owner.post(
            f"/api/orders/{order['id']}/accept", json={"prep_minutes": 5}
        )
        assert accepted.status_code == 200, accepted.text
        at_acceptance = accepted.json()

        delayed = await cast.delay(order["id"], 5)
        assert delayed.status_code == 200, delayed.text
        after_delay = delayed.json()
        assert _at(after_delay["eta"]) == _at(at_acceptance["eta"]) + 5 * MIN

        async def offered() -> bool:
            offers = (await rider.get("/api/dispatch/offers")).json()["offers"]
            return any(o["order_id"] == order["id"] for o in offers)

        await wait_until(offered, timeout=20, what="the rider's offer")
        before = _now()
        taken = await rider.post(f"/api/dispatch/offers/{order['id']}/accept")
        after = _now()
        assert taken.status_code == 200, taken.text
        assigned = taken.json()
        # The food is ready in ~10 min; the rider is at the store in 8 min 20 s: the food
        # waits, and the estimate stays the kitchen's.
        assert assigned["eta"] == after_delay["eta"]

        # A second delay now that a rider is on the way: the kitchen is later than the rider.
        delayed_again = await cast.delay(order["id"], 20)
        assert delayed_again.status_code == 200, delayed_again.text
        assert _at(delayed_again.json()["eta"]) == _at(after_delay["eta"]) + 20 * MIN

        assert (await cast.owner.post(f"/api/orders/{order['id']}/ready")).status_code == 200
        before = _now()
        picked = await rider.post(f"/api/orders/{order['id']}/pickup")
        after = _now()
        assert picked.status_code == 200, picked.text
        at_pickup = picked.json()
        assert_between(_at(at_pickup["eta"]), before + RIDE_TO_CUSTOMER, after + RIDE_TO_CUSTOMER)
        assert at_pickup["eta_minutes"] in (10, 11)

        delivered = await rider.post(f"/api/orders/{order['id']}/deliver")
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["eta_minutes"] == 0

        final = (await cast.customer.get(f"/api/orders/{order['id']}")).json()
        events = await watcher.until(final["stream_seq"])

    assert [e["seq"] for e in events] == list(range(2, final["stream_seq"] + 1))
    assert [e["type"] for e in events] == [
        "order.accepted",
        "order.delayed",
        "order.rider_assigned",
        "order.delayed",
        "order.ready",
        "order.picked_up",
        "order.delivered",
    ]
    etas = [e["data"]["eta"] for e in events]
    assert etas == [
        at_acceptance["eta"],
        after_delay["eta"],
        assigned["eta"],
        delayed_again.json()["eta"],
        delayed_again.json()["eta"],  # ready leaves it
        at_pickup["eta"],
        at_pickup["eta"],  # delivered keeps the last estimate
    ]
    assert [e["data"].get("minutes") for e in events if e["type"] == "order.delayed"] == [5, 20]
    assert rider_to_store < 10 * MIN  # the premise of the assignment's check above


async def test_a_rider_farther_than_the_kitchen_s_time_moves_the_eta_later(
    apps: AppPool, app: DeliveryApp
) -> None:
    cast = await _cast(apps, app)
    rider = await apps.client(app)
    await rider.sign_in_as("rider")
    await go_on_shift(rider, km_north=2.7)
    rider_to_store = timedelta(minutes=2.7 / KM_PER_MINUTE)  # 9 min
    # The kitchen is done in 5: the food waits about 4 minutes for the rider.
    order, _, _ = await cast.accepted(prep_minutes=5)

    async def offered() -> bool:
        offers = (await rider.get("/api/dispatch/offers")).json()["offers"]
        return any(o["order_id"] == order["id"] for o in offers)

    await wait_until(offered, timeout=20, what="the rider's offer")
    before = _now()
    taken = await rider.post(f"/api/dispatch/offers/{order['id']}/accept")
    after = _now()
    assert taken.status_code == 200, taken.text
    eta = _at(taken.json()["eta"])
    assert eta > _at(order["eta"])
    low = before + rider_to_store + RIDE_TO_CUSTOMER
    assert_between(eta, low, after + rider_to_store + RIDE_TO_CUSTOMER)
    events = (await cast.customer.get(f"/api/orders/{order['id']}")).json()
    assert events["eta"] == taken.json()["eta"]


async def test_concurrent_delays_on_two_nodes_each_count_once(apps: AppPool, infra: Infra) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    cast = await _cast(apps, node_a)
    owner_b = await apps.client(node_b)
    cast.owner.share_session_with(owner_b)
    for _ in range(3):
        order, _, _ = await cast.accepted(prep_minutes=20)
        answers = await asyncio.gather(
            *(
                cast.delay(order["id"], minutes, api=api)
                for minutes, api in (
                    (5, cast.owner),
                    (10, owner_b),
                    (15, cast.owner),
                    (20, owner_b),
                )
            )
        )
        assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
        final = (await cast.customer.get(f"/api/orders/{order['id']}")).json()
        assert final["delay_minutes"] == 50
        assert _at(final["eta"]) == _at(order["eta"]) + 50 * MIN
        rows = infra.query(
            "SELECT seq, type FROM outbox_events WHERE stream = %s ORDER BY seq",
            f"order:{order['id']}",
        )
        assert [seq for seq, _ in rows] == list(range(1, final["stream_seq"] + 1))
        assert [t for _, t in rows].count("order.delayed") == 4


async def test_a_delay_racing_ready_on_another_node_leaves_one_consistent_story(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    cast = await _cast(apps, node_a)
    owner_b = await apps.client(node_b)
    cast.owner.share_session_with(owner_b)
    for round_ in range(8):
        order, _, _ = await cast.accepted(prep_minutes=20)
        delayer, readier = (cast.owner, owner_b) if round_ % 2 else (owner_b, cast.owner)
        delay, ready = await asyncio.gather(
            cast.delay(order["id"], 10, api=delayer),
            readier.post(f"/api/orders/{order['id']}/ready"),
        )
        final = (await cast.customer.get(f"/api/orders/{order['id']}")).json()
        types = [
            str(t)
            for (t,) in infra.query(
                "SELECT type FROM outbox_events WHERE stream = %s ORDER BY seq",
                f"order:{order['id']}",
            )
        ]
        story = (delay.status_code, ready.status_code)
        # A delay that came first is kept, and a `ready` that read the order before it was
        # delayed is refused like any transition that lost a race (reload, press again); a
        # `ready` that came first makes the delay too late. Never both lost, never half done.
        if delay.status_code == 200:
            assert final["delay_minutes"] == 10, story
            assert _at(final["eta"]) == _at(order["eta"]) + 10 * MIN, story
        else:
            assert_problem(delay, 409, "invalid-transition")
            assert final["delay_minutes"] == 0 and final["eta"] == order["eta"], story
        if ready.status_code == 200:
            assert final["status"] == "ready", story
        else:
            assert_problem(ready, 409, "invalid-transition")
            assert final["status"] == "accepted" and delay.status_code == 200, story
        expected = ["order.placed", "order.accepted"]
        expected += ["order.delayed"] if delay.status_code == 200 else []
        expected += ["order.ready"] if ready.status_code == 200 else []
        assert types == expected, story
