"""The topology on a real network (app/launcher/netns.py) for the tests of this folder.

The tests here need root and a kernel that makes network namespaces: where either is missing
they fail and say so (they are never skipped: CI runs them as root).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from app.launcher.cluster import DATABASE
from app.launcher.netns import Host, NetnsCluster, NetworkUnavailable, check_privileges, leftovers
from tests.harness import require_binary
from tests.system import NODE_ENV, people

__all__ = ["connect_times", "network_cluster", "on_host", "people", "query"]


def require_network() -> None:
    """Fail (never skip) where this machine cannot make the hosts."""
    try:
        check_privileges()
    except NetworkUnavailable as error:
        pytest.fail(f"the network tests need Linux network namespaces: {error}", pytrace=False)
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",), ("tc",)):
        require_binary(*names)


def start_network_cluster(folder: Path, node_env: dict[str, str]) -> NetnsCluster:
    require_network()
    return NetnsCluster(folder=folder, nodes=2, node_env=node_env).start()


def assert_removed(run_id: str) -> None:
    """Nothing of the topology `run_id` is left on the machine."""
    assert run_id not in leftovers(), f"topology {run_id} left behind"
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    assert f"dn{run_id}" not in links.stdout


@pytest.fixture(scope="package")
def network_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetnsCluster]:
    """nginx, two app nodes, MariaDB and three Redis, each on a host of its own."""
    running = start_network_cluster(tmp_path_factory.mktemp("netns"), dict(NODE_ENV))
    assert running.network is not None
    run_id = running.network.run_id
    try:
        yield running
    finally:
        running.stop()
    assert_removed(run_id)


def query(cluster: NetnsCluster, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """SQL on the topology's database, over the network from this machine's bridge address."""
    assert cluster.mariadb is not None
    conn = pymysql.connect(
        host=cluster.mariadb.host,
        port=cluster.mariadb.port,
        user="root",
        password="",
        database=DATABASE,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, args)
            rows = list(cursor.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


PROBE = """
import json, socket, sys, time
address, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seconds = []
for _ in range(count):
    started = time.perf_counter()
    try:
        with socket.create_connection((address, port), timeout=3):
            seconds.append(time.perf_counter() - started)
    except OSError as error:
        print(json.dumps({"error": type(error).__name__}))
        sys.exit()
print(json.dumps({"ms": [s * 1000 for s in seconds]}))
"""


def on_host(host: Host | None, address: str, port: int, count: int = 1) -> dict[str, Any]:
    """TCP connections from `host` (None: this machine) to `address:port`: their connect
    times in ms (a handshake is one round trip), or the error of the first that failed."""
    command = [sys.executable, "-c", PROBE, address, str(port), str(count)]
    result = subprocess.run(
        [*(host.prefix if host else []), *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    reply: dict[str, Any] = json.loads(result.stdout)
    return reply


def connect_times(host: Host | None, address: str, port: int, count: int = 20) -> list[float]:
    reply = on_host(host, address, port, count)
    assert "ms" in reply, f"{address}:{port} from {host.name if host else 'here'}: {reply}"
    times: list[float] = reply["ms"]
    return times
