"""Fan-out server CPU per delivery: our hub beside a Node.js Socket.IO reference, same load.

N clients in rooms of S, each room's members spread over two nodes (or two Node servers);
a driver emits E events to random rooms at R events/s, in batches of 20, and every delivery is
counted by the clients. For our hub a room is a store stream (its members share the owner's
session) and an event is appended to the events Redis exactly as the outbox relay appends it
(the append script publishes it to every node); for the reference (`bench/node/server.js`:
socket.io with @socket.io/redis-adapter on one Redis) the driver posts each batch to one
server's `/emit`, alternating. The figure is the servers' CPU time (from /proc, less what
they spend idle) over the emitting and draining, divided by deliveries.

One Python client process drives both, speaking the Engine.IO/Socket.IO v5 wire protocol over
aiohttp WebSockets, so both servers face the same clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from app.bench.common import (
    SEOUL,
    CpuMeter,
    connect_db,
    insert_users,
    latency_figures,
    node_pids,
    say,
    sessions_for,
    socket_messages,
    start_cluster,
    stop_cluster,
)
from app.bench.profile import Profiler
from app.launcher.processes import free_port, stop_process, wait_for_port
from app.launcher.servers import RedisServer
from realtime.eventlog import APPENDED, append_many

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "bench" / "node"
BATCH = 20
PAD = "x" * 200


@dataclass
class Member:
    """One client in one room, counting what it receives; it reconnects as a real client does.

    `join` builds the message that (re)joins its room from the last seq it holds: our hub
    replays what a reconnecting client missed (its ack carries the events), the reference
    cannot, so what it missed stays lost.
    """

    url: str
    room: int
    headers: dict[str, str]
    join: Callable[[int | None], list[Any]]
    received: int = 0
    last: int | None = None
    reconnects: int = 0
    latencies: list[float] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, http: aiohttp.ClientSession) -> None:
        """Connect, join, and count events until cancelled, connecting again when dropped."""
        while True:
            with contextlib.suppress(aiohttp.ClientError, AssertionError):
                await self._session(http)
            self.reconnects += 1
            await asyncio.sleep(0.1)

    async def _session(self, http: aiohttp.ClientSession) -> None:
        async for kind, value in socket_messages(
            http, self.url, self.headers, self.join(self.last)
        ):
            now = time.time() * 1000
            if kind == "event":
                self.take(value[1], now)
                continue
            if isinstance(value, dict):
                assert value["ok"], value
                for event in value["events"]:
                    self.take(event, now)
                self.last = max(self.last or 0, value["last_seq"])
            self.ready.set()

    def take(self, event: dict[str, Any], now: float) -> None:
        """Count an event once (by seq where it has one) and record its latency."""
        seq = event.get("seq")
        if seq is not None:
            if self.last is not None and seq <= self.last:
                return
            self.last = seq
        self.received += 1
        self.latencies.append(now - event["data"]["t"])


def _layout(clients: int, room_size: int) -> list[tuple[int, int]]:
    """(room, node) of each client: every room's members alternate between the two nodes."""
    rooms = -(-clients // room_size)
    return [(i % rooms, (i % rooms + i // rooms) % 2) for i in range(clients)]


async def _connect(members: list[Member], http: aiohttp.ClientSession) -> list[asyncio.Task[None]]:
    gate = asyncio.Semaphore(200)

    async def start(member: Member) -> asyncio.Task[None]:
        async with gate:
            task = asyncio.create_task(member.run(http))
            async with asyncio.timeout(120):
                await member.ready.wait()
            return task

    return list(await asyncio.gather(*(start(member) for member in members)))


async def _drive(
    emit: Callable[[list[int]], Coroutine[Any, Any, None]], rooms: int, events: int, rate: float
) -> dict[int, int]:
    """Emit `events` to random rooms at `rate`, in batches; how many went to each room."""
    rng = random.Random(7)
    sent: dict[int, int] = {}
    pending: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    emitted = 0
    while emitted < events:
        batch = [rng.randrange(rooms) for _ in range(min(BATCH, events - emitted))]
        for room in batch:
            sent[room] = sent.get(room, 0) + 1
        pending.append(asyncio.create_task(emit(batch)))
        emitted += len(batch)
        delay = started + emitted / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.gather(*pending)
    return sent


async def _measure(
    name: str,
    members: list[Member],
    pids: list[int],
    emit: Callable[[list[int]], Coroutine[Any, Any, None]],
    *,
    rooms: int,
    events: int,
    rate: float,
    idle: float,
    profiler: Profiler | None = None,
) -> dict[str, Any]:
    """Connect the clients, then emit and count; the servers' CPU per delivery."""
    per_room: dict[int, int] = {}
    for member in members:
        per_room[member.room] = per_room.get(member.room, 0) + 1
    expected = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        say(f"  {name}: connecting {len(members)} clients …")
        tasks = await _connect(members, http)
        try:
            meter = CpuMeter(pids, profiler=profiler)
            await meter.calibrate(idle)
            say(f"  {name}: {events} events at {rate:.0f}/s …")

            async def work() -> None:
                nonlocal expected
                sent = await _drive(emit, rooms, events, rate)
                expected = sum(n * per_room.get(room, 0) for room, n in sent.items())
                deadline = time.monotonic() + 30
                while sum(m.received for m in members) < expected and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)

            started = time.perf_counter()
            cpu = await meter.measure(work, label=f"fan-out: {name}")
            seconds = time.perf_counter() - started
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)
    delivered = sum(m.received for m in members)
    latencies = [value for m in members for value in m.latencies]
    figures = {
        "delivered": delivered,
        "expected": expected,
        "lost": expected - delivered,
        "reconnects": sum(m.reconnects for m in members),
        "seconds": round(seconds, 2),
        "server_cpu_s": round(cpu, 3),
        "cpu_us_per_delivery": round(cpu * 1e6 / max(1, delivered), 1),
        **latency_figures(latencies or [0.0]),
    }
    say(
        f"  {name}: {figures['cpu_us_per_delivery']:.1f} µs server CPU per delivery, "
        f"delivered {delivered}/{expected} ({figures['reconnects']} reconnects), p50 {figures['p50_ms']:.1f} ms  "
        f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms"
    )
    return figures


def _insert_stores(cluster: Any, owner_ids: list[int]) -> list[int]:
    """One store per owner, straight into MariaDB; the store ids in owner order."""
    conn = connect_db(cluster)
    try:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO stores (owner_id, name, category, address, lat, lng, phone, "
                "min_order, delivery_fee, open, created_at, updated_at) VALUES (%s, %s, 'korean', "
                "'Seoul', %s, %s, '02-000-0000', 0, 0, 1, UTC_TIMESTAMP(), UTC_TIMESTAMP())",
                [(owner, f"Room {owner}", SEOUL[0], SEOUL[1]) for owner in owner_ids],
            )
            cursor.execute("SELECT id FROM stores ORDER BY owner_id")
            ids = [int(row[0]) for row in cursor.fetchall()]
        conn.commit()
        return ids
    finally:
        conn.close()


def _subscribe(stream: str, last: int | None) -> list[Any]:
    return [
        "subscribe",
        {"stream": stream} if last is None else {"stream": stream, "after_seq": last},
    ]


def _join(room: str, _last: int | None) -> list[Any]:
    return ["join", room]


def _stamp() -> dict[str, Any]:
    return {"t": time.time() * 1000, "pad": PAD}


async def hub(
    *,
    clients: int,
    room_size: int,
    events: int,
    rate: float,
    idle: float,
    profiler: Profiler | None = None,
) -> dict[str, Any]:
    """Our hub on two nodes of a cluster."""
    layout = _layout(clients, room_size)
    rooms = max(room for room, _ in layout) + 1
    cluster = await start_cluster("bench-fanout")
    try:
        owners = insert_users(cluster, "owner", rooms, "room")
        stores = _insert_stores(cluster, owners)
        sessions = await sessions_for(cluster, owners, "owner")
        urls = [node.url for node in cluster.node_list]
        members = [
            Member(
                url=urls[node],
                room=room,
                headers={"Cookie": sessions[room]["Cookie"]},
                join=functools.partial(_subscribe, f"store:{stores[room]}"),
            )
            for room, node in layout
        ]
        assert cluster.events_redis is not None
        redis = Redis.from_url(cluster.events_redis.url)
        seqs = [0] * rooms
        in_order = asyncio.Lock()

        async def emit(batch: list[int]) -> None:
            envelopes = []
            for room in batch:
                seqs[room] += 1
                envelopes.append(
                    {
                        "stream": f"store:{stores[room]}",
                        "seq": seqs[room],
                        "type": "bench.ping",
                        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "data": _stamp(),
                    }
                )
            # One append at a time, as the relay's per-stream lock has it: two pipelines in
            # flight could reach Redis out of seq order, and the script refuses a gap.
            async with in_order:
                results = await append_many(redis, envelopes, floor=0)
            assert all(state == APPENDED for state, _head in results), results

        try:
            return await _measure(
                "hub", members, node_pids(cluster), emit,
                rooms=rooms, events=events, rate=rate, idle=idle, profiler=profiler,
            )  # fmt: skip
        finally:
            await redis.aclose()
    finally:
        await stop_cluster(cluster)


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def reference_installed() -> bool:
    """Whether `bench/node` has its packages (`npm ci --prefix bench/node`)."""
    return (REFERENCE / "node_modules" / "socket.io").is_dir()


async def reference(
    *, clients: int, room_size: int, events: int, rate: float, idle: float
) -> dict[str, Any]:
    """The Node.js Socket.IO reference: two servers, one Redis."""
    node = shutil.which("node")
    if node is None or not reference_installed():
        raise RuntimeError("the reference needs node and `npm ci --prefix bench/node`")
    return await _pair(
        "Node.js socket.io",
        lambda port, redis_url: [node, str(REFERENCE / "server.js"), str(port), redis_url],
        clients=clients, room_size=room_size, events=events, rate=rate, idle=idle,
    )  # fmt: skip


async def floor(
    *, clients: int, room_size: int, events: int, rate: float, idle: float
) -> dict[str, Any]:
    """The floor of this stack (`app/bench/floor.py`): two Hypercorn servers, one Redis."""
    return await _pair(
        "Hypercorn floor",
        lambda port, redis_url: [sys.executable, "-m", "app.bench.floor", str(port), redis_url],
        clients=clients, room_size=room_size, events=events, rate=rate, idle=idle,
    )  # fmt: skip


async def _pair(
    name: str,
    command: Callable[[int, str], list[str]],
    *,
    clients: int,
    room_size: int,
    events: int,
    rate: float,
    idle: float,
) -> dict[str, Any]:
    """Two servers started with `command(port, redis_url)` on one Redis, taking `join` and
    `POST /emit` as `bench/node/server.js` does, under the load."""
    layout = _layout(clients, room_size)
    rooms = max(room for room, _ in layout) + 1
    folder = Path(tempfile.mkdtemp(prefix="bench-fanout-pair-"))
    redis = await asyncio.to_thread(RedisServer(folder / "redis").start)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        ports = [free_port(), free_port()]
        for port in ports:
            log_path = folder / f"server-{port}.log"
            servers.append(await asyncio.to_thread(_spawn, command(port, redis.url), log_path))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for port, process in zip(ports, servers, strict=True):
            await asyncio.to_thread(
                wait_for_port, port, process=process, timeout=30, what=f"the {name} server"
            )
        members = [
            Member(url=urls[n], room=room, headers={}, join=functools.partial(_join, f"r{room}"))
            for room, n in layout
        ]
        turn = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

            async def emit(batch: list[int]) -> None:
                nonlocal turn
                turn += 1
                body = {"rooms": [f"r{room}" for room in batch], "data": _stamp()}
                async with http.post(f"{urls[turn % 2]}/emit", json=body) as answer:
                    assert answer.status == 200, await answer.text()

            return await _measure(
                name, members, [p.pid for p in servers], emit,
                rooms=rooms, events=events, rate=rate, idle=idle,
            )  # fmt: skip
    finally:
        for process in servers:
            stop_process(process)
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def run(
    *,
    clients: int,
    room_size: int,
    events: int,
    rate: float,
    idle: float,
    profiler: Profiler | None = None,
) -> dict[str, Any]:
    """Both fan-outs under the same load, and the ratio of their CPU per delivery."""
    load: dict[str, Any] = {
        "clients": clients,
        "room_size": room_size,
        "events": events,
        "rate": rate,
        "idle": idle,
    }
    ours = await hub(**load, profiler=profiler)
    bare = await floor(**load)
    theirs = await reference(**load)
    ratio = ours["cpu_us_per_delivery"] / theirs["cpu_us_per_delivery"]
    floor_ratio = bare["cpu_us_per_delivery"] / theirs["cpu_us_per_delivery"]
    say(
        f"  hub / Node.js CPU per delivery: {ratio:.2f}"
        f"   (Hypercorn floor / Node.js: {floor_ratio:.2f},"
        f" hub / floor: {ours['cpu_us_per_delivery'] / bare['cpu_us_per_delivery']:.2f})"
    )
    return {
        **load,
        "hub": ours,
        "floor": bare,
        "node": theirs,
        "hub_to_node_cpu_ratio": round(ratio, 2),
        "floor_to_node_cpu_ratio": round(floor_ratio, 2),
    }
