"""Background work of every node: reject unanswered orders, forget expired idempotency keys."""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress

from sqlalchemy import delete

from app.db import utcnow
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
            await reject_unanswered(
                db=resources.db, gateway=resources.extra["payments"], older_than=timeout
            )
            async with resources.db.uow() as uow:
                await uow.session.execute(
                    delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow())
                )
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("order sweep failed; retrying on the next round")


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel the sweeper and wait for it."""
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
