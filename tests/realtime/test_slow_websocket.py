"""A WebSocket client that stops reading is dropped by the queue bound, without hanging the node.

Below Engine.IO's queue, a WebSocket that is not read first fills the kernel's socket buffers
and the server's write buffer: on loopback that is megabytes, thousands of order events. So this
test drives the hub's bound directly on a real Hypercorn server with large (100 KB) messages:
a raw TCP client that completed the handshake and then never reads, next to a python-socketio
client that reads everything. The system test `test_slow_clients.py` covers the same bound on
the cluster with order events, over long-polling.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from hypercorn.asyncio import serve
from hypercorn.config import Config

from app.launcher.processes import free_port
from realtime.eventlog import Replay
from realtime.fanout import Hub
from tests.waiting import wait_until

BOUND = 20
ROOM = "store:1"
PAD = "x" * 100_000


async def _no_replay(stream: str, after: int | None) -> Replay:
    return Replay()


@dataclass
class Server:
    sio: socketio.AsyncServer
    hub: Hub
    port: int
    drops: list[int] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    sio = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False)
    hub = Hub(sio, None, _no_replay, max_client_queue=BOUND)  # type: ignore[arg-type]
    running = Server(sio=sio, hub=hub, port=0)
    running.hub.on_drop = lambda: running.drops.append(1)

    @sio.on("connect")
    async def _connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.enter_room(sid, ROOM)
        running.sids.append(sid)

    running.port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{running.port}"]
    config.accesslog = None
    stop = asyncio.Event()
    task = asyncio.create_task(serve(socketio.ASGIApp(sio), config, shutdown_trigger=stop.wait))
    try:
        await _listening(running.port)
        yield running
    finally:
        stop.set()
        # A socket whose writer is stuck on a full buffer must not hold up the shutdown.
        await asyncio.wait_for(task, 15)


async def _listening(port: int) -> None:
    async def accepts() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    await wait_until(accepts, timeout=15, interval=0.01, what=f"the server to listen on {port}")


def _stalled_websocket(port: int) -> socket.socket:
    """Open a Socket.IO WebSocket by hand, connect to the namespace, then never read again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    # A masked text frame carrying "40": connect to the default namespace.
    sock.sendall(bytes([0x81, 0x80 | 2]) + b"\0\0\0\0" + b"40")
    return sock


async def test_a_websocket_that_stops_reading_is_dropped_and_the_reader_beside_it_is_not(
    server: Server,
) -> None:
    received: list[int] = []
    reader = socketio.AsyncClient()
    reader.on("event", lambda event: received.append(event["i"]))
    await reader.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"])
    stalled = await asyncio.to_thread(_stalled_websocket, server.port)
    try:
        await wait_until(
            lambda: len(server.sids) == 2, timeout=5, what="the stalled client to connect"
        )
        stalled_eio = server.sio.manager.eio_sid_from_sid(server.sids[1], "/")
        stalled_socket = server.sio.eio.sockets[stalled_eio]

        sent = 0
        while stalled_socket.queue.qsize() <= BOUND:
            assert sent < 1000, "100 MB sent and the stalled client's queue never grew"
            await server.sio.emit("event", {"i": sent, "pad": PAD}, room=ROOM)
            sent += 1
            # The reader keeps up: it has everything before the next event is sent.
            await wait_until(
                lambda n=sent: len(received) == n,
                timeout=5,
                interval=0.01,
                what="the reading client to keep up",
            )

        await asyncio.wait_for(server.hub.drop_slow_clients(), 10)  # must not wait on the client

        assert server.drops == [1]
        assert stalled_eio not in server.sio.eio.sockets
        assert stalled_socket.queue.qsize() <= 1  # what it had queued was let go
        assert reader.connected and received == list(range(sent))
        assert len(server.sio.eio.sockets) == 1
    finally:
        stalled.close()
        await reader.disconnect()
