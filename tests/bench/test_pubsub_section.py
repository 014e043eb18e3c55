"""`delivery bench --quick --only pubsub`: Redis Clusters of 1, 2 and 3 masters, for real."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.bench.test_bench_command import DELIVERY
from tests.harness import require_binary

pytestmark = pytest.mark.system


def test_quick_pubsub_section_measures_each_command_on_each_cluster_size(tmp_path: Path) -> None:
    for name in ("redis-server", "redis-cli", "redis-benchmark"):
        require_binary(name)
    out, scratch = tmp_path / "run", tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(
        [str(DELIVERY), "bench", "--quick", "--only", "pubsub", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["failed"] == {}
    assert (out / "chart.png").read_bytes().startswith(b"\x89PNG")
    # Each cluster's folder was removed with it.
    assert list(scratch.iterdir()) == []

    section = results["sections"]["pubsub"]
    publishes = section["publishes"]
    assert publishes > 0 and 250 <= section["payload_bytes"] <= 350
    cores = len(os.sched_getaffinity(0))
    assert [r["masters"] for r in section["rounds"]] == [1, 2, 3]
    for round_ in section["rounds"]:
        masters = round_["masters"]
        assert round_["pinned"] is (cores >= masters)
        for command in ("spublish", "publish"):
            figures = round_[command]
            # Every publish reached a master (commandstats), none failed.
            assert figures["publishes"] == publishes
            assert figures["publishes_per_s"] > 0 and figures["wall_s"] > 0
            assert len(figures["server_cpu_s"]) == masters
            assert all(spent > 0 for spent in figures["server_cpu_s"])
            assert figures["client_cpu_us_per_publish"] > 0
            per_publish = figures["server_cpu_us_per_publish"]
            assert per_publish == pytest.approx(
                sum(figures["server_cpu_s"]) / publishes * 1e6, 0.05
            )
            assert figures["capacity_per_s"] == pytest.approx(masters * 1e6 / per_publish, 0.01)
        assert f"{masters} master(s), no replicas" in done.stdout

    ratios = section["capacity_ratio"]
    assert set(ratios) == {"spublish", "publish"}
    assert set(ratios["spublish"]) == set(ratios["publish"]) == {"2:1", "3:1"}
    # A sharded publish costs only the master of its slot: a second master adds capacity. A
    # classic one is run by every master (the cluster bus hands it on), so it does not.
    assert ratios["spublish"]["2:1"] > 1.3
    assert ratios["publish"]["2:1"] < ratios["spublish"]["2:1"]
    spublish, publish = ratios["spublish"]["2:1"], ratios["publish"]["2:1"]
    assert f"SPUBLISH {spublish:.2f}×  PUBLISH {publish:.2f}×" in done.stdout
