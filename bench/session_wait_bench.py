"""What waiting for the session replica costs a sign-in: the session write with and without WAIT.

Starts a session master, its replica and three Sentinels (the launcher code `delivery cluster
--session-replica` uses) and, through the same Sentinel client the nodes use, times in turn a
PING (one round trip), `SessionStore.create` as without a replica, and `SessionStore.create`
with the WAIT for the replica that a sign-in behind Sentinel sends, `--rounds` times each, and
prints p50/p99 of each and what WAIT adds. Other requests never wait.

    .venv/bin/python bench/session_wait_bench.py [--rounds 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.auth.sessions import REPLICA_WAIT_MS, SessionStore
from app.launcher.servers import ReplicatedRedis
from app.redis_clients import connect


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, rounds: int) -> dict[str, list[float]]:
    client = connect(url)
    try:
        plain = SessionStore(client, ttl_seconds=3600, absolute_seconds=3600)
        waiting = SessionStore(
            client, ttl_seconds=3600, absolute_seconds=3600, replica_wait_ms=REPLICA_WAIT_MS
        )
        steps: dict[str, Callable[[], Awaitable[object]]] = {
            "PING (one round trip)": client.ping,
            "create, no WAIT": lambda: plain.create(user_id=1, role="customer"),
            "create + WAIT 1": lambda: waiting.create(user_id=2, role="customer"),
        }
        timings: dict[str, list[float]] = {name: [] for name in steps}
        for step in steps.values():  # connect and load the script first
            await step()
        for _ in range(rounds):
            for name, step in steps.items():
                started = time.perf_counter()
                await step()
                timings[name].append(time.perf_counter() - started)
        return timings
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="session-wait-") as folder:
        sentinels = ReplicatedRedis(Path(folder)).start()
        try:
            timings = asyncio.run(measure(sentinels.url, args.rounds))
        finally:
            sentinels.stop()
    print(f"{args.rounds} rounds on {sentinels.url}")
    print(f"{'':<24}{'p50 µs':>10}{'p99 µs':>10}{'mean µs':>10}")
    for name, values in timings.items():
        p50, p99 = _quantile(values, 0.5) * 1e6, _quantile(values, 0.99) * 1e6
        mean = statistics.fmean(values) * 1e6
        print(f"{name:<24}{p50:>10.0f}{p99:>10.0f}{mean:>10.0f}")
    added = _quantile(timings["create + WAIT 1"], 0.5) - _quantile(timings["create, no WAIT"], 0.5)
    print(f"WAIT adds {added * 1e6:.0f} µs at p50 to a sign-in's session write")


if __name__ == "__main__":
    main()
