"""Customers: they claim coupons, place orders (paying partly or wholly with points), follow
each order live, sometimes cancel, and convert the points their deliveries earned."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from app.simulator.city import City, Person, Store, km_between
from app.simulator.context import FINAL, Context, status_of
from app.simulator.recorder import OrderFate
from app.simulator.sockets import Socket

CARD = "4242424242424242"
CANCEL, PLATTER, CLAIM, USE_COUPON, USE_POINTS, DROP = 0.05, 0.07, 0.5, 0.7, 0.4, 0.08
CONVERSION_UNIT = 5000


class Customer:
    """One customer with a phone: a REST client and one socket for the orders it follows."""

    def __init__(self, ctx: Context, person: Person, city: City) -> None:
        self.ctx, self.person, self.city = ctx, person, city
        self.rng = random.Random(ctx.rng.random())
        self.busy = False
        self.claimed = False
        self.coupon_id: int | None = None
        self.usable = 0
        self.status: dict[int, str] = {}
        self.changed = asyncio.Event()
        self.socket = Socket(
            url=ctx.config.url,
            cookie=lambda: person.api.cookie,
            http=ctx.http,
            recorder=ctx.recorder,
            rng=self.rng,
            name=f"customer {person.id}",
            on_resync=lambda stream: ctx.spawn(self._reread(stream)),
        )
        near = sorted(city.stores, key=lambda s: km_between(s.position, person.position))
        self.favourites = near[:4]

    @property
    def api(self) -> Any:
        return self.person.api

    def start(self) -> None:
        """Connect (the socket stays open for the whole run)."""
        self.socket.start()

    def on_event(self, event: dict[str, Any]) -> None:
        """An event of one of our orders: note its status."""
        order = event["data"]
        self.status[int(order["id"])] = str(order["status"])
        fate = self.ctx.recorder.orders.get(int(order["id"]))
        if fate is not None:
            fate.status = str(order["status"])
            if event["type"] == "order.delivered":
                fate.delivered_at = self.ctx.recorder.started + self.ctx.recorder.now()
        self.changed.set()

    async def _reread(self, stream: str) -> None:
        order_id = int(stream.split(":")[1])
        status = await status_of(self.api, order_id)
        if status:
            self.status[order_id] = status
            self.changed.set()

    async def hungry(self) -> None:
        """One order, start to finish."""
        self.busy = True
        try:
            await self._order()
        finally:
            self.busy = False

    async def _order(self) -> None:
        store = self.rng.choice(self.favourites)
        lines, subtotal = self._basket(store)
        if self.city.campaign_id is not None and not self.claimed and self.rng.random() < CLAIM:
            await self._claim()
        body: dict[str, Any] = {
            "store_id": store.id,
            "items": lines,
            "address": {
                "text": f"{self.person.id} Customer-ro",
                "lat": self.person.position[0],
                "lng": self.person.position[1],
            },
            "payment": {"method": "card", "card_number": CARD},
        }
        due = subtotal + store.delivery_fee
        if self.coupon_id is not None and subtotal >= 15000 and self.rng.random() < USE_COUPON:
            body["coupon_id"] = self.coupon_id
            due -= 3000
        if self.usable > 0 and self.rng.random() < USE_POINTS:
            if self.usable >= due and self.rng.random() < 0.5:
                body["payment"] = {"method": "points"}
            else:
                body["use_points"] = min(self.usable, due // 2)
        order = await self._place(body)
        if order is None:
            return
        if order.get("coupon_discount"):
            self.coupon_id = None
        self.usable -= int(order["points_used"])
        order_id = int(order["id"])
        self.status[order_id] = "placed"
        if self.rng.random() < DROP:
            self.ctx.spawn(self._drop_later())
        await self.socket.follow(f"order:{order_id}", self.on_event, after_seq=0)
        if self.rng.random() < CANCEL:
            await self.ctx.sleep_sim(self.rng.uniform(10, 60))
            await self.api.call(
                "cancel",
                "POST",
                f"/api/orders/{order_id}/cancel",
                json={"reason": "Changed my mind"},
            )
        await self._until_final(order_id)
        if self.status.get(order_id) == "delivered":
            await self._points()

    def _basket(self, store: Store) -> tuple[list[dict[str, Any]], int]:
        if self.rng.random() < PLATTER:
            return [{"menu_item_id": store.platter.id, "quantity": 1, "option_ids": []}], (
                store.platter.price
            )
        lines, subtotal = [], 0
        for item in self.rng.sample(store.items, self.rng.randint(1, 3)):
            quantity = self.rng.randint(1, 2)
            lines.append({"menu_item_id": item.id, "quantity": quantity, "option_ids": []})
            subtotal += item.price * quantity
        return lines, subtotal

    async def _place(self, body: dict[str, Any]) -> dict[str, Any] | None:
        for _attempt in range(3):
            key = uuid.UUID(int=self.rng.getrandbits(128)).hex
            reply = await self.api.call(
                "place", "POST", "/api/orders", json=body, headers={"Idempotency-Key": key}
            )
            if reply.status == 201:
                order: dict[str, Any] = reply.body
                recorder = self.ctx.recorder
                recorder.rest_commits[(f"order:{order['id']}", 1)] = (
                    recorder.started + recorder.now()
                )
                recorder.placed(
                    OrderFate(
                        id=int(order["id"]),
                        key=key,
                        customer_id=self.person.id,
                        store_id=int(order["store_id"]),
                        placed_at=recorder.started + recorder.now(),
                        paid_amount=int(order["paid_amount"]),
                        points_used=int(order["points_used"]),
                        coupon_id=order.get("coupon_id") or body.get("coupon_id"),
                    )
                )
                return order
            if reply.code == "coupon-unusable":
                self.coupon_id = None
                body.pop("coupon_id", None)
            elif reply.code == "insufficient-points":
                await self._refresh_points()
                body.pop("use_points", None)
                body["payment"] = {"method": "card", "card_number": CARD}
            else:
                return None
        return None

    async def _claim(self) -> None:
        self.claimed = True
        reply = await self.api.call(
            "claim", "POST", f"/api/coupon-campaigns/{self.city.campaign_id}/claim", json={}
        )
        if reply.status == 201:
            self.coupon_id = int(reply.body["id"])
        elif reply.status == 202:
            mine = await self.api.call("my-coupons", "GET", "/api/me/coupons")
            for coupon in mine.body.get("coupons", []) if mine.ok else []:
                if coupon["status"] == "issued":
                    self.coupon_id = int(coupon["id"])

    async def _until_final(self, order_id: int) -> None:
        while self.status.get(order_id) not in FINAL:
            self.changed.clear()
            try:
                async with asyncio.timeout(60):
                    await self.changed.wait()
            except TimeoutError:
                await self._reread(f"order:{order_id}")

    async def _drop_later(self) -> None:
        await self.ctx.sleep_sim(self.rng.uniform(60, 600))
        await self.socket.drop()

    async def _refresh_points(self) -> dict[str, Any]:
        reply = await self.api.call("points", "GET", "/api/me/points")
        points: dict[str, Any] = reply.body if reply.ok else {"accrued": 0, "usable": 0}
        self.usable = int(points.get("usable", 0))
        return points

    async def _points(self) -> None:
        points = await self._refresh_points()
        accrued = int(points.get("accrued", 0))
        if accrued >= CONVERSION_UNIT:
            amount = accrued // CONVERSION_UNIT * CONVERSION_UNIT
            reply = await self.api.call(
                "convert", "POST", "/api/me/points/convert", json={"amount": amount}
            )
            if reply.ok:
                self.usable = int(reply.body["usable"])
