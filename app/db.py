"""Persistence plumbing: the declarative base, the engine and the unit of work."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, ParamSpec, TypeVar, cast

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Table, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

from app.errors import Conflict, DomainError
from app.lifecycle import close_within

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger("delivery.db")
# Closing the pool sends each connection a goodbye; a server that does not answer gets this.
CLOSE_TIMEOUT = 2.0

# SQLite only auto-increments an INTEGER PRIMARY KEY; MariaDB gets a BIGINT.
IdType = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to microseconds."""
    return datetime.now(UTC)


def rfc3339(value: datetime | None, *, timespec: str = "seconds") -> str | None:
    """Format a datetime as the API's RFC 3339 UTC string (`…Z`), to the second by default."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (MariaDB DATETIME has no zone) and always returns aware UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base: every table gets `created_at` and `updated_at`, set automatically."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


def table_of(model: type[Base] | Base) -> Table:
    """A model's table, for SQLAlchemy Core statements on a hot path (no unit of work)."""
    return cast(Table, model.__table__)


def row_values(row: Base, now: datetime | None = None) -> dict[str, Any]:
    """The values an ORM object carries for its table's columns, for a Core insert: unset ones
    and the id left to the database, `created_at` and `updated_at` set to `now` if given."""
    values = {c.key: getattr(row, c.key) for c in table_of(row).columns if c.key != "id"}
    if now is not None:
        values["created_at"] = values["updated_at"] = now
    return {key: value for key, value in values.items() if value is not None}


def make_engine(url: str, *, replica: bool = False) -> AsyncEngine:
    """Create the async engine with settings suited to each backend (and to a read replica)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # The driver would begin a transaction only before the first write, so a unit
            # of work's reads (a count before a limit, a check before an insert) ran outside
            # it and two requests could both pass the check. SQLite has no row locks: each
            # unit of work takes the write lock when it begins, and units of work take turns.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # READ COMMITTED: conditional updates and optimistic locks re-read the latest committed
    # row instead of a stale REPEATABLE READ snapshot (the seed project's infinite-loop trap).
    engine = create_async_engine(
        url,
        pool_size=20,
        max_overflow=20,
        pool_recycle=1800,
        # No ping before each checkout: it is one more round trip for every unit of work (about
        # a tenth of a read request's CPU, measured). A connection the server dropped fails its
        # first statement instead; SQLAlchemy then invalidates the whole pool, so one request
        # per node answers 503 `unavailable` (safe to retry) and the next ones reconnect.
        # A replica is pinged at checkout: a dead one must be found before the read starts, so
        # that the read goes to the primary instead of failing (the primary's reasoning above
        # trades that for a round trip; losing the replica must never cost a request).
        pool_pre_ping=replica,
        isolation_level="READ COMMITTED",
        connect_args={"charset": "utf8mb4", **({"connect_timeout": 2} if replica else {})},
    )
    if replica:

        @event.listens_for(engine.sync_engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            # `read_only` on the server does not bind an account with SUPER (as root is):
            # the session refuses writes itself.
            cursor = dbapi_conn.cursor()
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.close()

    return engine


# MariaDB: 1213 deadlock (this transaction was chosen as the victim), 1205 lock wait timeout.
RETRYABLE_MYSQL_CODES = frozenset({1205, 1213})


def is_retryable(error: BaseException) -> bool:
    """True for a transaction the database aborted only because of contention."""
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    code = orig.args[0] if orig is not None and orig.args else None
    return code in RETRYABLE_MYSQL_CODES or "database is locked" in str(orig)


async def retrying(work: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """Run a whole unit of work again when the database aborted it over a deadlock."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
                raise
            # Back off a little, with jitter, so the two victims do not collide again.
            await asyncio.sleep(random.uniform(0.005, 0.02) * attempt)
    raise AssertionError("unreachable")


def _stale_conflict(stale: DomainError | None) -> DomainError:
    # The one place where a stale versioned write (someone else changed the row first)
    # becomes a domain conflict; callers say which problem code it means for them.
    return stale or Conflict("Someone else changed this first; reload and retry.")


AfterCommit = Callable[[], Awaitable[None] | None]


class UnitOfWork:
    """Owns one transaction: `async with uow: …; await uow.commit()`; anything else rolls back."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        event_listeners: list[Callable[[], None]] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._after_commit: list[AfterCommit] = []
        self._event_listeners = event_listeners if event_listeners is not None else []
        self.committed = False
        # Set by the outbox when this transaction wrote events, so listeners (the relay) wake.
        self.wrote_events = False

    @property
    def session(self) -> AsyncSession:
        """The session of the open transaction."""
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    def after_commit(self, callback: AfterCommit) -> None:
        """Run `callback` once the transaction has committed (never on rollback)."""
        self._after_commit.append(callback)

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessionmaker()
        self._after_commit = []
        self.committed = False
        self.wrote_events = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            # close() rolls back an uncommitted transaction without expiring what was loaded,
            # so read-only units of work can hand their objects back to the caller.
            await session.close()
        finally:
            self._session = None
        if self.committed and self.wrote_events:
            for listener in self._event_listeners:
                listener()
        if self.committed and exc_type is None:
            callbacks, self._after_commit = self._after_commit, []
            for callback in callbacks:
                result = callback()
                if result is not None:
                    await result

    async def flush(self, *, stale: DomainError | None = None) -> None:
        """Write pending changes now; a lost optimistic-lock race raises `stale` (a 409)."""
        try:
            await self.session.flush()
        except StaleDataError:
            raise _stale_conflict(stale) from None

    async def commit(self, *, stale: DomainError | None = None) -> None:
        """Commit the transaction; the after-commit callbacks run when the block exits."""
        try:
            await self.session.commit()
        except StaleDataError:
            raise _stale_conflict(stale) from None
        self.committed = True


# The replica position a read must not be older than (a GTID position of the primary), set
# around a cache rebuild; `read_uow()` waits for the replica to reach it or reads the primary.
_read_after: ContextVar[str | None] = ContextVar("read_after", default=None)
# How long a read waits for a lagging replica to reach that position before using the primary.
CATCH_UP_SECONDS = 0.5
# How long a replica that failed is left alone before reads try it again.
REPLICA_DOWN_SECONDS = 3.0
# How long a read waits for a replica connection (and its ping) before it uses the primary: a
# replica that hangs rather than refuses must not hold reads up either.
REPLICA_CONNECT_SECONDS = 2.0


@contextmanager
def reading_after(position: str | None) -> Iterator[None]:
    """Within the block, reads see at least the primary's state at `position` (a GTID position)."""
    token = _read_after.set(position or None)
    try:
        yield
    finally:
        _read_after.reset(token)


class ReplicaLost(Exception):
    """The replica failed in the middle of a read (it is marked down); nothing was written."""


def replica_fallback(read: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorator for a use case that only reads through `read_uow()`: when the replica fails
    in the middle of it, the whole read runs again (on the primary, the replica being down),
    so losing the replica never costs a reader an error."""

    @functools.wraps(read)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await read(*args, **kwargs)
        except ReplicaLost:
            return await read(*args, **kwargs)

    return wrapper


class ReplicaHealth:
    """Whether reads may go to the replica: a failure sends them to the primary for a while."""

    def __init__(self, *, down_seconds: float = REPLICA_DOWN_SECONDS) -> None:
        self.down_seconds = down_seconds
        self._down_until = 0.0
        self.failures = 0

    def usable(self, now: float | None = None) -> bool:
        """True unless the replica failed less than `down_seconds` ago."""
        return (time.monotonic() if now is None else now) >= self._down_until

    def failed(self, error: BaseException, now: float | None = None) -> None:
        """Note a failure: reads use the primary until `down_seconds` from now."""
        self.failures += 1
        self._down_until = (time.monotonic() if now is None else now) + self.down_seconds
        log.warning("read replica unavailable, reading the primary: %s", error)


def caught_up(answer: object) -> bool:
    """Whether MASTER_GTID_WAIT said the replica reached the position (0; -1 is a timeout,
    NULL that the server is not replicating)."""
    return answer is not None and int(cast(Any, answer)) == 0


async def _close_quietly(session: AsyncSession) -> None:
    # Its connection may be the one that hung: closing must not hang or fail in its turn.
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await session.invalidate()
    except (DBAPIError, OSError, TimeoutError) as error:
        log.warning("could not close a replica session: %s", error)


class ReadUnitOfWork(UnitOfWork):
    """A read-only transaction on the replica, or on the primary whenever the replica is down,
    failing, or behind the position the read must see (`reading_after`)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db.sessionmaker)
        self._db = db
        self.on_replica = False

    async def __aenter__(self) -> UnitOfWork:
        await super().__aenter__()
        replica = self._db.read_sessionmaker
        health = self._db.replica_health
        if replica is None or not health.usable():
            return self
        session = replica()
        position = _read_after.get()
        try:
            async with asyncio.timeout(
                REPLICA_CONNECT_SECONDS + (CATCH_UP_SECONDS if position else 0)
            ):
                # The checkout pings the replica, so a dead one fails here, before any read.
                connection = await session.connection()
                if position is not None:
                    waited = await connection.scalar(
                        text("SELECT MASTER_GTID_WAIT(:position, :seconds)"),
                        {"position": position, "seconds": CATCH_UP_SECONDS},
                    )
                    if not caught_up(waited):
                        await session.close()
                        return self
        except (DBAPIError, OSError, TimeoutError) as error:
            health.failed(error)
            await _close_quietly(session)
            return self
        await self.session.close()
        self._session = session
        self.on_replica = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lost = self.on_replica and (
            isinstance(exc, OperationalError | InterfaceError | OSError)
            or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        )
        if lost:
            # Lost in the middle of a read: the next reads go to the primary straight away.
            assert exc is not None
            self._db.replica_health.failed(exc)
        try:
            await super().__aexit__(exc_type, exc, tb)
        except (DBAPIError, OSError) as closing:
            if not lost:
                raise
            log.warning("could not close a lost replica session: %s", closing)
        if lost:
            # `replica_fallback` runs the read again, on the primary.
            raise ReplicaLost(str(exc)) from exc

    async def commit(self, *, stale: DomainError | None = None) -> None:
        """Refused: a read unit of work never writes."""
        raise RuntimeError("a read unit of work does not commit")


class Database:
    """The engines (the primary, and a read replica if configured) and units of work."""

    def __init__(self, url: str, *, read_url: str | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Called (synchronously) after any commit that wrote outbox events.
        self.event_listeners: list[Callable[[], None]] = []
        self.read_url = read_url
        self.read_engine = make_engine(read_url, replica=True) if read_url else None
        self.read_sessionmaker = (
            async_sessionmaker(self.read_engine, expire_on_commit=False)
            if self.read_engine is not None
            else None
        )
        self.replica_health = ReplicaHealth()

    @property
    def dialect(self) -> str:
        """`mysql` or `sqlite`."""
        return self.engine.dialect.name

    def uow(self) -> UnitOfWork:
        """A fresh unit of work on the primary."""
        return UnitOfWork(self.sessionmaker, self.event_listeners)

    def read_uow(self) -> UnitOfWork:
        """A unit of work for reads that may lag a little (catalog, history): on the replica
        when one is configured and healthy, else on the primary. Never for decisions."""
        if self.read_sessionmaker is None:
            return self.uow()
        return ReadUnitOfWork(self)

    async def write_position(self) -> str | None:
        """The primary's binary log position (GTIDs) after everything committed so far, or None
        without a replica (nothing then needs to wait for it)."""
        if self.read_engine is None:
            return None
        async with self.engine.connect() as conn:
            position = await conn.scalar(text("SELECT @@gtid_binlog_pos"))
        return str(position) if position else None

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection, within a bound (a hung server must not hold it up)."""
        held = self.engine.pool.checkedout() if isinstance(self.engine.pool, QueuePool) else 0
        if held:
            # dispose() leaves them open, with their transactions and row locks: whatever
            # holds them was not stopped before the database was closed.
            log.warning("%d database connections still checked out while closing", held)
        if self.read_engine is not None:
            await close_within(
                self.read_engine.dispose(), seconds=CLOSE_TIMEOUT, what="read replica close"
            )
        await close_within(self.engine.dispose(), seconds=CLOSE_TIMEOUT, what="database close")
