"""The workers of every node: the search worker claims due searches from Redis and steps them;
with DISPATCH_STRATEGY=batch the batch worker also takes the batch turn when due (one node at a
time) and runs a batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import or_, select

from app.config import Settings
from app.db import Database, utcnow
from app.lifecycle import STOP_GRACE, stop_task, wait_for_event
from app.orders.lifecycle import DispatchState
from app.orders.models import Order
from dispatch.batch import BatchConfig, BatchOutcome, run_batch
from dispatch.bundles import BundleRules
from dispatch.earnings import FeeSchedule
from dispatch.models import DispatchSearch
from dispatch.offers import SEARCHING_STATUSES, Engine, step
from dispatch.schedule import (
    claim_due,
    end_batch_turn,
    renew_batch_turn,
    schedule,
    take_batch_turn,
)

log = logging.getLogger("delivery.dispatch")

# Searches overdue by more than this are put back into the Redis schedule (their node died
# between commit and scheduling, or after claiming them).
OVERDUE_GRACE = timedelta(seconds=2)
SWEEP_INTERVAL = 1.0
RETRY_DELAY = timedelta(seconds=0.5)


class SearchWorker:
    """Polls the deadlines, steps the searches it claims, and re-adds overdue ones."""

    def __init__(self, *, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.engine = Engine(
            geo=redis,
            base_radius_km=settings.dispatch_radius_km,
            offer_ttl=settings.dispatch_offer_ttl,
            batch=settings.dispatch_strategy == "batch",
            fees=FeeSchedule(base=settings.dispatch_fee_base, per_km=settings.dispatch_fee_per_km),
        )
        self.poll = max(0.05, min(0.25, settings.dispatch_offer_ttl / 5))
        self._wanted: dict[int, datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        self._stopping = False
        self.steps = 0

    def want(self, order_id: int, at: datetime | None = None) -> None:
        """Schedule a look at an order at `at` (now by default), from an after-commit callback."""
        at = at or utcnow()
        current = self._wanted.get(order_id)
        self._wanted[order_id] = at if current is None else min(current, at)
        self._wake.set()

    def start(self) -> None:
        """Run in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name="dispatch-search-worker")

    async def stop(self) -> None:
        """Stop after the step in progress (a cancelled transaction could leave locks behind)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await stop_task(self._task, grace=STOP_GRACE)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            await wait_for_event(self._wake, self.poll)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch worker round failed; retrying")
                await asyncio.sleep(self.poll)

    async def tick(self) -> None:
        """One pass: publish wanted looks, sweep overdue searches, step what is due."""
        wanted, self._wanted = self._wanted, {}
        for order_id, at in wanted.items():
            await schedule(self.redis, order_id, at)
        if time.monotonic() - self._last_sweep >= SWEEP_INTERVAL:
            self._last_sweep = time.monotonic()
            await self.sweep()
        while not self._stopping and (due := await claim_due(self.redis, now=time.time())):
            for order_id in due:
                await self._step(order_id)

    async def _step(self, order_id: int) -> None:
        try:
            again = await step(db=self.db, engine=self.engine, order_id=order_id)
        except Exception:
            log.exception("dispatch step of order %s failed; retrying shortly", order_id)
            again = utcnow() + RETRY_DELAY
        self.steps += 1
        if again is not None:
            await schedule(self.redis, order_id, again)

    async def sweep(self) -> None:
        """Put searches overdue in the database back into the Redis schedule."""
        query = select(DispatchSearch.order_id, DispatchSearch.deadline_at).where(
            DispatchSearch.active.is_(True),
            DispatchSearch.deadline_at < utcnow() - OVERDUE_GRACE,
        )
        if self.engine.batch:
            # Orders still waiting are the batches' to offer; only searches left to close
            # (the order got its rider, or was cancelled) are stepped.
            query = query.join(Order, Order.id == DispatchSearch.order_id).where(
                or_(
                    Order.dispatch != DispatchState.SEARCHING,
                    Order.status.not_in(SEARCHING_STATUSES),
                )
            )
        async with self.db.uow() as uow:
            overdue = (await uow.session.execute(query.limit(500))).all()
        for order_id, deadline in overdue:
            await schedule(self.redis, order_id, deadline)


# How long a node holds the batch turn without renewing it; a node that dies mid-batch delays
# the next batch by at most this.
BATCH_LEASE = 5.0
BATCH_RETRY = 1.0


class BatchWorker:
    """Takes the batch turn when a batch is due and no node holds it, and runs the batch."""

    def __init__(self, *, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.config = BatchConfig(
            geo=redis,
            base_radius_km=settings.dispatch_radius_km,
            offer_ttl=settings.dispatch_offer_ttl,
            fees=FeeSchedule(base=settings.dispatch_fee_base, per_km=settings.dispatch_fee_per_km),
            bundles=(
                BundleRules(max_extra_seconds=settings.dispatch_bundle_max_extra_minutes * 60)
                if settings.dispatch_bundles
                else None
            ),
        )
        self.period = settings.dispatch_batch_seconds
        self.poll = max(0.02, min(0.5, self.period / 4))
        self.token = uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # (started, ended) on the monotonic clock, and what each batch did: the latest ones.
        self.runs: deque[tuple[float, float, BatchOutcome]] = deque(maxlen=1000)

    def start(self) -> None:
        """Run in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name="dispatch-batch-worker")

    async def stop(self) -> None:
        """Stop after the batch in progress, handing the turn back."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await stop_task(self._task, grace=STOP_GRACE)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            await wait_for_event(self._wake, self.poll)
            if self._stopping:
                return
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch batch failed; trying again in %g s", BATCH_RETRY)
                # A dependency that is down is not asked again at every poll.
                await wait_for_event(self._wake, BATCH_RETRY)

    async def tick(self) -> BatchOutcome | None:
        """Run a batch if it is this node's turn; None when it was not."""
        now = time.time()
        if not await take_batch_turn(self.redis, token=self.token, now=now, lease=BATCH_LEASE):
            return None
        started = time.monotonic()
        try:
            async with self._holding() as still_ours:
                outcome = await run_batch(db=self.db, config=self.config, still_ours=still_ours)
        finally:
            ended = time.monotonic()
            await end_batch_turn(self.redis, token=self.token, next_at=now + self.period)
        self.runs.append((started, ended, outcome))
        return outcome

    @contextlib.asynccontextmanager
    async def _holding(self) -> AsyncIterator[Any]:
        """Renew the turn's lease while the batch runs; yields the check the batch makes
        before it commits."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(BATCH_LEASE / 3)
                if not await renew_batch_turn(self.redis, token=self.token, lease=BATCH_LEASE):
                    return

        async def still_ours() -> bool:
            return await renew_batch_turn(self.redis, token=self.token, lease=BATCH_LEASE)

        renewing = asyncio.create_task(renew(), name="dispatch-batch-lease")
        try:
            yield still_ours
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
