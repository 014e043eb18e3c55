"""Redis clients: the session Redis and the cache/events Redis are always separate clients.

A URL names one server (`redis://host:port/0`), a Redis Cluster by some of its nodes
(`redis+cluster://host:port,host:port`), or a master with replicas watched by Redis Sentinel
(`redis+sentinel://host:port,host:port,host:port/SERVICE`, the Sentinels and the name they know
the master by). A cluster client finds the rest and follows the slots as they move; a Sentinel
client asks the Sentinels where the master is and asks again once it is lost. Keys that a
script or a transaction uses together carry one hash tag (`{...}`), so that they live on one
slot; on a single server the braces are only characters of the name.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import ClusterDownError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError

CLUSTER_SCHEME = "redis+cluster"
SENTINEL_SCHEME = "redis+sentinel"
# What a Sentinel knows a master by (`sentinel monitor NAME …`): no spaces, no slashes.
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


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
    return _host_ports(parts.netloc, "a Redis Cluster node")


def _host_ports(netloc: str, what: str) -> list[tuple[str, int]]:
    addresses: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not a host:port of {what}")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def is_sentinel_url(url: str | None) -> bool:
    """True when `url` names a master watched by Redis Sentinel (`redis+sentinel://…`)."""
    return bool(url) and urlsplit(url or "").scheme == SENTINEL_SCHEME


def sentinel_service(url: str) -> tuple[list[tuple[str, int]], str]:
    """The (host, port) of each Sentinel a Sentinel URL names, and the master's service name.

    `redis+sentinel://host:port,host:port,host:port/SERVICE`; the database is always 0.
    ValueError, with a sentence saying what is wrong, for a malformed one.
    """
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"a Redis Sentinel URL starts with {SENTINEL_SCHEME}://")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(
            "a Redis Sentinel URL names the Sentinels and the service only "
            "(no user, password or options)"
        )
    if not parts.netloc:
        raise ValueError("a Redis Sentinel URL names at least one Sentinel (host:port)")
    service = parts.path.removeprefix("/")
    if not service:
        raise ValueError(
            "a Redis Sentinel URL ends with the service name the Sentinels monitor "
            f"({SENTINEL_SCHEME}://host:port,host:port/SERVICE)"
        )
    if not _SERVICE_NAME.fullmatch(service):
        raise ValueError(
            f"{service!r} is not a Sentinel service name (letters, digits, '.', '_', '-'; "
            "the database is always 0 and is not named)"
        )
    return _host_ports(parts.netloc, "a Redis Sentinel"), service


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
        async with cast(_Cluster, self.cluster_client).guarded():
            return await super().execute(*args, **kwargs)


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

    @contextlib.asynccontextmanager
    async def guarded(self) -> AsyncIterator[None]:
        """A turn, and the cluster's failures while slots move raised as `ClusterUnavailable`
        (one command or one pipeline)."""
        async with self.turn():
            try:
                yield
            except (ClusterDownError, RedisClusterException) as error:
                raise ClusterUnavailable(str(error)) from error
            except (AttributeError, TypeError) as error:
                if _lost_connection(error):
                    raise ClusterUnavailable(f"connection lost: {error}") from error
                raise

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self.guarded():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return _Pipeline(self, transaction)  # type: ignore[abstract]


def is_cluster(client: Any) -> bool:
    """True when `client` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


class _SentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The master's connections, found through the Sentinels, in a blocking pool.

    As for a single server, a burst waits for a connection instead of failing with "Too many
    connections" (redis-py's Sentinel pool does not block by itself). The connections still ask
    the Sentinels for the master's address whenever they connect.
    """


class _SentinelMaster(Redis):
    """The master of a Sentinel service; closing it also closes the connections to the Sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def is_sentinel(client: Any) -> bool:
    """True when `client` follows a master through Redis Sentinel."""
    return isinstance(getattr(client, "connection_pool", None), SentinelConnectionPool)


# The pool of a single server and of a Sentinel service's master alike.
_POOL: dict[str, Any] = {
    "max_connections": 128,
    "timeout": 20,
    "decode_responses": False,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "health_check_interval": 15,
    "retry_on_timeout": True,
}


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
    if is_sentinel_url(url):
        assert url is not None
        sentinels, service = sentinel_service(url)
        # The Sentinels are asked with the same socket timeouts (redis-py passes the socket_*
        # options on to them). While the master is lost and no replica promoted yet, a command
        # fails as a lost connection (MasterNotFoundError is one), which callers answer with
        # 503 and Retry-After; the next connection asks the Sentinels again.
        return cast(
            Redis,
            Sentinel(sentinels, socket_connect_timeout=2, socket_timeout=5).master_for(
                service,
                redis_class=_SentinelMaster,
                connection_pool_class=_SentinelPool,
                **_POOL,
            ),
        )
    if url:
        # A blocking pool: under a burst, requests queue for a connection (up to `timeout`)
        # instead of failing with "Too many connections" once the pool is full.
        return Redis.from_pool(BlockingConnectionPool.from_url(url, **_POOL))
    import fakeredis

    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=False)
