"""Redis clients: the session Redis and the cache/events Redis are always separate clients."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def connect(url: str | None) -> Redis:
    """A client for `url`; without a URL, an in-process stand-in (embedded mode only)."""
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
