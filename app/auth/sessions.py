"""Server-side sessions in the session Redis; the cookie holds only an opaque id."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

KEY_PREFIX = "session:"
# Per user, the ids of the sessions it started, so that a suspension can end them all.
USER_PREFIX = "user-sessions:"

SessionEnded = Callable[[str], Awaitable[None]]

# One round trip per lookup: read, refuse past the absolute end, slide the expiry no further
# than that end. The start is read with a pattern, not a JSON parser, as the embedded
# stand-in's Lua has none; `create` writes it as a bare integer.
_GET = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local created = tonumber(string.match(raw, '"created_at": *(%d+)'))
local now, ttl, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if not created or created + lifetime <= now then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('EXPIRE', KEYS[1], math.min(ttl, created + lifetime - now))
return raw
"""


@dataclass(frozen=True)
class SessionData:
    """What a session remembers: who, in which role, its CSRF token and when it began."""

    session_id: str
    user_id: int
    role: str
    csrf_token: str
    created_at: int
    # Who the user is, as `GET /api/me` shows it (no account's email or name changes while
    # it is signed in); a session started before these were kept has them empty.
    email: str = ""
    name: str = ""


class SessionStore:
    """Create, read and destroy sessions; every node shares them through the session Redis.

    A session ends `ttl_seconds` after its last use, and `absolute_seconds` after it began
    however busy it is.
    """

    def __init__(self, redis: Redis, *, ttl_seconds: int, absolute_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._absolute = absolute_seconds
        self._get = redis.register_script(_GET)
        self._on_destroyed: list[SessionEnded] = []

    def on_destroyed(self, callback: SessionEnded) -> None:
        """Call `callback(session_id)` after a session is destroyed (its sockets must go too)."""
        self._on_destroyed.append(callback)

    @staticmethod
    def key(session_id: str) -> str:
        """The Redis key of a session."""
        return KEY_PREFIX + session_id

    async def create(
        self, *, user_id: int, role: str, email: str = "", name: str = ""
    ) -> SessionData:
        """Start a session with a fresh id and CSRF token."""
        data = SessionData(
            session_id=secrets.token_urlsafe(32),
            user_id=user_id,
            role=role,
            csrf_token=secrets.token_urlsafe(32),
            created_at=int(time.time()),
            email=email,
            name=name,
        )
        payload = json.dumps({k: v for k, v in asdict(data).items() if k != "session_id"})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(data.session_id), payload, ex=min(self._ttl, self._absolute))
            pipe.sadd(self.user_key(user_id), data.session_id)
            # No session outlives its absolute end, so neither does the index of them.
            pipe.expire(self.user_key(user_id), self._absolute)
            await pipe.execute()
        return data

    @staticmethod
    def user_key(user_id: int) -> str:
        """The Redis key of the set of a user's session ids."""
        return f"{USER_PREFIX}{user_id}"

    async def destroy_all(self, user_id: int) -> int:
        """End every session of a user at once (a suspension); returns how many there were.

        Their sockets are not told one by one: the caller announces the user's end once.
        """
        key = self.user_key(user_id)
        members = await self._redis.smembers(key)
        ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        if not ids:
            return 0
        async with self._redis.pipeline(transaction=True) as pipe:
            for session_id in ids:
                pipe.delete(self.key(session_id))
            pipe.srem(key, *ids)
            found = await pipe.execute()
        return sum(int(n) for n in found[: len(ids)])

    async def get(self, session_id: str) -> SessionData | None:
        """The live session with this id, or None; reading it slides its expiry (never past
        its absolute end)."""
        if not session_id or len(session_id) > 128:
            return None
        raw = await self._get(
            keys=[self.key(session_id)], args=[int(time.time()), self._ttl, self._absolute]
        )
        if raw is None:
            return None
        fields = json.loads(raw)
        return SessionData(session_id=session_id, **fields)

    async def alive(self, session_ids: Iterable[str]) -> set[str]:
        """Which of these sessions still exist (without sliding their expiry)."""
        wanted = [s for s in set(session_ids) if s and len(s) <= 128]
        if not wanted:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in wanted:
                pipe.exists(self.key(session_id))
            found = await pipe.execute()
        return {s for s, exists in zip(wanted, found, strict=True) if exists}

    async def destroy(self, session_id: str) -> None:
        """End a session at once, for every node, its open sockets included."""
        if not session_id or len(session_id) > 128:
            return
        await self._redis.delete(self.key(session_id))
        for callback in self._on_destroyed:
            await callback(session_id)
