"""Background work of every node: reject unanswered orders, forget expired idempotency keys."""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy import delete

from app.db import utcnow
from app.lifecycle import CANCEL_TIMEOUT, STOP_GRACE, run_to_end, stop_task
from app.orders.models import IdempotencyRecord
from app.orders.service import reject_unanswered
from app.resources import Resources

log = logging.getLogger("delivery.orders")


async def run_sweeper(resources: Resources) -> None:
    """Loop until cancelled; every node runs one and the version column keeps it exactly-once."""
    timeout = resources.settings.store_accept_timeout
    interval = max(0.2, min(5.0, timeout / 4))
    while True:
        # A little jitter so the nodes do not all sweep in lockstep.
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))
        try:
            # A cancellation waits for the sweep in progress: cut in the middle of a
            # statement, its transaction would keep its row locks until the statement ends.
            await run_to_end(_sweep(resources), grace=STOP_GRACE)
        except Exception:
            log.exception("order sweep failed; retrying on the next round")


async def _sweep(resources: Resources) -> None:
    await reject_unanswered(
        db=resources.db,
        gateway=resources.extra["payments"],
        older_than=resources.settings.store_accept_timeout,
    )
    async with resources.db.uow() as uow:
        await uow.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow())
        )
        await uow.commit()


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel the sweeper; the sweep in progress gets a grace period to finish."""
    await stop_task(task, unwind=STOP_GRACE + CANCEL_TIMEOUT)
