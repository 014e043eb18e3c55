"""The floor of a fan-out on this stack: Hypercorn on uvloop writing each event straight to
each WebSocket of a room, with Redis pub/sub between the servers, and nothing else.

It speaks just enough of Engine.IO/Socket.IO v5 for the benchmark's clients (open, connect,
`join` with its ack, `event`), as `bench/node/server.js` does, and takes `POST /emit {"rooms":
[...], "data": {...}}` the same way: published once on Redis, each server sends `event` to its
own members of each room. There is no per-socket queue or writer task, no heartbeat, no
sequence, no replay and no rights: what is left is what any fan-out served by Hypercorn pays per
delivery (the ASGI send, wsproto's frame, the socket write, the pub/sub read), which our hub
sits on. `delivery bench --only fanout` measures it beside the hub and the Node.js reference.

    python -m app.bench.floor PORT REDIS_URL
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

CHANNEL = "floor:emit"
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Floor:
    """The ASGI app: WebSockets in rooms, `/emit`, and the Redis listener."""

    def __init__(self, redis_url: str) -> None:
        self.redis = Redis.from_url(redis_url)
        self.rooms: dict[str, list[Send]] = {}
        self.ids = itertools.count()
        self.listener: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.emit(receive, send)
        elif scope["type"] == "websocket":
            await self.socket(receive, send)

    async def lifespan(self, receive: Any, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.listener = asyncio.create_task(self.listen())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.listener is not None:
                    self.listener.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def emit(self, receive: Any, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body)
        # Stamped when the server takes the event, as the reference stamps it.
        request["t"] = time.time() * 1000
        await self.redis.publish(CHANNEL, json.dumps(request))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def socket(self, receive: Any, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        sid = f"f{next(self.ids)}"
        opened = {"sid": sid, "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000}
        await send({"type": "websocket.send", "text": "0" + json.dumps(opened)})
        joined: list[str] = []
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text") or ""
                if text == "40":
                    await send({"type": "websocket.send", "text": "40" + json.dumps({"sid": sid})})
                elif text.startswith("42"):
                    body = text[2:]
                    ack = body[: len(body) - len(body.lstrip("0123456789"))]
                    name, *args = json.loads(body[len(ack) :])
                    if name == "join" and args and isinstance(args[0], str):
                        self.rooms.setdefault(args[0], []).append(send)
                        joined.append(args[0])
                        if ack:
                            await send({"type": "websocket.send", "text": f"43{ack}[true]"})
        finally:
            for room in joined:
                members = self.rooms.get(room, [])
                if send in members:
                    members.remove(send)

    async def listen(self) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(CHANNEL)
        async for message in pubsub.listen():
            request = json.loads(message["data"])
            for room in request["rooms"]:
                members = self.rooms.get(room)
                if not members:
                    continue
                event = {"room": room, "t": request["t"], "data": request["data"]}
                frame = {"type": "websocket.send", "text": "42" + json.dumps(["event", event])}
                for member in list(members):
                    await member(frame)


def main() -> None:
    """Serve on 127.0.0.1:PORT as a node is served (Hypercorn, uvloop, no access log)."""
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    port, redis_url = int(sys.argv[1]), sys.argv[2]
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    uvloop.run(serve(Floor(redis_url), config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
