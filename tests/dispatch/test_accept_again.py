"""A rider's accept sent again after its answer was lost gets the order, not "taken by another".

A 503 or a dropped connection can come after the accept was committed. Sent again, it was
answered 409 `already-assigned` ("taken by another rider") although the order was this
rider's: the rider's page would say the order went to someone else, and the order would wait for
a rider who never comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.client import Api, assert_problem
from tests.dispatch.helpers import events_on, go_on_shift, kitchen, offered_riders
from tests.harness import Infra
from tests.waiting import wait_until

Factory = Callable[[], Awaitable[Api]]


def uid(api: Api) -> int:
    assert api.user is not None
    return int(api.user["id"])


async def test_an_accept_sent_again_by_its_winner_answers_the_order_and_assigns_once(
    api_factory: Factory, infra: Infra
) -> None:
    winner, other = await api_factory(), await api_factory()
    for rider, km in ((winner, 0.2), (other, 0.4)):
        await rider.sign_in_as("rider")
        await go_on_shift(rider, km)
    order = await (await kitchen(await api_factory(), await api_factory())).accepted_order()
    await wait_until(
        lambda: offered_riders(infra, order["id"]) == {uid(winner), uid(other)}, what="offers"
    )
    path = f"/api/dispatch/offers/{order['id']}/accept"
    first = await winner.post(path, json={})
    assert first.status_code == 200, first.text
    again = await winner.post(path, json={})
    assert again.status_code == 200, again.text
    assert again.json()["rider"]["id"] == uid(winner)
    assert again.json()["stream_seq"] == first.json()["stream_seq"]
    assert events_on(infra, f"order:{order['id']}", "order.rider_assigned") == [order["id"]]
    # Anyone else is still told the order is taken.
    assert_problem(await other.post(path, json={}), 409, "already-assigned")


async def test_two_accepts_of_one_rider_racing_both_answer_the_order(
    api_factory: Factory, infra: Infra
) -> None:
    rider = await api_factory()
    await rider.sign_in_as("rider")
    await go_on_shift(rider, 0.2)
    k = await kitchen(await api_factory(), await api_factory())
    for _ in range(4):
        order = await k.accepted_order()
        await wait_until(
            lambda o=order: offered_riders(infra, o["id"]) == {uid(rider)}, what="offer"
        )
        path = f"/api/dispatch/offers/{order['id']}/accept"
        answers = await asyncio.gather(rider.post(path, json={}), rider.post(path, json={}))
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert events_on(infra, f"order:{order['id']}", "order.rider_assigned") == [order["id"]]
        await rider.post(f"/api/dispatch/offers/{order['id']}/release", json={})
