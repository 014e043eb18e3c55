"""Settings: the one reader of the environment, validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.proxies import Network, parse_networks
from app.redis_clients import (
    CLUSTER_SCHEME,
    SENTINEL_SCHEME,
    cluster_nodes,
    is_cluster_url,
    is_sentinel_url,
    sentinel_service,
)

EMBEDDED_SECRET = "embedded-mode-insecure-secret-key"
VAR_DIR = Path("var")
# What every account's password meets: sign-up checks it, and so does the admin made at start.
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MIN_DISTINCT_CHARACTERS = 4


def password_weakness(password: str) -> str | None:
    """Why `password` is not good enough for an account, or None."""
    if len(password) < MIN_PASSWORD:
        return f"needs at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"may have at most {MAX_PASSWORD} characters"
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return "is too easy to guess (use more different characters)"
    return None


def _blank_is_unset(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class AdminBootstrap(BaseSettings):
    """The admin `serve` and `cluster` create at start when both variables are set; `cluster`
    checks these alone before it starts anything."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    delivery_admin_email: str | None = None
    delivery_admin_password: str | None = None

    _blank_admin = field_validator(
        "delivery_admin_email", "delivery_admin_password", mode="before"
    )(_blank_is_unset)

    @field_validator("delivery_admin_password")
    @classmethod
    def _admin_password_as_for_signup(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Sign-in strips the password it is sent, so the stored one must be stripped too.
        value = value.strip()
        weakness = password_weakness(value)
        if weakness is not None:
            raise ValueError(f"DELIVERY_ADMIN_PASSWORD {weakness}, as every account's password")
        return value


class Settings(AdminBootstrap):
    """Every setting (README.md lists them); unset service URLs fall back to the embedded mode."""

    database_url: str | None = None
    # A MariaDB read replica of DATABASE_URL for catalog and order-history reads (optional).
    database_read_url: str | None = None
    session_redis_url: str | None = None
    cache_redis_url: str | None = None
    events_redis_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    secret_key: str | None = None

    store_accept_timeout: float = Field(default=300.0, gt=0)
    dispatch_radius_km: float = Field(default=3.0, gt=0, le=50)
    dispatch_offer_ttl: float = Field(default=30.0, gt=0)
    # How riders are found: `offers` (each order offered to the nearest idle riders, first to
    # accept wins) or `batch` (every DISPATCH_BATCH_SECONDS one node pairs the waiting orders
    # with the idle riders at least total cost and offers each order to its one rider). Every
    # node of a deployment runs the same one.
    dispatch_strategy: Literal["offers", "batch"] = "offers"
    dispatch_batch_seconds: float = Field(default=5.0, ge=0.05, le=300)
    # With `batch`: whether a rider may be offered two orders as one bundle (same or nearby
    # stores, trips the same way), and by how many minutes at most either customer may get the
    # food later than if the rider carried that order alone.
    dispatch_bundles: bool = True
    dispatch_bundle_max_extra_minutes: float = Field(default=10.0, ge=0, le=60)
    # What a rider earns for a delivery, in won: a base plus a part per km from the store to the
    # customer (fixed for an order when it is first offered).
    dispatch_fee_base: int = Field(default=3000, ge=0, le=1_000_000)
    dispatch_fee_per_km: int = Field(default=500, ge=0, le=100_000)
    # The platform's cut of what a store's delivered orders stay paid (a store's settlement).
    platform_commission_percent: float = Field(default=6.8, ge=0, le=100)

    # Operational knobs (sane defaults; README.md lists them).
    var_dir: Path = VAR_DIR
    session_ttl_seconds: int = Field(default=14 * 24 * 3600, gt=60)
    # However busy a session is, it ends this long after sign-in.
    session_absolute_seconds: int = Field(default=7 * 24 * 3600, ge=300, le=90 * 24 * 3600)
    # Sign-in guesses are counted before the password is checked. One address gets this many
    # failures at one account per window; past `login_max_failures_per_account` failures at an
    # account from anywhere, every address gets one try (the owner from a fresh one still signs
    # in); every address gets `login_max_attempts_per_address` sign-ins in all.
    login_max_failures_per_account_address: int = Field(default=5, ge=1, le=100)
    login_max_failures_per_account: int = Field(default=50, ge=1)
    login_max_attempts_per_address: int = Field(default=30, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    signup_max_per_address: int = Field(default=20, ge=1)
    signup_window_seconds: int = Field(default=3600, ge=1)
    secure_cookies: bool = False
    # The proxies (nginx) whose X-Forwarded-For/-Proto are believed: comma-separated addresses
    # or CIDR blocks of the peers they connect from. Empty: the connecting peer is the client.
    trusted_proxies: str = ""
    # Replaced by TRUSTED_PROXIES (a count of hops trusted anyone who connected directly);
    # kept only to refuse it with a pointer rather than ignore it.
    trusted_proxy_hops: int | None = None
    max_body_bytes: int = Field(default=6 * 1024 * 1024, ge=1024)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19456, ge=8)
    log_level: str = "INFO"
    # Catalog: the read cache in the cache Redis (CATALOG_CACHE=0 turns it off) and S3 access.
    catalog_cache: bool = True
    catalog_cache_ttl: int = Field(default=300, ge=1, le=86_400)
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Image uploads: decodes at once per node (each may hold 64 MiB), how long an upload waits
    # for one before 503, and uploads per owner per window before 429.
    image_decode_slots: int = Field(default=2, ge=1, le=64)
    image_decode_wait_seconds: float = Field(default=10.0, ge=0, le=120)
    image_uploads_per_owner: int = Field(default=30, ge=1)
    image_upload_window_seconds: int = Field(default=60, ge=1, le=86_400)
    # Ordering: how long an in-progress Idempotency-Key stays with a request that stopped
    # renewing it (a live one renews it every third of that), and per-customer limits on
    # orders and on declined card attempts (card testing), each per window.
    order_key_lease_seconds: float = Field(default=15.0, ge=1, le=300)
    order_max_per_customer: int = Field(default=30, ge=1, le=100_000)
    order_window_seconds: int = Field(default=600, ge=1, le=86_400)
    card_declines_max: int = Field(default=5, ge=1, le=1_000)
    card_declines_window_seconds: int = Field(default=3600, ge=1, le=86_400)
    # The sandbox card gateway's simulated network latency per call.
    payment_latency_ms: int = Field(default=0, ge=0, le=10_000)
    # Realtime: packets a socket may have waiting before it is disconnected (it reconnects and
    # replays), and the fan-out between nodes: `hub` (sequenced, gap-filling; the default) or
    # `socketio-redis` (python-socketio's AsyncRedisManager, at-most-once; kept as the measured
    # baseline, see bench/realtime_bench.py).
    realtime_max_client_queue: int = Field(default=1000, ge=10, le=1_000_000)
    # How often each node asks the session Redis whether its sockets' sessions still exist
    # (a session that ran out, with no sign-out to announce it, loses its sockets by then).
    realtime_session_sweep_seconds: float = Field(default=10.0, ge=0.01, le=3600)
    realtime_fanout: Literal["hub", "socketio-redis"] = "hub"
    # A node's event loop (uvloop: libuv's, measurably cheaper per request and per socket
    # write) and whether Hypercorn writes a line per request (the cluster turns it off: the
    # nodes' logs are for warnings and errors under load).
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    access_log: bool = True

    @field_validator(
        "database_url",
        "database_read_url",
        "session_redis_url",
        "cache_redis_url",
        "events_redis_url",
        "storage_url",
        "s3_endpoint_url",
        "secret_key",
        mode="before",
    )
    @classmethod
    def _blank_services_are_unset(cls, value: object) -> object:
        return _blank_is_unset(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        try:
            parse_networks(value.split(","))
        except ValueError as error:
            raise ValueError(f"TRUSTED_PROXIES takes addresses or CIDR blocks: {error}") from None
        return value

    @field_validator("trusted_proxy_hops")
    @classmethod
    def _hops_are_gone(cls, value: int | None) -> int | None:
        if value is not None:
            raise ValueError(
                "TRUSTED_PROXY_HOPS is no longer read: set TRUSTED_PROXIES to the proxy's "
                "address (e.g. 127.0.0.1), so that only it may set X-Forwarded-For"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mysql+aiomysql://", "sqlite+aiosqlite://")):
            raise ValueError("DATABASE_URL must be mysql+aiomysql://… or sqlite+aiosqlite://…")
        return value

    @field_validator("database_read_url")
    @classmethod
    def _replica_is_mariadb(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("mysql+aiomysql://"):
            raise ValueError("DATABASE_READ_URL must be mysql+aiomysql://… (a MariaDB replica)")
        return value

    @model_validator(mode="after")
    def _replica_of_mariadb(self) -> Settings:
        if self.database_read_url and not (self.database_url or "").startswith("mysql+"):
            raise ValueError(
                "DATABASE_READ_URL needs DATABASE_URL to name the MariaDB primary it replicates"
            )
        return self

    @field_validator("session_redis_url", "cache_redis_url", "events_redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("redis://", "rediss://", "unix://", f"{CLUSTER_SCHEME}://", f"{SENTINEL_SCHEME}://")
        ):
            raise ValueError(
                "Redis URLs must start with redis://, rediss://, unix://, "
                f"{CLUSTER_SCHEME}:// or {SENTINEL_SCHEME}://"
            )
        if is_cluster_url(value):
            assert value is not None
            cluster_nodes(value)
        if is_sentinel_url(value):
            assert value is not None
            sentinel_service(value)
        return value

    @field_validator("session_redis_url")
    @classmethod
    def _session_redis_single(cls, value: str | None) -> str | None:
        # Sessions are read on every request, one key each: a single master (with a replica
        # that Sentinel promotes when it is lost) carries them, and a cluster would only add
        # a hop.
        if is_cluster_url(value):
            raise ValueError(
                "SESSION_REDIS_URL names one Redis server or a master watched by Sentinel "
                f"({SENTINEL_SCHEME}://), not a Redis Cluster "
                "(the cluster is for CACHE_REDIS_URL and EVENTS_REDIS_URL)"
            )
        return value

    @field_validator("cache_redis_url", "events_redis_url")
    @classmethod
    def _sentinel_for_sessions(cls, value: str | None) -> str | None:
        # The cache and the events have their own way to survive a lost server (a Redis
        # Cluster, or a cache the database can rebuild); Sentinel is built for the sessions.
        if is_sentinel_url(value):
            raise ValueError(
                f"a {SENTINEL_SCHEME}:// URL is for SESSION_REDIS_URL only; "
                f"the cache and the events use redis:// or {CLUSTER_SCHEME}://"
            )
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file://", "s3://")):
            raise ValueError("STORAGE_URL must be file://path or s3://bucket")
        return value

    @model_validator(mode="after")
    def _secret_outside_embedded(self) -> Settings:
        if self.secret_key is None:
            if not self.embedded:
                raise ValueError(
                    "SECRET_KEY must be set when any real service (DATABASE_URL, *_REDIS_URL, "
                    "STORAGE_URL) is configured; the built-in key is for the embedded mode only"
                )
        elif self.secret_key == EMBEDDED_SECRET and not self.embedded:
            raise ValueError("SECRET_KEY must not be the embedded default outside embedded mode")
        elif len(self.secret_key) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters")
        return self

    @model_validator(mode="after")
    def _fanout_needs_redis(self) -> Settings:
        if self.realtime_fanout == "socketio-redis" and not self.events_redis_location:
            raise ValueError(
                "REALTIME_FANOUT=socketio-redis needs EVENTS_REDIS_URL or CACHE_REDIS_URL"
            )
        if self.realtime_fanout == "socketio-redis" and is_cluster_url(self.events_redis_location):
            raise ValueError(
                "REALTIME_FANOUT=socketio-redis needs a single events Redis server: "
                "python-socketio's manager does not speak to a Redis Cluster"
            )
        return self

    @property
    def events_redis_location(self) -> str | None:
        """The events Redis URL: EVENTS_REDIS_URL, else the cache Redis it shares."""
        return self.events_redis_url or self.cache_redis_url

    @property
    def trusted_proxy_networks(self) -> list[Network]:
        """TRUSTED_PROXIES as networks."""
        return parse_networks(self.trusted_proxies.split(","))

    @property
    def embedded(self) -> bool:
        """True when no real service is configured: SQLite, in-process Redis, local disk."""
        return not any(
            (
                self.database_url,
                self.session_redis_url,
                self.cache_redis_url,
                self.events_redis_url,
                self.storage_url,
            )
        )

    @property
    def effective_secret(self) -> str:
        """The signing secret; the built-in one only in embedded mode."""
        return self.secret_key or EMBEDDED_SECRET

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under var/."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'delivery.sqlite3').resolve()}"

    @property
    def effective_storage_url(self) -> str:
        """Where images go, defaulting to a folder under var/."""
        return self.storage_url or f"file://{(self.var_dir / 'media').resolve()}"
