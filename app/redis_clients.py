"""Redis clients: the session Redis and the cache/events Redis are always separate clients."""

from __future__ import annotations

from redis.asyncio import Redis


def connect(url: str | None) -> Redis:
    """A client for `url`; without a URL, an in-process stand-in (embedded mode only)."""
    if url:
        return Redis.from_url(
            url,
            decode_responses=False,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=15,
            retry_on_timeout=True,
        )
    import fakeredis

    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=False)
