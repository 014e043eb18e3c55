"""What every benchmark shares: the production topology from the launcher, tuned for load."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path

from app.launcher.cluster import Cluster

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
    "ORDER_MAX_PER_CUSTOMER": "1000000",
}


async def start_cluster(prefix: str, *, nodes: int = 2, **env: str) -> Cluster:
    """MariaDB, three Redis, `nodes` Hypercorn nodes and nginx in a fresh temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    cluster = Cluster(folder=folder, nodes=nodes, node_env={**BENCH_ENV, **env})
    print(f"starting MariaDB, three Redis, {nodes} node(s) and nginx in {folder} …", flush=True)
    await asyncio.to_thread(cluster.start)
    print("up: " + ", ".join(cluster.urls()), flush=True)
    return cluster


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def latency_line(label: str, rate: float, unit: str, latencies: list[float]) -> str:
    """One aligned result line: rate, then p50 and p99 in milliseconds."""
    p50 = statistics.median(latencies) * 1000
    p99 = percentile(latencies, 0.99) * 1000
    return f"{label:<28} {rate:8.1f} {unit}   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
