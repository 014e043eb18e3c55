"""The Socket.IO server: cookie authentication on connect, subscribe and unsubscribe.

A subscription is authorized against the session as it is now (signed out is signed out) and
the database as it is now; `realtime.gate` keeps it so as both change.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app.auth.login import COOKIE_NAME, Principal
from app.auth.models import Role
from app.auth.sessions import SessionStore
from app.db import Database
from realtime.access import Refused, authorize
from realtime.eventlog import Replay, replay
from realtime.fanout import Hub
from realtime.gate import Gate
from realtime.ops import OPS_STREAM
from realtime.packets import BoundedServer
from realtime.schemas import (
    ConnectRefusal,
    ConnectRefusalCode,
    RefusalCode,
    RefusedAck,
    SubscribedAck,
    UnsubscribedAck,
)

log = logging.getLogger("delivery.realtime")

# Socket.IO heartbeat: a ping every 20 s, 20 s to answer; nginx's proxy_read_timeout (75 s) is
# above both, so an idle but healthy connection is never cut by the proxy.
PING_INTERVAL = 20
PING_TIMEOUT = 20
MAX_MESSAGE_BYTES = 64 * 1024
MAX_SUBSCRIPTIONS = 500
NODE = f"{socket.gethostname()}/{os.getpid()}"
# When a node stops: how long no connection must have been open before the closing is done,
# and the most it may take.
DRAIN_QUIET = 0.3
DRAIN_WITHIN = 3.0

# The socket servers of this process, for the stop signal (a node runs one).


def _refusal(code: ConnectRefusalCode) -> socketio.exceptions.ConnectionRefusedError:
    error = socketio.exceptions.ConnectionRefusedError()
    error.error_args = ConnectRefusal(message=code, code=code, data={"code": code}).model_dump()
    return error


def session_id_from(environ: dict[str, Any]) -> str | None:
    """The session id in the request's `delivery_session` cookie, if any."""
    try:
        cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return None
    morsel = cookies.get(COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


@dataclass(frozen=True)
class Serving:
    """What the socket handlers use while the app serves (bound at start, unbound at stop)."""

    sessions: SessionStore
    db: Database
    events_redis: Redis
    hub: Hub
    gate: Gate


class Realtime:
    """The socket server of one app, with its principals and subscription hub."""

    def __init__(self, client_manager: socketio.AsyncManager | None = None) -> None:
        self.serving: Serving | None = None
        self.sio = BoundedServer(
            async_mode="asgi",
            client_manager=client_manager,
            # Same-origin only (the default): a cookie-authenticated socket must not be
            # openable from another site's page.
            cors_allowed_origins=None,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            logger=False,
            engineio_logger=False,
        )
        self.principals: dict[str, Principal] = {}
        self.sio.on("connect", self.on_connect)
        self.sio.on("disconnect", self.on_disconnect)
        self.sio.on("subscribe", self.on_subscribe)
        self.sio.on("unsubscribe", self.on_unsubscribe)

    @property
    def hub(self) -> Hub | None:
        """The fan-out delivering to this node's sockets, while the app serves."""
        return self.serving.hub if self.serving is not None else None

    def bind(self, serving: Serving) -> None:
        """Start answering sockets with these services."""
        self.serving = serving

    def unbind(self) -> None:
        """Refuse new sockets and subscriptions (the services are closing)."""
        self.serving = None

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Accept only a connection carrying a live session cookie."""
        session_id = session_id_from(environ)
        serving = self.serving
        if session_id is None or serving is None:
            raise _refusal("unauthenticated")
        try:
            data = await serving.sessions.get(session_id)
        except RedisError as error:
            raise _refusal("unavailable") from error
        if data is None:
            raise _refusal("unauthenticated")
        self.principals[sid] = Principal(
            user_id=data.user_id,
            role=Role(data.role),
            csrf_token=None,
            session_id=session_id,
            needs_csrf=False,
        )

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        """Forget the socket."""
        self.principals.pop(sid, None)
        if self.hub is not None:
            self.hub.disconnect(sid)

    async def on_subscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{stream, after_seq}` → `{ok, recovered, events, last_seq}` or `{ok: false, code}`."""
        principal = self.principals.get(sid)
        serving = self.serving
        if principal is None or serving is None:
            return _refused("unauthenticated")
        hub = serving.hub
        if not isinstance(data, dict):
            return _refused("validation")
        stream, after = data.get("stream"), data.get("after_seq")
        if not isinstance(stream, str):
            return _refused("not-found")
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            return _refused("validation")
        if after is not None and after < 0:
            return _refused("validation")
        subscribed = hub.subscriptions.get(sid, set())
        if len(subscribed) >= MAX_SUBSCRIPTIONS and stream not in subscribed:
            return _refused("validation")
        # Watched from before the rights are read: a change of them that lands while this
        # subscription is made makes it ask again before it joins.
        with serving.gate.attempt(sid, stream) as attempt:
            refused = await _session_refusal(serving, sid, principal)
            refused = refused or await _authorization_refusal(serving, principal, stream)
            if refused is not None:
                return refused
            if stream in subscribed:
                hub.leave(sid, stream)
            hub.begin(sid, stream)
            try:
                if await hub.listen_for(stream):
                    # This node just began to hear the stream's changes of rights: read them again.
                    attempt.changed = True
                # `ops` has no log: nothing to replay, and never proof that nothing was missed.
                missed = (
                    Replay([], False, 0)
                    if stream == OPS_STREAM
                    else await replay(
                        db=serving.db, redis=serving.events_redis, stream=stream, after=after
                    )
                )
                while attempt.changed and refused is None:
                    attempt.changed = False
                    refused = await _authorization_refusal(serving, principal, stream)
            except BaseException:
                hub.abort(sid, stream)
                raise
            if refused is None and sid not in self.principals:  # disconnected meanwhile
                refused = _refused("unauthenticated")
            if refused is not None:
                hub.abort(sid, stream)
                return refused
            result = hub.finish(sid, stream, missed)
        ack = SubscribedAck(
            ok=True, recovered=result.recovered, events=[], last_seq=result.last_seq, node=NODE
        )
        # The events go out as the stream's log holds them, like live ones: read back through
        # `Event`, their `at` would lose its milliseconds.
        return {**ack.model_dump(), "events": result.events}

    async def on_unsubscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{stream}` → `{ok: true}`."""
        if self.hub is not None and isinstance(data, dict) and isinstance(data.get("stream"), str):
            self.hub.leave(sid, data["stream"])
        return UnsubscribedAck(ok=True).model_dump()

    async def close_connections(
        self, *, quiet: float = DRAIN_QUIET, within: float = DRAIN_WITHIN
    ) -> None:
        """Close every client connection, so that each client reconnects to another node.

        Runs as the node starts to stop. Hypercorn then stops listening and waits for the open
        connections before it stops the app, and a WebSocket never ends by itself: left open,
        each would hold the node up until Hypercorn cancels it. Goes on until no connection has
        been open for `quiet` s (catching one that came in just before the listener closed),
        or `within` s have passed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        quiet_until = loop.time() + quiet
        while loop.time() < deadline:
            sockets = list(self.sio.eio.sockets.items())
            for eio_sid, sock in sockets:
                await _close_socket(self.sio.eio, eio_sid, sock)
            if sockets:
                quiet_until = loop.time() + quiet
            elif loop.time() >= quiet_until:
                return
            await asyncio.sleep(0.05)


def _refused(code: RefusalCode) -> dict[str, Any]:
    return RefusedAck(ok=False, code=code).model_dump()


async def _session_refusal(
    serving: Serving, sid: str, principal: Principal
) -> dict[str, Any] | None:
    """Refuse a socket whose session ended since it connected (it follows nothing more)."""
    try:
        alive = principal.session_id is not None and (
            await serving.sessions.get(principal.session_id) is not None
        )
    except RedisError:
        return _refused("unavailable")
    if alive:
        return None
    # The session sweep disconnects it; until then it receives nothing.
    serving.hub.disconnect(sid)
    return _refused("unauthenticated")


async def _authorization_refusal(
    serving: Serving, principal: Principal, stream: str
) -> dict[str, Any] | None:
    try:
        async with serving.db.uow() as uow:
            await authorize(uow, principal, stream)
    except Refused as refused:
        return _refused(refused.code)
    except SQLAlchemyError:
        return _refused("unavailable")
    return None


async def _close_socket(eio: Any, eio_sid: str, sock: Any) -> None:
    # What was queued for the client is dropped: it replays from its last seq when it
    # reconnects, and a client that does not read could otherwise hold its socket open.
    while True:
        try:
            sock.queue.get_nowait()
        except asyncio.QueueEmpty:
            break
        sock.queue.task_done()
    if not sock.closed and not sock.closing:
        await sock.close(wait=False)  # fires `disconnect`; the client is sent a close packet
    eio.sockets.pop(eio_sid, None)
    # Ends its WebSocket writer (or its pending poll) after the close packet went out.
    sock.queue.put_nowait(None)
