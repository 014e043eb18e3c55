"""The Socket.IO server: cookie authentication on connect, subscribe and unsubscribe."""

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
from realtime.eventlog import replay
from realtime.fanout import Hub
from realtime.packets import BoundedServer

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


def _refusal(code: str) -> socketio.exceptions.ConnectionRefusedError:
    error = socketio.exceptions.ConnectionRefusedError()
    error.error_args = {"message": code, "code": code, "data": {"code": code}}
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
            return {"ok": False, "code": "unauthenticated"}
        hub = serving.hub
        if not isinstance(data, dict):
            return {"ok": False, "code": "validation"}
        stream, after = data.get("stream"), data.get("after_seq")
        if not isinstance(stream, str):
            return {"ok": False, "code": "not-found"}
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            return {"ok": False, "code": "validation"}
        if after is not None and after < 0:
            return {"ok": False, "code": "validation"}
        subscribed = hub.subscriptions.get(sid, set())
        if len(subscribed) >= MAX_SUBSCRIPTIONS and stream not in subscribed:
            return {"ok": False, "code": "validation"}
        try:
            async with serving.db.uow() as uow:
                await authorize(uow, principal, stream)
        except Refused as refused:
            return {"ok": False, "code": refused.code}
        except SQLAlchemyError:
            return {"ok": False, "code": "unavailable"}
        if stream in subscribed:
            hub.leave(sid, stream)
        hub.begin(sid, stream)
        try:
            missed = await replay(serving.events_redis, serving.db, stream, after)
        except BaseException:
            hub.abort(sid, stream)
            raise
        if sid not in self.principals:  # disconnected while the replay was read
            hub.abort(sid, stream)
            return {"ok": False, "code": "unauthenticated"}
        result = hub.finish(sid, stream, missed)
        return {
            "ok": True,
            "recovered": result.recovered,
            "events": result.events,
            "last_seq": result.last_seq,
            "node": NODE,
        }

    async def on_unsubscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{stream}` → `{ok: true}`."""
        if self.hub is not None and isinstance(data, dict) and isinstance(data.get("stream"), str):
            self.hub.leave(sid, data["stream"])
        return {"ok": True}

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
