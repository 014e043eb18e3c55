"""Node CPU per request for each kind of request, and its ratio to `GET /healthz`.

Every request of a kind goes to the first node, a fixed number of them with a few in flight;
the node process's CPU time (from /proc) before and after, less what it spends idle (relay
sweeps, dispatch, housekeeping), divided by the number of requests is the figure. The requests
that repeat unchanged (`/healthz`, the cached store, `/api/me`, a rider's position) are sent by
`wrk` with 32 connections when it is installed, which keeps the node saturated as a dinner
peak would; a Python client cannot, and a node that waits between requests spends more per
request on waking up (the figures say which load each had). Set-up
(accounts, stores, a coupon campaign, orders on offer) is done first, outside the measurement.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import re
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.bench.common import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    SEOUL,
    Client,
    CpuMeter,
    close_all,
    insert_users,
    open_store,
    order_body,
    say,
    sessions_for,
    sign_in,
    start_cluster,
    stop_cluster,
)
from app.bench.dispatch import wait_offered
from app.bench.profile import Profiler
from app.launcher.cluster import Cluster

Request = Callable[[int], Awaitable[httpx.Response]]
# Riders who only report positions stay far from the store, so no offer reaches them.
BUSAN = (35.1796, 129.0756)
WARM_UP = 50


async def create_campaign(url: str, quantity: int) -> int:
    """A first-come coupon campaign of `quantity`, running now; its id."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        login = await http.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        now = datetime.now(UTC)
        created = await http.post(
            "/api/coupon-campaigns",
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
            json={
                "name": "Bench rush",
                "discount": 3000,
                "min_order": 10000,
                "quantity": quantity,
                "starts_at": (now - timedelta(minutes=1)).isoformat(),
                "ends_at": (now + timedelta(hours=1)).isoformat(),
            },
        )
        assert created.status_code == 201, created.text
        campaign_id: int = created.json()["id"]
        return campaign_id


async def _drive(request: Request, count: int, concurrency: int, expect: set[int]) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            response = await request(n)
            assert response.status_code in expect, response.text

    await asyncio.gather(*(worker() for _ in range(concurrency)))


WRK_CONNECTIONS = 32


def _wrk(
    url: str, *, seconds: int, headers: dict[str, str], put_json: str | None = None
) -> tuple[int, int]:
    """Run wrk against `url`: (requests answered, answers that were not 2xx or 3xx)."""
    command = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as folder:
        if put_json is not None:
            script = Path(folder) / "put.lua"
            script.write_text(
                'wrk.method = "PUT"\n'
                f"wrk.body = '{put_json}'\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            command += ["-s", str(script)]
        done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    answered = re.search(r"(\d+) requests in", done.stdout)
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    assert answered is not None, done.stdout
    return int(answered.group(1)), int(refused.group(1)) if refused else 0


async def _measure_wrk(
    meter: CpuMeter, run: Callable[..., tuple[int, int]], seconds: int, *, label: str
) -> tuple[float, tuple[int, int]]:
    """The node CPU one wrk run costs, and what wrk counted."""
    answered: list[tuple[int, int]] = []

    async def load() -> None:
        answered.append(await asyncio.to_thread(run, seconds=seconds))

    cpu = await meter.measure(load, label=label)
    return cpu, answered[0]


async def _searching_orders(
    owner: Client, customer: Client, menu: tuple[int, int], count: int
) -> list[int]:
    ids = []
    for n in range(count):
        placed = await customer.post(
            "/api/orders", order_body(*menu), **{"Idempotency-Key": f"accept-{n}"}
        )
        assert placed.status_code == 201, placed.text
        order_id = int(placed.json()["id"])
        accepted = await owner.post(f"/api/orders/{order_id}/accept", {"prep_minutes": 10})
        assert accepted.status_code == 200, accepted.text
        ids.append(order_id)
    return ids


async def _measure(
    cluster: Cluster,
    *,
    requests: int,
    accepts: int,
    concurrency: int,
    idle: float,
    profiler: Profiler | None,
) -> dict[str, dict[str, Any]]:
    node = cluster.node_list[0]
    assert node.process is not None
    url = node.url
    say(f"  set-up: accounts, a store, a campaign of {requests}, {accepts} orders on offer …")
    owner = await sign_in(url, "owner@bench.example.com", "owner")
    menu = await open_store(owner)
    customers = [await sign_in(url, f"c{i}@bench.example.com", "customer") for i in range(20)]
    walkers = [await sign_in(url, f"w{i}@bench.example.com", "rider") for i in range(20)]
    for rider in walkers:
        shift = {"online": True, "lat": BUSAN[0], "lng": BUSAN[1]}
        assert (await rider.send("PUT", "/api/riders/me/shift", shift)).status_code == 200
    # Every customer claims once, in the warm-up or in the measured run.
    claimers = await sessions_for(
        cluster, insert_users(cluster, "customer", requests + WARM_UP, "claimer"), "customer"
    )
    claimer = itertools.count()
    campaign = await create_campaign(url, requests + WARM_UP)
    anonymous = httpx.AsyncClient(base_url=url, timeout=60)
    store_id = menu[0]
    primed = await anonymous.get(f"/api/stores/{store_id}")
    assert primed.status_code == 200, primed.text
    keys = itertools.count()
    body = order_body(*menu)

    kinds: dict[str, tuple[Request, set[int]]] = {
        "GET /healthz": (lambda n: anonymous.get("/healthz"), {200}),
        "GET /api/stores/{id}": (lambda n: anonymous.get(f"/api/stores/{store_id}"), {200}),
        "GET /api/me": (lambda n: customers[n % 20].send("GET", "/api/me"), {200}),
        "PUT /api/riders/me/location": (
            lambda n: walkers[n % 20].send(
                "PUT",
                "/api/riders/me/location",
                {"lat": BUSAN[0] + n * 1e-6, "lng": BUSAN[1]},
            ),
            {204},
        ),
        "POST /api/orders": (
            lambda n: customers[n % 20].post(
                "/api/orders", body, **{"Idempotency-Key": f"cpu-{next(keys)}"}
            ),
            {201},
        ),
        "POST /api/coupon-campaigns/{id}/claim": (
            lambda n: anonymous.post(
                f"/api/coupon-campaigns/{campaign}/claim", headers=claimers[next(claimer)]
            ),
            {201},
        ),
    }
    meter = CpuMeter([node.process.pid], profiler=profiler)
    await meter.calibrate(idle)
    say(f"  idle node: {meter.idle_per_s * 100:.1f}% of a core (subtracted)")
    figures: dict[str, dict[str, Any]] = {}

    def record(kind: str, cpu: float, count: int, *, load: str) -> None:
        per = cpu * 1000 / count
        figures[kind] = {"requests": count, "cpu_ms": round(per, 4), "load": load}
        say(f"  {kind:<38} {per:7.3f} ms CPU per request ({count} requests, {load})")

    customer_headers = {
        "Cookie": f"delivery_session={customers[0].http.cookies.get('delivery_session')}",
        "X-CSRF-Token": customers[0].csrf,
    }
    rider_headers = {
        "Cookie": f"delivery_session={walkers[0].http.cookies.get('delivery_session')}",
        "X-CSRF-Token": walkers[0].csrf,
    }
    under_wrk: dict[str, tuple[str, dict[str, str], str | None]] = {
        "GET /healthz": ("/healthz", {}, None),
        "GET /api/stores/{id}": (f"/api/stores/{store_id}", {}, None),
        "GET /api/me": ("/api/me", customer_headers, None),
        "PUT /api/riders/me/location": (
            "/api/riders/me/location",
            rider_headers,
            f'{{"lat":{BUSAN[0]},"lng":{BUSAN[1]}}}',
        ),
    }
    wrk = shutil.which("wrk") is not None
    seconds = 5 if requests >= 1000 else 2
    for kind, (request, expect) in kinds.items():
        if wrk and kind in under_wrk:
            path, headers, put_json = under_wrk[kind]
            run = functools.partial(_wrk, url + path, headers=headers, put_json=put_json)
            await asyncio.to_thread(run, seconds=1)
            cpu, (count, refused) = await _measure_wrk(meter, run, seconds, label=kind)
            assert refused == 0, f"{kind}: {refused} answers were not 2xx"
            record(kind, cpu, count, load=f"wrk -c{WRK_CONNECTIONS}")
            continue
        await _drive(request, WARM_UP, concurrency, expect)
        cpu = await meter.measure(
            functools.partial(_drive, request, requests, concurrency, expect), label=kind
        )
        record(kind, cpu, requests, load=f"{concurrency} in flight")

    # Each accept is a rider winning a distinct order that was offered to every rider.
    racers = [await sign_in(url, f"r{i}@bench.example.com", "rider") for i in range(accepts)]
    for i, rider in enumerate(racers):
        shift = {"online": True, "lat": SEOUL[0] + 0.0005 * (i % 40), "lng": SEOUL[1]}
        assert (await rider.send("PUT", "/api/riders/me/shift", shift)).status_code == 200
    orders = await _searching_orders(owner, customers[0], menu, accepts)
    for order_id in orders:
        await wait_offered(cluster, order_id, accepts)
    await meter.calibrate(idle)
    cpu = await meter.measure(
        lambda: _drive(
            lambda n: racers[n].post(f"/api/dispatch/offers/{orders[n]}/accept"),
            accepts,
            concurrency,
            {200},
        ),
        label="POST /api/dispatch/offers/{id}/accept",
    )
    record("POST /api/dispatch/offers/{id}/accept", cpu, accepts, load=f"{concurrency} in flight")
    await anonymous.aclose()
    await close_all([owner, *customers, *walkers, *racers])
    return figures


async def run(
    *,
    requests: int,
    accepts: int,
    concurrency: int,
    idle: float,
    profiler: Profiler | None = None,
) -> dict[str, Any]:
    """CPU per request of each kind on one node, and each one's ratio to /healthz."""
    cluster = await start_cluster("bench-cpu", DISPATCH_OFFER_TTL="3600")
    try:
        figures = await _measure(
            cluster,
            requests=requests,
            accepts=accepts,
            concurrency=concurrency,
            idle=idle,
            profiler=profiler,
        )
    finally:
        await stop_cluster(cluster)
    base = figures["GET /healthz"]["cpu_ms"]
    for values in figures.values():
        values["ratio_to_healthz"] = round(values["cpu_ms"] / base, 2) if base > 0 else 0.0
    return {"concurrency": concurrency, "requests": figures}
