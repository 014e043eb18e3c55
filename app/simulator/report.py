"""The end of a run: a JSON file with every figure, and a chart (PNG) of the run over time."""

from __future__ import annotations

import json
import math
import resource
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt

from app.simulator.audit import Check
from app.simulator.config import SimConfig, clock_text
from app.simulator.recorder import Recorder, percentile


def _ms(values: list[float], q: float) -> float | None:
    return None if not values else round(percentile(values, q) * 1000, 1)


# An order that waited longer than this for a rider (simulated) counts as waiting too long.
LONG_WAIT_MIN = 5.0


def dispatch_figures(recorder: Recorder, speed: float, doors: list[float]) -> dict[str, Any]:
    """What a dispatch strategy is judged by: time to the door (mean, p95, simulated minutes),
    rider kilometres per delivery, deliveries per rider-hour on shift, and the share of
    assigned orders that waited more than `LONG_WAIT_MIN` for their rider after acceptance."""
    delivered = len(doors)
    # Riders on shift are sampled once a wall second: rider-seconds, times the city's speed.
    rider_hours = sum(recorder.rider_online.values()) * speed / 3600
    waits = [
        (recorder.assigned_at[order] - accepted) * speed / 60
        for order, accepted in recorder.accepted_at.items()
        if order in recorder.assigned_at
    ]
    return {
        "delivered": delivered,
        "to_door_mean_min": round(sum(doors) / delivered, 1) if delivered else None,
        "to_door_p95_min": round(percentile(doors, 0.95), 1) if delivered else None,
        "rider_km_per_delivery": round(recorder.rider_km / delivered, 2) if delivered else None,
        "deliveries_per_rider_hour": round(delivered / rider_hours, 2) if rider_hours else None,
        "waited_over_5_min": round(sum(w > LONG_WAIT_MIN for w in waits) / len(waits), 3)
        if waits
        else None,
    }


def build(
    config: SimConfig,
    recorder: Recorder,
    checks: list[Check],
    *,
    demand_started: float,
    demand_seconds: float,
    offers_per_assignment: float | None,
    unserved: int,
) -> dict[str, Any]:
    """Every figure of the run, as one JSON-able dict."""
    bucket = max(5.0, min(60.0, demand_seconds / 30))
    end = max([a.at for a in recorder.answers] + [0.0]) + recorder.started

    def index(epoch: float) -> int:
        return int((epoch - demand_started) // bucket)

    count = max(1, index(end) + 1)
    placed: dict[int, list[float]] = defaultdict(list)
    for at, latency in recorder.placements:
        placed[index(recorder.started + at)].append(latency)
    pushed: dict[int, list[float]] = defaultdict(list)
    for delivery in recorder.deliveries:
        push = recorder.commit_latency(delivery)
        if push is not None:
            pushed[index(delivery.at)].append(push)
    to_door: dict[int, list[float]] = defaultdict(list)
    for fate in recorder.orders.values():
        if fate.delivered_at is not None:
            to_door[index(fate.placed_at)].append(
                (fate.delivered_at - fate.placed_at) * config.speed / 60
            )
    utilisation: dict[int, float] = {}
    per_bucket_online: Counter[int] = Counter()
    per_bucket_busy: Counter[int] = Counter()
    for second, n in recorder.rider_online.items():
        per_bucket_online[int(second // bucket)] += n
    for second, n in recorder.rider_busy.items():
        per_bucket_busy[int(second // bucket)] += n
    for b, online in per_bucket_online.items():
        utilisation[b] = per_bucket_busy[b] / online if online else 0.0
    series = []
    for b in range(count):
        t = b * bucket
        series.append(
            {
                "wall_s": round(t, 1),
                "clock": clock_text(config.start + t * config.speed),
                "orders_per_min": round(len(placed[b]) * 60 / bucket, 2),
                "placement_p50_ms": _ms(placed[b], 0.5),
                "placement_p99_ms": _ms(placed[b], 0.99),
                "push_p50_ms": _ms(pushed[b], 0.5),
                "push_p99_ms": _ms(pushed[b], 0.99),
                "to_door_p50_min": None
                if not to_door[b]
                else round(percentile(to_door[b], 0.5), 1),
                "rider_utilisation": round(utilisation.get(b, 0.0), 3)
                if b in utilisation
                else None,
            }
        )
    errors = Counter(
        (a.status, a.code or ("dropped" if a.status == 0 else ""), a.op)
        for a in recorder.answers
        if a.status >= 400 or a.status == 0
    )
    placements = [lat for _at, lat in recorder.placements]
    pushes = [lat for d in recorder.deliveries if (lat := recorder.commit_latency(d)) is not None]
    doors = [
        (f.delivered_at - f.placed_at) * config.speed / 60
        for f in recorder.orders.values()
        if f.delivered_at is not None
    ]
    summary = {
        "orders": len(recorder.orders),
        "orders_per_min": round(len(recorder.orders) * 60 / demand_seconds, 2)
        if demand_seconds
        else 0,
        "arrivals_without_an_idle_customer": unserved,
        "statuses": dict(Counter(f.status for f in recorder.orders.values())),
        "placement_p50_ms": _ms(placements, 0.5),
        "placement_p99_ms": _ms(placements, 0.99),
        "push_p50_ms": _ms(pushes, 0.5),
        "push_p99_ms": _ms(pushes, 0.99),
        "push_measured": len(pushes),
        "push_from": "commit time"
        if any(d.committed for d in recorder.deliveries)
        else "REST return",
        "to_door_p50_min": None if not doors else round(percentile(doors, 0.5), 1),
        "to_door_p90_min": None if not doors else round(percentile(doors, 0.9), 1),
        "offers_per_assignment": offers_per_assignment,
        "rider_utilisation": round(
            sum(recorder.rider_busy.values()) / max(1, sum(recorder.rider_online.values())), 3
        ),
        "dispatch": dispatch_figures(recorder, config.speed, doors),
        "answers": len(recorder.answers),
        "simulator_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "summary": summary,
        "bucket_s": bucket,
        "series": series,
        "errors": [
            {"status": s, "code": c, "op": op, "count": n} for (s, c, op), n in errors.most_common()
        ],
        "faults": [
            {
                "name": f.name,
                "at_s": round(f.started - demand_started, 1),
                "for_s": round((f.ended or f.started) - f.started, 1),
                "detail": f.detail,
            }
            for f in recorder.faults
        ],
        "audit": [{"check": c.name, "verdict": c.verdict, "evidence": c.evidence} for c in checks],
        "notes": recorder.notes[:200],
    }


def _values(series: list[dict[str, Any]], key: str) -> list[float]:
    return [math.nan if row[key] is None else row[key] for row in series]


def chart(report: dict[str, Any], path: Path) -> None:
    """Six panels: orders/min, placement and commit→browser latency, time to the door, rider
    utilisation, and every error by status and code; faults shaded."""
    series = report["series"]
    x = [row["wall_s"] / 60 for row in series]
    labels = [row["clock"] for row in series]
    fig, axes = plt.subplots(3, 2, figsize=(14, 11))
    summary = report["summary"]
    panels = [
        (axes[0][0], "Orders per minute (placed)", [("orders_per_min", "orders/min")], ""),
        (
            axes[0][1],
            "Placement latency",
            [("placement_p50_ms", "p50"), ("placement_p99_ms", "p99")],
            "ms",
        ),
        (
            axes[1][0],
            f"Commit → client latency (from {summary['push_from']})",
            [("push_p50_ms", "p50"), ("push_p99_ms", "p99")],
            "ms",
        ),
        (
            axes[1][1],
            "Order to door (by order time)",
            [("to_door_p50_min", "p50")],
            "simulated min",
        ),
        (
            axes[2][0],
            f"Rider utilisation (offers per assignment: {summary['offers_per_assignment']})",
            [("rider_utilisation", "busy / on shift")],
            "fraction",
        ),
    ]
    for ax, title, lines, unit in panels:
        for key, label in lines:
            ax.plot(x, _values(series, key), marker=".", label=label)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        step = max(1, len(x) // 8)
        ax.set_xticks(x[::step], labels[::step])
        for fault in report["faults"]:
            ax.axvspan(
                fault["at_s"] / 60,
                (fault["at_s"] + max(fault["for_s"], 3)) / 60,
                color="red",
                alpha=0.15,
            )
            ax.annotate(
                fault["name"],
                (fault["at_s"] / 60, 1),
                xycoords=("data", "axes fraction"),
                fontsize=6,
                rotation=90,
                va="top",
                color="darkred",
            )
    errors = Counter[str]()
    for e in report["errors"]:
        errors[f"{e['status']} {e['code']}"] += e["count"]
    ax = axes[2][1]
    names = [k for k, _ in errors.most_common(12)]
    ax.barh(names or ["none"], [errors[k] for k in names] or [0], color="tab:red")
    ax.set_title("Error answers by status and code (whole run)")
    ax.invert_yaxis()
    verdicts = Counter(c["verdict"] for c in report["audit"])
    fig.suptitle(
        f"Simulation: {summary['orders']} orders, placement p99 {summary['placement_p99_ms']} ms, "
        f"commit→client p99 {summary['push_p99_ms']} ms; audit "
        + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """report.json and chart.png in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "report.json"
    data.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    picture = folder / "chart.png"
    chart(report, picture)
    return data, picture
