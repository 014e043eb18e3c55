"""A Socket.IO test client that follows streams the way static/js/realtime.js does."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import aiohttp
import socketio


class StreamClient:
    """Applies events in seq order, drops seq ≤ last, replays with after_seq on reconnect."""

    def __init__(self, url: str, session_cookie: str | None) -> None:
        self.url = url
        self.cookie = session_cookie
        self.http: aiohttp.ClientSession | None = None
        self.sio = socketio.AsyncClient(
            # python-socketio drops a Cookie header after the first connection; a session
            # factory puts the cookie in every (re)connection's jar instead.
            http_session=self._new_http,
            reconnection=True,
            reconnection_delay=0.1,
            reconnection_delay_max=1.0,
            randomization_factor=0.5,
        )
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.last: dict[str, int] = {}
        self.acks: list[dict[str, Any]] = []
        self.duplicates = 0
        self.gaps: list[tuple[str, int, int]] = []
        self.connects = 0
        self.connect_errors: list[Any] = []
        self.resyncs: list[str] = []
        self.locations: list[dict[str, Any]] = []
        self.revoked: list[dict[str, Any]] = []
        # Every event that arrived, followed or not.
        self.received: list[dict[str, Any]] = []
        self.disconnects = 0
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sio.on("connect", self._on_connect)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("event", self._on_event)
        self.sio.on("location", self.locations.append)
        self.sio.on("revoked", self._on_revoked)
        self.sio.on("disconnect", self._on_disconnect)

    async def connect(self) -> StreamClient:
        try:
            await self.sio.connect(self.url, transports=["websocket"], wait_timeout=10)
        except BaseException:
            if self.http is not None:
                await self.http.close()
            raise
        return self

    def _new_http(self) -> aiohttp.ClientSession:
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        if self.cookie:
            self.http.cookie_jar.update_cookies({"delivery_session": self.cookie})
        return self.http

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.sio.disconnect()
        if self.http is not None:
            await self.http.close()

    def _on_connect(self) -> None:
        self.connects += 1
        if self.connects > 1:
            for stream, last in list(self.last.items()):
                self._spawn(self.subscribe(stream, after_seq=last))

    def _on_revoked(self, data: dict[str, Any]) -> None:
        # As static/js/realtime.js: a stream no longer ours is not followed any more.
        self.revoked.append(data)
        if data.get("code") != "unavailable":
            self.last.pop(data["stream"], None)

    def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnects += 1

    def _on_connect_error(self, data: Any = None) -> None:
        self.connect_errors.append(data)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def subscribe(self, stream: str, after_seq: int | None = None) -> dict[str, Any]:
        """Subscribe (or re-subscribe) and apply the replayed events."""
        self._pending[stream] = []
        try:
            ack: dict[str, Any] = await self.sio.call(
                "subscribe", {"stream": stream, "after_seq": after_seq}, timeout=15
            )
        except BaseException:
            self._pending.pop(stream, None)
            raise
        self.acks.append({"stream": stream, **ack})
        buffered = self._pending.pop(stream, [])
        if not ack.get("ok"):
            return ack
        if stream not in self.last:
            start = ack["last_seq"] - len(ack["events"]) if after_seq is None else after_seq
            self.last[stream] = start
        if not ack["recovered"]:
            # What the web UI does on `onResync`: re-read the snapshot and carry on from it.
            self.resyncs.append(stream)
            self.last[stream] = ack["last_seq"]
            return ack
        for event in [*ack["events"], *sorted(buffered, key=lambda e: e["seq"])]:
            self._apply(event)
        return ack

    async def unsubscribe(self, stream: str) -> dict[str, Any]:
        self.last.pop(stream, None)
        ack: dict[str, Any] = await self.sio.call("unsubscribe", {"stream": stream}, timeout=15)
        return ack

    def _on_event(self, event: dict[str, Any]) -> None:
        self.received.append(event)
        pending = self._pending.get(event["stream"])
        if pending is not None:
            pending.append(event)
        elif event["stream"] in self.last:
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        stream, seq = event["stream"], event["seq"]
        last = self.last.get(stream, 0)
        if seq <= last:
            self.duplicates += 1
            return
        if seq > last + 1:
            # A gap: ask again from what we have; the replay fills it.
            self.gaps.append((stream, last, seq))
            if stream not in self._pending:
                self._spawn(self.subscribe(stream, after_seq=last))
            return
        self.events[stream].append(event)
        self.last[stream] = seq

    def seqs(self, stream: str) -> list[int]:
        return [event["seq"] for event in self.events[stream]]
