"""Live rider positions: the geo index, and `location` messages for the order being carried.

Per order, at most one `location` a second leaves, whichever node the pings reach: a Redis key
with a one-second expiry is the gate. A ping that finds the gate shut parks its position as
the order's pending one; when the gate reopens, a node that parked one sends the latest
pending position (latest wins, nothing older is sent after it).

A position goes out only while its rider carries the order: the write that records it on the
order is conditional on that, and the position is published before that write commits, so no
position reaches the order's stream after the release or delivery that ends the carrying.

Operators see every rider on shift: at most one position per rider every 5 s goes to the `ops`
stream, gated the same way (one key per rider) and never written to the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import bindparam, select, update

from app.db import Database, rfc3339, utcnow
from app.lifecycle import stop_tasks
from app.orders.lifecycle import Status
from app.orders.models import Order
from dispatch.geo import place_rider
from dispatch.models import RiderState

log = logging.getLogger("delivery.dispatch")

GATE_MS = 1000
PENDING_MS = 10_000
# Per rider, at most one position every 5 s goes to the operators' map.
OPS_GATE_MS = 5000
# The statuses in which an assigned rider carries the order (to the store, then to the door).
CARRYING = (Status.ACCEPTED, Status.READY, Status.PICKED_UP)


def _gate_key(order_id: int) -> str:
    return f"dispatch:loc:gate:{order_id}"


def _pending_key(order_id: int) -> str:
    return f"dispatch:loc:pending:{order_id}"


def _ops_gate_key(rider_id: int) -> str:
    return f"dispatch:loc:ops-gate:{rider_id}"


class PublishLocation(Protocol):
    """Sends a position to the subscribers of `order:{order_id}` on every node."""

    def __call__(self, *, order_id: int, lat: float, lng: float, at: str) -> Awaitable[None]: ...


class PublishRiderLocation(Protocol):
    """Sends a rider's position to the operators (the `ops` stream) on every node."""

    def __call__(self, *, rider_id: int, lat: float, lng: float, at: str) -> Awaitable[None]: ...


# Built once: a statement object keeps its cache key, so executing it again costs no rebuild.
_RIDER_STATE = select(
    RiderState.online, RiderState.active_order_id, RiderState.second_order_id
).where(RiderState.rider_id == bindparam("rider_id"))


class LocationSharing:
    """Sends riders' positions to their orders' subscribers, throttled per order."""

    def __init__(
        self,
        db: Database,
        cache: Redis,
        publish: PublishLocation,
        publish_to_operators: PublishRiderLocation | None = None,
    ) -> None:
        self.db = db
        self.cache = cache
        # How a position reaches the order's subscribers (the realtime fan-out's, in practice).
        self.publish = publish
        self.publish_to_operators = publish_to_operators
        self._trailing: dict[int, asyncio.Task[None]] = {}
        self._closed = False

    async def update(self, *, rider_id: int, lat: float, lng: float) -> None:
        """Record a rider's position; share it if the rider is carrying an order."""
        async with self.db.uow() as uow:
            row = (await uow.session.execute(_RIDER_STATE, {"rider_id": rider_id})).first()
        if row is None:
            return
        online, first, second = row
        if online:
            await place_rider(self.cache, rider_id, lat, lng)
            await self.share_with_operators(rider_id=rider_id, lat=lat, lng=lng)
        # A rider carrying a bundle is on the way to both customers.
        for order_id in (first, second):
            if order_id is not None:
                await self.share(order_id=order_id, rider_id=rider_id, lat=lat, lng=lng)

    async def share_with_operators(self, *, rider_id: int, lat: float, lng: float) -> None:
        """Send an on-shift rider's position to the operators, if none went in the last 5 s.

        One SET NX per ping decides, on whichever node: no database write, and positions
        between two sends are dropped (the map needs the rider's whereabouts, not the path).
        """
        if self.publish_to_operators is None:
            return
        if await self.cache.set(_ops_gate_key(rider_id), b"1", nx=True, px=OPS_GATE_MS):
            at = utcnow().isoformat()
            await self.publish_to_operators(rider_id=rider_id, lat=lat, lng=lng, at=at)

    async def share(self, *, order_id: int, rider_id: int, lat: float, lng: float) -> None:
        """Send the position now if the order's gate is open, else park it as pending."""
        position = {"rider_id": rider_id, "lat": lat, "lng": lng, "at": rfc3339(utcnow())}
        if await self.cache.set(_gate_key(order_id), b"1", nx=True, px=GATE_MS):
            await self.cache.delete(_pending_key(order_id))
            await self._send(order_id, position)
            return
        await self.cache.set(_pending_key(order_id), json.dumps(position), px=PENDING_MS)
        # Once closed, nothing would stop a new task; the rider's next ping sends a position.
        if order_id not in self._trailing and not self._closed:
            self._trailing[order_id] = asyncio.create_task(self._flush_later(order_id))

    async def _flush_later(self, order_id: int) -> None:
        # Loops rather than sending once: a ping that arrives while this send runs finds the
        # task still registered and only parks its position, so the loop must pick it up.
        try:
            while await self.cache.exists(_pending_key(order_id)):
                wait_ms = await self.cache.pttl(_gate_key(order_id))
                await asyncio.sleep(max(wait_ms, 1) / 1000)
                if await self.cache.set(_gate_key(order_id), b"1", nx=True, px=GATE_MS):
                    raw = await self.cache.getdel(_pending_key(order_id))
                    if raw is not None:
                        await self._send(order_id, json.loads(raw))
        except Exception:
            log.exception("could not send the pending position of order %s", order_id)
        finally:
            self._trailing.pop(order_id, None)

    async def _send(self, order_id: int, position: dict[str, Any]) -> None:
        lat, lng, at = position["lat"], position["lng"], position["at"]
        # A plain UPDATE that leaves the version alone: a position must never make a
        # concurrent pickup or delivery fail as stale. It holds the order's row until the
        # position is published, so a release or delivery waiting on that row commits after.
        async with self.db.uow() as uow:
            carried = await uow.session.execute(
                update(Order)
                .where(
                    Order.id == order_id,
                    Order.rider_id == position["rider_id"],
                    Order.status.in_(CARRYING),
                )
                .values(rider_lat=lat, rider_lng=lng, rider_located_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if carried.rowcount != 1:  # type: ignore[attr-defined]
                return  # handed back or delivered since the position was taken
            await self.publish(order_id=order_id, lat=lat, lng=lng, at=at)
            await uow.commit()

    async def close(self) -> None:
        """Let pending sends finish (each waits for its gate, a second at most), then stop."""
        self._closed = True
        await stop_tasks(list(self._trailing.values()), grace=2 * GATE_MS / 1000)
