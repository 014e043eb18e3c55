"""Naming a session Redis watched by Sentinel: the URL, and where the settings accept it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.redis_clients import connect, is_sentinel, is_sentinel_url, sentinel_service

SECRET = "a-test-secret-of-enough-length"
SENTINELS = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380,[::1]:26381/sessions"


def test_a_sentinel_url_names_its_sentinels_and_the_service() -> None:
    assert is_sentinel_url(SENTINELS)
    assert not is_sentinel_url("redis://h:6379/0") and not is_sentinel_url(None)
    assert sentinel_service(SENTINELS) == (
        [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381)],
        "sessions",
    )
    assert sentinel_service("redis+sentinel://h:26379/my-master.1_a") == (
        [("h", 26379)],
        "my-master.1_a",
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://", "at least one Sentinel"),
        ("redis+sentinel:///sessions", "at least one Sentinel"),
        ("redis+sentinel://h:26379", "ends with the service name"),
        ("redis+sentinel://h:26379/", "ends with the service name"),
        ("redis+sentinel://h:26379/sessions/0", "not a Sentinel service name"),
        ("redis+sentinel://h:26379/two words", "not a Sentinel service name"),
        ("redis+sentinel://h/sessions", "'h' is not a host:port of a Redis Sentinel"),
        ("redis+sentinel://h:0/sessions", "is not a host:port of a Redis Sentinel"),
        ("redis+sentinel://h:70000/sessions", "is not a host:port of a Redis Sentinel"),
        ("redis+sentinel://h:26379,,h:26380/sessions", "'' is not a host:port"),
        ("redis+sentinel://h:26379/sessions?ssl=1", "no user, password or options"),
        ("redis+sentinel://user:pw@h:26379/sessions", "no user, password or options"),
        ("redis://h:26379/sessions", "starts with redis+sentinel://"),
    ],
)
def test_a_malformed_sentinel_url_is_refused_with_a_sentence(url: str, says: str) -> None:
    with pytest.raises(ValueError) as refused:
        sentinel_service(url)
    assert says in str(refused.value)
    if is_sentinel_url(url):
        with pytest.raises(ValidationError) as invalid:
            Settings(session_redis_url=url, secret_key=SECRET)
        assert says in str(invalid.value)


def test_the_session_redis_may_be_watched_by_sentinel() -> None:
    settings = Settings(session_redis_url=SENTINELS, secret_key=SECRET)
    assert settings.session_redis_url == SENTINELS and not settings.embedded


@pytest.mark.parametrize("field", ["cache_redis_url", "events_redis_url"])
def test_the_cache_and_events_refuse_a_sentinel_url(field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{field: SENTINELS}, secret_key=SECRET)  # type: ignore[arg-type]
    assert "redis+sentinel:// URL is for SESSION_REDIS_URL only" in str(refused.value)


def test_an_unknown_scheme_is_told_every_kind_including_sentinel() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(session_redis_url="sentinel://h:26379/sessions", secret_key=SECRET)
    assert "redis+cluster:// or redis+sentinel://" in str(refused.value)


async def test_the_client_follows_the_master_through_the_sentinels() -> None:
    # Made without connecting: the Sentinels are asked at the first command.
    client = connect(SENTINELS)
    try:
        assert is_sentinel(client) and not is_sentinel(object())
        pool = client.connection_pool
        assert pool.service_name == "sessions"  # type: ignore[attr-defined]
        assert pool.max_connections == 128 and pool.timeout == 20  # type: ignore[attr-defined]
        kwargs = pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (5, 2)
        sentinels = pool.sentinel_manager.sentinels  # type: ignore[attr-defined]
        assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [
            26379,
            26380,
            26381,
        ]
        assert sentinels[0].connection_pool.connection_kwargs["socket_timeout"] == 5
    finally:
        await client.aclose()
