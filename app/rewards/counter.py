"""The claim counter in the cache Redis: one Lua step decides a claim, and can be rebuilt.

Each campaign has three keys sharing a hash slot: `ready` (a random epoch written by the last
rebuild), `stock` (coupons left) and `claimed` (customers who took one). A flush or restart
loses `ready` with the rest, and the claim script then refuses to decide until the counters
are rebuilt from the database: fail closed, never over-issue.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

NOT_READY = -1
ALREADY_CLAIMED = -2
SOLD_OUT = -3

# Checks and takes in one atomic step, so there is no INCR-then-check window to over-issue in.
CLAIM_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {-1, ''} end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return {-2, epoch} end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
if left <= 0 then return {-3, epoch} end
redis.call('DECR', KEYS[2])
redis.call('SADD', KEYS[3], ARGV[1])
return {left - 1, epoch}
"""

# Undo a claim step, but only against the counters it was taken from: after a rebuild the
# counters come from the database and already reflect whatever the database holds.
GIVE_BACK_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then redis.call('INCR', KEYS[2]) end
if ARGV[4] == '1' then redis.call('SREM', KEYS[3], ARGV[2]) end
return 1
"""

# Pull ready counters towards the database without ever loosening them: mark customers the
# database says have a coupon, and lower the stock if the database has less left.
TIGHTEN_LUA = """
if not redis.call('GET', KEYS[1]) then return 0 end
for i = 2, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
if left > tonumber(ARGV[1]) then redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL') end
return 1
"""


@dataclass(frozen=True)
class Take:
    """The outcome of the claim step: `left` ≥ 0 when a coupon was taken, else a code."""

    left: int
    epoch: str

    @property
    def taken(self) -> bool:
        """True when this step took a coupon."""
        return self.left >= 0


def keys(campaign_id: int) -> list[str]:
    """The campaign's `ready`, `stock` and `claimed` keys (one hash slot)."""
    base = f"coupon:{{{campaign_id}}}"
    return [f"{base}:ready", f"{base}:stock", f"{base}:claimed"]


class ClaimCounter:
    """Claim steps, compensations and rebuilds on the counting Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(CLAIM_LUA)
        self._give_back = redis.register_script(GIVE_BACK_LUA)
        self._tighten = redis.register_script(TIGHTEN_LUA)

    @property
    def claim_sha(self) -> str:
        """The SHA1 of the claim script (for EVALSHA benchmarks)."""
        return str(self._claim.sha)

    async def take(self, campaign_id: int, customer_id: int) -> Take:
        """Run the claim step for one customer."""
        left, epoch = await self._claim(keys=keys(campaign_id), args=[customer_id])
        return Take(int(left), epoch.decode() if isinstance(epoch, bytes) else str(epoch))

    async def give_back(
        self, campaign_id: int, take: Take, customer_id: int, *, restock: bool, forget: bool
    ) -> bool:
        """Compensate a claim step; False when the counters were rebuilt since."""
        done = await self._give_back(
            keys=keys(campaign_id),
            args=[take.epoch, customer_id, int(restock), int(forget)],
        )
        return bool(done)

    async def tighten(self, campaign_id: int, *, left: int, customers: Iterable[int]) -> bool:
        """Add these customers and cap the stock at `left`; False when not ready."""
        done = await self._tighten(keys=keys(campaign_id), args=[max(0, left), *customers])
        return bool(done)

    async def sizes(self, campaign_id: int) -> tuple[int | None, int]:
        """(customers marked, stock left), or (None, 0) when the counters are not ready."""
        ready, stock, claimed = keys(campaign_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(ready)
            pipe.scard(claimed)
            pipe.get(stock)
            exists, marked, left = await pipe.execute()
        if not exists:
            return None, 0
        return int(marked), int(left or 0)

    async def ready(self, campaign_id: int) -> bool:
        """True when the counters exist (written by a rebuild and not lost since)."""
        return bool(await self.redis.exists(keys(campaign_id)[0]))

    async def remaining(self, campaign_id: int) -> int | None:
        """Coupons left according to the counter, or None when it is not ready."""
        ready, stock, _ = keys(campaign_id)
        epoch, left = await self.redis.mget([ready, stock])
        return None if epoch is None else int(left or 0)

    async def load(
        self, campaign_id: int, *, left: int, customers: Iterable[int], ttl_seconds: int
    ) -> None:
        """Replace the counters with these values and mark them ready, atomically."""
        ready, stock, claimed = keys(campaign_id)
        members = list(customers)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(stock, claimed)
            for start in range(0, len(members), 5_000):
                pipe.sadd(claimed, *members[start : start + 5_000])
            pipe.set(stock, max(0, left), ex=ttl_seconds)
            if members:
                pipe.expire(claimed, ttl_seconds)
            pipe.set(ready, secrets.token_hex(8), ex=ttl_seconds)
            await pipe.execute()
