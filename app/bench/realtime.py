"""Commit → client latency of order events at a fixed offered load, with K subscribers.

On one cluster (two nodes), S stores each get an owner, and K WebSocket subscribers split
evenly between the two nodes each follow one store stream (with that owner's session). For each
K, the kitchens first work orders through the REST API as fast as they can (place, accept,
ready, cancel: every step writes an event to its store's stream, and the cancel two, the
refund's too) to find the maximum: the events/s that reach every one of the K subscribers,
from the first commit until the last subscriber holds the last event (never more than the
kitchens commit). Then orders are started open-loop at half that rate, so that latency is the
path's and not a queue's, and every delivery is checked (seq exactly last + 1, every
subscriber at its stream's head at the end). Last comes a fixed number of deliveries a second,
whatever the maximum (2,000 subscribers on 10 streams, 2,000 deliveries/s), beside the same
events/s sent to two subscribers a stream.
Latency is the event envelope's `at` (the commit, to the millisecond) to the moment the
subscriber decoded it.

Subscribers speak the Engine.IO/Socket.IO v5 wire protocol directly over aiohttp WebSockets
(one connection, one subscription each): python-socketio's client costs too much to run
thousands of them next to the cluster on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from app.bench.common import (
    Client,
    Usage,
    close_all,
    connect_db,
    latency_figures,
    node_pids,
    open_store,
    order_body,
    say,
    sign_in,
    socket_messages,
    start_cluster,
    stop_cluster,
)
from app.launcher.cluster import Cluster

EVENTS_PER_ORDER = 5  # placed, accepted, ready, cancelled and refunded, on the store's stream


@dataclass
class Subscriber:
    """One WebSocket connection following one stream, checking every seq."""

    url: str
    cookie: str
    stream: str
    last: int = 0
    latencies: list[float] = field(default_factory=list)
    gaps: int = 0
    duplicates: int = 0
    reconnects: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, http: aiohttp.ClientSession) -> None:
        """Connect, subscribe, and take events until cancelled; when dropped, connect again
        and subscribe from the last seq held, as a real client does."""
        while True:
            with contextlib.suppress(aiohttp.ClientError, AssertionError):
                await self._session(http)
            self.reconnects += 1
            await asyncio.sleep(0.1)

    async def _session(self, http: aiohttp.ClientSession) -> None:
        request: dict[str, Any] = {"stream": self.stream}
        if self.ready.is_set():
            request["after_seq"] = self.last
        headers = {"Cookie": f"delivery_session={self.cookie}"}
        async for kind, value in socket_messages(http, self.url, headers, ["subscribe", request]):
            now = time.time()
            if kind == "event":
                self.take(value[1], now)
                continue
            assert value["ok"], value
            if self.ready.is_set():
                for event in value["events"]:
                    self.take(event, now)
            else:
                self.last = value["last_seq"]
            self.ready.set()

    def take(self, event: dict[str, Any], now: float) -> None:
        """Check an event's seq and record its latency from the commit."""
        seq = event["seq"]
        if seq <= self.last:
            self.duplicates += 1
            return
        if seq != self.last + 1:
            self.gaps += 1
        self.last = seq
        at = datetime.fromisoformat(event["at"]).timestamp()
        self.latencies.append((now - at) * 1000)


async def _order_flow(owner: Client, customer: Client, menu: tuple[int, int], key: str) -> None:
    placed = await customer.post("/api/orders", order_body(*menu), **{"Idempotency-Key": key})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    for action, body in (
        ("accept", {"prep_minutes": 10}),
        ("ready", None),
        ("cancel", {"reason": "benchmark"}),
    ):
        answer = await owner.post(f"/api/orders/{order_id}/{action}", body)
        assert answer.status_code == 200, answer.text


class Kitchens:
    """S stores, each with its owner and a customer, working orders through nginx."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.keys = 0

    async def setup(self, stores: int) -> None:
        """Sign the owners and customers in and open the stores."""
        url = self.cluster.url
        self.owners = [
            await sign_in(url, f"o{i}@bench.example.com", "owner") for i in range(stores)
        ]
        self.customers = [
            await sign_in(url, f"c{i}@bench.example.com", "customer") for i in range(stores)
        ]
        self.menus = [await open_store(owner) for owner in self.owners]

    def flow(self, index: int, stores: int | None = None) -> asyncio.Task[None]:
        """One order worked start to finish at store `index % S` (of the first `stores`)."""
        s = index % (stores or len(self.owners))
        self.keys += 1
        return asyncio.create_task(
            _order_flow(self.owners[s], self.customers[s], self.menus[s], f"rt-{self.keys}")
        )

    async def flat_out(self, orders: int) -> int:
        """Every kitchen works its orders back to back; the events committed."""
        per_store = max(1, orders // len(self.owners))

        async def kitchen(s: int) -> None:
            for _ in range(per_store):
                await self.flow(s)

        await asyncio.gather(*(kitchen(s) for s in range(len(self.owners))))
        return per_store * len(self.owners) * EVENTS_PER_ORDER

    async def paced(self, orders: int, orders_per_s: float, stores: int | None = None) -> float:
        """Start `orders` orders open-loop at `orders_per_s` (at the first `stores` stores, or
        all); the rate actually offered."""
        flows = []
        started = time.perf_counter()
        for n in range(orders):
            delay = started + n / orders_per_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            flows.append(self.flow(n, stores))
        # The rate the orders were started at; the last ones' steps finish after it.
        offered = orders / (time.perf_counter() - started + 1 / orders_per_s)
        await asyncio.gather(*flows)
        return offered

    async def close(self) -> None:
        """Close every client."""
        await close_all([*self.owners, *self.customers])


def _heads(subscribers: list[Subscriber], kitchens: Kitchens) -> dict[str, int]:
    streams = sorted({sub.stream for sub in subscribers})
    conn = connect_db(kitchens.cluster)
    try:
        with conn.cursor() as cursor:
            marks = ",".join(["%s"] * len(streams))
            cursor.execute(
                f"SELECT stream, last_seq FROM stream_heads WHERE stream IN ({marks})", streams
            )
            return {stream: int(seq) for stream, seq in cursor.fetchall()}
    finally:
        conn.close()


async def _connect(
    kitchens: Kitchens,
    count: int,
    http: aiohttp.ClientSession,
    *,
    streams: int | None = None,
    within: float = 60,
) -> tuple[list[Subscriber], list[asyncio.Task[None]], dict[str, Any]]:
    """Every subscriber connects and subscribes at once (a storm, as after a node's restart),
    to the streams of the first `streams` stores (or all); the ones answered within `within`
    s, their tasks, and how long the answers took."""
    nodes = [node.url for node in kitchens.cluster.node_list]
    stores = streams or len(kitchens.owners)
    subs = [
        Subscriber(
            url=nodes[i % len(nodes)],
            cookie=str(kitchens.owners[i % stores].http.cookies.get("delivery_session")),
            stream=f"store:{kitchens.menus[i % stores][0]}",
        )
        for i in range(count)
    ]
    started = time.perf_counter()
    answered: list[float] = []

    async def timed(sub: Subscriber) -> None:
        await sub.ready.wait()
        answered.append((time.perf_counter() - started) * 1000)

    tasks = [asyncio.create_task(sub.run(http)) for sub in subs]
    waits = [asyncio.create_task(timed(sub)) for sub in subs]
    await asyncio.wait(waits, timeout=within)
    for wait in waits:
        wait.cancel()
    kept = [(sub, task) for sub, task in zip(subs, tasks, strict=True) if sub.ready.is_set()]
    for sub, task in zip(subs, tasks, strict=True):
        if not sub.ready.is_set():
            task.cancel()
    storm = {
        "subscribed": len(answered),
        "unanswered": count - len(answered),
        **{f"subscribe_{k}": v for k, v in latency_figures(answered or [0.0]).items()},
    }
    return [sub for sub, _ in kept], [task for _, task in kept], storm


async def _caught_up(subs: list[Subscriber], heads: dict[str, int], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while any(sub.last < heads.get(sub.stream, 0) for sub in subs) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _maximum(kitchens: Kitchens, subs: list[Subscriber], orders: int) -> dict[str, float]:
    """The kitchens flat out with these subscribers: events/s committed, and events/s that
    reached every subscriber (from the start until the last one caught up)."""
    await _caught_up(subs, _heads(subs, kitchens))
    started = time.perf_counter()
    events = await kitchens.flat_out(orders)
    committed = events / (time.perf_counter() - started)
    await _caught_up(subs, _heads(subs, kitchens))
    delivered = events / (time.perf_counter() - started)
    return {
        "committed_events_per_s": round(committed, 1),
        "max_events_per_s": round(min(committed, delivered), 1),
    }


async def _round(
    kitchens: Kitchens,
    subs: list[Subscriber],
    orders: int,
    orders_per_s: float,
    stores: int | None = None,
) -> dict[str, Any]:
    # What the flat-out run sent is delivered before this round's clock starts.
    await _caught_up(subs, _heads(subs, kitchens))
    for sub in subs:
        sub.latencies.clear()
    starts = [sub.last for sub in subs]
    pids = node_pids(kitchens.cluster)
    before = Usage.now(pids)
    offered = await kitchens.paced(orders, orders_per_s, stores)
    heads = _heads(subs, kitchens)
    await _caught_up(subs, heads)
    usage = Usage.now(pids).since(before)
    latencies = [value for sub in subs for value in sub.latencies]
    expected = sum(
        heads.get(sub.stream, 0) - start for sub, start in zip(subs, starts, strict=True)
    )
    return {
        "subscribers": len(subs),
        "orders": orders,
        "offered_events_per_s": round(offered * EVENTS_PER_ORDER, 1),
        # Every delivery the round's orders made, over the time they were started in.
        "offered_deliveries_per_s": round(expected * offered / orders, 1),
        "delivered": len(latencies),
        "expected": expected,
        "gaps": sum(sub.gaps for sub in subs),
        "duplicates": sum(sub.duplicates for sub in subs),
        "reconnects": sum(sub.reconnects for sub in subs),
        "behind": sum(1 for sub in subs if sub.last != heads.get(sub.stream, 0)),
        **latency_figures(latencies),
        **usage,
    }


@contextlib.asynccontextmanager
async def _subscribed(
    kitchens: Kitchens, count: int, http: aiohttp.ClientSession, streams: int | None = None
) -> AsyncIterator[tuple[list[Subscriber], dict[str, Any]]]:
    """`count` subscribers connected at once and following their streams until the block ends;
    this process collects no garbage meanwhile."""
    say(f"  connecting {count} subscribers over two nodes …")
    subs, tasks, storm = await _connect(kitchens, count, http, streams=streams)
    # This process holds thousands of connections: a full collection of its garbage walked
    # them all and held every delivery up for about half a second, which the figures then
    # charged to the cluster. What exists now is left out of collections, and this process
    # collects nothing until the round is over.
    gc.collect()
    gc.freeze()
    gc.disable()
    say(
        f"  all {count} at once: subscribed in p50 {storm['subscribe_p50_ms']:.0f} ms, "
        f"p99 {storm['subscribe_p99_ms']:.0f} ms, max {storm['subscribe_max_ms']:.0f} ms; "
        f"{storm['unanswered']} unanswered after 60 s"
    )
    try:
        yield subs, storm
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        gc.enable()
        gc.unfreeze()


def _report(who: str, figures: dict[str, Any]) -> None:
    say(
        f"  {who} at {figures['offered_events_per_s']:.1f} events/s "
        f"({figures['offered_deliveries_per_s']:,.0f} deliveries/s): "
        f"p50 {figures['p50_ms']:.1f} ms  p99 {figures['p99_ms']:.1f} ms  "
        f"max {figures['max_ms']:.1f} ms  delivered {figures['delivered']}/"
        f"{figures['expected']}  gaps {figures['gaps']}  behind {figures['behind']}"
    )
    say(
        f"         CPU: nodes {figures['nodes_cores']:.2f} cores, this client "
        f"{figures['client_cores']:.2f}, the machine {figures['machine_busy']:.0%} busy"
    )


async def _fixed_round(
    kitchens: Kitchens,
    http: aiohttp.ClientSession,
    *,
    subscribers: int,
    streams: int,
    deliveries_per_s: float,
    orders: int,
) -> dict[str, Any]:
    """`subscribers` over the streams of `streams` stores, sent events at the rate that makes
    `deliveries_per_s` deliveries a second in all, whatever the maximum; beside it (`path`),
    the same events/s to two subscribers a stream: the path from commit to client without a
    wide fan-out."""
    if not 0 < streams <= len(kitchens.owners):
        raise ValueError(
            f"the fixed round needs 1 to {len(kitchens.owners)} streams, not {streams}"
        )
    events_per_s = deliveries_per_s * streams / subscribers
    measured: dict[str, dict[str, Any]] = {}
    for name, count, its_orders in (
        ("path", 2 * streams, max(1, orders // 2)),
        ("fixed", subscribers, orders),
    ):
        async with _subscribed(kitchens, count, http, streams) as (subs, storm):
            figures = await _round(
                kitchens, subs, its_orders, events_per_s / EVENTS_PER_ORDER, streams
            )
        measured[name] = {**figures, **storm, "streams": streams}
        _report(f"K={len(subs)} on {streams} streams", measured[name])
    return {**measured["fixed"], "path": measured["path"]}


async def run(
    *, subscribers: list[int], stores: int, orders: int, fixed: dict[str, Any]
) -> dict[str, Any]:
    """The maximum events/s, then commit → client latency at half of it for each K; then a
    fixed number of deliveries a second, beside the same events/s to two subscribers a stream
    (`fixed`: subscribers, streams, deliveries_per_s, orders)."""
    cluster = await start_cluster("bench-realtime")
    rounds: list[dict[str, Any]] = []
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        kitchens = Kitchens(cluster)
        await kitchens.setup(stores)
        for count in subscribers:
            async with _subscribed(kitchens, count, http) as (subs, storm):
                maximum = await _maximum(kitchens, subs, orders)
                say(
                    f"  maximum: {maximum['max_events_per_s']:.1f} events/s to all {len(subs)}"
                    f" (kitchens flat out, committing {maximum['committed_events_per_s']:.1f}/s)"
                )
                half = maximum["max_events_per_s"] / 2
                figures = await _round(kitchens, subs, orders, half / EVENTS_PER_ORDER)
            figures = {**figures, **maximum, **storm}
            rounds.append(figures)
            _report(f"K={count:>5}", figures)
        at_fixed = await _fixed_round(kitchens, http, **fixed)
        await kitchens.close()
    finally:
        await http.close()
        await stop_cluster(cluster)
    return {"stores": stores, "rounds": rounds, "fixed": at_fixed}
