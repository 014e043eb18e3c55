"""What every agent shares: the run's settings, its recorder and clock, and its background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from app.simulator.config import SimConfig
from app.simulator.http import ApiClient, Reply
from app.simulator.recorder import Recorder

log = logging.getLogger("delivery.simulator")
FINAL = {"delivered", "rejected", "cancelled"}


@dataclass
class Context:
    """The run every agent belongs to."""

    config: SimConfig
    recorder: Recorder
    rng: random.Random
    http: aiohttp.ClientSession
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def sim_seconds(self, simulated: float) -> float:
        """Wall seconds that `simulated` seconds take at this run's speed."""
        return simulated / self.config.speed

    async def sleep_sim(self, simulated: float) -> None:
        """Wait for `simulated` seconds of the city's clock."""
        await asyncio.sleep(simulated / self.config.speed)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `work` in the background; it is cancelled when the run stops."""
        task = asyncio.create_task(self._guarded(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _guarded(self, work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an agent's bug must not end the run; it is reported
            log.exception("an agent failed")
            self.recorder.notes.append(f"agent error: {type(error).__name__}: {error}")

    async def stop(self) -> None:
        """Cancel every background task."""
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.tasks, return_exceptions=True)


# The status each action leads to.
LEADS_TO = {
    "accept": "accepted",
    "reject": "rejected",
    "cancel": "cancelled",
    "ready": "ready",
    "pickup": "picked_up",
    "deliver": "delivered",
}


async def act(api: ApiClient, order_id: int, action: str, body: dict[str, Any]) -> str | None:
    """An order action; returns the order's status afterwards (re-read when refused), or None."""
    reply = await api.call(action, "POST", f"/api/orders/{order_id}/{action}", json=body)
    if reply.ok:
        # Until events carry their commit time to the millisecond, the answer's arrival stands in.
        api.recorder.rest_commits[(f"order:{order_id}", int(reply.body["stream_seq"]))] = (
            time.time()
        )
        return str(reply.body["status"])
    status = await status_of(api, order_id, reply)
    if reply.retried and reply.code == "invalid-transition" and status == LEADS_TO.get(action):
        # Refused although the order is where this action leads: the first attempt did it.
        api.recorder.refused_retries.append(
            f"{action} /api/orders/{order_id}/{action}: 409 invalid-transition, order {status}"
        )
    return status


async def status_of(api: ApiClient, order_id: int, reply: Reply | None = None) -> str | None:
    """The order's status as the REST API shows it now (None if it cannot be read)."""
    current = await api.call("get-order", "GET", f"/api/orders/{order_id}")
    return str(current.body["status"]) if current.ok else None
