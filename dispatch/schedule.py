"""Search deadlines in a Redis sorted set (score = due time), claimed atomically by any node.

The set is only a fast index: the database row of each search holds its real deadline, and
every node re-adds searches that are overdue (a node died between commit and scheduling, or
after claiming), so a deadline is never lost; handling one twice is harmless because each step
re-checks the search row under a lock.
"""

from __future__ import annotations

from datetime import datetime

from redis.asyncio import Redis

DEADLINES_KEY = "dispatch:deadlines"

# Take up to ARGV[2] members due by ARGV[1] and remove them in the same atomic step, so that
# of all the nodes polling exactly one gets each deadline.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do redis.call('ZREM', KEYS[1], member) end
return due
"""


async def schedule(redis: Redis, order_id: int, at: datetime) -> None:
    """Look at `order_id`'s search at `at` (an earlier time already set wins)."""
    await redis.zadd(DEADLINES_KEY, {str(order_id): at.timestamp()}, lt=True)


async def claim_due(redis: Redis, *, now: float, limit: int = 50) -> list[int]:
    """Claim the searches due by `now`; each is handed to exactly one caller."""
    due = await redis.eval(_CLAIM, 1, DEADLINES_KEY, now, limit)
    return [int(member) for member in due]
