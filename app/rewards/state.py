"""Per-instance rewards state: the claim counter, the campaign cache and the reconciler."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from app.db import Database
from app.errors import Unavailable
from app.lifecycle import STOP_GRACE, stop_task, wait_for_event
from app.rewards import claims, coupons
from app.rewards.counter import ClaimCounter
from app.rewards.models import CouponCampaign

log = logging.getLogger("delivery.rewards")


class RewardsState:
    """What the rewards views share within one app instance."""

    def __init__(self, counter: ClaimCounter, *, reconcile_every: float = 5.0) -> None:
        self.counter = counter
        self.reconcile_every = reconcile_every
        # Campaigns never change once created, so each instance reads one only once.
        self._campaigns: dict[int, CouponCampaign] = {}
        self._loading: dict[int, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def campaign(self, db: Database, campaign_id: int) -> CouponCampaign:
        """The campaign (cached), or 404."""
        cached = self._campaigns.get(campaign_id)
        if cached is not None:
            return cached
        # One read per campaign however many claims arrive at once on a cold instance: a
        # stampede must not queue a thousand identical queries for the connection pool.
        lock = self._loading.setdefault(campaign_id, asyncio.Lock())
        try:
            async with lock:
                cached = self._campaigns.get(campaign_id)
                if cached is None:
                    cached = await coupons.get_campaign(db=db, campaign_id=campaign_id)
                    self._campaigns[campaign_id] = cached
                return cached
        except SQLAlchemyError as error:
            raise Unavailable("The database is unavailable; try again.") from error
        finally:
            self._loading.pop(campaign_id, None)

    def start(self, db: Database) -> None:
        """Start replaying the claim backlog and tightening the counters in the background."""
        self._task = asyncio.create_task(self._reconcile(db), name="coupon-reconciler")

    async def stop(self) -> None:
        """Stop the background reconciler after the round in progress (bounded)."""
        self._stop.set()
        if self._task is not None:
            await stop_task(self._task, grace=STOP_GRACE)
            self._task = None

    async def _reconcile(self, db: Database) -> None:
        while not self._stop.is_set():
            try:
                replayed = await claims.replay_backlog(db=db)
                if replayed:
                    log.info("replayed %s parked coupon claims", replayed)
                await claims.reconcile_counters(db=db, counter=self.counter)
            except Exception as error:
                # Redis or the database being away is expected now and then; try next round.
                log.warning("coupon reconciliation failed (%s); retrying later", error)
            await wait_for_event(self._stop, self.reconcile_every)
