"""The outbox relay: publishes committed events to the events Redis, on every node.

A pass reads the waiting events of every stream at once, claims their streams with one Redis
script, appends them all in one pipeline and marks them published in one statement: a few round
trips per pass however many orders it carries, not several per stream. A stream another relay
holds is marked dirty and left to it: the holder sees the mark as it lets go and reads again at
once, so an event committed during its pass waits for no sweep. A stream whose Redis record is missing or behind (a Redis restart) takes the careful path, one
stream at a time, that continues from what the database says went out. The locks are an
optimisation for ordering and wasted work; correctness rests on the append script, which only
accepts seq == head + 1 (see `realtime.eventlog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from app.db import Database, table_of, utcnow
from app.lifecycle import STOP_GRACE, stop_task, wait_for_event
from app.outbox import OutboxEvent, envelope_of
from app.redis_clients import is_cluster
from realtime.eventlog import APPENDED, GAP, append_many, read_head, read_heads

log = logging.getLogger("delivery.realtime.relay")

SWEEP_INTERVAL = 1.0
BATCH = 500
LOCK_MS = 10_000

# Built once (a statement object keeps its cache key): what waits, read as plain rows, and the
# mark that it went out, by primary key (a range update would lock index entries that
# concurrent writers and relays need, and deadlock with them).
_WAITING = (
    select(
        OutboxEvent.id,
        OutboxEvent.stream,
        OutboxEvent.seq,
        OutboxEvent.type,
        OutboxEvent.at,
        OutboxEvent.payload,
    )
    .where(OutboxEvent.published == 0)
    .order_by(OutboxEvent.id)
    .limit(BATCH)
)
_MARK_PUBLISHED = (
    update(table_of(OutboxEvent))
    .where(OutboxEvent.id.in_(bindparam("ids", expanding=True)), OutboxEvent.published == 0)
    .values(published=1, published_at=bindparam("p_now"))
)

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 0
"""

# 1: released; 0: the stream was marked dirty meanwhile, lock kept (go again); -1: lock lost.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('GET', KEYS[2]) then
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
redis.call('DEL', KEYS[1])
return 1
"""


# Claims each stream whose lock is free (1) or marks it dirty for its holder (0).
_ACQUIRE_MANY = """
local claimed = {}
for i = 1, #KEYS, 2 do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then
    redis.call('DEL', KEYS[i + 1])
    claimed[#claimed + 1] = 1
  else
    redis.call('SET', KEYS[i + 1], '1', 'PX', ARGV[2])
    claimed[#claimed + 1] = 0
  end
end
return claimed
"""

# Gives back every lock still held with this token (KEYS: lock, dirty, lock, dirty, ...);
# 1 when another relay marked one of the streams dirty meanwhile: the holder reads again.
_RELEASE_MANY = """
local again = 0
for i = 1, #KEYS, 2 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    if redis.call('DEL', KEYS[i + 1]) == 1 then again = 1 end
  end
end
return again
"""

_ABANDON = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


def _lock_keys(stream: str) -> tuple[str, str]:
    # One hash tag: a stream's lock and dirty mark sit on one slot, its log's.
    return f"rt:lock:{{{stream}}}", f"rt:dirty:{{{stream}}}"


def _by_slot(redis: Redis, streams: list[str]) -> list[list[str]]:
    """The streams in groups whose keys a script may use together (all of them on one server)."""
    if not is_cluster(redis):
        return [streams] if streams else []
    groups: dict[int, list[str]] = {}
    for stream in streams:
        groups.setdefault(redis.keyslot(_lock_keys(stream)[0]), []).append(stream)  # type: ignore[attr-defined]
    return list(groups.values())


async def _eval_by_slot(
    redis: Redis, script: str, streams: list[str], *args: Any
) -> list[tuple[list[str], Any]]:
    """Run a many-streams lock script once per slot group, in one pipeline (one call alone)."""
    groups = _by_slot(redis, streams)
    if len(groups) == 1:
        keys = [key for stream in groups[0] for key in _lock_keys(stream)]
        return [(groups[0], await redis.eval(script, len(keys), *keys, *args))]
    async with redis.pipeline(transaction=False) as pipe:
        for group in groups:
            keys = [key for stream in group for key in _lock_keys(stream)]
            pipe.eval(script, len(keys), *keys, *args)
        results = await pipe.execute()
    return list(zip(groups, results, strict=True))


class Relay:
    """One node's relay: woken after each commit that wrote events, and sweeping periodically."""

    def __init__(
        self,
        db: Database,
        redis: Redis,
        *,
        sweep_interval: float = SWEEP_INTERVAL,
        on_appended: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
    ):
        self.db = db
        self.redis = redis
        self.sweep_interval = sweep_interval
        # Told of the events this relay appended, in seq order (the socketio-redis fan-out
        # emits them; the hub needs nothing, the append script publishes).
        self.on_appended = on_appended
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0

    def wake(self) -> None:
        """Called right after a commit that wrote outbox events."""
        self._wake.set()

    def start(self) -> None:
        """Run the relay loop in the background."""
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop after the stream in progress, or cancel the pass after a grace period.

        Events left unpublished are the next relay's (any node's sweep finds them); a
        cancelled pass gives its stream locks back and rolls its transaction back.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await stop_task(self._task, grace=STOP_GRACE)
            self._task = None

    async def _run(self) -> None:
        failures = 0
        # The flag, not only the cancellation, ends the loop: a loop that lives until it is
        # cancelled goes on for ever once a cancellation is lost.
        while not self._stopping:
            await wait_for_event(self._wake, self.sweep_interval)
            if self._stopping:
                return
            self._wake.clear()
            try:
                await self.run_once()
                failures = 0
            except (RedisError, SQLAlchemyError, OSError) as error:
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("outbox relay pass failed (%d in a row): %s", failures, error)
                await asyncio.sleep(min(0.1 * failures, 2.0))

    async def run_once(self) -> int:
        """Publish everything waiting now; returns how many events this relay appended."""
        total = 0
        while not self._stopping:
            appended, more = await self._pass()
            total += appended
            if not more:
                return total
        return total

    async def _pass(self) -> tuple[int, bool]:
        """One batch of waiting events, every stream at once: (appended, whether to go again:
        a full batch, or a stream another relay found held while this one read)."""
        async with self.db.uow() as uow:
            rows = (await uow.session.execute(_WAITING)).all()
            if not rows:
                return 0, False
            # Per stream, ids rise with seqs (a seq is taken under the stream head's row lock,
            # before the row is inserted), so each stream's rows here are a prefix in seq order.
            # Rows of `_WAITING` (id, stream, seq, type, at, payload).
            waiting: dict[str, list[Any]] = {}
            for row in rows:
                waiting.setdefault(row.stream, []).append(row)
            token = secrets.token_hex(8)
            claimed = await self._claim(list(waiting), token)
            try:
                appended, done, careful = await self._append({s: waiting[s] for s in claimed})
                if done:
                    await uow.session.execute(_MARK_PUBLISHED, {"ids": done, "p_now": utcnow()})
                    await uow.commit()
            finally:
                again = await self._release(claimed, token)
        self.published += len(appended)
        if appended and self.on_appended is not None:
            await self.on_appended(appended)
        count = len(appended)
        for stream in careful:
            count += await self._claim_and_publish(stream)
        return count, again or len(rows) == BATCH

    async def _claim(self, streams: list[str], token: str) -> list[str]:
        claimed: list[str] = []
        try:
            results = await _eval_by_slot(self.redis, _ACQUIRE_MANY, streams, token, LOCK_MS)
        except BaseException:
            # On a cluster some shards may have granted theirs: give them back now.
            await self._release(streams, token)
            raise
        for group, flags in results:
            claimed += [stream for stream, flag in zip(group, flags, strict=True) if flag]
        return claimed

    async def _release(self, streams: list[str], token: str) -> bool:
        if not streams:
            return False
        # Bounded and quiet: a lock left behind expires, and any relay's sweep goes on.
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                released = await _eval_by_slot(self.redis, _RELEASE_MANY, streams, token)
                return any(bool(again) for _, again in released)
        return True

    async def _append(
        self, waiting: dict[str, list[Any]]
    ) -> tuple[list[dict[str, Any]], list[int], list[str]]:
        """Append the claimed streams' events in one pipeline: (appended envelopes, row ids to
        mark published, streams for the careful path)."""
        streams = list(waiting)
        if not streams:
            return [], [], []
        heads = await read_heads(self.redis, streams)
        careful: list[str] = []
        batch: list[tuple[Any, dict[str, Any], int]] = []
        done: list[int] = []
        for stream, raw in zip(streams, heads, strict=True):
            if raw is not None:
                head = int(raw)
            elif waiting[stream][0].seq == 1:
                head = 0  # a new stream (an order's first event): nothing went out before
            else:
                careful.append(stream)  # Redis has no record: the database says where to go on
                continue
            for row in waiting[stream]:
                if row.seq <= head:
                    done.append(row.id)  # appended by a relay that died before marking it
                else:
                    batch.append((row, envelope_of(row), head))
        if not batch:
            return [], done, careful
        # The floor only counts if Redis loses the stream between the read and the append.
        results = await append_many(
            self.redis, [envelope for _, envelope, _ in batch], floor=[h for _, _, h in batch]
        )
        appended: list[dict[str, Any]] = []
        broken: set[str] = set()
        for (row, envelope, _), (state, _new_head) in zip(batch, results, strict=True):
            if row.stream in broken:
                continue
            if state == GAP:
                # Redis is behind what the database published (it restarted from older data).
                broken.add(row.stream)
                continue
            if state == APPENDED:
                appended.append(envelope)
            done.append(row.id)
        return appended, done, careful + sorted(broken)

    async def _claim_and_publish(self, stream: str) -> int:
        lock, dirty = _lock_keys(stream)
        token = secrets.token_hex(8)
        if not await self.redis.eval(_ACQUIRE, 2, lock, dirty, token, LOCK_MS):
            return 0  # the holder will see the dirty mark and go again
        total = 0
        try:
            while True:
                total += await self._publish_stream(stream)
                if self._stopping:
                    # A busy stream stays dirty for as long as orders come in: hand it over
                    # now (any relay's next sweep finds what is left).
                    await self.redis.eval(_ABANDON, 1, lock, token)
                    return total
                state = await self.redis.eval(_RELEASE, 2, lock, dirty, token, LOCK_MS)
                if state != 0:
                    return total
        except BaseException:
            # Let another relay take the stream now rather than when the lock expires.
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(0.5):
                    await self.redis.eval(_ABANDON, 1, lock, token)
            raise

    async def _publish_stream(self, stream: str) -> int:
        """Append the stream's unpublished events in seq order, then mark them published."""
        appended: list[dict[str, Any]] = []
        head = await read_head(self.redis, stream)
        async with self.db.uow() as uow:
            if head is None:
                # Redis lost the stream (restart): continue after what the database says went out.
                floor = await uow.session.scalar(
                    select(func.max(OutboxEvent.seq)).where(
                        OutboxEvent.stream == stream, OutboxEvent.published == 1
                    )
                )
                head = int(floor or 0)
            floor_seq = head
            done: list[int] = []
            # The first batch also takes rows a relay appended but died before marking.
            waiting = or_(OutboxEvent.seq > head, OutboxEvent.published == 0)
            while True:
                rows = (
                    await uow.session.scalars(
                        select(OutboxEvent)
                        .where(OutboxEvent.stream == stream, waiting)
                        .order_by(OutboxEvent.seq)
                        .limit(BATCH)
                    )
                ).all()
                done += [row.id for row in rows if row.seq <= head]
                fresh = [row for row in rows if row.seq > head]
                envelopes = [envelope_of(row) for row in fresh]
                results = await append_many(self.redis, envelopes, floor=floor_seq)
                for row, envelope, (state, new_head) in zip(fresh, envelopes, results, strict=True):
                    if state == GAP:
                        break
                    head = new_head
                    if state == APPENDED:
                        appended.append(envelope)
                    done.append(row.id)
                if len(rows) < BATCH or (fresh and head < fresh[-1].seq):
                    break
                waiting = OutboxEvent.seq > head
            if done:
                await uow.session.execute(_MARK_PUBLISHED, {"ids": done, "p_now": utcnow()})
                await uow.commit()
        self.published += len(appended)
        if appended and self.on_appended is not None:
            await self.on_appended(appended)
        return len(appended)
