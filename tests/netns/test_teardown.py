"""The network is removed whatever happens: after a start that fails half-way, and, through
`delivery netns down`, after its owner was killed without a chance to clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.launcher.netns import (
    NetnsCluster,
    Network,
    NetworkUnavailable,
    check_privileges,
    leftovers,
)
from app.launcher.processes import LaunchError
from tests.netns.conftest import require_network
from tests.system import NODE_ENV

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
# `delivery netns up` refuses to start without an admin to create (as `delivery cluster`).
ADMIN = {
    "DELIVERY_ADMIN_EMAIL": "admin@example.com",
    "DELIVERY_ADMIN_PASSWORD": "a-long-admin-pw-1",
}
HOLDER = """
import sys, time
from app.launcher.netns import Network
network = Network.create(["app1", "db"], latency_ms=1)
print(network.run_id, flush=True)
time.sleep(600)
"""


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in listed.stdout.splitlines() if line}


def netns_down(*extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "netns", "down", *extra],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )


def holder() -> tuple[subprocess.Popen[str], str]:
    """A process that made a small network and holds it; its run id."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    process.stdout.close()
    assert run_id, "the network was not made"
    return process, run_id


def test_a_start_that_fails_half_way_leaves_no_namespace_bridge_or_process(
    tmp_path: Path,
) -> None:
    require_network()
    before = set(leftovers())
    # Everything starts but nginx, whose port does not exist.
    cluster = NetnsCluster(folder=tmp_path, nodes=1, port=70_000, node_env=dict(NODE_ENV))
    with pytest.raises(LaunchError, match="nginx"):
        cluster.start()
    assert set(leftovers()) == before
    assert not [name for name in namespaces() if name.startswith("dn") and name[2:6] not in before]
    assert cluster.mariadb is not None and cluster.mariadb.process is None
    assert all(node.process is None for node in cluster.node_list)


def test_a_network_that_cannot_be_made_is_removed_at_once() -> None:
    require_network()
    before = set(leftovers())
    # Two hosts of one name: the second namespace cannot be made.
    with pytest.raises(LaunchError, match="netns add"):
        Network.create(["app1", "app1"])
    assert set(leftovers()) == before


def test_netns_down_removes_what_a_killed_owner_left_and_spares_a_live_ones() -> None:
    require_network()
    dead, dead_id = holder()
    live, live_id = holder()
    try:
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait(timeout=10)
        assert leftovers()[dead_id] == dead.pid
        assert {f"dn{dead_id}-app1", f"dn{dead_id}-db"} <= namespaces()

        done = netns_down()
        assert done.returncode == 0, done.stderr
        assert dead_id not in leftovers()
        assert not {name for name in namespaces() if name.startswith(f"dn{dead_id}-")}
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
        assert f"dn{dead_id}" not in links.stdout
        # The other holder is alive: its network stays.
        assert "still running (stop their `delivery netns up`, or add --all): " in done.stdout
        assert leftovers()[live_id] == live.pid
    finally:
        live.kill()
        live.wait(timeout=10)
        netns_down()
    assert live_id not in leftovers()


def test_without_root_it_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(NetworkUnavailable, match=r"network namespaces need root \(CAP_NET_ADMIN\)"):
        check_privileges()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nodes", "0"], "--nodes must be between 1 and 234"),
        (["--nodes", "235"], "--nodes must be between 1 and 234"),
        (["--latency-ms", "-1"], "--latency-ms must be between 0 and 1000"),
        (["--latency-ms", "1e9"], "--latency-ms must be between 0 and 1000"),
    ],
)
def test_netns_up_refuses_impossible_settings_before_making_anything(
    args: list[str], message: str
) -> None:
    before = set(leftovers())
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "netns", "up", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, **ADMIN},
    )
    assert result.returncode == 2, result.stderr
    assert f"delivery: {message}" in result.stderr
    assert set(leftovers()) == before
