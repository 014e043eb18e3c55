"""`delivery simulate --compare-dispatch`: the same seeded city under each dispatch strategy
(offers; the batch optimiser alone; the batch optimiser with bundles), one after the other,
each on a fresh cluster of its own, and a table of how each did."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from app.simulator.config import SimConfig
from app.simulator.runner import say, simulate_once

# (label, DISPATCH_STRATEGY, DISPATCH_BUNDLES)
STRATEGIES = (
    ("offers", "offers", None),
    ("batch", "batch", False),
    ("batch + bundles", "batch", True),
)
# The platform's own timings, in real seconds: an offer's life and the batch period. The nodes
# count wall seconds while the city runs `--speed` times faster, so for the comparison they are
# put on the city's clock (else at ×20 an unanswered offer would hold an order ten simulated
# minutes, which punishes whichever strategy offers to fewer riders at once).
OFFER_TTL_SECONDS = 30.0
BATCH_SECONDS = 5.0
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
    timed = replace(
        config,
        dispatch_offer_ttl=config.dispatch_offer_ttl or OFFER_TTL_SECONDS / config.speed,
        dispatch_batch_seconds=config.dispatch_batch_seconds
        or max(0.05, BATCH_SECONDS / config.speed),
    )
    say(
        f"on the city's clock (×{config.speed:g}): DISPATCH_OFFER_TTL "
        f"{timed.dispatch_offer_ttl:g} s, DISPATCH_BATCH_SECONDS {timed.dispatch_batch_seconds:g} s"
    )
    rows: list[tuple[str, dict[str, Any]]] = []
    worst = 0
    for label, strategy, bundles in STRATEGIES:
        say(f"=== {label}: DISPATCH_STRATEGY={strategy}, DISPATCH_BUNDLES={bundles} ===")
        code, data = await simulate_once(
            replace(timed, dispatch_strategy=strategy, dispatch_bundles=bundles)
        )
        worst = max(worst, code)
        rows.append((label, data["summary"]["dispatch"]))
    text = table(rows)
    config.out.mkdir(parents=True, exist_ok=True)
    stem = config.out / f"dispatch-{time.strftime('%Y%m%d-%H%M%S')}"
    stem.with_suffix(".md").write_text(text + "\n")
    stem.with_suffix(".json").write_text(json.dumps(dict(rows), indent=2) + "\n")
    say(f"\n{text}\n\ntable: {stem.with_suffix('.md')}")
    return worst
