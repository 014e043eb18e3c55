"""Offers go to online idle riders in range, nearest first; shifts, release, cancel, delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.client import Api, assert_problem
from tests.dispatch.helpers import (
    events_on,
    go_on_shift,
    history,
    kitchen,
    north_of_store,
    offered_riders,
)
from tests.harness import Infra
from tests.orders.helpers import CITY_HALL
from tests.waiting import wait_until

Factory = Callable[[], Awaitable[Api]]


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


async def test_accepted_order_is_offered_to_online_idle_riders_in_range_nearest_first(
    api_factory: Factory, infra: Infra
) -> None:
    make = api_factory
    near, nearer, far, off_shift = [await make() for _ in range(4)]
    for rider, km in ((near, 1.5), (nearer, 0.2), (far, 10.0), (off_shift, 0.3)):
        await rider.sign_in_as("rider")
        await go_on_shift(rider, km)
    went_off = await off_shift.put("/api/riders/me/shift", json={"online": False})
    assert went_off.status_code == 200 and went_off.json() == {"online": False}
    k = await kitchen(await make(), await make())
    order = await k.accepted_order()

    expected = {uid(near), uid(nearer)}
    await wait_until(lambda: offered_riders(infra, order["id"]) == expected, what="offers")
    offered = [rider for kind, rider in history(infra, order["id"]) if kind == "offered"]
    assert offered == [uid(nearer), uid(near)]  # nearest first

    listing = await nearer.get("/api/dispatch/offers")
    assert listing.status_code == 200
    [offer] = listing.json()["offers"]
    assert offer["order_id"] == order["id"]
    assert offer["store"] == {
        "id": k.shop.id,
        "name": k.shop.store["name"],
        "lat": k.shop.store["lat"],
        "lng": k.shop.store["lng"],
    }
    # Before winning it the rider sees roughly where it goes (0.01°) and how far, not the street.
    assert "address" not in offer
    assert offer["dropoff"] == {
        "lat": round(CITY_HALL["lat"], 2),
        "lng": round(CITY_HALL["lng"], 2),
    }
    assert offer["trip_km"] == 0.1
    assert abs(offer["distance_km"] - 0.2) < 0.01
    assert offer["fee"] == 3_000 + 100  # 500 won per km over ~0.1 km, rounded to 100 won
    assert offer["expires_at"].endswith("Z")
    assert (await far.get("/api/dispatch/offers")).json() == {"offers": []}
    assert (await off_shift.get("/api/dispatch/offers")).json() == {"offers": []}
    assert events_on(infra, f"rider:{uid(nearer)}", "offer.created") == [order["id"]]
    assert events_on(infra, f"rider:{uid(far)}", "offer.created") == []


async def test_rider_carrying_an_order_cannot_go_off_shift_until_delivered(
    api_factory: Factory, infra: Infra
) -> None:
    make = api_factory
    rider, other = await make(), await make()
    for each in (rider, other):
        await each.sign_in_as("rider")
        await go_on_shift(each)
    k = await kitchen(await make(), await make())
    order = await k.accepted_order()
    await wait_until(lambda: uid(rider) in offered_riders(infra, order["id"]), what="offer")
    taken = await rider.post(f"/api/dispatch/offers/{order['id']}/accept")
    assert taken.status_code == 200, taken.text
    assert taken.json()["rider"]["id"] == uid(rider)
    assert abs(taken.json()["rider"]["lat"] - north_of_store(0.5)[0]) < 1e-4

    body = assert_problem(
        await rider.put("/api/riders/me/shift", json={"online": False}), 409, "rider-busy"
    )
    assert str(order["id"]) in body["detail"]
    # Pickup: refused before `ready`, refused to a rider who is not the assigned one.
    assert_problem(await rider.post(f"/api/orders/{order['id']}/pickup"), 409, "invalid-transition")
    assert (await k.owner.post(f"/api/orders/{order['id']}/ready")).status_code == 200
    assert_problem(await other.post(f"/api/orders/{order['id']}/pickup"), 404, "not-found")
    assert (await rider.post(f"/api/orders/{order['id']}/pickup")).status_code == 200
    assert_problem(
        await rider.post(f"/api/dispatch/offers/{order['id']}/release"), 409, "invalid-transition"
    )
    delivered = await rider.post(f"/api/orders/{order['id']}/deliver")
    assert delivered.status_code == 200 and delivered.json()["status"] == "delivered"
    assert infra.query(
        "SELECT active_order_id FROM rider_states WHERE rider_id = %s", uid(rider)
    ) == [(None,)]
    assert (await rider.put("/api/riders/me/shift", json={"online": False})).status_code == 200
    kinds = [kind for kind, _ in history(infra, order["id"])]
    assert kinds[0] == "search_started" and "accepted" in kinds and kinds[-1] == "freed"


async def test_released_order_is_offered_again_and_history_shows_the_release(
    api_factory: Factory, infra: Infra
) -> None:
    make = api_factory
    first, second = await make(), await make()
    for rider, km in ((first, 0.3), (second, 0.6)):
        await rider.sign_in_as("rider")
        await go_on_shift(rider, km)
    k = await kitchen(await make(), await make())
    order = await k.accepted_order()
    await wait_until(lambda: len(offered_riders(infra, order["id"])) == 2, what="offers")
    assert (await first.post(f"/api/dispatch/offers/{order['id']}/accept")).status_code == 200
    await wait_until(
        lambda: offered_riders(infra, order["id"], "lost") == {uid(second)},
        what="the other offer lost",
    )

    assert_problem(
        await second.post(f"/api/dispatch/offers/{order['id']}/release"), 404, "not-found"
    )
    released = await first.post(f"/api/dispatch/offers/{order['id']}/release")
    assert released.status_code == 200, released.text
    assert released.json()["rider"] is None and released.json()["dispatch"] == "searching"
    # Offered again, to the other rider only; the one who released it is now idle.
    await wait_until(lambda: offered_riders(infra, order["id"]) == {uid(second)}, what="re-offer")
    assert infra.query(
        "SELECT active_order_id FROM rider_states WHERE rider_id = %s", uid(first)
    ) == [(None,)]
    assert ("released", uid(first)) in history(infra, order["id"])
    assert infra.query(
        "SELECT status FROM offers WHERE order_id = %s AND rider_id = %s", order["id"], uid(first)
    ) == [("released",)]
    assert events_on(infra, f"order:{order['id']}", "order.rider_released") == [order["id"]]
    again = await second.post(f"/api/dispatch/offers/{order['id']}/accept")
    assert again.status_code == 200 and again.json()["rider"]["id"] == uid(second)


async def test_cancelling_a_searching_order_withdraws_every_offer(
    api_factory: Factory, infra: Infra
) -> None:
    make = api_factory
    riders = [await make() for _ in range(3)]
    for rider in riders:
        await rider.sign_in_as("rider")
        await go_on_shift(rider)
    k = await kitchen(await make(), await make())
    order = await k.accepted_order()
    await wait_until(lambda: len(offered_riders(infra, order["id"])) == 3, what="offers")
    cancelled = await k.owner.post(f"/api/orders/{order['id']}/cancel", json={"reason": "no gas"})
    assert cancelled.status_code == 200, cancelled.text
    await wait_until(
        lambda: offered_riders(infra, order["id"], "withdrawn") == {uid(r) for r in riders},
        what="withdrawals",
    )
    for rider in riders:
        assert events_on(infra, f"rider:{uid(rider)}", "offer.withdrawn") == [order["id"]]
        assert (await rider.get("/api/dispatch/offers")).json() == {"offers": []}
    assert_problem(
        await riders[0].post(f"/api/dispatch/offers/{order['id']}/accept"),
        409,
        "invalid-transition",
    )


async def test_dispatch_endpoints_refuse_bad_input_and_other_roles(api_factory: Factory) -> None:
    make = api_factory
    rider, customer, anonymous = await make(), await make(), await make()
    await rider.sign_in_as("rider")
    await customer.sign_in_as("customer")
    for body, field in (
        ({"online": "yes", "lat": 37.5, "lng": 127.0}, "online"),
        ({"online": True}, "body"),
        ({"online": True, "lat": 91, "lng": 127.0}, "lat"),
        ({"online": True, "lat": 37.5, "lng": 127.0, "speed": 3}, "speed"),
    ):
        problem = assert_problem(
            await rider.put("/api/riders/me/shift", json=body), 400, "validation"
        )
        assert any(e["field"] == field for e in problem["errors"]), problem
    assert_problem(
        await rider.put("/api/riders/me/location", json={"lat": 37.5, "lng": 200}),
        400,
        "validation",
    )
    assert_problem(
        await rider.put(
            "/api/riders/me/location", content=b"{", headers={"Content-Type": "application/json"}
        ),
        400,
        "validation",
    )
    assert_problem(await customer.get("/api/dispatch/offers"), 403, "forbidden")
    assert_problem(await customer.post("/api/dispatch/offers/1/accept"), 403, "forbidden")
    assert_problem(await anonymous.get("/api/dispatch/offers"), 401, "unauthenticated")
    assert_problem(await rider.post("/api/dispatch/offers/999999/accept"), 404, "not-found")
    assert_problem(
        await rider.post("/api/dispatch/offers/1/accept", headers={"X-CSRF-Token": "wrong"}),
        403,
        "csrf",
    )
    # A position from a rider who never went on shift is accepted and ignored.
    assert (
        await rider.put("/api/riders/me/location", json={"lat": 37.5, "lng": 127.0})
    ).status_code == 204


async def test_going_off_shift_withdraws_every_open_offer_of_the_rider(
    api_factory: Factory, infra: Infra
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    k = await kitchen(await api_factory(), await api_factory())
    orders = [await k.accepted_order(), await k.accepted_order()]
    for order in orders:
        await wait_until(
            lambda o=order: offered_riders(infra, o["id"]) == {uid(rider)},
            what=f"the offer of order {order['id']}",
        )
    assert len((await rider.get("/api/dispatch/offers")).json()["offers"]) == 2
    off = await rider.put("/api/riders/me/shift", json={"online": False})
    assert off.status_code == 200
    withdrawn = events_on(infra, f"rider:{uid(rider)}", "offer.withdrawn")
    assert sorted(withdrawn) == sorted(o["id"] for o in orders)
    assert (await rider.get("/api/dispatch/offers")).json() == {"offers": []}
    assert_problem(
        await rider.post(f"/api/dispatch/offers/{orders[0]['id']}/accept"), 409, "rider-offline"
    )
