"""Only an open offer can be accepted: not one given back, withdrawn, lost, or past its time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.dispatch.conftest import CROWD_LIMITS
from tests.dispatch.helpers import go_on_shift, kitchen, north_of_store, offered_riders
from tests.harness import Infra
from tests.waiting import wait_until

Factory = Callable[[], Awaitable[Api]]
# About a degree of latitude: no search radius reaches that far.
FAR_AWAY_KM = 111.0


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


async def move(rider: Api, km_north: float) -> None:
    lat, lng = north_of_store(km_north)
    moved = await rider.put("/api/riders/me/location", json={"lat": lat, "lng": lng})
    assert moved.status_code == 204, moved.text


def assignment(infra: Infra, order_id: int) -> list[tuple[object, ...]]:
    return infra.query("SELECT rider_id, dispatch FROM orders WHERE id = %s", order_id)


async def refused_as_closed(rider: Api, order_id: int) -> dict[str, object]:
    body = assert_problem(
        await rider.post(f"/api/dispatch/offers/{order_id}/accept"), 409, "offer-closed"
    )
    assert str(order_id) in str(body["detail"])
    return body


async def test_an_order_the_rider_gave_back_cannot_be_taken_again_with_the_old_offer(
    api_factory: Factory, infra: Infra
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    k = await kitchen(await api_factory(), await api_factory())
    order = await k.accepted_order()
    await wait_until(lambda: offered_riders(infra, order["id"]) == {uid(rider)}, what="offer")
    assert (await rider.post(f"/api/dispatch/offers/{order['id']}/accept")).status_code == 200
    released = await rider.post(f"/api/dispatch/offers/{order['id']}/release")
    assert released.status_code == 200, released.text

    body = await refused_as_closed(rider, order["id"])
    assert "released" in str(body["detail"])
    assert assignment(infra, order["id"]) == [(None, "searching")]
    assert infra.query(
        "SELECT active_order_id FROM rider_states WHERE rider_id = %s", uid(rider)
    ) == [(None,)]


async def test_an_offer_withdrawn_by_going_off_shift_stays_closed_back_on_shift(
    api_factory: Factory, infra: Infra
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    k = await kitchen(await api_factory(), await api_factory())
    order = await k.accepted_order()
    await wait_until(lambda: offered_riders(infra, order["id"]) == {uid(rider)}, what="offer")
    assert (await rider.put("/api/riders/me/shift", json={"online": False})).status_code == 200
    await go_on_shift(rider)

    body = await refused_as_closed(rider, order["id"])
    assert "withdrawn" in str(body["detail"])
    assert assignment(infra, order["id"]) == [(None, "searching")]


async def test_an_offer_past_its_time_is_refused_before_the_search_closes_it(
    api_factory: Factory, infra: Infra
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    k = await kitchen(await api_factory(), await api_factory())
    order = await k.accepted_order()
    await wait_until(lambda: offered_riders(infra, order["id"]) == {uid(rider)}, what="offer")
    # Its time is up, and the search has not stepped yet to mark it expired.
    infra.query(
        "UPDATE offers SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE order_id = %s",
        order["id"],
    )
    assert offered_riders(infra, order["id"]) == {uid(rider)}

    body = await refused_as_closed(rider, order["id"])
    assert "expired" in str(body["detail"])
    assert assignment(infra, order["id"]) == [(None, "searching")]


async def test_an_offer_the_search_expired_cannot_be_accepted_from_far_away(
    apps: AppPool, infra: Infra
) -> None:
    node = await apps.start(infra.settings(**CROWD_LIMITS, dispatch_offer_ttl=1.0))
    rider = await apps.client(node)
    await rider.sign_in_as("rider")
    await go_on_shift(rider)
    k = await kitchen(await apps.client(node), await apps.client(node))
    order = await k.accepted_order()
    await wait_until(lambda: offered_riders(infra, order["id"]) == {uid(rider)}, what="offer")
    await move(rider, FAR_AWAY_KM)
    await wait_until(
        lambda: offered_riders(infra, order["id"], "expired") == {uid(rider)},
        what="the offer expired by the next round",
    )

    await refused_as_closed(rider, order["id"])
    assert assignment(infra, order["id"]) == [(None, "searching")]


async def test_a_lost_offer_cannot_take_the_order_once_the_winner_gives_it_back(
    api_factory: Factory, infra: Infra
) -> None:
    winner, loser = await api_factory(), await api_factory()
    for rider in (winner, loser):
        await rider.sign_in_as("rider")
        await go_on_shift(rider)
    k = await kitchen(await api_factory(), await api_factory())
    order = await k.accepted_order()
    both = {uid(winner), uid(loser)}
    await wait_until(lambda: offered_riders(infra, order["id"]) == both, what="offers")
    assert (await winner.post(f"/api/dispatch/offers/{order['id']}/accept")).status_code == 200
    await wait_until(
        lambda: offered_riders(infra, order["id"], "lost") == {uid(loser)}, what="the lost offer"
    )
    # While the winner holds it, the loser is told it is taken.
    assert_problem(
        await loser.post(f"/api/dispatch/offers/{order['id']}/accept"), 409, "already-assigned"
    )
    await move(loser, FAR_AWAY_KM)
    released = await winner.post(f"/api/dispatch/offers/{order['id']}/release")
    assert released.status_code == 200, released.text

    body = await refused_as_closed(loser, order["id"])
    assert "lost" in str(body["detail"])
    assert assignment(infra, order["id"]) == [(None, "searching")]
