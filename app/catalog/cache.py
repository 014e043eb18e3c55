"""Cache-aside for public catalog reads in the cache Redis, safe across nodes.

Keys are namespaced by a per-scope version number (`catalog:ver:{<scope>}`): a write bumps the
version after it commits, so every node's next read builds a fresh key and the old entries
simply expire. A value that changes by itself at a known instant (a store's `open_now` when its
hours begin or end, or a pause runs out) is built as `Expiring`: Redis drops it at that instant,
so the next read builds it afresh. A miss is rebuilt by one caller at a time (a short Redis lock); the others wait
briefly for the value. Any Redis failure degrades to the database, never to an error.

With a read replica (DATABASE_READ_URL), builds read the replica, which may lag the primary: a
rebuild under a new version must never cache data older than the write that bumped it. So a bump
also records the primary's GTID position after the write (`catalog:pos:{<scope>}`, merged so it
only moves forward, in the same script as the version), and a rebuild first has the replica
wait for that position (`MASTER_GTID_WAIT`, at most half a second) or reads the primary
instead (`app.db.reading_after`). Reads that do not store anything (bypass) are not held to it.

Every key of a scope (its version, its position, its entries `catalog:{<scope>}:v<n>:…` and
their build locks) carries the scope as its hash tag: the scripts that use them together stay
on one slot of a Redis Cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from app.db import reading_after

log = logging.getLogger("delivery.catalog.cache")

NS = "catalog:"
# The shape of the cached JSON: raised whenever a cached view gains or loses a field, so that
# nodes running a new release never serve entries an older one built (and the reverse), while
# both run side by side during a rolling deploy (also when what a view says changes: an older
# node would keep listing what a newer one hides). 2: stores' delivery radius and fee tiers.
# 3: a store whose owner's account is suspended reads as suspended, and is not listed.
FORMAT = 3
# One round trip for a read: the scope's version, then the entry stored under that version;
# on a miss, the write position a rebuild must see (empty when none was recorded).
_READ = """
local v = redis.call('GET', KEYS[1]) or '0'
local value = redis.call('GET', ARGV[1] .. v .. ARGV[2])
if value then return {v, value} end
return {v, '', redis.call('GET', KEYS[2]) or ''}
"""
# A bump with a write position: the new version and the position together, the position
# merged per GTID domain so that a bump arriving late never moves it back.
_BUMP = """
local merged, order = {}, {}
local function add(position)
  for gtid in string.gmatch(position, '[^,]+') do
    local domain, server, seq = string.match(gtid, '^%s*(%d+)%-(%d+)%-(%d+)%s*$')
    if domain then
      local old = merged[domain]
      if not old then table.insert(order, domain) end
      if not old or tonumber(seq) > tonumber(old[2]) then merged[domain] = {server, seq} end
    end
  end
end
add(redis.call('GET', KEYS[2]) or '')
add(ARGV[1])
table.sort(order, function(a, b) return tonumber(a) < tonumber(b) end)
local parts = {}
for _, domain in ipairs(order) do
  table.insert(parts, domain .. '-' .. merged[domain][1] .. '-' .. merged[domain][2])
end
redis.call('SET', KEYS[2], table.concat(parts, ','))
return redis.call('INCR', KEYS[1])
"""
# After a miss: the value if a rebuild finished meanwhile, else try to become the rebuilder.
# One script, so no caller can miss the value and then take a lock released after it was set.
_CLAIM = """
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, 1} end
return {0, 0}
"""
# Release the rebuild lock only if it is still ours (it may have expired and been retaken).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def version_key(scope: str) -> str:
    """The key of `scope`'s version number."""
    return f"{NS}ver:{{{scope}}}"


def position_key(scope: str) -> str:
    """The key of the write position a rebuild of `scope` must see."""
    return f"{NS}pos:{{{scope}}}"


@dataclass(frozen=True)
class Expiring:
    """A built value that is right only until `until` (None: until the next write)."""

    value: Any
    until: datetime | None


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as served (a response model as it serializes itself)."""
    if isinstance(value, Expiring):
        return dumps(value.value)
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    builds: int = 0
    waits: int = 0
    bypasses: int = 0
    errors: int = 0


class CatalogCache:
    """Versioned cache-aside with single-flight rebuilds; `enabled=False` always reads the DB."""

    def __init__(
        self,
        redis: Redis,
        *,
        enabled: bool = True,
        ttl: int = 300,
        lock_ms: int = 5000,
        wait_seconds: float = 2.0,
        down_seconds: float = 2.0,
        op_timeout: float = 1.5,
        write_position: Callable[[], Awaitable[str | None]] | None = None,
    ) -> None:
        self.redis = redis
        self.enabled = enabled
        self.ttl = ttl
        self.lock_ms = lock_ms
        self.wait_seconds = wait_seconds
        self.down_seconds = down_seconds
        # A hung Redis costs a read this long at most, not the socket timeout; generous enough
        # that a busy event loop (slow to resume, not Redis) is not mistaken for an outage.
        self.op_timeout = op_timeout
        self.stats = CacheStats()
        self._read = redis.register_script(_READ)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._bump = redis.register_script(_BUMP)
        self._down_until = 0.0
        # The primary's position after a write, when builds may read a lagging replica.
        self.write_position = write_position
        # Version bumps that could not reach Redis (with the position each must carry); sent
        # before the cache is trusted again.
        self._pending: dict[str, str] = {}

    def _usable(self) -> bool:
        return self.enabled and time.monotonic() >= self._down_until

    def _failed(self, error: BaseException) -> None:
        self.stats.errors += 1
        self._down_until = time.monotonic() + self.down_seconds
        log.warning("cache Redis unavailable, reading the database: %s", error)

    async def _flush_pending(self) -> None:
        while self._pending:
            scope, position = next(iter(self._pending.items()))
            if position:
                await self._bump(keys=[version_key(scope), position_key(scope)], args=[position])
            else:
                await self.redis.incr(version_key(scope))
            # A bump of the same scope that arrived meanwhile is sent on the next turn.
            if self._pending.get(scope) == position:
                del self._pending[scope]

    async def _position(self) -> str:
        if self.write_position is None:
            return ""
        try:
            return await self.write_position() or ""
        except (DBAPIError, OSError) as error:
            # The write committed; without its position a rebuild may read a lagging replica
            # for as long as it lags, which is what reads without the cache get anyway.
            log.warning("primary's write position unknown after a catalog write: %s", error)
            return ""

    async def bump(self, *scopes: str) -> None:
        """Invalidate everything cached under `scopes` (call after the write commits)."""
        if self.enabled:
            # Read after the commit: a later position covers every earlier one.
            position = await self._position()
            for scope in scopes:
                if position or scope not in self._pending:
                    self._pending[scope] = position
        if not self.enabled:
            self._pending.clear()
            return
        if not self._usable():
            return
        try:
            async with asyncio.timeout(self.op_timeout):
                await self._flush_pending()
        except REDIS_FAILURES as error:
            self._failed(error)

    async def get_or_build(
        self, scope: str, variant: str, build: Callable[[], Awaitable[Any]]
    ) -> tuple[bytes, str]:
        """The JSON for (`scope`, `variant`) and how it was served: hit, miss, wait or bypass."""
        if not self._usable():
            self.stats.bypasses += 1
            return dumps(await build()), "bypass"
        digest = hashlib.sha1(variant.encode(), usedforsecurity=False).hexdigest()[:20]
        prefix, suffix = f"{NS}{{{scope}}}:v", f":f{FORMAT}:{digest}"
        token = secrets.token_hex(8)
        try:
            async with asyncio.timeout(self.op_timeout):
                await self._flush_pending()
                found = await self._read(
                    keys=[version_key(scope), position_key(scope)], args=[prefix, suffix]
                )
                key = f"{prefix}{found[0].decode()}{suffix}"
                if len(found) == 2:
                    self.stats.hits += 1
                    return bytes(found[1]), "hit"
                self.stats.misses += 1
                claim = await self._claim(keys=[key, f"{key}:lock"], args=[token, self.lock_ms])
        except REDIS_FAILURES as error:
            self._failed(error)
            self.stats.bypasses += 1
            return dumps(await build()), "bypass"
        if claim[0] == 1:
            self.stats.waits += 1
            return bytes(claim[1]), "wait"
        if claim[1] == 1:
            with reading_after(found[2].decode()):
                return await self._rebuild(key, token, build), "miss"
        value = await self._wait_for(key)
        if value is not None:
            self.stats.waits += 1
            return value, "wait"
        # The leader is slow or gone: answer from the database rather than keep waiting.
        self.stats.bypasses += 1
        return dumps(await build()), "bypass"

    async def _rebuild(self, key: str, token: str, build: Callable[[], Awaitable[Any]]) -> bytes:
        try:
            self.stats.builds += 1
            built = await build()
            value = dumps(built)
            # Measured when it is stored, not when it was built: the entry must be gone by
            # the instant the value changes, however long the build took.
            keep_ms = self.ttl * 1000
            if isinstance(built, Expiring) and built.until is not None:
                keep_ms = min(
                    keep_ms, int((built.until - datetime.now(UTC)).total_seconds() * 1000)
                )
            if keep_ms <= 0:
                return value
            try:
                async with asyncio.timeout(self.op_timeout):
                    await self.redis.set(key, value, px=keep_ms)
            except REDIS_FAILURES as error:
                self._failed(error)
            return value
        finally:
            try:
                async with asyncio.timeout(self.op_timeout):
                    await self._release(keys=[f"{key}:lock"], args=[token])
            except REDIS_FAILURES as error:
                self._failed(error)

    async def _wait_for(self, key: str) -> bytes | None:
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.005
        while time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
            try:
                # Lock first, value second: a lock gone before the value was looked for
                # means the leader finished (value found) or gave up (nothing is coming).
                async with asyncio.timeout(self.op_timeout):
                    building = await self.redis.exists(f"{key}:lock")
                    value = await self.redis.get(key)
            except REDIS_FAILURES as error:
                self._failed(error)
                return None
            if value is not None:
                return value if isinstance(value, bytes) else value.encode()
            if not building:
                return None
        return None
