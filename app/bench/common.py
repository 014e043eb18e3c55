"""What every benchmark section shares: the launcher's topology tuned for load, clients, CPU."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pymysql
from argon2 import PasswordHasher, Type
from redis.asyncio import Redis

from app.auth.sessions import SessionStore
from app.bench.profile import Profiler
from app.launcher.cluster import DATABASE, Cluster

# Benchmarks measure the app, not password hashing or the abuse limits: Argon2id stays on at a
# small cost, and the per-address limits are lifted since every simulated client shares one
# address.
BENCH_ENV = {
    "LOG_LEVEL": "WARNING",
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "1024",
    "SIGNUP_MAX_PER_ADDRESS": "1000000",
    "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000000",
    # A benchmark's few customers each place far more orders than a person could.
    "ORDER_MAX_PER_CUSTOMER": "100000",
}
PASSWORD = "bench-password-123"
CARD = "4111111111111111"
SEOUL = (37.5665, 126.9780)
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@bench.example.com", "bench-admin-password"


def say(message: str) -> None:
    """One progress line, at once."""
    print(message, flush=True)


async def start_cluster(prefix: str, *, nodes: int = 2, **env: str) -> Cluster:
    """MariaDB, three Redis, `nodes` Hypercorn nodes and nginx in a fresh temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    cluster = Cluster(
        folder=folder,
        nodes=nodes,
        node_env={
            **BENCH_ENV,
            "DELIVERY_ADMIN_EMAIL": ADMIN_EMAIL,
            "DELIVERY_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **env,
        },
    )
    say(f"  starting MariaDB, three Redis, {nodes} node(s) and nginx in {folder} …")
    await asyncio.to_thread(cluster.start)
    say("  up: " + ", ".join(cluster.urls()))
    return cluster


async def stop_cluster(cluster: Cluster) -> None:
    """Stop everything `cluster` started and remove its temporary folder (data and logs)."""
    await asyncio.to_thread(cluster.stop)
    await asyncio.to_thread(shutil.rmtree, cluster.folder, True)


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def latency_figures(values_ms: list[float]) -> dict[str, float]:
    """p50, p99 and max of latencies in milliseconds."""
    return {
        "p50_ms": round(statistics.median(values_ms), 2),
        "p99_ms": round(percentile(values_ms, 0.99), 2),
        "max_ms": round(max(values_ms), 2),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def node_pids(cluster: Cluster) -> list[int]:
    """The pid of each running node of `cluster`."""
    return [node.process.pid for node in cluster.node_list if node.process is not None]


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of every CPU of the machine so far, from /proc/stat."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


@dataclass(frozen=True)
class Usage:
    """Where the machine's CPU went: the nodes, this benchmark process, and all of it."""

    wall: float
    nodes: float
    client: float
    machine: tuple[int, int]

    @classmethod
    def now(cls, pids: list[int]) -> Usage:
        """A snapshot of the counters."""
        return cls(
            time.monotonic(),
            sum(cpu_seconds(pid) for pid in pids),
            time.process_time(),
            _machine_jiffies(),
        )

    def since(self, before: Usage) -> dict[str, float]:
        """Cores the nodes and this client used between two snapshots, and the machine's
        busy share (every process, MariaDB, Redis and nginx included)."""
        wall = self.wall - before.wall
        busy, total = (a - b for a, b in zip(self.machine, before.machine, strict=True))
        return {
            "nodes_cores": round((self.nodes - before.nodes) / wall, 2),
            "client_cores": round((self.client - before.client) / wall, 2),
            "machine_busy": round(busy / total, 2) if total else 0.0,
        }


@dataclass
class CpuMeter:
    """CPU seconds that processes spent on a piece of work, less what they spend idle."""

    pids: list[int]
    idle_per_s: float = 0.0
    # When set, each measured piece of work that has a label is also profiled (--profile).
    profiler: Profiler | None = None

    def total(self) -> float:
        """Their CPU seconds so far."""
        return sum(cpu_seconds(pid) for pid in self.pids)

    async def calibrate(self, seconds: float) -> None:
        """Measure the background work (relay sweeps, dispatch, housekeeping) of idle nodes."""
        before, started = self.total(), time.monotonic()
        await asyncio.sleep(seconds)
        self.idle_per_s = (self.total() - before) / (time.monotonic() - started)

    async def measure(self, work: Callable[[], Awaitable[Any]], *, label: str = "") -> float:
        """CPU seconds `work` cost these processes, background work subtracted."""
        before, started = self.total(), time.monotonic()
        if self.profiler is not None and label:
            async with self.profiler.record(label, self.pids):
                await work()
        else:
            await work()
        spent = self.total() - before
        return max(0.0, spent - self.idle_per_s * (time.monotonic() - started))


class Client:
    """A signed-in user on one node, sending its CSRF token with every request."""

    def __init__(self, http: httpx.AsyncClient, csrf: str, user: dict[str, Any]) -> None:
        self.http, self.csrf, self.user = http, csrf, user

    async def send(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> httpx.Response:
        """One request with the session cookie and CSRF token."""
        return await self.http.request(
            method, path, json=body, headers={"X-CSRF-Token": self.csrf, **headers}
        )

    async def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        """POST `body` as JSON."""
        return await self.send("POST", path, body, **headers)


async def sign_in(url: str, email: str, role: str) -> Client:
    """Sign up (or find) `email` as `role` on `url` and log in."""
    http = httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=200))
    body = {"email": email, "password": PASSWORD, "name": email, "role": role}
    signup = await http.post("/api/auth/signup", json=body)
    assert signup.status_code in (201, 409), signup.text
    login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Client(http, login.json()["csrf_token"], login.json()["user"])


async def close_all(clients: Iterable[Client]) -> None:
    """Close every client's connections."""
    for client in clients:
        await client.http.aclose()


async def open_store(
    owner: Client, *, lat: float = SEOUL[0], lng: float = SEOUL[1], price: int = 9000
) -> tuple[int, int]:
    """A store with one menu item, open; (store_id, item_id)."""
    store = await owner.post(
        "/api/stores",
        {
            "name": "Bench Kitchen",
            "category": "korean",
            "address": "Seoul",
            "lat": lat,
            "lng": lng,
            "phone": "02-000-0000",
            "min_order": 0,
            "delivery_fee": 3000,
        },
    )
    assert store.status_code == 201, store.text
    store_id = int(store.json()["id"])
    item = await owner.post(
        f"/api/stores/{store_id}/menu",
        {"name": "Bibimbap", "price": price, "group": "Rice", "description": "", "options": []},
    )
    assert item.status_code == 201, item.text
    opened = await owner.send("PATCH", f"/api/stores/{store_id}", {"open": True})
    assert opened.status_code == 200, opened.text
    return store_id, int(item.json()["id"])


def order_body(store_id: int, item_id: int, quantity: int = 1) -> dict[str, Any]:
    """A card-paid order of one item, to City Hall."""
    return {
        "store_id": store_id,
        "items": [{"menu_item_id": item_id, "quantity": quantity, "option_ids": []}],
        "address": {"text": "Seoul City Hall", "lat": 37.5665, "lng": 126.978},
        "payment": {"method": "card", "card_number": CARD},
    }


def connect_db(cluster: Cluster) -> pymysql.connections.Connection:
    """A plain connection to the cluster's database, for bulk set-up and checks."""
    assert cluster.mariadb is not None
    return pymysql.connect(
        host="127.0.0.1", port=cluster.mariadb.port, user="root", password="", database=DATABASE
    )


def insert_users(cluster: Cluster, role: str, count: int, prefix: str) -> list[int]:
    """Insert `count` users of `role` straight into MariaDB (one precomputed Argon2id hash)."""
    hashed = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID).hash(
        PASSWORD
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = connect_db(cluster)
    try:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO users (email, password_hash, name, role, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    (f"{prefix}{i}@bench.example.com", hashed, f"{prefix}{i}", role, now, now)
                    for i in range(count)
                ],
            )
            cursor.execute(
                "SELECT id FROM users WHERE email LIKE %s ORDER BY id", (f"{prefix}%@bench%",)
            )
            ids = [int(row[0]) for row in cursor.fetchall()]
        conn.commit()
        return ids
    finally:
        conn.close()


async def sessions_for(cluster: Cluster, ids: list[int], role: str) -> list[dict[str, str]]:
    """One live session per user, as the headers its browser would send."""
    assert cluster.session_redis is not None
    redis = Redis.from_url(cluster.session_redis.url)
    try:
        store = SessionStore(redis, ttl_seconds=3600, absolute_seconds=3600)
        out = []
        for user_id in ids:
            data = await store.create(user_id=user_id, role=role)
            out.append(
                {"Cookie": f"delivery_session={data.session_id}", "X-CSRF-Token": data.csrf_token}
            )
        return out
    finally:
        await redis.aclose()


async def socket_messages(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], first: list[Any]
) -> AsyncIterator[tuple[str, Any]]:
    """A Socket.IO connection spoken on the wire (Engine.IO v4 over a WebSocket), lighter than
    python-socketio's client for thousands of them: sends `first` as the event with ack id 0,
    answers pings, and yields `("ack", answer)` for that ack and `("event", [name, data])` for
    each event, until the connection ends."""
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with http.ws_connect(ws_url, headers=headers, max_msg_size=0) as ws:
        opened = await ws.receive_str()
        assert opened.startswith("0"), opened
        await ws.send_str("40")
        connected = await ws.receive_str()
        assert connected.startswith("40"), connected
        await ws.send_str("420" + json.dumps(first))
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                return
            data = message.data
            if data == "2":
                await ws.send_str("3")
            elif data.startswith("430"):
                yield "ack", json.loads(data[3:])[0]
            elif data.startswith("42"):
                yield "event", json.loads(data[2:])
