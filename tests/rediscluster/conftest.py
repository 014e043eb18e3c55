"""A Redis Cluster (three masters, a replica each) for the cache and events Redis.

`redis_cluster`: the cluster alone, for in-process apps on the run's MariaDB (`apps`, whose
settings here name the cluster). `cluster_on_redis_cluster`: two real nodes behind nginx on their own
MariaDB and session Redis, with the cache and events on a Redis Cluster of their own
(`delivery cluster --redis-cluster`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app.config import Settings
from app.db import Database
from app.launcher.cluster import Cluster
from app.launcher.servers import RedisCluster
from tests.harness import Infra, require_binary
from tests.system import NODE_ENV, people

__all__ = ["people"]

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "A-long-cluster-admin-passphrase-42"


@pytest.fixture(scope="package")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """Three masters and three replicas from the installed redis-server."""
    require_binary("redis-server")
    require_binary("redis-cli")
    running = RedisCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def settings(infra: Infra, redis_cluster: RedisCluster) -> Settings:
    """The run's MariaDB and session Redis; the cache and events on the Redis Cluster."""
    infra.clean()
    for server in redis_cluster.masters_now():
        server.command("FLUSHALL")
    return infra.settings(cache_redis_url=redis_cluster.url, events_redis_url=redis_cluster.url)


@pytest.fixture(scope="package")
def cluster_on_redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes behind nginx whose cache and events Redis is a Redis Cluster."""
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",), ("redis-cli",)):
        require_binary(*names)
    running = Cluster(
        folder=tmp_path_factory.mktemp("on-redis-cluster"),
        nodes=2,
        redis_cluster=True,
        node_env={
            **NODE_ENV,
            "DELIVERY_ADMIN_EMAIL": ADMIN_EMAIL,
            "DELIVERY_ADMIN_PASSWORD": ADMIN_PASSWORD,
        },
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def cluster_db(cluster_on_redis_cluster: Cluster) -> AsyncIterator[Database]:
    """That cluster's database, written directly (as a node that died after committing would)."""
    import app.models  # noqa: F401  (every mapper, so that relationships resolve)

    db = Database(cluster_on_redis_cluster.database_url)
    try:
        yield db
    finally:
        await db.close()
