"""`delivery cluster --session-replica`: the session master, its replica and three Sentinels."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cluster.test_cluster_command import delivery_cluster, running

pytestmark = pytest.mark.system


def test_delivery_cluster_with_a_session_replica_serves_through_sentinel_and_stops_it_all(
    tmp_path: Path,
) -> None:
    with delivery_cluster(tmp_path, "--session-replica", nodes=1) as command:
        process, port, out = command.process, command.port, command.out
        out.wait_for(lambda line: "Ctrl-C stops everything" in line, within=180, what="the banner")
        banner = out.wait_for(lambda line: "redis+sentinel://" in line, within=5, what="the URL")
        assert "/sessions (master :" in banner and ", replica :" in banner, banner
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200

        everything = command.children()
        # mariadbd, the session master and replica, three Sentinels, the cache and the events
        # redis-server, one node, nginx.
        assert len(everything) == 10, everything
        assert sum("[sentinel]" in cmdline for cmdline in everything.values()) == 3, everything
        state = json.loads((tmp_path / "var" / "cluster" / "cluster.json").read_text())
        sentinels = state["session_sentinels"]
        assert sentinels["url"] in banner
        recorded = [state["nodes"][0]["pid"], state["nginx"]["pid"], state["mariadb"]["pid"]]
        recorded += [
            state[name]["pid"] for name in ("session_redis", "cache_redis", "events_redis")
        ]
        recorded += [sentinels["replica"]["pid"], *(s["pid"] for s in sentinels["sentinels"])]
        assert sorted(recorded) == sorted(everything), (recorded, everything)
        role = subprocess.run(
            ["redis-cli", "-p", str(sentinels["replica"]["port"]), "ROLE"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert role.stdout.split()[0] == "slave", role.stdout

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
        left = [cmdline for pid, cmdline in everything.items() if running(pid)]
        assert left == [], left
