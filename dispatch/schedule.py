"""Search deadlines in a Redis sorted set (score = due time), claimed atomically by any node;
and the batch dispatcher's turn, taken by one node at a time.

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


# The batch dispatcher's turn, the same idea for one recurring job: a node takes the turn when
# it is due and nobody holds it, holds it under a lease it renews while the batch runs, and
# hands it back with the time of the next batch. A node that dies mid-batch loses the lease,
# and another takes the turn when the lease runs out. Both keys share a hash slot.
BATCH_HOLDER_KEY = "{dispatch:batch}:holder"
BATCH_NEXT_KEY = "{dispatch:batch}:next"

# ARGV: now (ms), this node's token, the lease (ms).
_TAKE_TURN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local due = tonumber(redis.call('GET', KEYS[2]) or '0')
if due > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
# ARGV: this node's token, the lease (ms).
_RENEW_TURN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# ARGV: this node's token, when the next batch is due (ms).
_END_TURN = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


async def take_batch_turn(redis: Redis, *, token: str, now: float, lease: float) -> bool:
    """Take the batch turn if a batch is due by `now` (epoch seconds) and no node holds it."""
    taken = await redis.eval(
        _TAKE_TURN, 2, BATCH_HOLDER_KEY, BATCH_NEXT_KEY, _ms(now), token, _ms(lease)
    )
    return bool(taken)


async def renew_batch_turn(redis: Redis, *, token: str, lease: float) -> bool:
    """Extend this node's hold on the turn; False if it was lost (the lease ran out)."""
    return bool(await redis.eval(_RENEW_TURN, 1, BATCH_HOLDER_KEY, token, _ms(lease)))


async def end_batch_turn(redis: Redis, *, token: str, next_at: float) -> bool:
    """Hand the turn back, the next batch due at `next_at` (epoch seconds)."""
    return bool(
        await redis.eval(_END_TURN, 2, BATCH_HOLDER_KEY, BATCH_NEXT_KEY, token, _ms(next_at))
    )
