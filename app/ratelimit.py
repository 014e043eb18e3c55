"""Fixed-window counters in the cache Redis, for login, signup, claim and ordering limits."""

from __future__ import annotations

from redis.asyncio import Redis

from app.errors import RateLimited

_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""

_REFUND = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RateLimiter:
    """Counts hits per key in a window; over the limit raises 429 with Retry-After."""

    def __init__(self, redis: Redis, prefix: str = "rl") -> None:
        self._redis = redis
        self._prefix = prefix
        self._hit = redis.register_script(_HIT)
        self._refund = redis.register_script(_REFUND)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    async def count(self, name: str, *, window: int) -> tuple[int, int]:
        """Count one hit, atomically; the count so far in this window and its seconds left."""
        count, ttl = await self._hit(keys=[self._key(name)], args=[window])
        return int(count), int(ttl)

    async def hit(self, name: str, *, limit: int, window: int) -> None:
        """Count one hit; raise `RateLimited` when this one is over `limit`."""
        count, ttl = await self.count(name, window=window)
        if count > limit:
            raise RateLimited(ttl)

    async def refund(self, name: str) -> None:
        """Take back one hit of the current window (none if the window is over)."""
        await self._refund(keys=[self._key(name)])

    async def check(self, name: str, *, limit: int) -> None:
        """Raise `RateLimited` if `name` is already at `limit`, without counting."""
        key = self._key(name)
        count = await self._redis.get(key)
        if count is not None and int(count) >= limit:
            raise RateLimited(int(await self._redis.ttl(key)))

    async def reset(self, name: str) -> None:
        """Forget the hits of `name` (e.g. after a successful login)."""
        await self._redis.delete(self._key(name))
