"""A simulated client's realtime side: Socket.IO v5 spoken by hand over an aiohttp WebSocket.

One connection per person, following several streams. Like the browser client, it applies
events in seq order, drops what it already has, re-subscribes from its last seq after a
reconnect or a gap, and re-reads the REST snapshot when the server says `recovered: false`.
It also keeps, per stream, every seq it applied and every duplicate or gap it saw: the audit
reads them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from app.simulator.recorder import Delivery, Recorder

Handler = Callable[[dict[str, Any]], None]
ACK_TIMEOUT = 20.0


def committed_at(at: str) -> float | None:
    """The epoch seconds of an event's `at`, or None while it is only to the second."""
    if "." not in at:
        return None
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


@dataclass
class StreamLog:
    """What one socket saw of one stream."""

    stream: str
    handler: Handler
    last: int = 0
    applied: list[int] = field(default_factory=list)
    duplicates: int = 0
    gaps: int = 0
    resyncs: int = 0
    replays: int = 0
    overlaps: int = 0  # live events that raced a re-subscribe's replay (harmless, not counted)
    first_after: int = 0  # the after_seq of the first subscribe: seqs before it are not ours
    followed: bool = True  # False once unsubscribed: later events are not expected
    subscribed_on: int = 0  # the connection (by count) the last successful subscribe was on
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one subscribe at a time


class Socket:
    """One person's Socket.IO connection, reconnecting with jittered back-off until closed."""

    def __init__(
        self,
        *,
        url: str,
        cookie: Callable[[], str],
        http: aiohttp.ClientSession,
        recorder: Recorder,
        rng: random.Random,
        on_resync: Callable[[str], object] | None = None,
        name: str = "",
    ) -> None:
        self.name = name
        self.ws_url = url.replace("http://", "ws://").replace("https://", "wss://")
        self.ws_url += "/socket.io/?EIO=4&transport=websocket"
        self.cookie, self.http, self.recorder, self.rng = cookie, http, recorder, rng
        self.on_resync = on_resync
        self.logs: dict[str, StreamLog] = {}
        self.connects = 0
        self.locations = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> Socket:
        """Connect in the background (and again whenever the connection drops)."""
        self._task = asyncio.create_task(self._run())
        return self

    async def close(self) -> None:
        """Disconnect for good."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        for task in list(self._tasks):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def drop(self) -> None:
        """Lose the connection, as a phone going through a tunnel would; it reconnects."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def follow(self, stream: str, handler: Handler, *, after_seq: int = 0) -> None:
        """Follow `stream` from `after_seq`; returns once subscribed (retrying until it is)."""
        log = self.logs.setdefault(stream, StreamLog(stream, handler, last=after_seq))
        log.first_after = after_seq
        while not self._closing:
            await self._connected.wait()
            if await self._subscribe(log):
                return
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))

    def _spawn_resume(self, log: StreamLog, *, again: bool = False) -> None:
        task = asyncio.create_task(self._resume(log, again=again))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def unfollow(self, stream: str) -> None:
        """Stop following `stream` (what arrives for it later is ignored)."""
        log = self.logs.get(stream)
        if log is None:
            return
        log.followed = False
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.send_str("42" + json.dumps(["unsubscribe", {"stream": stream}]))

    async def _run(self) -> None:
        backoff = 0.5
        while not self._closing:
            try:
                await self._session()
                backoff = 0.5
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
                pass
            self._connected.clear()
            self._ws = None
            for future in self._acks.values():
                if not future.done():
                    future.set_result(None)
            self._acks.clear()
            self._buffers.clear()
            if self._closing:
                return
            await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 5.0)

    async def _session(self) -> None:
        async with self.http.ws_connect(
            self.ws_url,
            headers={"Cookie": f"delivery_session={self.cookie()}"},
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
        ) as ws:
            async with asyncio.timeout(15):
                opened = await ws.receive_str()
                if not opened.startswith("0"):
                    return
                await ws.send_str("40")
                connected = await ws.receive_str()
            if not connected.startswith("40"):
                return  # refused (44…): try again later
            self._ws = ws
            self.connects += 1
            self._connected.set()
            # Every stream followed before the drop resumes from its last seq.
            for log in list(self.logs.values()):
                if log.followed:
                    self._spawn_resume(log)
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                await self._packet(ws, message.data)

    async def _resume(self, log: StreamLog, *, again: bool = False) -> None:
        while self._connected.is_set() and not self._closing and log.followed:
            if await self._subscribe(log, again=again):
                return
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))

    async def _packet(self, ws: aiohttp.ClientWebSocketResponse, data: str) -> None:
        if data == "2":
            await ws.send_str("3")
        elif data.startswith("43"):
            digits = "".join(itertools.takewhile(str.isdigit, data[2:]))
            future = self._acks.pop(int(digits), None)
            if future is not None and not future.done():
                future.set_result(json.loads(data[2 + len(digits) :])[0])
        elif data.startswith("42"):
            name, payload = json.loads(data[2:])[:2]
            if name == "event":
                self._event(payload, live=True)
            elif name == "location":
                self.locations += 1
        elif data.startswith("41"):
            await ws.close()

    async def _subscribe(self, log: StreamLog, *, again: bool = False) -> bool:
        # Two subscribes of one stream in flight at once (a reconnect racing a first follow)
        # would replay the same events twice: they take turns, and the second is skipped
        # unless it is meant to catch up after a gap.
        async with log.lock:
            if not again and log.subscribed_on == self.connects and self._ws is not None:
                return True
            return await self._subscribe_now(log)

    async def _subscribe_now(self, log: StreamLog) -> bool:
        ws = self._ws
        if ws is None:
            return False
        connection = self.connects
        ack_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        self._buffers[log.stream] = []
        request = {"stream": log.stream, "after_seq": log.last}
        try:
            await ws.send_str(f"42{ack_id}" + json.dumps(["subscribe", request]))
            async with asyncio.timeout(ACK_TIMEOUT):
                ack = await future
        except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError):
            self._acks.pop(ack_id, None)
            self._buffers.pop(log.stream, None)
            return False
        buffered = self._buffers.pop(log.stream, [])
        if not isinstance(ack, dict) or not ack.get("ok"):
            return False
        log.subscribed_on = connection
        if not ack.get("recovered", True):
            log.resyncs += 1
            log.applied.append(-1)  # a segment boundary: what came before was not replayed
            log.last = int(ack.get("last_seq", log.last))
            if self.on_resync is not None:
                self.on_resync(log.stream)
        else:
            log.replays += 1
            for event in ack.get("events", []):
                self._apply(log, event, live=False)
        for event in buffered:
            if int(event["seq"]) <= log.last:
                log.overlaps += 1
            else:
                self._apply(log, event, live=True)
        return True

    def _event(self, event: dict[str, Any], *, live: bool) -> None:
        stream = event.get("stream", "")
        buffer = self._buffers.get(stream)
        if buffer is not None:
            buffer.append(event)  # a subscribe is in flight: apply after its replay
            return
        log = self.logs.get(stream)
        if log is not None and log.followed:
            self._apply(log, event, live=live)

    def _apply(self, log: StreamLog, event: dict[str, Any], *, live: bool) -> None:
        seq = int(event["seq"])
        if seq <= log.last:
            log.duplicates += 1
            return
        if seq != log.last + 1:
            # Something was missed: drop this one and catch up from the last seq applied.
            log.gaps += 1
            if log.stream not in self._buffers:
                self._spawn_resume(log, again=True)
            return
        log.last = seq
        log.applied.append(seq)
        if live:
            self.recorder.delivered(
                Delivery(time.time(), log.stream, seq, event["type"], committed_at(event["at"]))
            )
        log.handler(event)
