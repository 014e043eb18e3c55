"""Server-side sessions in the session Redis; the cookie holds only an opaque id."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

KEY_PREFIX = "session:"
# Per user, the ids of the sessions it started, so that a suspension can end them all.
USER_PREFIX = "user-sessions:"
# Per user, when all its sessions were last ended (a suspension), in seconds since the epoch:
# a session begun by then that the user's index does not hold (one started before sessions
# were indexed) is over too, though nothing could find it to delete it.
ENDED_PREFIX = "user-sessions-ended:"

SessionEnded = Callable[[str], Awaitable[None]]

log = logging.getLogger("delivery")

# With a replica (the session Redis behind Sentinel), how long a sign-in waits for it to hold
# the new session, in ms: one round trip from the master to the replica when it is healthy.
REPLICA_WAIT_MS = 100
# A master without a live replica would say so at every sign-in; once a minute is enough.
_UNREPLICATED_LOG_EVERY = 60.0

# The session and its place in the user's index, together (a script runs whole), so that a
# suspension that reads the index cannot miss it. Sent as EVAL, not EVALSHA: in a pipeline
# redis-py asks SCRIPT EXISTS first, a round trip more.
_CREATE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

# A session is over when its user's sessions were all ended at or after it began, unless the
# user's index holds it (every session in the index when they were ended was deleted then; one
# added since is newer). The keys are derived from the session's user, so the scripts read
# them without declaring them: the session Redis is one server, never a cluster.
_ENDED = """
local function ended(raw, session_id, created)
  local user = string.match(raw, '"user_id": *(%d+)')
  if not user then return false end
  local cutoff = tonumber(redis.call('GET', ARGV[1] .. user))
  if not cutoff or created > cutoff then return false end
  return redis.call('SISMEMBER', ARGV[2] .. user, session_id) == 0
end
"""
# One round trip per lookup: read, refuse past the absolute end or when ended with its user's
# sessions, slide the expiry no further than that end. The start is read with a pattern, not a
# JSON parser, as the embedded stand-in's Lua has none; `create` writes it as a bare integer.
_GET = (
    _ENDED
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local created = tonumber(string.match(raw, '"created_at": *(%d+)'))
local now, ttl, lifetime = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if not created or created + lifetime <= now or ended(raw, ARGV[3], created) then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('EXPIRE', KEYS[1], math.min(ttl, created + lifetime - now))
return raw
"""
)
# Whether a session is live, by the same rules, without sliding its expiry: 1 or 0.
_ALIVE = (
    _ENDED
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local created = tonumber(string.match(raw, '"created_at": *(%d+)'))
if not created or ended(raw, ARGV[3], created) then return 0 end
return 1
"""
)


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
    however busy it is. With `replica_wait_ms` (a session Redis with a replica), a new session
    is answered once the replica holds it too, or after that many ms: a sign-in answered 200
    then survives the loss of the master.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: int,
        absolute_seconds: int,
        replica_wait_ms: int | None = None,
    ) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._absolute = absolute_seconds
        self._replica_wait_ms = replica_wait_ms
        self._unreplicated_logged_at: float | None = None
        self._get = redis.register_script(_GET)
        self._alive = redis.register_script(_ALIVE)
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
        # One round trip: the write, then (with a replica) WAIT in the same pipeline.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.eval(
                _CREATE,
                2,
                self.key(data.session_id),
                self.user_key(user_id),
                payload,
                min(self._ttl, self._absolute),
                data.session_id,
                # No session outlives its absolute end, so neither does the index of them.
                self._absolute,
            )
            if self._replica_wait_ms is not None:
                pipe.execute_command("WAIT", 1, self._replica_wait_ms)
            replies = await pipe.execute()
        if self._replica_wait_ms is not None and int(replies[1]) < 1:
            self._unreplicated()
        return data

    def _unreplicated(self) -> None:
        # The master keeps serving without its replica (refusing sign-ins would take the site
        # down with the replica); what was written meanwhile is lost if the master is lost too.
        now = time.monotonic()
        last = self._unreplicated_logged_at
        if last is None or now - last >= _UNREPLICATED_LOG_EVERY:
            self._unreplicated_logged_at = now
            log.warning(
                "no replica of the session Redis acknowledged a new session within %d ms",
                self._replica_wait_ms,
            )

    @staticmethod
    def user_key(user_id: int) -> str:
        """The Redis key of the set of a user's session ids."""
        return f"{USER_PREFIX}{user_id}"

    @staticmethod
    def ended_key(user_id: int) -> str:
        """The Redis key of when all of a user's sessions were last ended."""
        return f"{ENDED_PREFIX}{user_id}"

    async def destroy_all(self, user_id: int) -> int:
        """End every session of a user at once (a suspension); returns how many the index held.

        Those in the user's index are deleted. Any other one begun by now (started before
        sessions were indexed) is refused from now on by every lookup: the moment is kept as
        long as such a session could live. It stays when the user is restored, so that no
        session ended here comes back. Their sockets are not told one by one: the caller
        announces the user's end once.
        """
        key = self.user_key(user_id)
        members = await self._redis.smembers(key)
        ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        async with self._redis.pipeline(transaction=True) as pipe:
            for session_id in ids:
                pipe.delete(self.key(session_id))
            if ids:
                pipe.srem(key, *ids)
            pipe.set(self.ended_key(user_id), int(time.time()), ex=self._absolute)
            found = await pipe.execute()
        return sum(int(n) for n in found[: len(ids)])

    def _rule_args(self, session_id: str) -> list[str]:
        return [ENDED_PREFIX, USER_PREFIX, session_id]

    async def get(self, session_id: str) -> SessionData | None:
        """The live session with this id, or None; reading it slides its expiry (never past
        its absolute end)."""
        if not session_id or len(session_id) > 128:
            return None
        raw = await self._get(
            keys=[self.key(session_id)],
            args=[*self._rule_args(session_id), int(time.time()), self._ttl, self._absolute],
        )
        if raw is None:
            return None
        fields = json.loads(raw)
        return SessionData(session_id=session_id, **fields)

    async def alive(self, session_ids: Iterable[str]) -> set[str]:
        """Which of these sessions are still live (without sliding their expiry)."""
        wanted = [s for s in set(session_ids) if s and len(s) <= 128]
        if not wanted:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in wanted:
                await self._alive(
                    keys=[self.key(session_id)], args=self._rule_args(session_id), client=pipe
                )
            found = await pipe.execute()
        return {s for s, live in zip(wanted, found, strict=True) if live}

    async def destroy(self, session_id: str) -> None:
        """End a session at once, for every node, its open sockets included."""
        if not session_id or len(session_id) > 128:
            return
        await self._redis.delete(self.key(session_id))
        for callback in self._on_destroyed:
            await callback(session_id)
