"""Riders' earnings: the fee fixed per order, one ledger entry per delivery however it is raced,
sums exact to the won, and the endpoint's period and access rules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pymysql
import pytest

from app.geo import distance_km
from dispatch.earnings import FeeSchedule, add_correction
from dispatch.models import RiderEarning
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.helpers import (
    STORE_LAT,
    STORE_LNG,
    Kitchen,
    go_on_shift,
    kitchen,
    offered_riders,
)
from tests.harness import Infra
from tests.orders.helpers import place
from tests.waiting import wait_until

Factory = Callable[[], Awaitable[Api]]
RACERS = 12


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


def address(km_south: float, km_east: float = 0.0, text: str = "5 Test-ro") -> dict[str, Any]:
    """A delivery address this far from the test store."""
    return {
        "text": text,
        "lat": round(STORE_LAT - km_south / 111.2, 6),
        "lng": round(STORE_LNG + km_east / 88.2, 6),
    }


async def offered(infra: Infra, rider: Api, k: Kitchen, **order: Any) -> dict[str, Any]:
    """An accepted order placed with `order`'s fields, once `rider` holds its offer."""
    placed = await place(k.customer, k.shop, **order)
    accepted = await k.owner.post(f"/api/orders/{placed['id']}/accept", json={"prep_minutes": 5})
    assert accepted.status_code == 200, accepted.text
    await wait_until(lambda: uid(rider) in offered_riders(infra, placed["id"]), what="offer")
    [offer] = [
        o
        for o in (await rider.get("/api/dispatch/offers")).json()["offers"]
        if o["order_id"] == placed["id"]
    ]
    return dict(offer)


async def deliver(rider: Api, k: Kitchen, order_id: int) -> None:
    """Accept, ready, pick up and deliver."""
    taken = await rider.post(f"/api/dispatch/offers/{order_id}/accept")
    assert taken.status_code == 200, taken.text
    assert (await k.owner.post(f"/api/orders/{order_id}/ready")).status_code == 200
    assert (await rider.post(f"/api/orders/{order_id}/pickup")).status_code == 200
    done = await rider.post(f"/api/orders/{order_id}/deliver")
    assert done.status_code == 200 and done.json()["status"] == "delivered", done.text


def ledger(infra: Infra, rider_id: int) -> list[tuple[int, int, str]]:
    rows = infra.query(
        "SELECT order_id, amount, kind FROM rider_earnings WHERE rider_id = %s ORDER BY id",
        rider_id,
    )
    return [(int(str(o)), int(str(a)), str(k)) for o, a, k in rows]


async def test_each_delivery_earns_the_offered_fee_and_the_sums_match_the_orders_to_the_won(
    api_factory: Factory, infra: Infra
) -> None:
    rider, other = await api_factory(), await api_factory()
    for each in (rider, other):
        await each.sign_in_as("rider")
        await go_on_shift(each)
    k = await kitchen(await api_factory(), await api_factory())
    trips = [(0.37, 0.0), (1.21, 0.4), (2.05, -0.3), (0.0, 0.83)]
    offers = []
    for south, east in trips:
        offer = await offered(infra, rider, k, address=address(south, east))
        offers.append(offer)
        await deliver(rider, k, offer["order_id"])
    # An order another rider carries earns this rider nothing.
    theirs = await offered(infra, other, k, address=address(0.5))
    await deliver(other, k, theirs["order_id"])

    earnings = await rider.get("/api/riders/me/earnings")
    assert earnings.status_code == 200, earnings.text
    body = earnings.json()
    # Recomputed from the orders themselves: the store's point, each order's address.
    expected = {}
    for offer in offers:
        order = (await rider.get(f"/api/orders/{offer['order_id']}")).json()
        trip = distance_km(STORE_LAT, STORE_LNG, order["address"]["lat"], order["address"]["lng"])
        expected[order["id"]] = FeeSchedule(base=3_000, per_km=500).fee(trip)
        assert offer["trip_km"] == round(trip, 1)
    assert {o["order_id"]: o["fee"] for o in offers} == expected
    assert len(set(expected.values())) > 1, "the trips should earn different fees"
    assert body["total"] == sum(expected.values())
    assert body["deliveries"] == len(trips)
    assert [e["order_id"] for e in body["entries"]] == [o["order_id"] for o in reversed(offers)]
    assert {e["order_id"]: e["fee"] for e in body["entries"]} == expected
    assert {e["kind"] for e in body["entries"]} == {"delivery"}
    assert body["time_zone"] == "Asia/Seoul"
    assert sum(amount for _, amount, _ in ledger(infra, uid(rider))) == body["total"]
    other_body = (await other.get("/api/riders/me/earnings")).json()
    assert [e["order_id"] for e in other_body["entries"]] == [theirs["order_id"]]
    assert other_body["total"] == theirs["fee"]


async def test_the_fee_is_fixed_when_first_offered_whatever_the_settings_or_the_store_do_later(
    apps: AppPool, infra: Infra
) -> None:
    cheap = await apps.start(
        apps.settings.model_copy(update={"dispatch_fee_base": 2_000, "dispatch_fee_per_km": 100})
    )
    rider = await apps.client(cheap)
    second = await apps.client(cheap)
    for each in (rider, second):
        await each.sign_in_as("rider")
        await go_on_shift(each)
    k = await kitchen(await apps.client(cheap), await apps.client(cheap))
    offer = await offered(infra, rider, k, address=address(1.0))
    assert offer["fee"] == 2_000 + 100
    # Every node now pays far more per km, and the store moves 2 km away (its radius widened to
    # keep the address): the order's next
    # offers, from a node with the new settings, still show the fee first offered.
    dear = await apps.start(
        apps.settings.model_copy(update={"dispatch_fee_base": 9_000, "dispatch_fee_per_km": 5_000})
    )
    moved = await k.owner.patch(
        f"/api/stores/{k.shop.id}", json={"lat": STORE_LAT + 0.018, "delivery_radius_km": 5}
    )
    assert moved.status_code == 200, moved.text
    assert (await rider.post(f"/api/dispatch/offers/{offer['order_id']}/accept")).status_code == 200
    released = await rider.post(f"/api/dispatch/offers/{offer['order_id']}/release")
    assert released.status_code == 200, released.text
    await wait_until(
        lambda: uid(second) in offered_riders(infra, offer["order_id"]), what="the offer again"
    )
    on_dear = await apps.client(dear)
    second.share_session_with(on_dear)
    [again] = (await on_dear.get("/api/dispatch/offers")).json()["offers"]
    assert again["fee"] == offer["fee"] and again["trip_km"] == offer["trip_km"]
    await deliver(on_dear, k, offer["order_id"])
    assert ledger(infra, uid(second)) == [(offer["order_id"], offer["fee"], "delivery")]
    # A new order to the same address is priced afresh, from where the store now stands.
    fresh = await offered(infra, rider, k, address=address(1.0))
    assert fresh["trip_km"] > offer["trip_km"] + 1.5 and fresh["fee"] != offer["fee"]


async def test_delivered_raced_on_two_instances_is_earned_exactly_once(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    on_a, on_b = await apps.client(node_a), await apps.client(node_b)
    await on_a.sign_in_as("rider")
    on_a.share_session_with(on_b)
    await go_on_shift(on_a)
    k = await kitchen(await apps.client(node_a), await apps.client(node_b))
    fees = []
    for trip in (0.4, 1.3, 2.2):
        offer = await offered(infra, on_a, k, address=address(trip))
        order_id = offer["order_id"]
        assert (await on_b.post(f"/api/dispatch/offers/{order_id}/accept")).status_code == 200
        assert (await k.owner.post(f"/api/orders/{order_id}/ready")).status_code == 200
        assert (await on_a.post(f"/api/orders/{order_id}/pickup")).status_code == 200
        # The same rider's "delivered", sent many times at once on both nodes.
        answers = await asyncio.gather(
            *(
                (on_a if i % 2 else on_b).post(f"/api/orders/{order_id}/deliver")
                for i in range(RACERS)
            )
        )
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        assert {a.json()["status"] for a in answers} == {"delivered"}
        fees.append(offer["fee"])
        entries = [e for e in ledger(infra, uid(on_a)) if e[0] == order_id]
        assert entries == [(order_id, offer["fee"], "delivery")]
    body = (await on_b.get("/api/riders/me/earnings")).json()
    assert body["deliveries"] == 3 and body["total"] == sum(fees)


async def test_the_ledger_takes_one_delivery_entry_per_order_and_corrections_as_new_entries(
    apps: AppPool, app: Any, api_factory: Factory, infra: Infra
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    k = await kitchen(await api_factory(), await api_factory())
    offer = await offered(infra, rider, k, address=address(1.0))
    await deliver(rider, k, offer["order_id"])
    order_id, me = offer["order_id"], uid(rider)

    # The database itself refuses a second delivery entry for the order.
    with pytest.raises(pymysql.err.IntegrityError):
        infra.query(
            "INSERT INTO rider_earnings (rider_id, order_id, amount, kind, at, delivery_of, "
            "created_at, updated_at) VALUES (%s, %s, 1, 'delivery', NOW(), %s, NOW(), NOW())",
            me,
            order_id,
            order_id,
        )
    # A correction is a further entry; the delivery's entry stays as it was.
    db = app.container.db
    await add_correction(db=db, rider_id=me, order_id=order_id, amount=-700, note="wrong trip")
    await add_correction(db=db, rider_id=me, order_id=order_id, amount=200, note="and back")
    assert ledger(infra, me) == [
        (order_id, offer["fee"], "delivery"),
        (order_id, -700, "correction"),
        (order_id, 200, "correction"),
    ]
    body = (await rider.get("/api/riders/me/earnings")).json()
    assert body["total"] == offer["fee"] - 500 and body["deliveries"] == 1
    assert [e["kind"] for e in body["entries"]][-1] == "delivery"
    # Entries are not edited or deleted through the application.
    async with db.uow() as uow:
        entry = await uow.session.get(
            RiderEarning, int(str(infra.query("SELECT MIN(id) FROM rider_earnings")[0][0]))
        )
        assert entry is not None
        entry.amount = 1
        with pytest.raises(TypeError, match="ledger"):
            await uow.session.flush()
    with pytest.raises(Exception, match="earned nothing"):
        await add_correction(db=db, rider_id=me + 1, order_id=order_id, amount=100, note="x")


async def test_earnings_periods_are_checked_and_only_riders_read_their_own(
    api_factory: Factory, infra: Infra
) -> None:
    rider, customer, anonymous = await api_factory(), await api_factory(), await api_factory()
    await rider.sign_in_as("rider")
    await customer.sign_in_as("customer")
    assert_problem(await customer.get("/api/riders/me/earnings"), 403, "forbidden")
    assert_problem(await anonymous.get("/api/riders/me/earnings"), 401, "unauthenticated")
    today = (await rider.get("/api/riders/me/earnings")).json()
    assert today["total"] == 0 and today["deliveries"] == 0 and today["entries"] == []
    start = datetime.fromisoformat(today["start"])
    end = datetime.fromisoformat(today["end"])
    assert end - start == timedelta(days=1) and start <= datetime.now(UTC) < end
    assert start.astimezone(UTC).hour == 15  # midnight in Seoul
    for params, field in (
        ({"from": "2026-11-05", "to": "2026-11-04"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-11-26T09:00:00"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9" * 10_000}, "to"),
        ({"from": "2026-11-01", "rider_id": "7"}, "rider_id"),
    ):
        problem = assert_problem(
            await rider.get("/api/riders/me/earnings", params=params), 400, "validation"
        )
        assert [e["field"] for e in problem["errors"]] == [field], problem
        assert all(e["message"].endswith(".") for e in problem["errors"]), problem
    year = await rider.get(
        "/api/riders/me/earnings", params={"from": "2028-01-01", "to": "2028-12-31"}
    )
    assert year.status_code == 200, year.text
    instants = await rider.get(
        "/api/riders/me/earnings",
        params={"from": "2026-11-26T09:00:00+09:00", "to": "2026-11-26T03:00:00Z"},
    )
    assert instants.json()["start"] == "2026-11-26T00:00:00Z"
    assert instants.json()["end"] == "2026-11-26T03:00:00Z"


async def test_an_offer_shows_a_rounded_dropoff_and_the_trip_never_the_street_or_note(
    api_factory: Factory, infra: Infra
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    k = await kitchen(await api_factory(), await api_factory())
    secret = {"text": "77 Hidden-gil, Apt 1203", "lat": 37.55432, "lng": 126.98765}
    offer = await offered(infra, rider, k, address=secret, rider_note="Gate code 4321")
    assert offer["dropoff"] == {"lat": 37.55, "lng": 126.99}
    assert "address" not in offer and "rider_note" not in offer
    trip = distance_km(STORE_LAT, STORE_LNG, secret["lat"], secret["lng"])
    assert offer["trip_km"] == round(trip, 1)
    [(payload,)] = infra.query(
        "SELECT payload FROM outbox_events WHERE stream = %s AND type = 'offer.created'",
        f"rider:{uid(rider)}",
    )
    for hidden in ("Hidden-gil", "1203", "4321", "37.55432", "126.98765"):
        assert hidden not in str(payload)
    # Once the rider has won the order, the order shows the address and the note.
    taken = await rider.post(f"/api/dispatch/offers/{offer['order_id']}/accept")
    assert taken.json()["address"]["text"] == secret["text"]
    assert taken.json()["rider_note"] == "Gate code 4321"
