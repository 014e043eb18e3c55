"""`delivery bench`: every section in one run, results.json and a chart, old versus new."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.bench import cpu, dispatch, fanout, orders, pubsub, realtime
from app.bench.common import say
from app.bench.profile import Profiler
from app.bench.report import compare, write_chart, write_profile_chart, write_results


@dataclass(frozen=True)
class Section:
    """One part of the benchmark, with its full and its quick parameters."""

    title: str
    run: Callable[..., Awaitable[dict[str, Any]]]
    full: dict[str, Any]
    quick: dict[str, Any]
    # Its run takes a profiler: its node CPU figures can be profiled (--profile).
    profiled: bool = False


SECTIONS: dict[str, Section] = {
    "cpu": Section(
        "node CPU per request, beside GET /healthz",
        cpu.run,
        {"requests": 1000, "accepts": 50, "concurrency": 8, "idle": 3.0},
        {"requests": 100, "accepts": 10, "concurrency": 4, "idle": 1.0},
        profiled=True,
    ),
    "orders": Section(
        "orders/s through one and two nodes, beside bare inserts",
        orders.run,
        {"orders": 1000, "concurrency": 32},
        {"orders": 100, "concurrency": 8},
    ),
    "realtime": Section(
        "commit → client latency at half the maximum event rate, then at a fixed one",
        realtime.run,
        {
            "subscribers": [1000, 5000],
            "stores": 20,
            "orders": 200,
            "fixed": {"subscribers": 2000, "streams": 10, "deliveries_per_s": 2000, "orders": 100},
        },
        {
            "subscribers": [100, 300],
            "stores": 5,
            "orders": 20,
            "fixed": {"subscribers": 200, "streams": 2, "deliveries_per_s": 400, "orders": 8},
        },
    ),
    "fanout": Section(
        "fan-out server CPU per delivery: our hub beside Node.js socket.io",
        fanout.run,
        {"clients": 1000, "room_size": 3, "events": 20000, "rate": 2000.0, "idle": 3.0},
        {"clients": 150, "room_size": 3, "events": 600, "rate": 300.0, "idle": 1.0},
        profiled=True,
    ),
    "dispatch": Section(
        "the accept race, beside the same crowd's GET /api/me",
        dispatch.run,
        {"riders": 100, "races": 20, "orders": 50},
        {"riders": 20, "races": 5, "orders": 10},
    ),
    "pubsub": Section(
        "Redis publish capacity of 1, 2 and 3 masters, SPUBLISH beside PUBLISH",
        pubsub.run,
        {"masters": [1, 2, 3], "publishes": 2_000_000, "clients": 50, "pipeline": 16},
        {"masters": [1, 2, 3], "publishes": 500_000, "clients": 50, "pipeline": 16},
    ),
}


def default_out(now: datetime) -> Path:
    """var/bench/<timestamp>/."""
    return Path("var/bench") / now.strftime("%Y%m%dT%H%M%SZ")


async def bench(
    *,
    only: list[str] | None,
    quick: bool,
    out: Path | None,
    compare_to: dict[str, Any] | None,
    profile: bool = False,
) -> int:
    """Run the chosen sections, write results.json and chart.png; 1 if any section failed."""
    now = datetime.now(UTC)
    folder = out or default_out(now)
    folder.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(folder / "profiles") if profile else None
    chosen = only or list(SECTIONS)
    results: dict[str, Any] = {
        "started_at": now.isoformat(timespec="seconds"),
        "quick": quick,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "sections": {},
        "failed": {},
    }
    say(f"delivery bench{' --quick' if quick else ''}: {', '.join(chosen)} → {folder}")
    for number, name in enumerate(chosen, 1):
        section = SECTIONS[name]
        say(f"\n[{number}/{len(chosen)}] {name}: {section.title}")
        started = time.monotonic()
        try:
            params = dict(section.quick if quick else section.full)
            if profiler is not None and section.profiled:
                params["profiler"] = profiler
            figures = await section.run(**params)
        except Exception as error:
            traceback.print_exc()
            results["failed"][name] = f"{type(error).__name__}: {error}"
            say(f"  {name} failed: {error}")
            continue
        figures["seconds"] = round(time.monotonic() - started, 1)
        results["sections"][name] = figures
        if profiler is not None:
            results["profiles"] = profiler.summaries
        write_results(folder, results)
        say(f"  ({figures['seconds']:.0f} s)")
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    path = write_results(folder, results)
    chart = write_chart(folder, results)
    say(f"\nwrote {path} and {chart}")
    if profiler is not None and profiler.summaries:
        say(f"wrote {write_profile_chart(folder, profiler.summaries)} and {profiler.folder}/")
    if compare_to is not None:
        say("\nthe older run (old) beside this one (new):")
        say(compare(compare_to, results))
    return 1 if results["failed"] else 0
