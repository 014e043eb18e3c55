"""`delivery simulate --cluster --compare-scaling`: the same seeded city's capacity search on
1, 2 and 3 app nodes, with three single Redis and with a Redis Cluster, each on a fresh
cluster of its own; a table and a chart of what each sustained and what each order cost."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt

from app.simulator.capacity import search
from app.simulator.config import SimConfig
from app.simulator.runner import say, started

REDIS_MODES = {"single": False, "cluster": True}
# (report key, column heading, how it reads)
COLUMNS = (
    ("orders_per_min", "sustained orders/min", "{:.0f}"),
    ("per_node", "per node", "{:.0f}"),
    ("deliveries_per_s", "realtime deliveries/s", "{:.0f}"),
    ("placement_p99_ms", "placement p99 (ms)", "{:.0f}"),
    ("push_p99_ms", "commit→client p99 (ms)", "{:.0f}"),
    ("nodes_ms_per_order", "app nodes CPU per order (ms)", "{:.0f}"),
    ("redis_ms_per_order", "events/cache Redis CPU per order (ms)", "{:.1f}"),
    ("mariadb_ms_per_order", "MariaDB CPU per order (ms)", "{:.1f}"),
    ("busiest_node", "busiest node (% of a core)", "{:.0f}"),
    ("simulator", "simulator (% of a core)", "{:.0f}"),
)


def parse_nodes(text: str) -> tuple[int, ...]:
    """`1,2,3` → (1, 2, 3): each a node count from 1 to 8."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"not a list of node counts (like 1,2,3): {text!r}") from None
    if not counts or any(not 1 <= n <= 8 for n in counts):
        raise ValueError(f"node counts must be from 1 to 8: {text!r}")
    return counts


def parse_redis(text: str) -> tuple[str, ...]:
    """`single,cluster` → ("single", "cluster")."""
    modes = tuple(part.strip() for part in text.split(","))
    unknown = [mode for mode in modes if mode not in REDIS_MODES]
    if not modes or unknown:
        raise ValueError(f"Redis modes are single and cluster, not {', '.join(unknown)!r}")
    return modes


def figures(step: dict[str, float], nodes: int) -> dict[str, float]:
    """A sustained step's figures: rates, latencies, and each part's CPU per order (the
    step's CPU shares, which are % of one core, over its orders per second)."""
    per_s = step["orders_per_min"] / 60
    cpu = {key[4:]: value / 100 for key, value in step.items() if key.startswith("cpu:")}
    node_cores = [value for name, value in cpu.items() if name.startswith("node")]
    redis_cores = sum(
        value
        for name, value in cpu.items()
        if name in ("cache_redis", "events_redis") or name.startswith("redis_cluster")
    )

    def per_order(cores: float) -> float:
        return cores / per_s * 1000 if per_s else 0.0

    return {
        "orders_per_min": step["orders_per_min"],
        "per_node": step["orders_per_min"] / nodes,
        "deliveries_per_s": step["deliveries_per_s"],
        "placement_p99_ms": step["placement_p99_ms"],
        "push_p99_ms": step["push_p99_ms"],
        "nodes_ms_per_order": per_order(sum(node_cores)),
        "redis_ms_per_order": per_order(redis_cores),
        "mariadb_ms_per_order": per_order(cpu.get("mariadb", 0.0)),
        "busiest_node": max(node_cores, default=0.0) * 100,
        "simulator": cpu.get("simulator", 0.0) * 100,
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Each topology's figures as a Markdown table."""
    head = "| app nodes | Redis | " + " | ".join(title for _, title, _ in COLUMNS) + " | stopped |"
    rule = "|---" * (len(COLUMNS) + 3) + "|"
    lines = [head, rule]
    for row in rows:
        found = row["figures"]
        cells = ["—" if found is None else form.format(found[key]) for key, _, form in COLUMNS]
        lines.append(
            f"| {row['nodes']} | {row['redis']} | " + " | ".join(cells) + f" | {row['stopped']} |"
        )
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], path: Path) -> Path:
    """Sustained orders/min and realtime deliveries/s by app nodes, a bar per Redis mode."""
    modes = sorted({row["redis"] for row in rows}, key=list(REDIS_MODES).index)
    counts = sorted({row["nodes"] for row in rows})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (
        ("orders_per_min", "sustained orders/min"),
        ("deliveries_per_s", "realtime deliveries/s at that step"),
        ("nodes_ms_per_order", "app nodes' CPU per order (ms)"),
    )
    width = 0.8 / max(1, len(modes))
    for axis, (key, title) in zip(axes, panels, strict=True):
        for index, mode in enumerate(modes):
            values = []
            for count in counts:
                found = next(
                    (r["figures"] for r in rows if r["nodes"] == count and r["redis"] == mode),
                    None,
                )
                values.append(found[key] if found else 0.0)
            positions = [c + (index - (len(modes) - 1) / 2) * width for c in counts]
            bars = axis.bar(positions, values, width, label=f"{mode} Redis")
            axis.bar_label(bars, fmt="%.0f", fontsize=8)
        axis.set_title(title)
        axis.set_xlabel("app nodes")
        axis.set_xticks(counts)
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"Capacity by topology ({os.cpu_count()} cores, one machine)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


async def compare_scaling(
    config: SimConfig,
    nodes: tuple[int, ...] = (1, 2, 3),
    redis: tuple[str, ...] = ("single", "cluster"),
) -> int:
    """The capacity search on each topology in turn (the same seed and city); 1 if a search
    could not sustain even its first step."""
    if not config.cluster:
        raise ValueError("--compare-scaling starts a cluster per topology: add --cluster")
    rows: list[dict[str, Any]] = []
    worst = 0
    for count in nodes:
        for mode in redis:
            say(f"=== {count} app node(s), {mode} Redis ===")
            topology = replace(config, nodes=count, redis_cluster=REDIS_MODES[mode])
            async with started(topology) as run:
                found = await search(run, topology)
            if found.sustained is None:
                worst = 1
            rows.append(
                {
                    "nodes": count,
                    "redis": mode,
                    "figures": None if found.sustained is None else figures(found.sustained, count),
                    "stopped": found.stopped,
                    "steps": found.steps,
                }
            )
    text = table(rows)
    config.out.mkdir(parents=True, exist_ok=True)
    stem = config.out / f"scaling-{time.strftime('%Y%m%d-%H%M%S')}"
    stem.with_suffix(".md").write_text(text + "\n")
    stem.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    picture = chart(rows, stem.with_suffix(".png"))
    say(f"\n{text}\n\ntable: {stem.with_suffix('.md')}, chart: {picture}")
    return worst
