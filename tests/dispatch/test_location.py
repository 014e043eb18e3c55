"""Live rider positions reach the order's own subscribers only, throttled, latest winning."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx
import socketio

from app.config import Settings
from tests.client import Api
from tests.dispatch.conftest import node_env
from tests.dispatch.helpers import go_on_shift, kitchen, offered_riders
from tests.harness import Infra
from tests.orders.helpers import place
from tests.waiting import wait_until


class Listener:
    """A Socket.IO client signed in with a user's session cookie, recording `location`s."""

    def __init__(self, url: str, api: Api) -> None:
        self.url = url
        self.cookie = api.http.cookies.get("delivery_session")
        self.sio = socketio.AsyncClient(reconnection=False)
        self.locations: list[dict[str, Any]] = []
        self.sio.on("location", self.locations.append)

    async def __aenter__(self) -> Listener:
        await self.sio.connect(
            self.url,
            headers={"Cookie": f"delivery_session={self.cookie}"},
            transports=["websocket"],
            wait_timeout=10,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sio.disconnect()

    async def subscribe(self, stream: str) -> dict[str, Any]:
        ack: dict[str, Any] = await self.sio.call("subscribe", {"stream": stream}, timeout=15)
        return ack

    def of(self, order_id: int) -> list[tuple[float, float]]:
        return [(m["lat"], m["lng"]) for m in self.locations if m["order_id"] == order_id]


async def test_customer_receives_location_of_its_own_order_only_throttled_latest_wins(
    settings: Settings, infra: Infra
) -> None:
    node_a = infra.start_node("location-a", **node_env())
    node_b = infra.start_node("location-b", **node_env())
    try:
        async with AsyncExitStack() as stack:

            async def client(url: str) -> Api:
                http = httpx.AsyncClient(base_url=url, timeout=30)
                return Api(await stack.enter_async_context(http))

            rider_1, rider_2 = await client(node_a.url), await client(node_a.url)
            for rider in (rider_1, rider_2):
                await rider.sign_in_as("rider")
                await go_on_shift(rider)
            k = await kitchen(await client(node_a.url), await client(node_a.url))
            other_customer = await client(node_a.url)
            await other_customer.sign_in_as("customer")
            mine = await k.accepted_order()
            theirs = await place(other_customer, k.shop)
            accepted = await k.owner.post(
                f"/api/orders/{theirs['id']}/accept", json={"prep_minutes": 10}
            )
            assert accepted.status_code == 200
            for order in (mine, theirs):
                await wait_until(
                    lambda o=order: len(offered_riders(infra, o["id"])) == 2,
                    what=f"both riders offered order {order['id']}",
                )
            for rider, order in ((rider_1, mine), (rider_2, theirs)):
                taken = await rider.post(f"/api/dispatch/offers/{order['id']}/accept")
                assert taken.status_code == 200, taken.text

            # Both customers listen on node B; the riders report to node A.
            me = await stack.enter_async_context(Listener(node_b.url, k.customer))
            them = await stack.enter_async_context(Listener(node_b.url, other_customer))
            assert (await me.subscribe(f"order:{mine['id']}"))["ok"] is True
            refused = await them.subscribe(f"order:{mine['id']}")
            assert refused == {"ok": False, "code": "not-found"}
            assert (await them.subscribe(f"order:{theirs['id']}"))["ok"] is True

            first = (37.5700, 126.9800)
            moved = await rider_1.put(
                "/api/riders/me/location", json=dict(zip(("lat", "lng"), first, strict=True))
            )
            assert moved.status_code == 204
            await wait_until(lambda: me.of(mine["id"]) == [first], what="first location")
            [message] = me.locations
            assert message["at"].endswith("Z") and set(message) == {"order_id", "lat", "lng", "at"}

            # A burst: at most one a second goes out, and the last position wins.
            burst = [(37.5700 + i * 0.0001, 126.9800) for i in range(1, 11)]
            for lat, lng in burst:
                ping = await rider_1.put("/api/riders/me/location", json={"lat": lat, "lng": lng})
                assert ping.status_code == 204
            await wait_until(lambda: me.of(mine["id"])[-1:] == [burst[-1]], what="latest")
            assert len(me.of(mine["id"])) <= 3
            their_spot = (37.5600, 126.9700)
            await rider_2.put(
                "/api/riders/me/location", json={"lat": their_spot[0], "lng": their_spot[1]}
            )
            await wait_until(lambda: them.of(theirs["id"]) == [their_spot], what="their location")
            # Nobody heard about an order that is not theirs.
            assert them.of(mine["id"]) == []
            assert me.of(theirs["id"]) == []
            seen = (await k.customer.get(f"/api/orders/{mine['id']}")).json()
            assert (seen["rider"]["lat"], seen["rider"]["lng"]) == burst[-1]
    finally:
        node_a.stop()
        node_b.stop()
