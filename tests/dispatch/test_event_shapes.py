"""What the realtime protocol sends matches its published shapes (realtime/schemas.py,
docs/events.md): every event of a whole delivery, its offers and its cancellations, the
subscribe acks, a rider's `location` and the `revoked` sent when the rider gives it back."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

import httpx
import socketio
from pydantic import TypeAdapter

from app.config import Settings
from app.db import rfc3339
from realtime.schemas import Event, LocationMessage, RefusedAck, RevokedMessage, SubscribedAck
from tests.client import Api
from tests.dispatch.conftest import node_env
from tests.dispatch.helpers import go_on_shift, kitchen, offered_riders
from tests.harness import Infra
from tests.orders.helpers import place
from tests.waiting import wait_until

EVENT = TypeAdapter(Event)
EVERY_TYPE = {
    "order.placed",
    "order.accepted",
    "order.rejected",
    "order.ready",
    "order.rider_assigned",
    "order.rider_released",
    "order.picked_up",
    "order.delivered",
    "order.cancelled",
    "order.refunded",
    "order.delayed",
    "offer.created",
    "offer.withdrawn",
    "store.opened",
    "store.closed",
    "store.paused",
    "store.resumed",
    "store.hours_changed",
    "item.sold_out",
    "item.available",
}


class Socket:
    """A Socket.IO client with a user's session cookie, recording what it is sent."""

    def __init__(self, url: str, api: Api) -> None:
        self.url = url
        self.cookie = api.http.cookies.get("delivery_session")
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[dict[str, Any]] = []
        self.locations: list[dict[str, Any]] = []
        self.revoked: list[dict[str, Any]] = []
        self.sio.on("event", self.events.append)
        self.sio.on("location", self.locations.append)
        self.sio.on("revoked", self.revoked.append)

    async def __aenter__(self) -> Socket:
        await self.sio.connect(
            self.url,
            headers={"Cookie": f"delivery_session={self.cookie}"},
            transports=["websocket"],
            wait_timeout=10,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sio.disconnect()

    async def subscribe(self, stream: str, after_seq: int | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"stream": stream}
        if after_seq is not None:
            request["after_seq"] = after_seq
        ack: dict[str, Any] = await self.sio.call("subscribe", request, timeout=15)
        return ack


def _outbox(infra: Infra) -> list[dict[str, Any]]:
    """Every recorded event as the relay publishes it: `{stream, seq, type, at, data}`."""
    rows = infra.query("SELECT stream, seq, type, at, payload FROM outbox_events ORDER BY id")
    return [
        {
            "stream": stream,
            "seq": seq,
            "type": kind,
            "at": rfc3339(at),
            "data": json.loads(str(payload)),
        }
        for stream, seq, kind, at, payload in rows
    ]


async def test_every_event_ack_and_location_of_a_delivery_matches_the_published_shapes(
    settings: Settings, infra: Infra
) -> None:
    node = infra.start_node("event-shapes", **node_env())
    try:
        async with AsyncExitStack() as stack:

            async def client() -> Api:
                http = httpx.AsyncClient(base_url=node.url, timeout=30)
                return Api(await stack.enter_async_context(http))

            k = await kitchen(await client(), await client())
            winner, loser, stranger = await client(), await client(), await client()
            for rider in (winner, loser):
                await rider.sign_in_as("rider")
                await go_on_shift(rider)
            await stranger.sign_in_as("customer")

            rejected = await place(k.customer, k.shop)
            assert (await k.owner.post(f"/api/orders/{rejected['id']}/reject")).status_code == 200
            cancelled = await k.accepted_order()
            await wait_until(
                lambda: len(offered_riders(infra, cancelled["id"])) == 2, what="offers"
            )
            gone = await k.owner.post(f"/api/orders/{cancelled['id']}/cancel", json={})
            assert gone.status_code == 200, gone.text

            order = await k.accepted_order()
            await wait_until(lambda: len(offered_riders(infra, order["id"])) == 2, what="offers")
            path = f"/api/dispatch/offers/{order['id']}"
            assert (await winner.post(f"{path}/accept")).status_code == 200
            former = await stack.enter_async_context(Socket(node.url, winner))
            assert (await former.subscribe(f"order:{order['id']}"))["ok"] is True
            assert (await winner.post(f"{path}/release")).status_code == 200
            await wait_until(lambda: former.revoked, what="the stream revoked")
            for message in former.revoked:
                RevokedMessage.model_validate(message)
            await wait_until(lambda: len(offered_riders(infra, order["id"])) == 1, what="re-offer")
            taken = await loser.post(f"{path}/accept")
            assert taken.status_code == 200, taken.text

            watcher = await stack.enter_async_context(Socket(node.url, k.customer))
            ack = await watcher.subscribe(f"order:{order['id']}", after_seq=0)
            SubscribedAck.model_validate(ack)
            assert [e["type"] for e in ack["events"]][:2] == ["order.placed", "order.accepted"]
            outsider = await stack.enter_async_context(Socket(node.url, stranger))
            RefusedAck.model_validate(await outsider.subscribe(f"order:{order['id']}"))
            rider_socket = await stack.enter_async_context(Socket(node.url, loser))
            assert loser.user is not None
            rider_ack = await rider_socket.subscribe(f"rider:{loser.user['id']}", after_seq=0)
            SubscribedAck.model_validate(rider_ack)

            moved = await loser.put("/api/riders/me/location", json={"lat": 37.57, "lng": 126.98})
            assert moved.status_code == 204
            await wait_until(lambda: watcher.locations, what="a location")
            for message in watcher.locations:
                LocationMessage.model_validate(message)

            delayed = await k.owner.post(f"/api/orders/{order['id']}/delay", json={"minutes": 5})
            assert delayed.status_code == 200, delayed.text
            for action, who in (("ready", k.owner), ("pickup", loser), ("deliver", loser)):
                done = await who.post(f"/api/orders/{order['id']}/{action}")
                assert done.status_code == 200, done.text
            await wait_until(
                lambda: any(e["type"] == "order.delivered" for e in watcher.events),
                what="the delivery pushed live",
            )
            for event in watcher.events:
                EVENT.validate_python(event)

            # The store's own changes, on its public stream.
            store_id, fries = k.shop.id, k.shop.fries["id"]
            for method, path, body in (
                ("POST", f"/api/stores/{store_id}/pause", {"minutes": 5}),
                ("DELETE", f"/api/stores/{store_id}/pause", None),
                ("PUT", f"/api/stores/{store_id}/hours", {"weekly": [], "closed_dates": []}),
                ("PATCH", f"/api/menu-items/{fries}", {"sold_out": True}),
                ("PATCH", f"/api/menu-items/{fries}", {"sold_out": False}),
                ("PATCH", f"/api/stores/{store_id}", {"open": False}),
            ):
                changed = await k.owner.request(method, path, json=body)
                assert changed.status_code == 200, changed.text
            public = await stack.enter_async_context(Socket(node.url, stranger))
            public_ack = await public.subscribe(f"store-public:{store_id}", after_seq=0)
            SubscribedAck.model_validate(public_ack)
            assert len(public_ack["events"]) == 7

        recorded = _outbox(infra)
        for envelope in recorded:
            EVENT.validate_python(envelope)
        assert {e["type"] for e in recorded} == EVERY_TYPE
    finally:
        node.stop()
