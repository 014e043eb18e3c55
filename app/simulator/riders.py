"""Riders: on and off shift, offers taken or ignored, the ride to the store and on to the
customer at a plausible speed, with their position sent every few seconds."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from app.simulator.city import Person, Store, km_between
from app.simulator.context import FINAL, Context, act, status_of
from app.simulator.http import Reply
from app.simulator.sockets import Socket

TAKE, RELEASE, BREAK = 0.85, 0.03, 0.04
LOCATION_EVERY = 2.0  # wall seconds between position reports


class Rider:
    """One rider with a phone: a REST client and a socket on `rider:{id}`."""

    def __init__(self, ctx: Context, person: Person, stores: dict[int, Store]) -> None:
        self.ctx, self.person, self.stores = ctx, person, stores
        self.rng = random.Random(ctx.rng.random())
        self.position = person.position
        self.speed_kmh = self.rng.uniform(20, 30)
        self.online = False
        self.order_id: int | None = None
        self.deciding = False
        self.order_status: dict[int, str] = {}
        self.changed = asyncio.Event()
        self.socket = Socket(
            url=ctx.config.url,
            cookie=lambda: person.api.cookie,
            http=ctx.http,
            recorder=ctx.recorder,
            rng=self.rng,
            name=f"rider {person.id}",
            on_resync=lambda stream: ctx.spawn(self._reread(stream)),
        )

    @property
    def api(self) -> Any:
        return self.person.api

    async def start(self) -> None:
        """Connect, follow `rider:{id}`, go on shift, and keep reporting the position."""
        self.socket.start()
        await self.socket.follow(f"rider:{self.person.id}", self.on_event, after_seq=0)
        await self.shift(True)
        self.ctx.spawn(self._report_position())
        self.ctx.spawn(self._breaks())

    async def shift(self, online: bool) -> bool:
        """Go on or off shift; False when refused (off shift while carrying)."""
        lat, lng = self.position
        reply = await self.api.call(
            "shift", "PUT", "/api/riders/me/shift", json={"online": online, "lat": lat, "lng": lng}
        )
        if reply.ok:
            self.online = online
        return bool(reply.ok)

    async def _report_position(self) -> None:
        while True:
            await asyncio.sleep(LOCATION_EVERY * self.rng.uniform(0.8, 1.2))
            if self.online:
                lat, lng = self.position
                await self.api.call(
                    "location",
                    "PUT",
                    "/api/riders/me/location",
                    json={"lat": lat, "lng": lng},
                    patience=5,
                )

    async def _breaks(self) -> None:
        """Now and then an idle rider takes a break of 10–30 simulated minutes."""
        while not self.ctx.draining.is_set():
            await self.ctx.sleep_sim(self.rng.uniform(5, 15) * 60)
            idle = self.order_id is None and not self.deciding
            if idle and self.rng.random() < BREAK * 5 and await self.shift(False):
                await self.ctx.sleep_sim(self.rng.uniform(10, 30) * 60)
                await self.shift(True)

    def on_event(self, event: dict[str, Any]) -> None:
        """An offer arrives (or an order of ours changes)."""
        kind, data = event["type"], event["data"]
        if kind == "offer.created":
            recorder = self.ctx.recorder
            recorder.offers_seen += 1
            order_id = int(data["order_id"])
            recorder.offered_fees[(int(self.api.user["id"]), order_id)] = int(data["fee"])
            if {"address", "rider_note", "store_note"} & set(data):
                recorder.revealing_offers.append(order_id)
            if self.online and self.order_id is None and not self.deciding:
                self.deciding = True
                self.ctx.spawn(self.decide(int(data["order_id"])))
        elif kind == "offer.bundle_created":
            recorder = self.ctx.recorder
            recorder.offers_seen += 1
            for offer in data["offers"]:
                key = (int(self.api.user["id"]), int(offer["order_id"]))
                recorder.offered_fees[key] = int(offer["fee"])
            if self.online and self.order_id is None and not self.deciding:
                self.deciding = True
                self.ctx.spawn(self.decide_bundle(data))
        elif kind.startswith("order."):
            self._order_event(data)

    def _order_event(self, order: dict[str, Any]) -> None:
        self.order_status[int(order["id"])] = str(order["status"])
        self.changed.set()

    async def _reread(self, stream: str) -> None:
        if stream.startswith("order:"):
            order_id = int(stream.split(":")[1])
            status = await status_of(self.api, order_id)
            if status:
                self.order_status[order_id] = status
                self.changed.set()

    async def decide(self, order_id: int) -> None:
        """Take the offer (most of the time) after a moment's thought."""
        try:
            # A few seconds to read the offer, on the city's clock.
            await self.ctx.sleep_sim(self.rng.uniform(5.0, 20.0))
            if self.rng.random() > TAKE or self.order_id is not None or not self.online:
                return
            reply = await self.api.call(
                "take-offer", "POST", f"/api/dispatch/offers/{order_id}/accept", json={}
            )
            if not reply.ok:
                reply = await self._mine_after_all(order_id, reply)
            if not reply.ok:
                return
            self.order_id = order_id
            self.ctx.recorder.assignments_won += 1
            self.ctx.recorder.assigned_at[order_id] = time.time()
        finally:
            self.deciding = False
        self.ctx.spawn(self.ride(reply.body))

    async def decide_bundle(self, bundle: dict[str, Any]) -> None:
        """Take a bundle offer (both orders at once) as often as a single one."""
        bundle_id = int(bundle["bundle_id"])
        try:
            await asyncio.sleep(self.rng.uniform(0.3, 2.0))
            if self.rng.random() > TAKE or self.order_id is not None or not self.online:
                return
            reply = await self.api.call(
                "take-bundle", "POST", f"/api/dispatch/bundles/{bundle_id}/accept", json={}
            )
            if not reply.ok:
                return
            orders = {int(o["id"]): o for o in reply.body["orders"]}
            self.order_id = min(orders)
            self.ctx.recorder.assignments_won += len(orders)
        finally:
            self.deciding = False
        self.ctx.spawn(self.ride_bundle(orders, bundle["pickups"], bundle["dropoffs"]))

    async def ride_bundle(
        self, orders: dict[int, dict[str, Any]], pickups: list[int], dropoffs: list[int]
    ) -> None:
        """Both stores in the bundle's order, then both doors; each order picked up and
        delivered on its own."""
        for order_id, order in orders.items():
            self.order_status[order_id] = str(order["status"])
            await self.socket.follow(f"order:{order_id}", self.on_event, after_seq=0)
        carrying: list[int] = []
        try:
            for order_id in pickups:
                await self.travel(self.stores[int(orders[order_id]["store_id"])].position)
                if not await self._until(order_id, {"ready"}):
                    continue
                if await act(self.api, order_id, "pickup", {}) == "picked_up":
                    self.order_status[order_id] = "picked_up"
                    carrying.append(order_id)
            for order_id in dropoffs:
                if order_id in carrying:
                    address = orders[order_id]["address"]
                    await self.travel((float(address["lat"]), float(address["lng"])))
                    await act(self.api, order_id, "deliver", {})
        finally:
            self.order_id = None
            for order_id in orders:
                await self.socket.unfollow(f"order:{order_id}")

    async def _mine_after_all(self, order_id: int, refused: Reply) -> Reply:
        """A retried accept told "taken by another rider": the order may be this rider's (the
        first attempt committed before its answer was lost). Recorded for the audit; the rider
        then rides it, as its page would once the order's stream said so."""
        if not (refused.retried and refused.code == "already-assigned"):
            return refused
        current = await self.api.call("get-order", "GET", f"/api/orders/{order_id}")
        rider = current.body.get("rider") if current.ok else None
        if not rider or rider.get("id") != self.api.user.get("id"):
            return refused
        self.ctx.recorder.refused_retries.append(
            f"take-offer /api/dispatch/offers/{order_id}/accept: 409 already-assigned, to this rider"
        )
        return current

    async def ride(self, order: dict[str, Any]) -> None:
        """To the store, wait for the food, to the customer, deliver."""
        order_id = int(order["id"])
        self.order_status[order_id] = str(order["status"])
        await self.socket.follow(f"order:{order_id}", self.on_event, after_seq=0)
        try:
            if self.rng.random() < RELEASE:
                await self.api.call(
                    "release", "POST", f"/api/dispatch/offers/{order_id}/release", json={}
                )
                return
            await self.travel(self.stores[int(order["store_id"])].position)
            if not await self._until(order_id, {"ready"}):
                return
            if await act(self.api, order_id, "pickup", {}) != "picked_up":
                return
            self.order_status[order_id] = "picked_up"
            destination = (float(order["address"]["lat"]), float(order["address"]["lng"]))
            await self.travel(destination)
            await act(self.api, order_id, "deliver", {})
        finally:
            self.order_id = None
            await self.socket.unfollow(f"order:{order_id}")

    async def _until(self, order_id: int, wanted: set[str]) -> bool:
        """Wait until the order reaches one of `wanted` (True) or ends (False)."""
        while True:
            status = self.order_status.get(order_id)
            if status in wanted:
                return True
            if status in FINAL:
                return False
            self.changed.clear()
            try:
                async with asyncio.timeout(30):
                    await self.changed.wait()
            except TimeoutError:
                # Events are the way to learn it; a REST look now and then is a phone's habit.
                await self._reread(f"order:{order_id}")

    async def travel(self, to: tuple[float, float]) -> None:
        """Ride to `to` at this rider's speed, on the city's clock."""
        distance = km_between(self.position, to)
        self.ctx.recorder.rider_km += distance
        ride = self.ctx.sim_seconds(distance / self.speed_kmh * 3600)
        steps = max(1, int(ride / LOCATION_EVERY))
        start = self.position
        for step in range(1, steps + 1):
            await asyncio.sleep(ride / steps)
            f = step / steps
            self.position = (
                round(start[0] + (to[0] - start[0]) * f, 6),
                round(start[1] + (to[1] - start[1]) * f, 6),
            )

    async def finish(self) -> None:
        """End of the run: off shift (refused while still carrying an order)."""
        await self.shift(False)
