"""Redis clients: the session Redis and the cache/events Redis are always separate clients.

A URL names one server (`redis://host:port/0`) or a Redis Cluster by some of its nodes
(`redis+cluster://host:port,host:port`): the client finds the rest and follows the slots as
they move. Keys that a script or a transaction uses together carry one hash tag (`{...}`), so
that they live on one slot; on a single server the braces are only characters of the name.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import ClusterDownError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError

CLUSTER_SCHEME = "redis+cluster"


def is_cluster_url(url: str | None) -> bool:
    """True when `url` names a Redis Cluster (`redis+cluster://host:port,host:port`)."""
    return bool(url) and urlsplit(url or "").scheme == CLUSTER_SCHEME


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The (host, port) of each node a cluster URL names; ValueError for a malformed one."""
    parts = urlsplit(url)
    if parts.scheme != CLUSTER_SCHEME:
        raise ValueError(f"a Redis Cluster URL starts with {CLUSTER_SCHEME}://")
    if parts.path not in ("", "/", "/0") or parts.query or parts.fragment:
        raise ValueError("a Redis Cluster URL names nodes only (a cluster has one database, 0)")
    nodes: list[tuple[str, int]] = []
    for item in parts.netloc.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not a host:port of a Redis Cluster node")
        nodes.append((host.strip("[]"), int(port)))
    return nodes


class ClusterUnavailable(RedisConnectionError):
    """The cluster cannot serve a command now (a slot without a master during a failover)."""


# Per node, as the single server's pool: commands beyond it wait for one to finish.
CLUSTER_MAX_CONNECTIONS = 128
# How long a command may wait for its turn before it fails as unavailable.
CLUSTER_QUEUE_TIMEOUT = 20.0


def _lost_connection(error: BaseException) -> bool:
    """True for an AttributeError/TypeError raised inside a connection's write or read.

    When redis-py's cluster client refreshes its slot map (after a failover, say) it recycles
    its connections, and a command already on one of them can meet the socket's internals
    half torn down: such an error is a lost connection, not a fault of the caller.
    """
    tb = error.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and (
        last.endswith(("redis/asyncio/connection.py", "asyncio/streams.py"))
        or last.endswith(("asyncio/selector_events.py", "asyncio/transports.py"))
    )


class _Pipeline(ClusterPipeline):
    async def execute(self, *args: Any, **kwargs: Any) -> list[Any]:
        cluster = cast(_Cluster, self.cluster_client)
        async with cluster.turn():
            try:
                return await super().execute(*args, **kwargs)
            except (ClusterDownError, RedisClusterException) as error:
                raise ClusterUnavailable(str(error)) from error
            except (AttributeError, TypeError) as error:
                if _lost_connection(error):
                    raise ClusterUnavailable(f"connection lost: {error}") from error
                raise


class _Cluster(RedisCluster):
    """A cluster client whose failures while slots move read as a lost connection.

    redis-py raises those as `RedisClusterException` (not a `RedisError`) or `ClusterDownError`
    (a reply error); every caller here already treats a lost Redis as "unavailable, retry
    shortly" (503 with Retry-After, or the database instead of the cache), which is what they are.
    """

    _turns: asyncio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for one of `CLUSTER_MAX_CONNECTIONS` turns.

        redis-py's cluster pool fails at once ("Too many connections") when a node's pool is
        full; bounding the commands in flight to the per-node size makes a burst queue instead,
        as the single server's blocking pool does.
        """
        if self._turns is None:
            self._turns = asyncio.Semaphore(CLUSTER_MAX_CONNECTIONS)
        try:
            async with asyncio.timeout(CLUSTER_QUEUE_TIMEOUT):
                await self._turns.acquire()
        except TimeoutError as error:
            raise ClusterUnavailable("no connection to the Redis Cluster came free") from error
        try:
            yield
        finally:
            self._turns.release()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.turn():
            try:
                return await super().execute_command(*args, **kwargs)
            except (ClusterDownError, RedisClusterException) as error:
                raise ClusterUnavailable(str(error)) from error
            except (AttributeError, TypeError) as error:
                if _lost_connection(error):
                    raise ClusterUnavailable(f"connection lost: {error}") from error
                raise

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return _Pipeline(self, transaction)  # type: ignore[abstract]


def is_cluster(client: Any) -> bool:
    """True when `client` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def connect(url: str | None) -> Redis:
    """A client for `url`; without a URL, an in-process stand-in (embedded mode only)."""
    if is_cluster_url(url):
        assert url is not None
        cluster = _Cluster(
            startup_nodes=[ClusterNode(host, port) for host, port in cluster_nodes(url)],
            max_connections=CLUSTER_MAX_CONNECTIONS,
            decode_responses=False,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=15,
        )
        # Typed as the single-server client: every command the app sends exists on both, and
        # the places where a cluster differs (sharded pub/sub, keys across slots) ask
        # `is_cluster` first.
        return cast(Redis, cluster)
    if url:
        # A blocking pool: under a burst, requests queue for a connection (up to `timeout`)
        # instead of failing with "Too many connections" once the pool is full.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=128,
            timeout=20,
            decode_responses=False,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=15,
            retry_on_timeout=True,
        )
        return Redis.from_pool(pool)
    import fakeredis

    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=False)
