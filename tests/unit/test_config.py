"""Settings: the embedded defaults, and the combinations refused at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import EMBEDDED_SECRET, Settings

SECRET = "a-real-secret-of-32-characters!!"
MARIADB = "mysql+aiomysql://root@127.0.0.1:3306/delivery"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: none of the machine's may leak into these tests."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)


def refused(**values: object) -> str:
    """The validation message of Settings(**values)."""
    with pytest.raises(ValidationError) as error:
        Settings(**values)  # type: ignore[arg-type]
    return str(error.value)


def test_nothing_configured_is_the_embedded_mode() -> None:
    settings = Settings(var_dir=Path("/srv/delivery"))
    assert settings.embedded
    assert settings.effective_secret == EMBEDDED_SECRET
    assert settings.effective_database_url == "sqlite+aiosqlite:////srv/delivery/delivery.sqlite3"
    assert settings.effective_storage_url == "file:///srv/delivery/media"
    assert settings.events_redis_location is None
    assert (settings.dispatch_radius_km, settings.realtime_fanout) == (3.0, "hub")


def test_blank_values_count_as_unset() -> None:
    settings = Settings(database_url="  ", cache_redis_url="", secret_key=" ")
    assert settings.database_url is None and settings.cache_redis_url is None
    assert settings.embedded and settings.effective_secret == EMBEDDED_SECRET


def test_the_environment_is_read_whatever_the_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_RADIUS_KM", "7.5")
    monkeypatch.setenv("realtime_fanout", "hub")
    monkeypatch.setenv("DATABASE_URL", MARIADB)
    monkeypatch.setenv("SECRET_KEY", SECRET)
    settings = Settings()
    assert settings.dispatch_radius_km == 7.5
    assert settings.database_url == MARIADB and not settings.embedded


@pytest.mark.parametrize(
    "service",
    ["database_url", "session_redis_url", "cache_redis_url", "events_redis_url", "storage_url"],
)
def test_any_real_service_needs_a_secret_key_of_its_own(service: str) -> None:
    url = {
        "database_url": MARIADB,
        "storage_url": "s3://bucket",
    }.get(service, "redis://127.0.0.1:6379/0")
    assert "SECRET_KEY must be set" in refused(**{service: url})
    assert "must not be the embedded default" in refused(
        **{service: url}, secret_key=EMBEDDED_SECRET
    )
    assert not Settings(**{service: url}, secret_key=SECRET).embedded  # type: ignore[arg-type]


def test_a_secret_key_is_at_least_16_characters() -> None:
    assert "at least 16 characters" in refused(secret_key="fifteen-chars!!")
    assert Settings(secret_key="sixteen-chars!!!").effective_secret == "sixteen-chars!!!"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("database_url", "postgresql://db/delivery", "DATABASE_URL must be mysql+aiomysql"),
        ("database_url", "mysql://db/delivery", "DATABASE_URL must be mysql+aiomysql"),
        ("cache_redis_url", "http://127.0.0.1:6379", "Redis URLs must start with redis://"),
        ("events_redis_url", "127.0.0.1:6379", "Redis URLs must start with redis://"),
        ("storage_url", "/var/media", "STORAGE_URL must be file://path or s3://bucket"),
    ],
)
def test_urls_of_an_unknown_kind_are_refused(field: str, value: str, message: str) -> None:
    assert message in refused(**{field: value}, secret_key=SECRET)


@pytest.mark.parametrize(
    "redis", ["redis://h:6379/0", "rediss://h:6380/0", "unix:///run/redis.sock"]
)
def test_each_redis_url_kind_is_accepted(redis: str) -> None:
    assert Settings(session_redis_url=redis, secret_key=SECRET).session_redis_url == redis


def test_events_go_to_the_cache_redis_unless_given_their_own() -> None:
    shared = Settings(cache_redis_url="redis://cache:6379/0", secret_key=SECRET)
    assert shared.events_redis_location == "redis://cache:6379/0"
    own = Settings(
        cache_redis_url="redis://cache:6379/0",
        events_redis_url="redis://events:6379/0",
        secret_key=SECRET,
    )
    assert own.events_redis_location == "redis://events:6379/0"


def test_the_socketio_redis_fanout_needs_an_events_redis() -> None:
    assert "REALTIME_FANOUT=socketio-redis needs" in refused(realtime_fanout="socketio-redis")
    assert "realtime_fanout" in refused(realtime_fanout="carrier-pigeon")
    with_redis = Settings(
        realtime_fanout="socketio-redis", cache_redis_url="redis://cache:6379/0", secret_key=SECRET
    )
    assert with_redis.realtime_fanout == "socketio-redis"


def test_the_dispatch_strategy_is_offers_unless_batch_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (Settings().dispatch_strategy, Settings().dispatch_batch_seconds) == ("offers", 5.0)
    monkeypatch.setenv("DISPATCH_STRATEGY", "batch")
    monkeypatch.setenv("DISPATCH_BATCH_SECONDS", "2.5")
    assert (Settings().dispatch_strategy, Settings().dispatch_batch_seconds) == ("batch", 2.5)
    assert "dispatch_strategy" in refused(dispatch_strategy="nearest")


@pytest.mark.parametrize(
    ("field", "bad", "good"),
    [
        ("dispatch_radius_km", 0, 50),
        ("dispatch_radius_km", 50.1, 0.1),
        ("store_accept_timeout", 0, 0.5),
        ("dispatch_offer_ttl", -1, 30),
        ("dispatch_batch_seconds", 0.04, 0.05),
        ("dispatch_batch_seconds", 301, 300),
        ("realtime_max_client_queue", 9, 10),
        ("realtime_max_client_queue", 1_000_001, 1_000_000),
        ("session_absolute_seconds", 299, 300),
        ("session_absolute_seconds", 90 * 24 * 3600 + 1, 90 * 24 * 3600),
        ("login_max_failures_per_account_address", 0, 1),
        ("login_max_failures_per_account_address", 101, 100),
        ("max_body_bytes", 1023, 1024),
        ("catalog_cache_ttl", 0, 1),
        ("payment_latency_ms", 10_001, 10_000),
        ("order_key_lease_seconds", 0.5, 1),
        ("order_key_lease_seconds", 301, 300),
        ("order_max_per_customer", 0, 1),
        ("order_window_seconds", 86_401, 86_400),
        ("card_declines_max", 0, 1),
        ("card_declines_window_seconds", 0, 1),
        ("platform_commission_percent", -0.1, 0),
        ("platform_commission_percent", 100.1, 100),
    ],
)
def test_numbers_outside_their_bounds_are_refused(field: str, bad: float, good: float) -> None:
    assert field in refused(**{field: bad})
    assert getattr(Settings(**{field: good}), field) == good  # type: ignore[arg-type]


def test_trusted_proxies_are_addresses_or_networks() -> None:
    settings = Settings(trusted_proxies="127.0.0.2, 10.0.0.0/8,::1")
    assert [str(n) for n in settings.trusted_proxy_networks] == [
        "127.0.0.2/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    assert Settings().trusted_proxy_networks == []
    assert "TRUSTED_PROXIES takes addresses" in refused(trusted_proxies="nginx")


def test_the_old_hop_count_is_refused_with_a_pointer_to_trusted_proxies() -> None:
    assert "set TRUSTED_PROXIES" in refused(trusted_proxy_hops=1)
