"""The periodic session sweep against sockets connecting while it runs: it takes away the sockets
of a session that ended, and only those (a node's sweep once disconnected sockets whose session
it had not asked about because they connected while its answer was on the way)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from app.launcher.cluster import Cluster
from tests.harness import require_binary
from tests.system import NODE_ENV, People, run_out, session_cookie

pytestmark = pytest.mark.system

SESSIONS = 40
SOCKETS_PER_SESSION = 5
# A stream nobody may follow: every subscribe is answered, with `not-found`.
STREAM = "order:999999999"


@pytest.fixture(scope="module")
def sweeping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One node behind nginx that sweeps its sockets' sessions every 10 ms."""
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",)):
        require_binary(*names)
    env = {**NODE_ENV, "REALTIME_SESSION_SWEEP_SECONDS": "0.01"}
    running = Cluster(folder=tmp_path_factory.mktemp("sweep"), nodes=1, node_env=env).start()
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Socket:
    """A Socket.IO connection spoken on the wire: what the server sent it, in order."""

    cookie: str
    received: list[str] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    # Answered or ended, whichever came first.
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def namespace_closed(self) -> bool:
        """The server disconnected it from the namespace (Socket.IO `41`)."""
        return "41" in self.received

    async def run(self, http: aiohttp.ClientSession, url: str, start_after: float) -> None:
        await asyncio.sleep(start_after)
        ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        headers = {"Cookie": f"delivery_session={self.cookie}"}
        try:
            async with http.ws_connect(ws_url, headers=headers) as ws:
                assert (await ws.receive_str()).startswith("0")
                await ws.send_str("40")
                connected = await ws.receive_str()
                self.received.append(connected)
                await ws.send_str("420" + json.dumps(["subscribe", {"stream": STREAM}]))
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    if message.data == "2":
                        await ws.send_str("3")
                        continue
                    self.received.append(message.data)
                    if message.data.startswith("430"):
                        self.answered.set()
                        self.settled.set()
                    if message.data == "41":
                        break
        finally:
            self.ended.set()
            self.settled.set()


async def test_sockets_connecting_while_the_sweep_runs_stay_and_an_ended_session_goes(
    sweeping: Cluster, people: People
) -> None:
    node = sweeping.node_list[0].url
    customers = [await people(node, "customer") for _ in range(SESSIONS)]
    # Each session's sockets start together, and a new session every 20 ms, so that sessions
    # this node has not seen keep arriving while sweeps (every 10 ms) wait for Redis.
    sockets = [
        (Socket(session_cookie(customer)), n * 0.02)
        for n, customer in enumerate(customers)
        for _ in range(SOCKETS_PER_SESSION)
    ]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [asyncio.create_task(s.run(http, node, delay)) for s, delay in sockets]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(s.settled.wait() for s, _ in sockets)), timeout=30
            )
            # Several sweeps later, every socket is still there.
            await asyncio.sleep(0.2)
            closed = [s for s, _ in sockets if s.namespace_closed or s.ended.is_set()]
            assert closed == [], f"{len(closed)} of {len(sockets)} sockets were disconnected"
            assert all(s.answered.is_set() for s, _ in sockets)
            assert all(
                json.loads(next(m for m in s.received if m.startswith("430"))[3:])
                == [{"ok": False, "code": "not-found"}]
                for s, _ in sockets
            )

            # The sweep runs: the sockets of a session that ran out (no sign-out announced it)
            # are disconnected, and nobody else's.
            ended = session_cookie(customers[0])
            await run_out(sweeping, ended)
            gone = [s for s, _ in sockets if s.cookie == ended]
            await asyncio.wait_for(asyncio.gather(*(s.ended.wait() for s in gone)), timeout=10)
            assert all(s.namespace_closed for s in gone)
            await asyncio.sleep(0.2)
            assert not any(s.ended.is_set() for s, _ in sockets if s.cookie != ended)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
