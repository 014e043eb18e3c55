"""Converting accrued points to usable ones under a per-customer Redis lock."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from app.db import Database
from app.errors import Unavailable
from app.rewards.ledger import balances, convert_points
from app.rewards.schemas import PointsOut

log = logging.getLogger("delivery.rewards")

# The lease is far longer than a conversion takes (a few milliseconds), and redis-py's lock
# releases only with the token it acquired with, so no request can free another's lock.
LOCK_LEASE_SECONDS = 10.0
LOCK_WAIT_SECONDS = 20.0


async def convert(*, db: Database, redis: Redis, customer_id: int, amount: int) -> PointsOut:
    """Convert under the customer's lock; the database guard holds even if the lock does not."""
    lock = redis.lock(
        f"lock:points:{customer_id}",
        timeout=LOCK_LEASE_SECONDS,
        blocking_timeout=LOCK_WAIT_SECONDS,
        sleep=0.02,
    )
    try:
        acquired = await lock.acquire()
    except (RedisError, OSError) as error:
        raise Unavailable("The points lock is unavailable; try again.") from error
    if not acquired:
        raise Unavailable("Too many conversions at once for this account; try again.")
    try:
        async with db.uow() as uow:
            result = await convert_points(uow, customer_id=customer_id, amount=amount)
            await uow.commit()
        return PointsOut(**result)
    finally:
        try:
            await lock.release()
        except LockError:
            # The lease ran out mid-work; the conditional update still kept the balances exact.
            log.warning("points lock of customer %s expired before release", customer_id)
        except (RedisError, OSError):
            log.warning("could not release the points lock of customer %s", customer_id)


async def read_balances(*, db: Database, customer_id: int) -> PointsOut:
    """The customer's accrued and usable points."""
    async with db.uow() as uow:
        return PointsOut(**await balances(uow, customer_id=customer_id))
