"""Realtime benchmark: K subscribers on two nodes, order events driven through the REST API.

    .venv/bin/python bench/realtime_bench.py --subscribers 1000 5000 --rounds 10

For each fan-out (`--fanout hub socketio-redis`: the default hub, then python-socketio's
AsyncRedisManager as the baseline) it starts a fresh cluster with the same launcher as
`delivery cluster` (MariaDB, three Redis, two nodes, nginx), opens K WebSocket subscribers split
evenly between the two nodes, and drives orders through nginx: each of S stores gets orders
that are placed, accepted, made ready and cancelled, so every order writes events to its store's stream. Each
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
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pymysql
from redis.asyncio import Redis

# The order flows and stream helpers are shared with the realtime system tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.bench.common import percentile, socket_messages, start_cluster
from app.launcher.cluster import Cluster
from tests.client import Api
from tests.realtime.flows import act, open_store, place_order
from tests.waiting import wait_until


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
        headers = {"Cookie": f"delivery_session={self.cookie}"}
        subscribe = ["subscribe", {"stream": self.stream}]
        async for kind, value in socket_messages(http, self.url, headers, subscribe):
            if kind == "ack":
                assert value["ok"], value
                self.last = value["last_seq"]
                self.ready.set()
            else:
                now = time.time()
                _name, event = value
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


async def _blips(cluster: Cluster, every: float, count: list[int]) -> None:
    """Cut every pub/sub connection to the events Redis every `every` s (a network blip)."""
    assert cluster.events_redis is not None
    redis = Redis.from_url(cluster.events_redis.url)
    try:
        while True:
            await asyncio.sleep(every)
            count[0] += await redis.client_kill_filter(_type="pubsub")
    finally:
        await redis.aclose()


async def run_round(
    cluster: Cluster,
    subscribers: int,
    stores: int,
    rounds: int,
    think: float,
    blip_every: float = 0.0,
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
        blips = [0]
        blipper = asyncio.create_task(_blips(cluster, blip_every, blips)) if blip_every else None
        try:
            orders = await asyncio.gather(
                *(
                    _kitchen(owners[s], customers[s], menu[s][0], menu[s][1], rounds, think)
                    for s in range(stores)
                )
            )
        finally:
            if blipper is not None:
                blipper.cancel()
                await asyncio.gather(blipper, return_exceptions=True)
        streams = sorted({sub.stream for sub in subs})
        heads: dict[str, int] = dict.fromkeys(streams, 0)
        relay_delays: list[float] = []
        times = _commit_times(cluster, streams, relay_delays)
        print(
            f"    commit to marked published: p50 {statistics.median(relay_delays):.1f} ms  "
            f"p99 {percentile(relay_delays, 0.99):.1f} ms"
        )
        for (stream, seq), _at in times.items():
            heads[stream] = max(heads.get(stream, 0), seq)
        with contextlib.suppress(AssertionError):
            await wait_until(
                lambda: all(sub.last >= heads[sub.stream] for sub in subs),
                timeout=60,
                what="every subscriber at its stream's head",
            )
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
        "p99_ms": percentile(latencies, 0.99) if latencies else float("nan"),
        "max_ms": max(latencies) if latencies else float("nan"),
        "gaps": gaps,
        "duplicates": duplicates,
        "behind": behind,
        "blips": blips[0],
    }


def _line(fanout: str, figures: dict[str, float]) -> str:
    return (
        f"{fanout:<14} K={figures['subscribers']:>5}  connect {figures['connect_s']:.1f}s  "
        f"orders {figures['orders']}  events {figures['events']}  "
        f"delivered {figures['delivered']}/{figures['expected']}  "
        f"{figures['per_s']:.0f} deliveries/s  latency p50 {figures['p50_ms']:.1f} ms  "
        f"p99 {figures['p99_ms']:.1f} ms  max {figures['max_ms']:.1f} ms  "
        f"gaps {figures['gaps']}  duplicates {figures['duplicates']}  behind {figures['behind']}"
        + (f"  pub/sub connections cut {figures['blips']}" if figures["blips"] else "")
    )


async def run(args: Any) -> int:
    results: list[tuple[str, dict[str, float]]] = []
    for fanout in args.fanout:
        print(f"== fan-out: {fanout}", flush=True)
        cluster = await start_cluster(f"realtime-bench-{fanout}", REALTIME_FANOUT=fanout)
        try:
            for count in args.subscribers:
                figures = await run_round(
                    cluster, count, args.stores, args.rounds, args.think / 1000, args.blip_every
                )
                results.append((fanout, figures))
                print(_line(fanout, figures), flush=True)
        finally:
            await asyncio.to_thread(cluster.stop)
    print("\n== summary (every delivery checked for gaps and duplicates)")
    failed = False
    for fanout, figures in results:
        ok = figures["gaps"] == 0 and figures["behind"] == 0 and figures["duplicates"] == 0
        # The baseline is at-most-once by design: what it loses is a finding, not a failure.
        failed = failed or (not ok and fanout == "hub")
        print(_line(fanout, figures) + ("  OK" if ok else "  INCOMPLETE"))
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--stores", type=int, default=20, help="store streams (and kitchens)")
    parser.add_argument("--rounds", type=int, default=10, help="orders per store")
    parser.add_argument(
        "--think", type=float, default=100, help="ms a kitchen waits between its REST calls"
    )
    parser.add_argument(
        "--blip-every",
        type=float,
        default=0.0,
        help="cut the nodes' pub/sub connections to the events Redis every this many s",
    )
    parser.add_argument(
        "--fanout",
        nargs="+",
        choices=["hub", "socketio-redis"],
        default=["hub", "socketio-redis"],
        help="fan-outs to measure, each on a fresh cluster",
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
