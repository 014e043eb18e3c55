"""A Socket.IO client that speaks Engine.IO long-polling by hand, one request at a time.

Driven request by request, it can stop reading whenever a test wants (a stalled tab), and it
works over any httpx transport, an in-process app's included.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

SEPARATOR = "\x1e"  # between packets of one long-polling payload


class PollingClient:
    """A Socket.IO client on the long-polling transport, driven one request at a time."""

    def __init__(self, http: httpx.AsyncClient, cookie: str) -> None:
        self.http = http
        self.cookie = cookie
        self.sid = ""

    def _cookie(self) -> dict[str, str]:
        return {"Cookie": f"delivery_session={self.cookie}"}

    def _params(self) -> dict[str, str]:
        params = {"EIO": "4", "transport": "polling"}
        if self.sid:
            params["sid"] = self.sid
        return params

    async def poll(self) -> httpx.Response:
        return await self.http.get("/socket.io/", params=self._params(), headers=self._cookie())

    async def packets(self) -> list[str]:
        response = await self.poll()
        assert response.status_code == 200, response.text
        return response.text.split(SEPARATOR)

    async def send(self, packet: str) -> None:
        response = await self.http.post(
            "/socket.io/",
            params=self._params(),
            content=packet,
            headers={"Content-Type": "text/plain;charset=UTF-8", **self._cookie()},
        )
        assert response.status_code == 200 and response.text.lower() == "ok", response.text

    async def connect(self) -> None:
        opened = await self.packets()
        assert opened[0].startswith("0"), opened
        self.sid = json.loads(opened[0][1:])["sid"]
        await self.send("40")
        connected = await self.packets()
        assert connected[0].startswith("40{"), connected

    async def subscribe(self, stream: str, after_seq: int) -> dict[str, Any]:
        await self.send(
            "420" + json.dumps(["subscribe", {"stream": stream, "after_seq": after_seq}])
        )
        for _ in range(5):  # a ping may come first
            for packet in await self.packets():
                if packet.startswith("430"):
                    ack: dict[str, Any] = json.loads(packet[3:])[0]
                    return ack
        raise AssertionError("no subscribe ack")
