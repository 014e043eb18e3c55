"""First-come coupon claims per second through two nodes, against Redis's own EVALSHA ceiling.

Starts its own MariaDB, two redis-servers and two Hypercorn nodes (the launcher code the tests
use), creates 1,000 signed-in customers and a 100-coupon campaign, then fires 2,000 claims at
once (every customer twice, once per node) and prints claims per second and p50/p99 latency. In
the same run, `redis-benchmark` runs EVALSHA of the same claim script on the same Redis (on
keys of a separate campaign with unlimited stock, so every call takes the full path), and the
ratio is printed.

    .venv/bin/python bench/coupon_bench.py [--customers 1000] [--quantity 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import time
from collections import Counter

from redis.asyncio import Redis

from app.bench.common import insert_users, sessions_for, start_cluster
from app.bench.cpu import create_campaign
from app.launcher.nodes import Node
from app.launcher.processes import find_binary
from app.launcher.servers import RedisServer
from app.rewards.counter import CLAIM_LUA, keys


async def raw_claim(port: int, path: str, headers: dict[str, str]) -> tuple[int, str, float]:
    """One claim on its own connection, as a separate browser would send it; cheap on the CPU."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Length: 0"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode())
    await writer.drain()
    raw = await reader.read()
    elapsed = time.perf_counter() - started
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    code = "created" if status == 201 else str(json.loads(body).get("code"))
    return status, code, elapsed


async def burst(nodes: list[Node], campaign_id: int, people: list[dict[str, str]]) -> float:
    """Every customer claims once on each node, all at once; prints rate and latency."""
    path = f"/api/coupon-campaigns/{campaign_id}/claim"
    started = time.perf_counter()
    results = await asyncio.gather(
        *(raw_claim(node.port, path, headers) for headers in people for node in nodes)
    )
    elapsed = time.perf_counter() - started
    outcomes = [code for _, code, _ in results]
    latencies = [seconds for _, _, seconds in results]
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    rate = len(outcomes) / elapsed
    print(f"outcomes: {dict(Counter(outcomes))}", flush=True)
    print(
        f"{len(outcomes)} claims through {len(nodes)} nodes in {elapsed:.2f} s: "
        f"{rate:8.1f} claims/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms",
        flush=True,
    )
    return rate


async def evalsha_ceiling(cache: RedisServer) -> float:
    """redis-benchmark's EVALSHA rate for the claim script on the same Redis."""
    redis = Redis.from_url(cache.url)
    try:
        sha = await redis.script_load(CLAIM_LUA)
        ready, stock, claimed = keys(999_999_999)
        await redis.set(ready, "bench")
        await redis.set(stock, 10**12)
    finally:
        await redis.aclose()
    result = await asyncio.to_thread(
        subprocess.run,
        [
            find_binary("redis-benchmark"),
            "-h", "127.0.0.1", "-p", str(cache.port),
            "-n", "200000", "-c", "50", "-r", "100000000", "-q",
            "EVALSHA", sha, "3", ready, stock, claimed, "__rand_int__",
        ],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    line = result.stdout.strip().splitlines()[-1].split("\r")[-1]
    match = re.search(r"([\d.]+) requests per second", line)
    assert match, result.stdout
    print(f"redis-benchmark: {line.strip()}", flush=True)
    return float(match.group(1))


async def main(customers: int, quantity: int) -> None:
    cluster = await start_cluster("coupon-bench")
    assert cluster.mariadb and cluster.session_redis and cluster.cache_redis
    mariadb, sessions, cache = cluster.mariadb, cluster.session_redis, cluster.cache_redis
    nodes = cluster.node_list
    try:
        people = await sessions_for(
            cluster, insert_users(cluster, "customer", customers, "c"), "customer"
        )
        campaign_id = await create_campaign(nodes[0].url, quantity)
        print(
            f"MariaDB :{mariadb.port}, Redis :{sessions.port} (sessions) :{cache.port} (counter); "
            f"nodes {', '.join(n.url for n in nodes)}; {customers} customers, "
            f"campaign of {quantity}",
            flush=True,
        )
        # Warm-up on another campaign, so that the measured burst finds the nodes' Redis and
        # database pools open, as a node in service would.
        warm_up = await create_campaign(nodes[0].url, quantity)
        print("warm-up burst:", flush=True)
        await burst(nodes, warm_up, people)
        print("measured burst:", flush=True)
        rate = await burst(nodes, campaign_id, people)
        ceiling = await evalsha_ceiling(cache)
        print(
            f"ratio: end-to-end claims/s are {rate / ceiling:.3f} of the bare EVALSHA rate "
            "(2 CPU cores shared by MariaDB, Redis, both nodes and this client)",
            flush=True,
        )
    finally:
        await asyncio.to_thread(cluster.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--quantity", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.quantity))
