"""A MariaDB primary and a read replica of it (real mariadbd, GTID replication) for this package."""

from __future__ import annotations

from collections.abc import Iterator

import pymysql
import pytest

from tests.harness import Infra, start_infra

# How long the replica may take to apply what the primary wrote, when a test waits for it.
CATCH_UP_SECONDS = 30


@pytest.fixture(scope="package")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """Services as for every test, but the database is a primary with a replica following it."""
    services = start_infra(tmp_path_factory.mktemp("replicated"), replica=True)
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture(autouse=True)
def replicating(infra: Infra) -> Iterator[None]:
    """Afterwards the replica runs again and applies what it missed, whatever the test did."""
    yield
    replica = infra.replica
    assert replica is not None
    if replica.process is None or replica.process.poll() is not None:
        replica.start()
    replica.sql("START SLAVE")
    catch_up(infra)


def replica_query(infra: Infra, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Run SQL on the replica's copy of the test database."""
    assert infra.replica is not None
    conn = pymysql.connect(
        host="127.0.0.1",
        port=infra.replica.port,
        user="root",
        password="",
        database=infra.database_name,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    finally:
        conn.close()


def catch_up(infra: Infra) -> None:
    """Until the replica has applied everything the primary has written so far."""
    [(position,)] = infra.query("SELECT @@gtid_binlog_pos")
    [(answer,)] = replica_query(
        infra, "SELECT MASTER_GTID_WAIT(%s, %s)", position, CATCH_UP_SECONDS
    )
    assert answer == 0, f"the replica did not reach {position} in {CATCH_UP_SECONDS} s"


def replica_selects(infra: Infra) -> int:
    """How many SELECTs the replica has run since it started."""
    [(_, value)] = replica_query(infra, "SHOW GLOBAL STATUS LIKE 'Com_select'")
    return int(str(value))
