"""Two real nodes behind nginx whose session Redis is a master and a replica watched by three
Redis Sentinels (`delivery cluster --session-replica`); the cache and events on single servers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.launcher.cluster import Cluster
from app.launcher.servers import ReplicatedRedis
from tests.harness import require_binary
from tests.system import NODE_ENV, people

__all__ = ["people"]


@pytest.fixture(scope="package")
def replicated_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """MariaDB, the session master, its replica, three Sentinels, two Redis, two nodes, nginx."""
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",)):
        require_binary(*names)
    running = Cluster(
        folder=tmp_path_factory.mktemp("session-replica"),
        nodes=2,
        session_replica=True,
        node_env=dict(NODE_ENV),
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sentinels(replicated_cluster: Cluster) -> Iterator[ReplicatedRedis]:
    """The session master, its replica and the Sentinels; afterwards a server a test killed is
    back as a replica of the master of the moment, in sync."""
    group = replicated_cluster.session_sentinels
    assert group is not None
    yield group
    for server in group.servers:
        if not server.alive:
            group.rejoin(server)
