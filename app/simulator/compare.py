"""`delivery simulate --compare-dispatch`: the same seeded city under each dispatch strategy,
one after the other, each on a fresh cluster of its own, and a table of how each did."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from app.simulator.config import SimConfig
from app.simulator.runner import say, simulate_once

STRATEGIES = ("offers", "batch")
# (report key, column heading, how it reads); lower is better except where said.
COLUMNS = (
    ("delivered", "delivered", "{:d}"),
    ("to_door_mean_min", "order→door mean (min)", "{:.1f}"),
    ("to_door_p95_min", "order→door p95 (min)", "{:.1f}"),
    ("rider_km_per_delivery", "rider km per delivery", "{:.2f}"),
    ("deliveries_per_rider_hour", "deliveries per rider-hour (higher is better)", "{:.2f}"),
    ("waited_over_5_min", "waited > 5 min for a rider", "{:.1%}"),
)


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """The figures of each strategy as a Markdown table."""
    head = "| strategy | " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    rule = "|---" * (len(COLUMNS) + 1) + "|"
    lines = [head, rule]
    for strategy, figures in rows:
        cells = [
            "—" if figures.get(key) is None else form.format(figures[key])
            for key, _, form in COLUMNS
        ]
        lines.append(f"| `{strategy}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def compare_dispatch(config: SimConfig) -> int:
    """Run each strategy on the same city (same seed, demand and faults); 1 if any audit
    failed (the figures of a run whose promises broke are not worth comparing)."""
    if not config.cluster:
        raise ValueError("--compare-dispatch starts a cluster per strategy: add --cluster")
    rows: list[tuple[str, dict[str, Any]]] = []
    worst = 0
    for strategy in STRATEGIES:
        say(f"=== DISPATCH_STRATEGY={strategy} ===")
        code, data = await simulate_once(replace(config, dispatch_strategy=strategy))
        worst = max(worst, code)
        rows.append((strategy, data["summary"]["dispatch"]))
    text = table(rows)
    config.out.mkdir(parents=True, exist_ok=True)
    stem = config.out / f"dispatch-{time.strftime('%Y%m%d-%H%M%S')}"
    stem.with_suffix(".md").write_text(text + "\n")
    stem.with_suffix(".json").write_text(json.dumps(dict(rows), indent=2) + "\n")
    say(f"\n{text}\n\ntable: {stem.with_suffix('.md')}")
    return worst
