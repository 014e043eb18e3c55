"""A minute of the dinner rush on a cluster of its own, with every fault, and the audit passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.simulator.config import SimConfig, parse_clock
from app.simulator.faults import SCHEDULE
from app.simulator.runner import simulate
from tests.harness import require_binary

pytestmark = pytest.mark.system


def _report(out: Path) -> tuple[Path, dict[str, Any]]:
    (run,) = [folder for folder in out.iterdir() if (folder / "report.json").exists()]
    report: dict[str, Any] = json.loads((run / "report.json").read_text())
    return run, report


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
