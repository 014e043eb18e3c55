"""Per-stream event logs in the events Redis: ordered, idempotent appends, and replay.

Each stream has a Redis Stream `rt:log:{<stream>}` (entry id `<seq>-0`) and a head key
`rt:head:{<stream>}` holding its last appended seq; the hash tag keeps both, and the stream's
channel on a Redis Cluster, on one slot. The append script accepts an event only if its seq is exactly head + 1,
and publishes it for the nodes' fan-out in the same atomic step, so however many relays race,
every event is appended and published once, in seq order. Logs are bounded in length
(`LOG_MAX_LEN`) and age (`LOG_MAX_AGE_MS`); replay falls back to the database outbox when the
log does not reach back far enough.

On a single server the script PUBLISHes every event on `rt:events`, which every node hears; on a
Redis Cluster it SPUBLISHes on the stream's own shard channel `rt:events:{<stream>}`, which only
the nodes with a subscriber to that stream listen to (`realtime.sharded`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.db import Database
from app.outbox import OutboxEvent, current_seq, envelope_of
from app.redis_clients import is_cluster
from realtime.ops import OPS_EVENTS_CHANNEL, carried

log = logging.getLogger("delivery.realtime")

CHANNEL = "rt:events"
LOCATION_CHANNEL = "rt:location"
LOG_MAX_LEN = 1000
LOG_MAX_AGE_MS = 24 * 3600 * 1000
# The most events one replay hands back; a client further behind re-reads the REST snapshot.
REPLAY_LIMIT = 5000

APPENDED, ALREADY, GAP = 1, 0, -1

_APPEND = """
local head = redis.call('GET', KEYS[2])
if head then
  head = tonumber(head)
else
  local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if newest[1] then
    head = tonumber(string.match(newest[1][1], '^(%d+)'))
  else
    head = tonumber(ARGV[6])
  end
end
local seq = tonumber(ARGV[1])
if seq <= head then return {0, head} end
if seq > head + 1 then return {-1, head} end
local now = tonumber(ARGV[5])
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], seq .. '-0', 'e', ARGV[2], 't', now)
redis.call('SET', KEYS[2], seq, 'PX', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local cutoff = now - tonumber(ARGV[7])
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 64)
for i, entry in ipairs(oldest) do
  if tonumber(entry[2][4]) >= cutoff then
    if i > 1 then redis.call('XTRIM', KEYS[1], 'MINID', entry[1]) end
    break
  end
end
redis.call(ARGV[9], ARGV[8], ARGV[2])
if ARGV[10] ~= '' then redis.call('PUBLISH', ARGV[10], ARGV[2]) end
return {1, seq}
"""


def log_key(stream: str) -> str:
    """The Redis Stream holding `stream`'s recent events."""
    return f"rt:log:{{{stream}}}"


def head_key(stream: str) -> str:
    """The key holding the last seq appended to `stream`'s log."""
    return f"rt:head:{{{stream}}}"


def stream_channel(stream: str) -> str:
    """The shard channel of `stream`'s events on a Redis Cluster (the slot of its log)."""
    return f"{CHANNEL}:{{{stream}}}"


def location_channel(stream: str) -> str:
    """The shard channel of an order stream's rider positions on a Redis Cluster."""
    return f"{LOCATION_CHANNEL}:{{{stream}}}"


async def read_heads(redis: Redis, streams: Sequence[str]) -> list[bytes | None]:
    """The raw head of each stream (None where Redis has no record), in one round trip a node."""
    keys = [head_key(stream) for stream in streams]
    if is_cluster(redis):
        # The heads live on every shard: one MGET per slot, sent to their nodes in parallel.
        return list(await redis.mget_nonatomic(keys))  # type: ignore[attr-defined]
    return cast(list[bytes | None], await redis.mget(keys))


def encode(envelope: dict[str, Any]) -> str:
    """The wire form of an event envelope."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


async def append_many(
    redis: Redis, envelopes: list[dict[str, Any]], *, floor: int | Sequence[int]
) -> list[tuple[int, int]]:
    """Append and publish events (each stream's in seq order), in one round trip.

    Each result is (APPENDED | ALREADY | GAP, head). Every script checks seq == head + 1 on its
    own, so after a GAP the rest of that stream are GAP too and nothing is appended out of
    order. `floor` (one for all, or one per event) is the seq already known to be published
    when Redis has no record of the stream (after a restart that lost its data).
    """
    if not envelopes:
        return []
    now = int(time.time() * 1000)
    floors = [floor] * len(envelopes) if isinstance(floor, int) else list(floor)
    sharded = is_cluster(redis)
    async with redis.pipeline(transaction=False) as pipe:
        for envelope, known in zip(envelopes, floors, strict=True):
            stream = envelope["stream"]
            pipe.eval(
                _APPEND,
                2,
                log_key(stream),
                head_key(stream),
                envelope["seq"],
                encode(envelope),
                LOG_MAX_LEN,
                LOG_MAX_AGE_MS,
                now,
                known,
                LOG_MAX_AGE_MS,
                stream_channel(stream) if sharded else CHANNEL,
                "SPUBLISH" if sharded else "PUBLISH",
                OPS_EVENTS_CHANNEL if sharded and carried(stream) else "",
            )
        results = await pipe.execute()
    return [(int(state), int(head)) for state, head in results]


@dataclass
class Replay:
    """What a subscriber missed: the events after its seq, and whether that is provably all."""

    events: list[dict[str, Any]] = field(default_factory=list)
    recovered: bool = True
    last_seq: int = 0


async def read_head(redis: Redis, stream: str) -> int | None:
    """The last seq in `stream`'s log, or None when Redis has no record of it."""
    raw = await redis.get(head_key(stream))
    return None if raw is None else int(raw)


async def _from_log(redis: Redis, stream: str, after: int) -> Replay | None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(head_key(stream))
        pipe.xrange(log_key(stream), min=f"{after + 1}-0", max="+", count=REPLAY_LIMIT + 1)
        raw_head, entries = await pipe.execute()
    if raw_head is None:
        return None
    head = int(raw_head)
    if after > head:
        return None  # the log lags the database; only the database can say
    if after == head:
        return Replay([], True, head)
    events = [json.loads(fields[b"e"]) for _id, fields in entries]
    if len(events) == head - after and events and events[0]["seq"] == after + 1:
        return Replay(events, True, head)
    return None


async def _from_database(*, db: Database, stream: str, after: int) -> Replay:
    async with db.uow() as uow:
        # Head first: rows committed after it arrive live, and must not be mistaken for a gap.
        head = await current_seq(uow, stream)
        if after > head:
            return Replay([], False, head)
        rows = (
            await uow.session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.stream == stream,
                    OutboxEvent.seq > after,
                    OutboxEvent.seq <= head,
                )
                .order_by(OutboxEvent.seq)
                .limit(REPLAY_LIMIT + 1)
            )
        ).all()
    events = [envelope_of(row) for row in rows]
    complete = len(events) == head - after and all(
        event["seq"] == after + 1 + i for i, event in enumerate(events)
    )
    if not complete:
        return Replay([], False, head)
    return Replay(events, True, head)


async def replay(*, db: Database, redis: Redis, stream: str, after: int | None) -> Replay:
    """Events of `stream` after seq `after`, from the Redis log or else the database outbox."""
    if after is None:
        # The database's head, not the log's: the log may not have caught up with the outbox.
        try:
            async with db.uow() as uow:
                return Replay([], True, await current_seq(uow, stream))
        except SQLAlchemyError:
            head = None
        with contextlib.suppress(RedisError):
            head = await read_head(redis, stream)
        return Replay([], head is not None, head or 0)
    try:
        found = await _from_log(redis, stream, after)
        if found is not None:
            return found
    except RedisError as error:
        log.warning("event log unavailable for replay of %s: %s", stream, error)
    try:
        return await _from_database(db=db, stream=stream, after=after)
    except SQLAlchemyError as error:
        log.warning("outbox unavailable for replay of %s: %s", stream, error)
        return Replay([], False, after)
