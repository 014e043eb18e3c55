"""Real services for the tests: MariaDB and two redis-servers on free ports, started once a run."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pymysql
import pytest

from app.config import Settings
from app.launcher.nodes import Node
from app.launcher.processes import LaunchError, find_binary
from app.launcher.servers import MariaDBServer, RedisServer
from app.migrate import upgrade

TEST_SECRET = "test-secret-key-0123456789abcdef"
# Argon2id stays on, with a small cost so that hundreds of sign-ups stay fast; every test
# client comes from one address, so the per-address limits are lifted, and so is the
# per-customer ordering limit, since lifecycle tests run dozens of orders through one customer
# (their own tests set them back).
FAST_ARGON2 = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "signup_max_per_address": 1_000_000,
    "login_max_attempts_per_address": 1_000_000,
    "order_max_per_customer": 100_000,
}


def require_binary(*names: str) -> str:
    """The binary's path; a missing one fails under CI and skips elsewhere."""
    try:
        return find_binary(*names)
    except LaunchError as error:
        if os.environ.get("CI"):
            pytest.fail(f"{error} (`make test` installs it)", pytrace=False)
        pytest.skip(str(error))


def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().splitlines()[0] if out.stdout else binary


@dataclass
class Infra:
    """The services of one test run."""

    folder: Path
    database_url: str
    database_name: str
    sync_db: dict[str, object]
    session_redis: RedisServer
    cache_redis: RedisServer
    mariadb: MariaDBServer | None
    description: list[str] = field(default_factory=list)
    # A read replica of `mariadb` (DATABASE_READ_URL), when the run asked for one.
    replica: MariaDBServer | None = None
    nodes: list[Node] = field(default_factory=list)

    def settings(self, **overrides: object) -> Settings:
        """Settings pointing at the real services."""
        values: dict[str, object] = {
            "database_url": self.database_url,
            "session_redis_url": self.session_redis.url,
            "cache_redis_url": self.cache_redis.url,
            "secret_key": TEST_SECRET,
            "var_dir": self.folder / "var",
            "storage_url": f"file://{self.folder / 'media'}",
            **FAST_ARGON2,
        }
        if self.replica is not None:
            values["database_read_url"] = self.replica.url(self.database_name)
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def node_env(self, **overrides: str) -> dict[str, str]:
        """Environment for a `delivery serve` node on the same services."""
        env = {
            "DATABASE_URL": self.database_url,
            "SESSION_REDIS_URL": self.session_redis.url,
            "CACHE_REDIS_URL": self.cache_redis.url,
            "SECRET_KEY": TEST_SECRET,
            "STORAGE_URL": f"file://{self.folder / 'media'}",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "SIGNUP_MAX_PER_ADDRESS": "1000000",
            "LOGIN_MAX_ATTEMPTS_PER_ADDRESS": "1000000",
            "ORDER_MAX_PER_CUSTOMER": "100000",
            "LOG_LEVEL": "WARNING",
        }
        env.update(overrides)
        return env

    def clean(self) -> None:
        """Empty every table and both Redis servers (a reliable per-test reset)."""
        conn = pymysql.connect(**self.sync_db)  # type: ignore[arg-type]
        try:
            with conn.cursor() as cursor:
                cursor.execute("SET FOREIGN_KEY_CHECKS=0")
                cursor.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
                )
                for (table,) in cursor.fetchall():
                    cursor.execute(f"DELETE FROM `{table}`")
                cursor.execute("SET FOREIGN_KEY_CHECKS=1")
            conn.commit()
        finally:
            conn.close()
        for server in (self.session_redis, self.cache_redis):
            import redis

            client = redis.Redis(host="127.0.0.1", port=server.port)
            client.flushall()
            client.close()

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Run SQL on the test database from the test itself (to check what was stored)."""
        conn = pymysql.connect(**self.sync_db)  # type: ignore[arg-type]
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, args)
                rows = list(cursor.fetchall())
            conn.commit()
            return rows
        finally:
            conn.close()

    def start_node(self, name: str, **env: str) -> Node:
        """Start a real Hypercorn node on these services."""
        node = Node(name=name, env=self.node_env(**env), log_dir=self.folder / "logs").start()
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.session_redis.stop()
        self.cache_redis.stop()
        if self.replica is not None:
            self.replica.stop()
        if self.mariadb is not None:
            self.mariadb.stop()


def _external_database(url: str, folder: Path) -> tuple[str, str, dict[str, object]]:
    parts = urlsplit(url)
    name = f"delivery_test_{uuid.uuid4().hex[:8]}"
    sync = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
    }
    conn = pymysql.connect(**sync)  # type: ignore[arg-type]
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()
    new_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "charset=utf8mb4", ""))
    return new_url, name, {**sync, "database": name}


def start_infra(folder: Path, *, replica: bool = False) -> Infra:
    """Start (or connect to) MariaDB, start two redis-servers, migrate a fresh database.

    `replica`: a mariadbd primary of our own and a read-only replica of it (never an external
    server: the test stops and kills the replica)."""
    redis_bin = require_binary("redis-server")
    description = []
    external = None if replica else os.environ.get("TEST_DATABASE_URL")
    mariadb: MariaDBServer | None = None
    follower: MariaDBServer | None = None
    if external:
        database_url, name, sync = _external_database(external, folder)
        description.append(f"database: MariaDB/MySQL from TEST_DATABASE_URL, fresh database {name}")
    else:
        mariadbd = require_binary("mariadbd", "mysqld")
        mariadb = MariaDBServer(folder / "mariadb", durable=False, binlog=replica).start()
        if replica:
            follower = mariadb.replica_of(folder / "mariadb-replica").start()
        name = "delivery_test"
        mariadb.create_database(name)
        database_url = mariadb.url(name)
        sync = {
            "host": "127.0.0.1",
            "port": mariadb.port,
            "user": "root",
            "password": "",
            "database": name,
        }
        description.append(
            f"database: {_version(mariadbd)} — mariadbd started by the harness on 127.0.0.1:{mariadb.port}"
        )
        if follower is not None:
            description.append(
                f"read replica: mariadbd replicating it (GTID) on 127.0.0.1:{follower.port}"
            )
    session_redis = RedisServer(folder / "redis-session").start()
    cache_redis = RedisServer(folder / "redis-cache").start()
    description.append(
        f"redis: {_version(redis_bin)} — redis-server processes on 127.0.0.1:{session_redis.port} "
        f"(sessions) and 127.0.0.1:{cache_redis.port} (cache/events)"
    )
    upgrade(database_url)
    description.append("schema: built by the Alembic migrations (delivery migrate)")
    return Infra(
        folder=folder,
        database_url=database_url,
        database_name=name,
        sync_db=sync,
        session_redis=session_redis,
        cache_redis=cache_redis,
        mariadb=mariadb,
        description=description,
        replica=follower,
    )
