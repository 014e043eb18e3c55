"""Realtime benchmark: K subscribers on two nodes, order events driven through the REST API.

    .venv/bin/python bench/realtime_bench.py --subscribers 1000 5000 --rounds 10

It starts the cluster with the same launcher as `delivery cluster` (MariaDB, two Redis, two
nodes, nginx) in var/bench-cluster, opens K WebSocket subscribers split evenly between the two
nodes, and drives orders through nginx: each of S stores gets orders that are placed,
accepted, made ready and cancelled, so every order writes events to its store's stream. Each
subscriber follows one store stream (with that store owner's session), so an event on a store
stream is delivered to K/S subscribers.

Subscribers speak the Engine.IO/Socket.IO v5 wire protocol directly over aiohttp WebSockets
(one connection, one subscription each): python-socketio's client costs too much memory and
CPU to run thousands of them next to the cluster on one machine.

Every delivery is checked: seq must be exactly last + 1 on its stream, and at the end every
subscriber must hold its stream's final seq. Latency is commit to client: the outbox row's
insert time (stored in the database) to the moment the subscriber decoded the event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import aiohttp
import httpx
import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.launcher.cluster import Cluster  # noqa: E402
from tests.client import Api  # noqa: E402
from tests.realtime.flows import act, open_store, place_order  # noqa: E402
from tests.realtime.streams import wait_until  # noqa: E402
from tests.system import NODE_ENV  # noqa: E402


@dataclass
class Subscriber:
    """One WebSocket connection following one stream, checking every seq."""

    url: str
    cookie: str
    stream: str
    last: int = 0
    received: list[tuple[int, float]] = field(default_factory=list)
    types: dict[int, str] = field(default_factory=dict)
    gaps: int = 0
    duplicates: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, http: aiohttp.ClientSession) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        async with http.ws_connect(
            ws_url, headers={"Cookie": f"delivery_session={self.cookie}"}, max_msg_size=0
        ) as ws:
            opened = await ws.receive_str()
            assert opened.startswith("0"), opened
            await ws.send_str("40")
            connected = await ws.receive_str()
            assert connected.startswith("40"), connected
            await ws.send_str("420" + json.dumps(["subscribe", {"stream": self.stream}]))
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = message.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith("430"):
                    ack = json.loads(data[3:])[0]
                    assert ack["ok"], ack
                    self.last = ack["last_seq"]
                    self.ready.set()
                elif data.startswith("42"):
                    now = time.time()
                    _name, event = json.loads(data[2:])
                    seq = event["seq"]
                    if seq <= self.last:
                        self.duplicates += 1
                    elif seq != self.last + 1:
                        self.gaps += 1
                        self.last = seq
                    else:
                        self.last = seq
                        self.received.append((seq, now))
                        self.types[seq] = event["type"]


async def _signed_in(base_url: str, role: str) -> Api:
    api = Api(httpx.AsyncClient(base_url=base_url, timeout=60))
    await api.sign_in_as(role)
    return api


async def _kitchen(
    owner: Api, customer: Api, store_id: int, item_id: int, rounds: int, think: float
) -> int:
    """Orders worked start to finish at one store, pausing `think` s between REST calls."""
    done = 0
    for _ in range(rounds):
        order = await place_order(customer, store_id=store_id, item_id=item_id)
        await asyncio.sleep(think)
        await act(owner, order["id"], "accept", {"prep_minutes": 10})
        await asyncio.sleep(think)
        await act(owner, order["id"], "ready")
        await asyncio.sleep(think)
        await act(owner, order["id"], "cancel", {"reason": "benchmark"})
        await asyncio.sleep(think)
        done += 1
    return done


def _commit_times(
    cluster: Cluster, streams: list[str], relay_delays: list[float] | None = None
) -> dict[tuple[str, int], float]:
    assert cluster.mariadb is not None
    conn = pymysql.connect(
        host="127.0.0.1", port=cluster.mariadb.port, user="root", password="", database="delivery"
    )
    try:
        with conn.cursor() as cursor:
            marks = ",".join(["%s"] * len(streams))
            cursor.execute(
                "SELECT stream, seq, created_at, published_at FROM outbox_events "
                f"WHERE stream IN ({marks})",
                streams,
            )
            rows = cursor.fetchall()
            if relay_delays is not None:
                relay_delays.extend(
                    (published - created).total_seconds() * 1000
                    for _s, _q, created, published in rows
                    if published is not None
                )
            return {
                (stream, int(seq)): created.replace(tzinfo=UTC).timestamp()
                for stream, seq, created, _published in rows
            }
    finally:
        conn.close()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_round(
    cluster: Cluster, subscribers: int, stores: int, rounds: int, think: float
) -> dict[str, float]:
    """One measurement with `subscribers` connections; returns the figures."""
    owners = [await _signed_in(cluster.url, "owner") for _ in range(stores)]
    customers = [await _signed_in(cluster.url, "customer") for _ in range(stores)]
    menu = [await open_store(owner) for owner in owners]
    nodes = [node.url for node in cluster.node_list]
    subs = [
        Subscriber(
            url=nodes[i % len(nodes)],
            cookie=str(owners[i % stores].http.cookies.get("delivery_session")),
            stream=f"store:{menu[i % stores][0]}",
        )
        for i in range(subscribers)
    ]
    connector = aiohttp.TCPConnector(limit=0)
    http = aiohttp.ClientSession(connector=connector)
    gate = asyncio.Semaphore(200)

    async def start(sub: Subscriber) -> asyncio.Task[None]:
        async with gate:
            task = asyncio.create_task(sub.run(http))
            await asyncio.wait_for(sub.ready.wait(), 60)
            return task

    try:
        t0 = time.perf_counter()
        tasks = await asyncio.gather(*(start(sub) for sub in subs))
        connect_s = time.perf_counter() - t0
        started = time.time()
        orders = await asyncio.gather(
            *(
                _kitchen(owners[s], customers[s], menu[s][0], menu[s][1], rounds, think)
                for s in range(stores)
            )
        )
        streams = sorted({sub.stream for sub in subs})
        heads: dict[str, int] = dict.fromkeys(streams, 0)
        relay_delays: list[float] = []
        times = _commit_times(cluster, streams, relay_delays)
        print(
            f"    commit to marked published: p50 {statistics.median(relay_delays):.1f} ms  "
            f"p99 {_percentile(relay_delays, 0.99):.1f} ms"
        )
        for (stream, seq), _at in times.items():
            heads[stream] = max(heads.get(stream, 0), seq)
        with contextlib.suppress(AssertionError):
            await wait_until(lambda: all(sub.last >= heads[sub.stream] for sub in subs), within=60)
        finished = max((t for sub in subs for _seq, t in sub.received), default=time.time())
        latencies = [
            (t - times[(sub.stream, seq)]) * 1000 for sub in subs for seq, t in sub.received
        ]
        by_type: dict[str, list[float]] = {}
        for sub in subs:
            for seq, t in sub.received:
                by_type.setdefault(sub.types[seq], []).append((t - times[(sub.stream, seq)]) * 1000)
        for name, values in sorted(by_type.items()):
            print(
                f"    {name:<16} p50 {statistics.median(values):7.1f} ms  max {max(values):7.1f} ms"
            )
        behind = sum(1 for sub in subs if sub.last != heads[sub.stream])
        gaps = sum(sub.gaps for sub in subs)
        duplicates = sum(sub.duplicates for sub in subs)
        delivered = len(latencies)
        events = sum(heads.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await http.close()
        for api in owners + customers:
            await api.http.aclose()
    elapsed = finished - started
    return {
        "subscribers": subscribers,
        "connect_s": connect_s,
        "orders": sum(orders),
        "events": events,
        "delivered": delivered,
        "expected": sum(heads[sub.stream] for sub in subs),
        "per_s": delivered / elapsed if elapsed > 0 else 0.0,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": _percentile(latencies, 0.99) if latencies else float("nan"),
        "max_ms": max(latencies) if latencies else float("nan"),
        "gaps": gaps,
        "duplicates": duplicates,
        "behind": behind,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--stores", type=int, default=20, help="store streams (and kitchens)")
    parser.add_argument("--rounds", type=int, default=10, help="orders per store")
    parser.add_argument(
        "--think", type=float, default=100, help="ms a kitchen waits between its REST calls"
    )
    parser.add_argument("--folder", type=Path, default=None, help="cluster folder (temp dir)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="realtime-bench-"))
    cluster = Cluster(folder=folder, nodes=2, fresh=True, node_env=dict(NODE_ENV)).start()
    print(f"cluster up: nginx {cluster.url}, nodes {[n.url for n in cluster.node_list]}")
    try:
        for count in args.subscribers:
            figures = asyncio.run(
                run_round(cluster, count, args.stores, args.rounds, args.think / 1000)
            )
            ok = figures["gaps"] == 0 and figures["behind"] == 0 and figures["duplicates"] == 0
            print(
                f"K={figures['subscribers']:>5}  connect {figures['connect_s']:.1f}s  "
                f"orders {figures['orders']}  events {figures['events']}  "
                f"delivered {figures['delivered']}/{figures['expected']}  "
                f"{figures['per_s']:.0f} deliveries/s  latency p50 {figures['p50_ms']:.1f} ms  "
                f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms  "
                f"gaps {figures['gaps']}  duplicates {figures['duplicates']}  "
                f"behind {figures['behind']}  {'OK' if ok else 'FAILED'}",
                flush=True,
            )
            if not ok:
                return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
