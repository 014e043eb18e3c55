"""A minute of the dinner rush on a cluster of its own, with every fault, and the audit passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.simulator.config import SimConfig, parse_clock
from app.simulator.faults import SCHEDULE
from app.simulator.runner import simulate
from app.simulator.scaling import compare_scaling
from tests.harness import require_binary

pytestmark = pytest.mark.system


def _report(out: Path) -> tuple[Path, dict[str, Any]]:
    (run,) = [folder for folder in out.iterdir() if (folder / "report.json").exists()]
    report: dict[str, Any] = json.loads((run / "report.json").read_text())
    return run, report


def _scaling(out: Path) -> tuple[Path, dict[str, Any]]:
    (table_path,) = out.glob("scaling-*.md")
    (row,) = json.loads(table_path.with_suffix(".json").read_text())
    return table_path, row


@pytest.mark.timeout(900)
async def test_a_minute_of_dinner_rush_with_every_fault_passes_the_audit(tmp_path: Path) -> None:
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",)):
        require_binary(*names)
    config = SimConfig(
        cluster=True,
        faults=True,
        seed=7,
        stores=4,
        customers=24,
        riders=10,
        peak=30,
        speed=60,
        start=parse_clock("18:00"),
        duration=60 * 60,  # an hour of the city in a wall minute
        drain=90,
        progress_every=10,
        out=tmp_path,
    )

    status = await simulate(config)

    run, report = _report(tmp_path)
    verdicts = {check["check"]: check["verdict"] for check in report["audit"]}
    assert len(verdicts) == 12 and set(verdicts.values()) == {"PASS"}, report["audit"]
    assert status == 0
    assert [f["name"] for f in report["faults"]] == [fault.name for fault in SCHEDULE]
    assert all(f["detail"] and "skipped" not in f["detail"] for f in report["faults"]), report
    assert report["summary"]["orders"] >= 10
    assert (run / "chart.png").stat().st_size > 10_000


@pytest.mark.timeout(600)
async def test_the_scaling_comparison_searches_each_topology_and_writes_its_table(
    tmp_path: Path,
) -> None:
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",)):
        require_binary(*names)
    config = SimConfig(
        cluster=True,
        seed=3,
        stores=3,
        customers=12,
        riders=6,
        peak=20,
        speed=60,
        capacity_step=6,
        progress_every=10,
        out=tmp_path,
    )

    status = await compare_scaling(config, nodes=(1,), redis=("cluster",))

    table_path, row = _scaling(tmp_path)
    assert status == 0
    assert (row["nodes"], row["redis"]) == (1, "cluster")
    assert row["stopped"]
    assert row["figures"]["orders_per_min"] > 0 and row["figures"]["deliveries_per_s"] > 0
    # Every step measured the Redis Cluster's servers, and the one node, and nothing else's.
    for step in row["steps"]:
        measured = {key[4:] for key in step if key.startswith("cpu:")}
        assert {"node1", "mariadb", "redis_cluster1"} <= measured and "node2" not in measured
        assert "events_redis" not in measured
    text, chart = table_path.read_text(), table_path.with_suffix(".png").stat().st_size
    assert "| 1 | cluster |" in text
    assert chart > 10_000
