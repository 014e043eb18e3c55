"""Server-side sessions in the session Redis; the cookie holds only an opaque id."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

KEY_PREFIX = "session:"

SessionEnded = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class SessionData:
    """What a session remembers: who, in which role, and its CSRF token."""

    session_id: str
    user_id: int
    role: str
    csrf_token: str


class SessionStore:
    """Create, read and destroy sessions; every node shares them through the session Redis."""

    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._on_destroyed: list[SessionEnded] = []

    def on_destroyed(self, callback: SessionEnded) -> None:
        """Call `callback(session_id)` after a session is destroyed (its sockets must go too)."""
        self._on_destroyed.append(callback)

    @staticmethod
    def key(session_id: str) -> str:
        """The Redis key of a session."""
        return KEY_PREFIX + session_id

    async def create(self, *, user_id: int, role: str) -> SessionData:
        """Start a session with a fresh id and CSRF token."""
        data = SessionData(
            session_id=secrets.token_urlsafe(32),
            user_id=user_id,
            role=role,
            csrf_token=secrets.token_urlsafe(32),
        )
        payload = json.dumps({k: v for k, v in asdict(data).items() if k != "session_id"})
        await self._redis.set(self.key(data.session_id), payload, ex=self._ttl)
        return data

    async def get(self, session_id: str) -> SessionData | None:
        """The live session with this id, or None; reading it slides its expiry."""
        if not session_id or len(session_id) > 128:
            return None
        key = self.key(session_id)
        raw = await self._redis.getex(key, ex=self._ttl)
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
        await self._redis.delete(self.key(session_id))
        for callback in self._on_destroyed:
            await callback(session_id)
