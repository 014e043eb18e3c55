"""The city's people as running agents: owners on their store streams, riders on shift,
customers with their sockets open; demand turns idle customers into orders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.simulator.city import City
from app.simulator.context import FINAL, Context
from app.simulator.customers import Customer
from app.simulator.demand import arrivals
from app.simulator.owners import Owner
from app.simulator.riders import Rider
from app.simulator.sockets import Socket


@dataclass
class Population:
    """Every agent of one run."""

    ctx: Context
    city: City
    owners: list[Owner] = field(default_factory=list)
    riders: list[Rider] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    unserved: int = 0  # arrivals that found every customer already waiting for an order

    async def start(self) -> None:
        """Connect everyone, follow the store and rider streams, put the riders on shift."""
        stores = {store.id: store for store in self.city.stores}
        self.owners = [Owner(self.ctx, store) for store in self.city.stores]
        self.riders = [Rider(self.ctx, person, stores) for person in self.city.riders]
        self.customers = [Customer(self.ctx, person, self.city) for person in self.city.customers]
        for customer in self.customers:
            customer.start()
        await asyncio.gather(*(owner.start() for owner in self.owners))
        await asyncio.gather(*(rider.start() for rider in self.riders))

    def sockets(self) -> list[Socket]:
        """Every socket of the run."""
        people: list[Owner | Rider | Customer] = [*self.owners, *self.riders, *self.customers]
        return [person.socket for person in people]

    async def demand(
        self, *, peak: float, start: float, wall_seconds: float, flat: bool = False
    ) -> int:
        """Orders arriving for `wall_seconds`, as the day's curve (or flat at `peak`) says;
        returns how many arrivals found an idle customer and went to order."""
        config = self.ctx.config
        began = time.monotonic()
        sent = 0
        for offset in arrivals(
            self.ctx.rng,
            peak_per_minute=peak,
            start=start,
            speed=config.speed,
            wall_seconds=wall_seconds,
            flat=flat,
        ):
            await asyncio.sleep(max(0.0, began + offset - time.monotonic()))
            idle = [c for c in self.customers if not c.busy]
            if not idle:
                self.unserved += 1
                continue
            customer = self.ctx.rng.choice(idle)
            customer.busy = True
            self.ctx.spawn(customer.hungry())
            sent += 1
        return sent

    def open_orders(self) -> int:
        """Orders placed in this run that have not ended yet, as their customers see them."""
        return sum(1 for fate in self.ctx.recorder.orders.values() if fate.status not in FINAL)

    def busy_customers(self) -> int:
        """Customers still busy with an order (placing it, or waiting for it)."""
        return sum(1 for c in self.customers if c.busy)

    async def drain(self, within: float, report: Callable[[str], None]) -> None:
        """Let open orders finish; past `within` seconds, owners cancel what is not on its way."""
        self.ctx.draining.set()
        if not await self._settled(within):
            report(f"drain: {self.open_orders()} order(s) still open; owners cancel the rest")
            await asyncio.gather(*(owner.finish() for owner in self.owners))
            if not await self._settled(120):
                report(f"drain: {self.open_orders()} order(s) never ended")

    async def _settled(self, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.busy_customers() == 0 and self.open_orders() == 0:
                return True
            await asyncio.sleep(1)
        return False

    def sample_riders(self, bucket: int) -> None:
        """One second of rider time: who is on shift, who is carrying an order."""
        recorder = self.ctx.recorder
        for rider in self.riders:
            if rider.online:
                recorder.rider_online[bucket] += 1
                if rider.order_id is not None:
                    recorder.rider_busy[bucket] += 1

    async def stop(self) -> None:
        """Riders off shift, every task cancelled, every socket and client closed."""
        await asyncio.gather(*(rider.finish() for rider in self.riders))
        await self.ctx.stop()
        await asyncio.gather(*(socket.close() for socket in self.sockets()))
        await asyncio.gather(*(client.close() for client in self.city.clients()))
