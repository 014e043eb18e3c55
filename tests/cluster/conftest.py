"""A cluster of their own for the tests that kill its nodes, so no other test sees the damage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.launcher.cluster import Cluster
from app.launcher.processes import wait_for_http
from tests.harness import require_binary
from tests.system import NODE_ENV, people

__all__ = ["breakable_cluster", "people"]

# Long enough to kill a node while an order waits on the card gateway.
PAYMENT_LATENCY_MS = 5000


@pytest.fixture(scope="package")
def started_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes behind nginx on their own MariaDB and Redis; card payments take 5 s."""
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",)):
        require_binary(*names)
    running = Cluster(
        folder=tmp_path_factory.mktemp("breakable"),
        nodes=2,
        node_env={**NODE_ENV, "PAYMENT_LATENCY_MS": str(PAYMENT_LATENCY_MS)},
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def breakable_cluster(started_cluster: Cluster) -> Iterator[Cluster]:
    """The package's cluster; afterwards nginx runs and every node is ready with its settings."""
    yield started_cluster
    nginx = started_cluster.nginx
    assert nginx is not None
    if nginx.process is None or nginx.process.poll() is not None:
        nginx.start()
    for node in started_cluster.node_list:
        node.env = started_cluster.env()
        if node.alive:
            wait_for_http(f"{node.url}/readyz", process=node.process, timeout=60, what=node.name)
        else:
            node.stop()
            node.start()
