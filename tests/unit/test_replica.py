"""Choosing between the read replica and the primary, and the replica's setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.db import Database, ReplicaHealth, UnitOfWork, _read_after, caught_up, reading_after

SECRET = "a-real-secret-of-32-characters!!"
PRIMARY = "mysql+aiomysql://root@127.0.0.1:3306/delivery"
REPLICA = "mysql+aiomysql://reader@127.0.0.1:3307/delivery"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_a_failed_replica_is_left_alone_for_a_while_then_tried_again() -> None:
    health = ReplicaHealth(down_seconds=3.0)
    assert health.usable(now=100.0)
    health.failed(ConnectionRefusedError("replica down"), now=100.0)
    assert not health.usable(now=100.0)
    assert not health.usable(now=102.9)
    assert health.usable(now=103.0)
    assert health.failures == 1


def test_only_a_zero_from_master_gtid_wait_means_caught_up() -> None:
    assert caught_up(0)
    assert not caught_up(-1)  # timed out
    assert not caught_up(None)  # not replicating


def test_reading_after_holds_a_position_only_within_its_block() -> None:
    assert _read_after.get() is None
    with reading_after("0-1-42"):
        assert _read_after.get() == "0-1-42"
        with reading_after(""):
            assert _read_after.get() is None
        assert _read_after.get() == "0-1-42"
    assert _read_after.get() is None


def test_without_a_replica_reads_use_the_primary() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    assert db.read_engine is None
    assert type(db.read_uow()) is UnitOfWork


def test_the_replica_setting_names_a_mariadb_replica_of_a_mariadb_primary() -> None:
    settings = Settings(database_url=PRIMARY, database_read_url=REPLICA, secret_key=SECRET)
    assert settings.database_read_url == REPLICA
    assert (
        Settings(database_url=PRIMARY, database_read_url="", secret_key=SECRET).database_read_url
        is None
    )
    with pytest.raises(ValidationError, match="DATABASE_READ_URL must be mysql"):
        Settings(database_url=PRIMARY, database_read_url="sqlite+aiosqlite:///x", secret_key=SECRET)
    with pytest.raises(ValidationError, match="needs DATABASE_URL to name the MariaDB primary"):
        Settings(database_read_url=REPLICA, secret_key=SECRET)
    with pytest.raises(ValidationError, match="needs DATABASE_URL"):
        Settings(database_url="sqlite+aiosqlite:///x", database_read_url=REPLICA, secret_key=SECRET)
