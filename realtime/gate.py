"""Realtime access follows the data: this node's sockets lose what their users lost, at once.

A subscription is authorized when it is made (`realtime.access`) and again whenever a control
message (`realtime.control`) says the rights to its stream changed: a socket refused then
leaves the stream and is told with a `revoked` message. A subscription in progress when such a
message arrives is authorized again before it joins. A socket whose session ended (signed out,
expired, or its user suspended) is disconnected.

Control messages are acted on under the fan-out's delivery lock, so no event published after
one reaches a socket it removed. A node that lost the events Redis may have missed some: it
re-checks every socket before it fills what it missed. Sessions are also swept periodically,
which catches an expired one and a sign-out whose message was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import socketio
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.auth.login import Principal
from app.auth.sessions import SessionStore
from app.db import Database
from app.lifecycle import stop_tasks, wait_for_event
from realtime.access import Refused, authorize
from realtime.control import session_digest
from realtime.fanout import NAMESPACE, Hub
from realtime.schemas import RevocationCode, RevokedMessage

log = logging.getLogger("delivery.realtime.gate")

SESSION_SWEEP_INTERVAL = 10.0


@dataclass(eq=False)
class Attempt:
    """A subscription in progress; `changed` once the rights to its stream may have changed."""

    sid: str
    stream: str
    changed: bool = False


class Gate:
    """Keeps this node's sockets within their users' current rights."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        principals: dict[str, Principal],
        hub: Hub,
        db: Database,
        sessions: SessionStore,
        *,
        sweep_interval: float = SESSION_SWEEP_INTERVAL,
    ) -> None:
        self.sio = sio
        self.principals = principals
        self.hub = hub
        self.db = db
        self.sessions = sessions
        self.sweep_interval = sweep_interval
        self.attempts: dict[str, set[Attempt]] = {}
        self.revoked = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @contextlib.contextmanager
    def attempt(self, sid: str, stream: str) -> Iterator[Attempt]:
        """Watch for a change of rights on `stream` while `sid` subscribes to it."""
        attempt = Attempt(sid, stream)
        self.attempts.setdefault(stream, set()).add(attempt)
        try:
            yield attempt
        finally:
            watching = self.attempts.get(stream)
            if watching is not None:
                watching.discard(attempt)
                if not watching:
                    del self.attempts[stream]

    # Control messages (called by the fan-out, under its delivery lock) ---------------------

    async def apply(self, message: dict[str, Any]) -> None:
        """Act on one control message for this node's sockets."""
        kind = message.get("type")
        if kind == "streams":
            streams = message.get("streams")
            if isinstance(streams, list):
                await self.recheck_streams([s for s in streams if isinstance(s, str)])
        elif kind == "session":
            digest = message.get("session")
            await self._disconnect(
                lambda p: p.session_id is not None and session_digest(p.session_id) == digest
            )
        elif kind == "user":
            user_id = message.get("user_id")
            await self._disconnect(lambda p: p.user_id == user_id)

    async def recheck_streams(self, streams: list[str]) -> None:
        """Re-authorize every socket of this node that follows (or is subscribing to) `streams`."""
        for stream in streams:
            for attempt in self.attempts.get(stream, ()):
                attempt.changed = True
        await self._recheck(
            [(sid, stream) for stream in streams for sid in self.hub.members.get(stream, ())]
        )

    async def recheck_all(self) -> None:
        """Re-check every socket of this node (after control messages may have been missed)."""
        await self.sweep_sessions()
        for attempts in self.attempts.values():
            for attempt in attempts:
                attempt.changed = True
        await self._recheck(
            [(sid, stream) for sid, streams in self.hub.subscriptions.items() for stream in streams]
        )

    async def _recheck(self, pairs: list[tuple[str, str]]) -> None:
        if not pairs:
            return
        # One verdict per user and stream: a user's several tabs are asked about once.
        verdicts: dict[tuple[int, str], RevocationCode | None] = {}
        try:
            async with self.db.uow() as uow:
                for sid, stream in pairs:
                    principal = self.principals.get(sid)
                    if principal is None or (principal.user_id, stream) in verdicts:
                        continue
                    try:
                        await authorize(uow, principal, stream)
                        verdicts[principal.user_id, stream] = None
                    except Refused as refused:
                        verdicts[principal.user_id, stream] = refused.code
        except SQLAlchemyError as error:
            # Not knowing is not allowed: those not yet re-checked leave the stream, told to
            # subscribe again (which asks the database again).
            log.warning("could not re-check subscriptions: %s", error)
        for sid, stream in pairs:
            principal = self.principals.get(sid)
            if principal is None:
                continue
            code = verdicts.get((principal.user_id, stream), "unavailable")
            if code is not None:
                await self._revoke(sid, stream, code)

    async def _revoke(self, sid: str, stream: str, code: RevocationCode) -> None:
        if stream not in self.hub.subscriptions.get(sid, ()):
            return
        self.hub.leave(sid, stream)
        self.revoked += 1
        revoked = RevokedMessage(stream=stream, code=code)
        await self.sio.emit("revoked", revoked.model_dump(), to=sid, namespace=NAMESPACE)

    async def _disconnect(self, ended: Callable[[Principal], bool]) -> None:
        for sid, principal in list(self.principals.items()):
            if ended(principal):
                # Fires `disconnect`, which forgets the principal and its subscriptions.
                await self.sio.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

    # Sessions ------------------------------------------------------------------------------

    async def sweep_sessions(self) -> None:
        """Disconnect every socket whose session no longer exists."""
        held = {p.session_id for p in self.principals.values() if p.session_id}
        if not held:
            return
        try:
            alive = await self.sessions.alive(held)
        except (RedisError, OSError) as error:
            log.debug("session sweep skipped: %s", error)
            return
        # Only the sockets whose sessions were asked about: one that connected while the
        # answer was on its way (with a session no socket of this node had before) was not,
        # and its session was read live as it connected.
        await self._disconnect(lambda p: p.session_id in held and p.session_id not in alive)

    def start(self) -> None:
        """Sweep sessions periodically."""
        self._tasks = [asyncio.create_task(self._sweep(), name="realtime-session-sweep")]

    async def stop(self) -> None:
        """Stop sweeping."""
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks, grace=1.0)

    async def _sweep(self) -> None:
        while not self._stop.is_set():
            await wait_for_event(self._stop, self.sweep_interval)
            if not self._stop.is_set():
                await self.sweep_sessions()
