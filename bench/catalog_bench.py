"""Catalog reads per second through one node, with the cache Redis on and off.

Starts its own MariaDB and redis-servers and one Hypercorn node (the launcher code the tests
use), loads 10,000 stores spread over greater Seoul (each with 8 menu items and 2 options per
item) straight into MariaDB, then measures `GET /api/stores?lat&lng` (nearest first, 5 km) and
`GET /api/stores/{id}` (with the menu) at a fixed concurrency, first with the cache on, then
on a node restarted with CATALOG_CACHE=0, and prints requests/s, p50/p99 and the ratio.
Because the machine may be shared, it also prints the CPU time the node, MariaDB and the cache
Redis spent per request (from /proc), which does not depend on what else is running.

Readers ask from 50 popular spots and for 500 popular stores (a warm-up pass fills the cache
first); the load generator runs on the same machine as the node and the databases.

    .venv/bin/python bench/catalog_bench.py [--stores 10000] [--seconds 10] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.bench.common import cpu_seconds
from app.launcher.nodes import Node
from app.launcher.servers import MariaDBServer, RedisServer
from app.migrate import upgrade

SEOUL = (37.5665, 126.9780)
SECRET = "catalog-bench-secret-0123456789"
HOT_SPOTS = 50
HOT_STORES = 500
IDLE_SECONDS = 3.0


def load_stores(conn: pymysql.connections.Connection, count: int) -> list[int]:
    """Insert an owner and `count` stores with menus in bulk; the store ids."""
    rng = random.Random(42)
    now = "UTC_TIMESTAMP()"
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO users (email, password_hash, name, role, created_at, updated_at) "
            f"VALUES ('bench-owner@example.com', 'x', 'Bench Owner', 'owner', {now}, {now})"
        )
        owner_id = cursor.lastrowid
        categories = [
            "korean",
            "chicken",
            "pizza",
            "burger",
            "chinese",
            "japanese",
            "snack",
            "cafe",
        ]
        stores = [
            (
                owner_id,
                f"Store {n}",
                categories[n % len(categories)],
                f"{n} Sejong-daero, Seoul",
                SEOUL[0] + rng.uniform(-0.2, 0.2),  # about 45 km north to south
                SEOUL[1] + rng.uniform(-0.25, 0.25),  # about 44 km west to east
            )
            for n in range(count)
        ]
        cursor.executemany(
            "INSERT INTO stores (owner_id, name, category, address, lat, lng, phone, min_order, "
            f"delivery_fee, open, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, "
            f"'02-123-4567', 12000, 3000, 1, {now}, {now})",
            stores,
        )
        cursor.execute("SELECT id FROM stores ORDER BY id")
        ids = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(ids), 1000):
            items = [
                (sid, f"Dish {k}", 5000 + 500 * k, ("Mains", "Sides")[k % 2], "Tasty.")
                for sid in ids[start : start + 1000]
                for k in range(8)
            ]
            cursor.executemany(
                "INSERT INTO menu_items (store_id, name, price, `group`, description, sold_out, "
                f"created_at, updated_at) VALUES (%s, %s, %s, %s, %s, 0, {now}, {now})",
                items,
            )
        cursor.execute("SELECT id FROM menu_items")
        options = [
            (item_id, name, price)
            for (item_id,) in cursor.fetchall()
            for name, price in (("Large", 1000), ("Extra sauce", 500))
        ]
        for start in range(0, len(options), 5000):
            cursor.executemany(
                "INSERT INTO menu_options (item_id, name, price, created_at, updated_at) "
                f"VALUES (%s, %s, %s, {now}, {now})",
                options[start : start + 5000],
            )
    conn.commit()
    return ids


async def measure(
    url: str, paths: list[str], *, seconds: float, concurrency: int, pids: dict[str, int]
) -> tuple[float, list[float], dict[str, float]]:
    """Requests/s, latencies (ms) and each process's CPU seconds over the timed phase."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        # Every popular path once (this fills the cache when it is on), then a short warm-up.
        queue = list(paths)

        async def primer() -> None:
            while queue:
                response = await http.get(queue.pop())
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

        await asyncio.gather(*(primer() for _ in range(concurrency)))

        async def reader(seed: int, until: float) -> None:
            rng = random.Random(seed)
            while time.monotonic() < until:
                started = time.perf_counter()
                response = await http.get(rng.choice(paths))
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

        await asyncio.gather(*(reader(n, time.monotonic() + 1) for n in range(concurrency)))
        latencies.clear()
        cpu_before = {k: cpu_seconds(pid) for k, pid in pids.items()}
        began = time.monotonic()
        await asyncio.gather(*(reader(1000 + n, began + seconds) for n in range(concurrency)))
        elapsed = time.monotonic() - began
        cpu = {k: cpu_seconds(pid) - cpu_before[k] for k, pid in pids.items()}
    return len(latencies) / elapsed, latencies, cpu


def summary(rate: float, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"{rate:8.0f} req/s   p50 {statistics.median(ordered):6.1f} ms   p99 {p99:6.1f} ms"


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    mariadb = MariaDBServer(folder / "mariadb").start()
    session_redis = RedisServer(folder / "redis-session").start()
    cache_redis = RedisServer(folder / "redis-cache").start()
    node: Node | None = None
    try:
        mariadb.create_database("bench")
        url = mariadb.url("bench")
        await asyncio.to_thread(upgrade, url)
        conn = pymysql.connect(
            host="127.0.0.1", port=mariadb.port, user="root", password="", database="bench"
        )
        started = time.monotonic()
        ids = load_stores(conn, args.stores)
        conn.close()
        print(
            f"loaded {len(ids)} stores with {8 * len(ids)} items in "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )
        rng = random.Random(7)
        spots = [
            (SEOUL[0] + rng.uniform(-0.15, 0.15), SEOUL[1] + rng.uniform(-0.2, 0.2))
            for _ in range(HOT_SPOTS)
        ]
        hot = rng.sample(ids, min(HOT_STORES, len(ids)))
        workloads: dict[str, list[str]] = {
            "GET /api/stores?lat&lng": [f"/api/stores?lat={a:.5f}&lng={b:.5f}" for a, b in spots],
            "GET /api/stores/{id}": [f"/api/stores/{store_id}" for store_id in hot],
        }
        env = {
            "DATABASE_URL": url,
            "SESSION_REDIS_URL": session_redis.url,
            "CACHE_REDIS_URL": cache_redis.url,
            "SECRET_KEY": SECRET,
            "STORAGE_URL": f"file://{folder / 'media'}",
            "LOG_LEVEL": "WARNING",
        }
        results: dict[tuple[str, bool], float] = {}
        cpu_results: dict[tuple[str, bool], float] = {}
        for cache_on in (True, False):
            node = Node(
                name=f"bench-cache-{'on' if cache_on else 'off'}",
                env={**env, "CATALOG_CACHE": "1" if cache_on else "0"},
                log_dir=folder / "logs",
            )
            await asyncio.to_thread(node.start)
            async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
                sample = await http.get(f"/api/stores?lat={SEOUL[0]}&lng={SEOUL[1]}")
            print(
                f"\ncache {'on' if cache_on else 'off'} "
                f"(a 5 km search near City Hall returns {len(sample.json()['stores'])} stores)",
                flush=True,
            )
            assert node.process and mariadb.process and cache_redis.process
            pids = {
                "node": node.process.pid,
                "mariadb": mariadb.process.pid,
                "redis": cache_redis.process.pid,
            }
            # Background work (relay, dispatch, housekeeping) is not the reads' cost: measure
            # it idle and subtract it.
            idle_before = {k: cpu_seconds(pid) for k, pid in pids.items()}
            await asyncio.sleep(IDLE_SECONDS)
            idle = {
                k: (cpu_seconds(pid) - idle_before[k]) / IDLE_SECONDS for k, pid in pids.items()
            }
            print(
                "  idle CPU: "
                + ", ".join(f"{k} {v * 100:.1f}% of a core" for k, v in idle.items()),
                flush=True,
            )
            for name, paths in workloads.items():
                rate, latencies, cpu_spent = await measure(
                    node.url,
                    paths,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                    pids=pids,
                )
                served = len(latencies)
                cpu = {
                    k: max(0.0, spent - idle[k] * args.seconds) * 1000 / served
                    for k, spent in cpu_spent.items()
                }
                results[(name, cache_on)] = rate
                cpu_results[(name, cache_on)] = sum(cpu.values())
                print(f"  {name:<26} {summary(rate, latencies)}", flush=True)
                print(
                    f"  {'':<26} server CPU per request: node {cpu['node']:.2f} ms, "
                    f"mariadb {cpu['mariadb']:.2f} ms, redis {cpu['redis']:.2f} ms",
                    flush=True,
                )
            node.stop()
            node = None
        print("\nratio cache on / cache off:")
        for name in workloads:
            throughput = results[(name, True)] / results[(name, False)]
            cpu_ratio = cpu_results[(name, False)] / cpu_results[(name, True)]
            print(
                f"  {name:<26} requests/s {throughput:5.1f}x   "
                f"requests per server CPU second {cpu_ratio:5.1f}x"
            )
    finally:
        if node is not None:
            node.stop()
        cache_redis.stop()
        session_redis.stop()
        mariadb.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
