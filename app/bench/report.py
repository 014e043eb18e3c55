"""A run's results.json, its chart, and old-versus-new comparison of two runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt


def flatten(results: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number in `results`, keyed by its path (`orders.two_nodes_ratio`)."""
    flat: dict[str, float] = {}
    for key, value in results.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            flat[path] = float(value)
        elif isinstance(value, dict):
            flat.update(flatten(value, path))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    flat.update(flatten(item, f"{path}[{index}]"))
    return flat


def compare(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The figures of two runs side by side, with new / old for each."""
    before, after = flatten(old.get("sections", {})), flatten(new.get("sections", {}))
    width = max((len(key) for key in after), default=10)
    lines = [f"{'figure':<{width}}  {'old':>12}  {'new':>12}  {'new/old':>8}"]
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        ratio = f"{b / a:8.2f}" if a and b is not None else f"{'':>8}"
        old_text = f"{a:12.4g}" if a is not None else f"{'-':>12}"
        new_text = f"{b:12.4g}" if b is not None else f"{'-':>12}"
        lines.append(f"{key:<{width}}  {old_text}  {new_text}  {ratio}")
    return "\n".join(lines)


def write_results(folder: Path, results: dict[str, Any]) -> Path:
    """Write results.json into `folder`; its path."""
    path = folder / "results.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def _bars(axis: Any, labels: list[str], values: list[float], title: str, unit: str) -> None:
    axis.bar(range(len(values)), values, color="#4C72B0")
    axis.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=7)
    axis.set_title(title, fontsize=9)
    axis.set_ylabel(unit, fontsize=8)


def write_chart(folder: Path, results: dict[str, Any]) -> Path:
    """One PNG with a panel per measured section."""
    sections = results.get("sections", {})
    panels = [
        name
        for name in ("cpu", "orders", "realtime", "fanout", "dispatch", "pubsub")
        if name in sections
    ]
    figure, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.2 * max(1, len(panels)), 4.2))
    axes_list = list(axes) if len(panels) > 1 else [axes]
    for axis, name in zip(axes_list, panels, strict=False):
        data = sections[name]
        if name == "cpu":
            kinds = data["requests"]
            _bars(
                axis,
                [kind.replace("/api/", "/") for kind in kinds],
                [kinds[kind]["ratio_to_healthz"] for kind in kinds],
                "node CPU per request / GET /healthz",
                "× healthz",
            )
        elif name == "orders":
            _bars(
                axis,
                ["1 node", "2 nodes", "bare inserts", "via SQLAlchemy"],
                [
                    data["one_node_per_s"],
                    data["two_nodes_per_s"],
                    data["bare_per_s"],
                    data.get("sqlalchemy_per_s", 0.0),
                ],
                "orders placed per second",
                "orders/s",
            )
        elif name == "realtime":
            labels, p50, p99 = [], [], []
            fixed = data["fixed"]
            shown = [(round_, "") for round_ in data["rounds"]]
            for round_, role in [*shown, (fixed["path"], " (path)"), (fixed, " (fixed)")]:
                labels.append(
                    f"K={round_['subscribers']:,}{role}\n"
                    f"{round_['offered_events_per_s']:.0f} events/s"
                )
                p50.append(round_["p50_ms"])
                p99.append(round_["p99_ms"])
            xs = range(len(labels))
            axis.bar([x - 0.2 for x in xs], p50, width=0.4, label="p50")
            axis.bar([x + 0.2 for x in xs], p99, width=0.4, label="p99")
            axis.set_xticks(list(xs), labels, fontsize=7)
            axis.set_title("commit → client: half of each K's maximum; a fixed rate", fontsize=9)
            axis.set_ylabel("ms", fontsize=8)
            axis.legend(fontsize=7)
        elif name == "fanout":
            _bars(
                axis,
                ["our hub", "Hypercorn floor", "Node.js socket.io"],
                [
                    data["hub"]["cpu_us_per_delivery"],
                    data.get("floor", {}).get("cpu_us_per_delivery", 0.0),
                    data["node"]["cpu_us_per_delivery"],
                ],
                "fan-out server CPU per delivery",
                "µs",
            )
        elif name == "dispatch":
            _bars(
                axis,
                ["race p50", "race p99", "GET /me p50", "GET /me p99"],
                [
                    data["race"]["p50_ms"],
                    data["race"]["p99_ms"],
                    data["me_at_once"]["p50_ms"],
                    data["me_at_once"]["p99_ms"],
                ],
                f"{data['riders']} riders at once",
                "ms",
            )
        elif name == "pubsub":
            labels = [f"{round_['masters']} master(s)" for round_ in data["rounds"]]
            xs = range(len(labels))
            for offset, command in ((-0.2, "spublish"), (0.2, "publish")):
                axis.bar(
                    [x + offset for x in xs],
                    [round_[command]["capacity_per_s"] / 1e6 for round_ in data["rounds"]],
                    width=0.4,
                    label=command.upper(),
                )
            axis.set_xticks(list(xs), labels, fontsize=8)
            axis.set_title("publish capacity: masters × 1 core / server CPU", fontsize=9)
            axis.set_ylabel("million publishes/s", fontsize=8)
            axis.legend(fontsize=7)
    figure.suptitle(f"delivery bench {results.get('started_at', '')}", fontsize=10)
    figure.tight_layout()
    path = folder / "chart.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_profile_chart(folder: Path, profiles: dict[str, dict[str, Any]]) -> Path:
    """profiles.png: a bar per profiled figure, split by where the nodes' busy time went."""
    labels = [label for label, summary in profiles.items() if summary["samples"]]
    parts: list[str] = []
    for label in labels:
        parts += [part for part in profiles[label]["by_part"] if part not in parts]
    figure, axis = plt.subplots(figsize=(11, 0.55 * len(labels) + 2.2))
    left = [0.0] * len(labels)
    colours = [plt.get_cmap("tab20")(n) for n in range(20)]
    for index, part in enumerate(parts):
        shares = [profiles[label]["by_part"].get(part, 0.0) * 100 for label in labels]
        axis.barh(labels, shares, left=left, label=part, color=colours[index % len(colours)])
        left = [a + b for a, b in zip(left, shares, strict=True)]
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("% of the nodes' busy samples (py-spy, innermost Python frame)", fontsize=8)
    axis.tick_params(axis="y", labelsize=8)
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    axis.set_title("where the node's CPU went, per measured figure", fontsize=10)
    figure.tight_layout()
    path = folder / "profiles.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
