"""Store owners: each watches its store's stream live, accepts (with a prep time) or rejects,
marks orders ready when the kitchen is done, and now and then cancels or refunds part of one."""

from __future__ import annotations

import random
import time
from typing import Any

from app.simulator.city import Store
from app.simulator.context import FINAL, Context, act
from app.simulator.sockets import Socket

REJECT, CANCEL, REFUND = 0.04, 0.02, 0.05
# A part refund gives back this much (every order costs more: its items are ₩8,000 up).
REFUND_AMOUNT = 1_000


class Owner:
    """One store's owner."""

    def __init__(self, ctx: Context, store: Store) -> None:
        self.ctx, self.store = ctx, store
        self.rng = random.Random(ctx.rng.random())
        self.handled: set[int] = set()
        self.socket = Socket(
            url=ctx.config.url,
            cookie=lambda: store.owner.cookie,
            http=ctx.http,
            recorder=ctx.recorder,
            rng=self.rng,
            name=f"owner of store {store.id}",
            on_resync=lambda _stream: ctx.spawn(self.catch_up()),
        )

    @property
    def stream(self) -> str:
        return f"store:{self.store.id}"

    async def start(self) -> None:
        """Connect and follow the store's stream from its first event."""
        self.socket.start()
        await self.socket.follow(self.stream, self.on_event, after_seq=0)

    def on_event(self, event: dict[str, Any]) -> None:
        """A new order rings: work it."""
        order = event["data"]
        if event["type"] == "order.placed" and order["id"] not in self.handled:
            self.handled.add(order["id"])
            self.ctx.spawn(self.work(int(order["id"])))

    async def catch_up(self) -> None:
        """After a resync: work any placed order this owner has not seen."""
        reply = await self.store.owner.call(
            "list-orders", "GET", "/api/orders", params={"store_id": self.store.id, "limit": 200}
        )
        for order in reply.body.get("orders", []) if reply.ok else []:
            if order["status"] == "placed" and order["id"] not in self.handled:
                self.handled.add(order["id"])
                self.ctx.spawn(self.work(int(order["id"])))

    async def work(self, order_id: int) -> None:
        """Answer the order after a look, cook it, and call it ready (or give up on it)."""
        api, rng, ctx = self.store.owner, self.rng, self.ctx
        await ctx.sleep_sim(rng.uniform(20, 120))
        if rng.random() < REJECT:
            await act(api, order_id, "reject", {"reason": "Too busy tonight"})
            return
        prep = rng.randint(8, 25)
        if await act(api, order_id, "accept", {"prep_minutes": prep}) != "accepted":
            return
        ctx.recorder.accepted_at.setdefault(order_id, time.time())
        await ctx.sleep_sim(prep * 60 * rng.uniform(0.7, 1.1))
        if rng.random() < CANCEL:
            await act(api, order_id, "cancel", {"reason": "Out of ingredients"})
            return
        if rng.random() < REFUND:
            # Something was missing from the bag: points first, then the card (the audit
            # checks both against the ledger and the gateway).
            await api.call(
                "refund",
                "POST",
                f"/api/orders/{order_id}/refunds",
                json={"amount": REFUND_AMOUNT, "reason": "A side dish ran out."},
            )
        await act(api, order_id, "ready", {})

    async def finish(self) -> None:
        """End of the drain: cancel whatever of the store's orders is not yet on its way."""
        reply = await self.store.owner.call(
            "list-orders", "GET", "/api/orders", params={"store_id": self.store.id, "limit": 200}
        )
        for order in reply.body.get("orders", []) if reply.ok else []:
            if order["status"] in ("placed", "accepted", "ready"):
                await act(self.store.owner, int(order["id"]), "cancel", {"reason": "Closing"})
            elif order["status"] not in FINAL | {"picked_up"}:
                self.ctx.recorder.notes.append(f"order {order['id']} is {order['status']}")
