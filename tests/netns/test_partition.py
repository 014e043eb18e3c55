"""The simulated city on the network topology while node1's host is cut off for 10 s: the audit
passes (nothing lost, never a 500)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.simulator.config import SimConfig, cluster_env, parse_clock
from app.simulator.faults import PARTITION
from app.simulator.runner import simulate
from tests.netns.conftest import assert_removed, start_network_cluster

pytestmark = pytest.mark.system


def _report(out: Path) -> dict[str, Any]:
    (run,) = [folder for folder in out.iterdir() if (folder / "report.json").exists()]
    report: dict[str, Any] = json.loads((run / "report.json").read_text())
    return report


@pytest.mark.timeout(900)
async def test_a_host_cut_off_for_ten_seconds_during_the_rush_loses_nothing(
    tmp_path: Path,
) -> None:
    config = SimConfig(
        partition=True,
        seed=11,
        stores=3,
        customers=16,
        riders=8,
        peak=30,
        speed=60,
        start=parse_clock("18:00"),
        duration=45 * 60,  # 45 s of wall time; node1's host is cut off from about 16 s to 26 s
        drain=90,
        progress_every=10,
        out=tmp_path / "simulations",
    )
    cluster = start_network_cluster(tmp_path / "netns", cluster_env(config))
    assert cluster.network is not None
    run_id = cluster.network.run_id
    node1 = cluster.host("app1").address
    try:
        config.cluster_dir = cluster.folder
        status = await simulate(config)
    finally:
        cluster.stop()
    assert_removed(run_id)

    report = _report(config.out)
    verdicts = {check["check"]: check["verdict"] for check in report["audit"]}
    assert len(verdicts) == 12 and set(verdicts.values()) == {"PASS"}, report["audit"]
    assert status == 0
    [fault] = report["faults"]
    assert fault["name"] == PARTITION[0].name
    assert fault["detail"] == f"node1 at {node1} unreachable for 10 s"
    assert fault["for_s"] >= 10
    assert report["summary"]["orders"] >= 8
    # The cut was real: nginx could not reach node1 and sent its requests to node2.
    errors = (cluster.log_dir / "error.log").read_text()
    assert "upstream timed out (110: Connection timed out) while connecting to upstream" in errors
    assert f'upstream: "http://{node1}:8000/' in errors
