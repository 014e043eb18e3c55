"""`delivery cluster --redis-cluster`: the cache and events on three masters with a replica each."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cluster.test_cluster_command import delivery_cluster, running
from tests.harness import require_binary

pytestmark = pytest.mark.system


def test_delivery_cluster_with_redis_cluster_serves_on_six_redis_nodes_and_stops_them_all(
    tmp_path: Path,
) -> None:
    require_binary("redis-cli")
    with delivery_cluster(tmp_path, "--redis-cluster", nodes=1) as command:
        process, port, out = command.process, command.port, command.out
        out.wait_for(lambda line: "Ctrl-C stops everything" in line, within=180, what="the banner")
        banner = out.wait_for(lambda line: "redis+cluster://" in line, within=5, what="the URL")
        assert "(cache and events)" in banner
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200

        everything = command.children()
        # mariadbd, the session redis-server, six cluster redis-servers, one node, nginx.
        assert len(everything) == 10, everything
        state = json.loads((tmp_path / "var" / "cluster" / "cluster.json").read_text())
        assert state["cache_redis"] is None and state["events_redis"] is None
        cluster_nodes = state["redis_cluster"]["nodes"]
        assert len(cluster_nodes) == 6
        recorded = [state["nodes"][0]["pid"], state["nginx"]["pid"], state["mariadb"]["pid"]]
        recorded += [state["session_redis"]["pid"], *(n["pid"] for n in cluster_nodes)]
        assert sorted(recorded) == sorted(everything), (recorded, everything)
        roles = [
            subprocess.run(
                ["redis-cli", "-p", str(n["port"]), "ROLE"], capture_output=True, text=True
            ).stdout.split()[0]
            for n in cluster_nodes
        ]
        assert sorted(roles) == ["master"] * 3 + ["slave"] * 3, roles

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
        left = [cmdline for pid, cmdline in everything.items() if running(pid)]
        assert left == [], left
