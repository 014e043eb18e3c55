"""One simulation: the deployment, the city, the day's demand (with faults), the drain, the audit
and the report."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from app.simulator import audit, report
from app.simulator.city import build_city
from app.simulator.config import NODE_ENV, SimConfig, clock_text, cluster_env
from app.simulator.context import Context
from app.simulator.deployment import Deployment, OwnCluster, RunningCluster
from app.simulator.faults import inject, schedule_for
from app.simulator.population import Population
from app.simulator.recorder import Recorder


def say(text: str) -> None:
    """A line of the run's log."""
    print(text, flush=True)


def open_deployment(config: SimConfig, out: Path) -> Deployment:
    """Start a cluster of our own, read a running one's cluster.json, or take the URL alone."""
    if config.cluster:
        say(
            f"starting MariaDB, three Redis, {config.nodes} node(s) and nginx in {out / 'cluster'} "
            f"(dispatch: {config.dispatch_strategy or 'offers'}) …"
        )
        own = OwnCluster.start(
            out / "cluster", config.nodes, cluster_env(config), redis_cluster=config.redis_cluster
        )
        config.url = own.url
        say(f"cluster up: {own.url}")
        return own
    if config.cluster_dir is not None:
        running = RunningCluster(url=config.url, folder=config.cluster_dir)
        config.url = str(running.state().get("url") or config.url)
        return running
    return Deployment(url=config.url)


@dataclass
class Run:
    """A started simulation: its deployment, recorder, context and people."""

    config: SimConfig
    out: Path
    deployment: Deployment
    recorder: Recorder
    ctx: Context
    population: Population
    demand_started: float = 0.0

    def clock(self) -> float:
        """The city's clock (seconds after midnight)."""
        elapsed = time.time() - self.demand_started if self.demand_started else 0.0
        return self.config.start + elapsed * self.config.speed

    async def progress(self, every: float) -> None:
        """One line every `every` seconds: clock, rate, latencies, errors, open orders."""
        window = max(every * 3, 30.0)
        while True:
            await asyncio.sleep(every)
            f = self.recorder.window(window)
            say(
                f"[{clock_text(self.clock())}] {f['orders_per_min']:5.1f} orders/min  "
                f"place p50 {f['place_p50']:6.0f} p99 {f['place_p99']:6.0f} ms  "
                f"push p50 {f['push_p50']:5.0f} p99 {f['push_p99']:5.0f} ms  "
                f"errors {f['errors']:3d}  open {self.population.open_orders():3d}  "
                f"total {len(self.recorder.orders)}"
            )

    async def sample(self) -> None:
        """Rider time, once a second."""
        while True:
            await asyncio.sleep(1)
            if self.demand_started:
                self.population.sample_riders(int(time.time() - self.demand_started))


@contextlib.asynccontextmanager
async def started(config: SimConfig) -> AsyncIterator[Run]:
    """Deployment up, city built, everyone connected; everything stopped on the way out."""
    # Absolute: MariaDB and nginx run from other working folders.
    out = config.out.resolve() / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    deployment = open_deployment(config, out)
    try:
        recorder = Recorder()
        rng = random.Random(config.seed)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            ctx = Context(config, recorder, rng, http)
            run_id = uuid.UUID(int=random.getrandbits(128)).hex[:8]
            say(
                f"building the city: {config.stores} stores, {config.customers} customers, "
                f"{config.riders} riders (run {run_id}, seed {config.seed}) …"
            )
            city = await build_city(
                url=config.url,
                recorder=recorder,
                rng=rng,
                run_id=run_id,
                stores=config.stores,
                customers=config.customers,
                riders=config.riders,
                admin=(config.admin_email, config.admin_password),
            )
            population = Population(ctx, city)
            await population.start()
            run = Run(config, out, deployment, recorder, ctx, population)
            try:
                yield run
            finally:
                await population.stop()
    finally:
        await asyncio.to_thread(deployment.close)


async def _audit(run: Run) -> list[audit.Check]:
    """Every check, against the database and what the clients saw."""
    population, recorder = run.population, run.recorder
    conn = await asyncio.to_thread(run.deployment.database)
    db = audit.Database(conn) if conn is not None else None
    customers = [p.id for p in population.city.customers]
    sockets = population.sockets()
    try:
        checks = [audit.check_deliveries(sockets), await audit.check_heads(sockets, db)]
        orders: dict[int, dict[str, Any]] = {}
        logs = {}
        for customer in population.customers:
            for stream, log in customer.socket.logs.items():
                order_id = int(stream.split(":")[1])
                reply = await customer.api.call("get-order", "GET", f"/api/orders/{order_id}")
                if reply.ok:
                    orders[order_id], logs[order_id] = reply.body, log
        checks.append(audit.check_rest_seq(orders, logs))
        accept_timeout = float(NODE_ENV["STORE_ACCEPT_TIMEOUT"]) if run.config.cluster else 300.0
        # A refund caught between its commit and the gateway (a node killed there) is the
        # sweeper's to settle: the money is checked once none is pending, or after 30 s.
        for _ in range(60):
            if not await asyncio.to_thread(audit.refunds_pending, db, customers):
                break
            await asyncio.sleep(0.5)
        checks += await asyncio.to_thread(
            lambda: [
                audit.check_idempotency(recorder, db, customers),
                audit.check_final(db, customers, accept_timeout),
                audit.check_dispatch(db, customers),
                audit.check_earnings(db, recorder, customers),
                audit.check_money(db, recorder, customers),
                audit.check_points(db, customers),
                audit.check_coupons(db, population.city.campaign_id),
            ]
        )
        checks.append(audit.check_errors(recorder))
        checks.append(audit.check_retries(recorder))
        if db is not None:
            await asyncio.to_thread(audit.fill_commit_times, db, recorder)
        return checks
    finally:
        if conn is not None:
            conn.close()


def _offers_per_assignment(run: Run) -> float | None:
    conn = run.deployment.database()
    if conn is None:
        won = run.recorder.assignments_won
        return round(run.recorder.offers_seen / won, 2) if won else None
    try:
        ids = ",".join(str(p.id) for p in run.population.city.customers) or "NULL"
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*), COUNT(DISTINCT CASE WHEN f.status = 'accepted' THEN f.order_id END) "
                f"FROM offers f JOIN orders o ON o.id = f.order_id WHERE o.customer_id IN ({ids})"
            )
            offers, assigned = cursor.fetchone()
        return round(offers / assigned, 2) if assigned else None
    finally:
        conn.close()


async def simulate(config: SimConfig) -> int:
    """`delivery simulate`: run the day's window, drain, audit, report; 1 on any FAIL."""
    code, _report = await simulate_once(config)
    return code


async def simulate_once(config: SimConfig) -> tuple[int, dict[str, Any]]:
    """One simulated run with its audit: the exit code (1 on any FAIL) and the report."""
    async with started(config) as run:
        background = [
            run.ctx.spawn(run.progress(config.progress_every)),
            run.ctx.spawn(run.sample()),
        ]
        say(
            f"demand: {clock_text(config.start)} for {config.duration / 60:g} simulated minutes "
            f"at ×{config.speed:g} ({config.wall_seconds:.0f} s), peak {config.peak:g} orders/min"
        )
        run.demand_started = time.time()
        if config.faults or config.partition:
            background.append(
                run.ctx.spawn(
                    inject(
                        run.deployment,
                        run.recorder,
                        wall_seconds=config.wall_seconds,
                        clock=run.clock,
                        schedule=schedule_for(faults=config.faults, partition=config.partition),
                    )
                )
            )
        await run.population.demand(
            peak=config.peak, start=config.start, wall_seconds=config.wall_seconds, flat=config.flat
        )
        demand_seconds = time.time() - run.demand_started
        say(
            f"demand over: {len(run.recorder.orders)} orders; draining (up to {config.drain:g} s) …"
        )
        await run.population.drain(config.drain, say)
        for task in background:
            task.cancel()
        say("auditing …")
        checks = await _audit(run)
        for check in checks:
            say("\n".join(check.lines()))
        data = report.build(
            config,
            run.recorder,
            checks,
            demand_started=run.demand_started,
            demand_seconds=demand_seconds,
            offers_per_assignment=await asyncio.to_thread(_offers_per_assignment, run),
            unserved=run.population.unserved,
        )
        json_path, png_path = await asyncio.to_thread(report.write, data, run.out)
        (run.out / "audit.txt").write_text(
            "\n".join(line for c in checks for line in c.lines()) + "\n"
        )
        s = data["summary"]
        say(
            f"summary: {s['orders']} orders ({s['orders_per_min']}/min), placement p50 "
            f"{s['placement_p50_ms']} p99 {s['placement_p99_ms']} ms, commit→client p50 "
            f"{s['push_p50_ms']} p99 {s['push_p99_ms']} ms, order→door p50 {s['to_door_p50_min']} "
            f"simulated min, offers/assignment {s['offers_per_assignment']}, rider utilisation "
            f"{s['rider_utilisation']}"
        )
        say(f"report: {json_path}\nchart:  {png_path}")
        failed = [c for c in checks if c.verdict == "FAIL"]
        say(
            f"audit: {len(checks) - len(failed)} of {len(checks)} checks did not fail"
            + (f"; FAILED: {', '.join(c.name for c in failed)}" if failed else "")
        )
        return (1 if failed else 0), data
