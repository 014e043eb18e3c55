"""`delivery bench --quick` end to end: a real cluster, a real Node.js reference, results.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.bench.report import compare

pytestmark = pytest.mark.system

DELIVERY = Path(sys.executable).parent / "delivery"


def quick_section(tmp_path: Path, name: str, *, timeout: float) -> tuple[str, dict[str, Any]]:
    """`delivery bench --quick --only NAME --out TMP/run`: what it printed, and its section of
    results.json."""
    out = tmp_path / "run"
    done = subprocess.run(
        [str(DELIVERY), "bench", "--quick", "--only", name, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    section: dict[str, Any] = json.loads((out / "results.json").read_text())["sections"][name]
    return done.stdout, section


def test_quick_cpu_and_fanout_sections_write_sane_figures_charts_and_profiles(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    command = ["bench", "--quick", "--only", "cpu", "--only", "fanout", "--profile"]
    done = subprocess.run(
        [str(DELIVERY), *command, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[1/2] cpu" in done.stdout and "[2/2] fanout" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] is True and results["failed"] == {}
    assert (out / "chart.png").read_bytes().startswith(b"\x89PNG")

    kinds = results["sections"]["cpu"]["requests"]
    assert set(kinds) == {
        "GET /healthz",
        "GET /api/stores/{id}",
        "GET /api/me",
        "PUT /api/riders/me/location",
        "POST /api/orders",
        "POST /api/coupon-campaigns/{id}/claim",
        "POST /api/dispatch/offers/{id}/accept",
    }
    base = kinds["GET /healthz"]["cpu_ms"]
    assert base > 0
    for figures in kinds.values():
        assert figures["requests"] > 0
        assert figures["ratio_to_healthz"] == round(figures["cpu_ms"] / base, 2)
    # Placing an order (a transaction of a dozen rows) cannot cost less than a health check.
    assert kinds["POST /api/orders"]["cpu_ms"] > base

    fanout = results["sections"]["fanout"]
    for side in ("hub", "floor", "node"):
        assert fanout[side]["lost"] == 0
        assert fanout[side]["delivered"] == fanout[side]["expected"] > 0
        assert fanout[side]["cpu_us_per_delivery"] > 0
        assert 0 < fanout[side]["p50_ms"] <= fanout[side]["p99_ms"] <= fanout[side]["max_ms"]
    assert fanout["hub_to_node_cpu_ratio"] == round(
        fanout["hub"]["cpu_us_per_delivery"] / fanout["node"]["cpu_us_per_delivery"], 2
    )
    assert fanout["floor_to_node_cpu_ratio"] == round(
        fanout["floor"]["cpu_us_per_delivery"] / fanout["node"]["cpu_us_per_delivery"], 2
    )
    assert "Hypercorn floor / Node.js" in done.stdout

    # --profile: a py-spy profile of the node(s) behind every CPU figure of ours.
    profiles = results["profiles"]
    assert set(profiles) == set(kinds) | {"fan-out: hub"}
    for label, summary in profiles.items():
        assert summary["samples"] > 0, label
        assert abs(sum(summary["by_part"].values()) - 1) < 0.01, label
        for file in summary["files"]:
            assert Path(file).parent == out / "profiles" and Path(file).stat().st_size > 0
    # An order goes through SQLAlchemy; a health check does not (only the node's background
    # sweeps do, during it).
    in_sqlalchemy = {k: profiles[k]["by_part"].get("SQLAlchemy", 0.0) for k in profiles}
    assert in_sqlalchemy["POST /api/orders"] > max(0.05, in_sqlalchemy["GET /healthz"])
    assert profiles["fan-out: hub"]["by_part"].get("Socket.IO and Engine.IO", 0) > 0
    assert (out / "profiles.png").read_bytes().startswith(b"\x89PNG")

    again = subprocess.run(
        [str(DELIVERY), "bench", "--quick", "--only", "fanout", "--out", str(tmp_path / "b"),
         "--compare", str(out / "results.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "fanout.hub_to_node_cpu_ratio" in again.stdout


def test_quick_realtime_section_checks_every_delivery_at_half_the_maximum_and_a_fixed_rate(
    tmp_path: Path,
) -> None:
    printed, realtime = quick_section(tmp_path, "realtime", timeout=300)

    def delivered_in_order(figures: dict[str, Any]) -> None:
        assert figures["unanswered"] == 0
        assert figures["delivered"] == figures["expected"] > 0
        assert figures["gaps"] == figures["duplicates"] == figures["behind"] == 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]

    assert [r["subscribers"] for r in realtime["rounds"]] == [100, 300]
    for figures in realtime["rounds"]:
        delivered_in_order(figures)
        # Half of the maximum measured with these subscribers (the pacing can only lag).
        assert 0 < figures["offered_events_per_s"] <= figures["max_events_per_s"] / 2 + 0.1

    fixed = realtime["fixed"]
    delivered_in_order(fixed)
    assert (fixed["subscribers"], fixed["streams"]) == (200, 2)
    # An order writes five events to its store's stream (placed, accepted, ready, cancelled,
    # refunded), each delivered to the stream's 100 subscribers.
    assert fixed["expected"] == fixed["orders"] * 5 * 100
    assert 200 <= fixed["offered_deliveries_per_s"] <= 400.1
    # Beside it, the same events/s to two subscribers a stream.
    path = fixed["path"]
    delivered_in_order(path)
    assert (path["subscribers"], path["streams"]) == (4, 2)
    assert path["expected"] == path["orders"] * 5 * 2
    assert 0.5 * 4.0 <= path["offered_events_per_s"] <= 4.01
    assert "deliveries/s" in printed


def test_a_comparison_puts_each_figure_beside_its_old_value_with_the_ratio() -> None:
    old = {"sections": {"orders": {"two_nodes_per_s": 50.0, "rounds": [{"p50_ms": 4.0}]}}}
    new = {"sections": {"orders": {"two_nodes_per_s": 75.0, "rounds": [{"p50_ms": 2.0}]}}}
    table = compare(old, new).splitlines()
    assert table[0].split() == ["figure", "old", "new", "new/old"]
    assert table[1].split() == ["orders.rounds[0].p50_ms", "4", "2", "0.50"]
    assert table[2].split() == ["orders.two_nodes_per_s", "50", "75", "1.50"]


def test_quick_orders_section_prices_sqlalchemy_beside_the_bare_driver(tmp_path: Path) -> None:
    printed, orders = quick_section(tmp_path, "orders", timeout=240)
    assert orders["one_node_per_s"] > 0 and orders["two_nodes_per_s"] > 0
    # The same rows through SQLAlchemy cost the script more than through the bare driver, and
    # neither is free: the difference is what SQLAlchemy's execution costs per order.
    assert 0 < orders["bare_client_cpu_ms"] < orders["sqlalchemy_client_cpu_ms"]
    assert orders["sqlalchemy_per_s"] > 0 and orders["bare_per_s"] > 0
    assert "through SQLAlchemy" in printed and "ms more than bare" in printed
    assert (tmp_path / "run" / "chart.png").read_bytes().startswith(b"\x89PNG")
