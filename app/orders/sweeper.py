"""Background work of every node: reject unanswered orders, finish refunds left pending, void
the charges of requests that lost their key, forget expired idempotency keys."""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy import delete

from app.db import Database, utcnow
from app.lifecycle import CANCEL_TIMEOUT, STOP_GRACE, run_to_end, stop_task
from app.orders.hooks import OrderHooks
from app.orders.models import IdempotencyRecord
from app.orders.refunds import settle_pending_part_refunds
from app.orders.service import reject_unanswered, settle_pending_refunds
from app.orders.superseded import void_superseded_charges
from app.payments.gateway import PaymentGateway

log = logging.getLogger("delivery.orders")
# A refund pending for less than this is most likely being settled by its own request.
REFUND_GRACE = 5.0


def sweep_interval(accept_timeout: float) -> float:
    """Seconds between sweeps: a quarter of the time a store has to answer, 0.2 to 5 s."""
    return max(0.2, min(5.0, accept_timeout / 4))


class Sweeper:
    """Every node runs one; the order's version column keeps each rejection exactly-once."""

    def __init__(
        self, *, db: Database, gateway: PaymentGateway, hooks: OrderHooks, accept_timeout: float
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.hooks = hooks
        self.accept_timeout = accept_timeout
        self.interval = sweep_interval(accept_timeout)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name="orders-sweeper")

    async def stop(self) -> None:
        """Cancel the sweeper; the sweep in progress gets a grace period to finish."""
        if self._task is not None:
            await stop_task(self._task, unwind=STOP_GRACE + CANCEL_TIMEOUT)
            self._task = None

    async def sweep(self) -> None:
        """One pass: reject what waited too long, settle refunds and superseded charges, delete
        expired keys."""
        await reject_unanswered(db=self.db, gateway=self.gateway, hooks=self.hooks)
        await settle_pending_refunds(db=self.db, gateway=self.gateway, older_than=REFUND_GRACE)
        await settle_pending_part_refunds(db=self.db, gateway=self.gateway, older_than=REFUND_GRACE)
        await void_superseded_charges(db=self.db, gateway=self.gateway, older_than=REFUND_GRACE)
        async with self.db.uow() as uow:
            await uow.session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow())
            )
            await uow.commit()

    async def _run(self) -> None:
        while True:
            # A little jitter so the nodes do not all sweep in lockstep.
            await asyncio.sleep(self.interval * random.uniform(0.8, 1.2))
            try:
                # A cancellation waits for the sweep in progress: cut in the middle of a
                # statement, its transaction would keep its row locks until the statement ends.
                await run_to_end(self.sweep(), grace=STOP_GRACE)
            except Exception:
                log.exception("order sweep failed; retrying on the next round")
