"""Socket.IO messages written by hand, as an attacker would: deeply nested JSON is harmless."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest

from app.config import Settings
from app.launcher.nodes import Node
from tests.client import Api
from tests.harness import Infra
from tests.realtime.streams import StreamClient
from tests.system import session_cookie

TIMEOUT = 15


@pytest.fixture
async def node(settings: Settings, infra: Infra) -> AsyncIterator[Node]:
    """One real node on the test's services, stopped at the end."""
    started = infra.start_node("hostile-sockets")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def rider(node: Node) -> AsyncIterator[Api]:
    """A signed-in rider on the node."""
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        api = Api(http)
        await api.sign_in_as("rider")
        yield api


class RawSocket:
    """Engine.IO v4 / Socket.IO v5 over a WebSocket, frame by frame, with no encoder between
    the test and the wire."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws

    @classmethod
    async def open(cls, url: str, cookie: str) -> RawSocket:
        http = aiohttp.ClientSession(cookies={"delivery_session": cookie})
        ws = await http.ws_connect(
            f"{url}/socket.io/?EIO=4&transport=websocket", timeout=aiohttp.ClientWSTimeout(TIMEOUT)
        )
        socket = cls(http, ws)
        assert (await socket.frame()).startswith("0{")  # Engine.IO open
        await ws.send_str("40")  # Socket.IO connect to the default namespace
        assert (await socket.frame()).startswith("40{")
        return socket

    async def frame(self) -> str:
        """The next text frame, answering Engine.IO pings on the way; "" once closed."""
        while True:
            message = await self.ws.receive(timeout=TIMEOUT)
            if message.type != aiohttp.WSMsgType.TEXT or message.data == "1":  # Engine.IO close
                await self.ws.close()
                return ""
            if message.data == "2":
                await self.ws.send_str("3")
                continue
            return str(message.data)

    async def call(self, payload: str) -> Any:
        """Send `subscribe` with `payload` spliced in as written; the ack's data, or None if the
        server closed the socket instead."""
        await self.ws.send_str(f'421["subscribe",{payload}]')
        answer = await self.frame()
        if not answer:
            return None
        assert answer.startswith("431"), answer
        return json.loads(answer[3:])[0]

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_a_subscribe_nested_thousands_deep_closes_that_socket_and_nothing_else(
    node: Node, rider: Api
) -> None:
    assert rider.user is not None
    bystander = await StreamClient(node.url, session_cookie(rider)).connect()
    attacker = await RawSocket.open(node.url, session_cookie(rider))
    try:
        assert await attacker.call(_nested(20_000)) is None
        assert attacker.ws.closed
        # The node keeps serving: another socket subscribes, HTTP answers.
        ack = await bystander.subscribe(f"rider:{rider.user['id']}")
        assert ack["ok"] is True
        assert (await rider.get("/healthz")).status_code == 200
    finally:
        await attacker.close()
        await bystander.close()
    log = node.log_path.read_text(errors="replace")
    assert "RecursionError" not in log and "Traceback" not in log, log[-3000:]
    assert "could not decode" in log, log[-3000:]


async def test_a_subscribe_nested_a_little_is_answered_validation(node: Node, rider: Api) -> None:
    socket = await RawSocket.open(node.url, session_cookie(rider))
    try:
        assert await socket.call(_nested(50)) == {"ok": False, "code": "validation"}
        assert await socket.call(json.dumps({"stream": "rider:1", "after_seq": 0})) is not None
    finally:
        await socket.close()
