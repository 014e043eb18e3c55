"""Naming a Redis Cluster in the settings, and keys used together sharing one slot."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.crc import key_slot

from app.catalog.cache import position_key, version_key
from app.config import Settings
from app.redis_clients import cluster_nodes, is_cluster_url
from app.rewards.counter import keys as coupon_keys
from dispatch.schedule import BATCH_HOLDER_KEY, BATCH_NEXT_KEY
from realtime.control import stream_control_channel
from realtime.eventlog import head_key, location_channel, log_key, stream_channel
from realtime.relay import _lock_keys
from realtime.sharded import stream_channels, stream_of

SECRET = "a-test-secret-of-enough-length"
CLUSTER = "redis+cluster://10.0.0.1:7001,10.0.0.2:7002,[::1]:7003"


def _slots(*names: str) -> set[int]:
    return {key_slot(name.encode()) for name in names}


def test_a_cluster_url_names_its_nodes() -> None:
    assert is_cluster_url(CLUSTER) and not is_cluster_url("redis://h:6379/0")
    assert cluster_nodes(CLUSTER) == [("10.0.0.1", 7001), ("10.0.0.2", 7002), ("::1", 7003)]


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://host",
        "redis+cluster://host:0",
        "redis+cluster://host:70000",
        "redis+cluster://host:port",
        "redis+cluster://h:7001/3",
        "redis+cluster://h:7001?ssl=1",
    ],
)
def test_a_malformed_cluster_url_is_refused_with_a_sentence(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(cache_redis_url=url, secret_key=SECRET)
    assert "Redis Cluster" in str(refused.value)


def test_cache_and_events_may_be_a_cluster() -> None:
    settings = Settings(cache_redis_url=CLUSTER, events_redis_url=CLUSTER, secret_key=SECRET)
    assert settings.events_redis_location == CLUSTER


def test_the_session_redis_stays_a_single_server() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(session_redis_url=CLUSTER, secret_key=SECRET)
    assert "SESSION_REDIS_URL names one Redis server" in str(refused.value)


def test_python_socketio_fanout_refuses_a_cluster() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(events_redis_url=CLUSTER, realtime_fanout="socketio-redis", secret_key=SECRET)
    assert "does not speak to a Redis Cluster" in str(refused.value)


@pytest.mark.parametrize("stream", ["order:1", "rider:42", "store:7", f"order:{2**63}"])
def test_a_streams_log_head_locks_and_channels_share_one_slot(stream: str) -> None:
    names = [
        log_key(stream),
        head_key(stream),
        *_lock_keys(stream),
        stream_channel(stream),
        stream_control_channel(stream),
        location_channel(stream),
        *stream_channels(stream),
    ]
    assert len(_slots(*names)) == 1
    assert all(stream_of(channel) == stream for channel in stream_channels(stream))


def test_streams_spread_over_slots() -> None:
    assert len(_slots(*(log_key(f"order:{n}") for n in range(100)))) > 50


@pytest.mark.parametrize("scope", ["list", "store:1", "store:99"])
def test_a_catalog_scopes_keys_share_one_slot(scope: str) -> None:
    entry = f"catalog:{{{scope}}}:v3:f2:abc"
    assert len(_slots(version_key(scope), position_key(scope), entry, f"{entry}:lock")) == 1


def test_coupon_counters_and_batch_turn_keys_share_one_slot() -> None:
    assert len(_slots(*coupon_keys(12345))) == 1
    assert len(_slots(BATCH_HOLDER_KEY, BATCH_NEXT_KEY)) == 1


def test_only_errors_from_inside_a_connection_count_as_a_lost_connection() -> None:
    from app.redis_clients import _lost_connection

    try:
        None.writelines  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as ours:
        assert not _lost_connection(ours)
    namespace: dict[str, object] = {}
    exec(  # a frame whose code lives in redis-py's connection module
        compile("def write(w):\n    w.writelines([])\n", "redis/asyncio/connection.py", "exec"),
        namespace,
    )
    try:
        namespace["write"](None)  # type: ignore[operator]
    except AttributeError as theirs:
        assert _lost_connection(theirs)
