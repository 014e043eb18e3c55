"""The transactional outbox: events written in the same transaction as the change they describe.

Every stream (`order:{id}`, `store:{id}`, `rider:{id}`) has a head row holding its last `seq`.
Taking the next seq is an atomic upsert on that row, which also locks it until the transaction
ends: concurrent writers to one stream queue behind each other, and a rollback gives the number
back, so every stream's seqs are exactly 1, 2, 3, … in commit order. Heads are always taken in
sorted stream order so that two transactions touching the same streams cannot deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint, insert, select, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdType, UnitOfWork, rfc3339, table_of, utcnow


class StreamHead(Base):
    __tablename__ = "stream_heads"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        UniqueConstraint("stream", "seq", name="uq_outbox_events_stream_seq"),
        Index("ix_outbox_events_published_id", "published", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(64), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    # 0 = waiting for the relay, 1 = published to the events Redis.
    published: Mapped[int] = mapped_column(nullable=False, default=0)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)


class EventRow(Protocol):
    """An outbox row's published fields (an `OutboxEvent`, or a row read with Core)."""

    @property
    def stream(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def payload(self) -> str: ...


def envelope_of(row: EventRow) -> dict[str, Any]:
    """The published event: `{stream, seq, type, at, data}` (docs/events.md)."""
    return {
        "stream": row.stream,
        "seq": row.seq,
        "type": row.type,
        # To the millisecond, so that any client can measure commit→client latency itself.
        "at": rfc3339(row.at, timespec="milliseconds"),
        "data": json.loads(row.payload),
    }


# One round trip per stream: the upsert also hands back the seq it took. MariaDB has no
# RETURNING for an upsert, but LAST_INSERT_ID(expr) makes the connection remember `expr` and
# the server sends it back as the statement's insert id (the documented counter idiom).
_UPSERT = {
    dialect: text(sql)
    for dialect, sql in {
        "mysql": (
            "INSERT INTO stream_heads (stream, last_seq, created_at, updated_at) "
            "VALUES (:stream, LAST_INSERT_ID(1), :now, :now) "
            "ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + 1), updated_at = :now"
        ),
        "sqlite": (
            "INSERT INTO stream_heads (stream, last_seq, created_at, updated_at) "
            "VALUES (:stream, 1, :now, :now) "
            "ON CONFLICT(stream) DO UPDATE SET last_seq = last_seq + 1, updated_at = :now "
            "RETURNING last_seq"
        ),
    }.items()
}
# Built once: a statement object keeps its cache key, so executing it again costs no rebuild.
_INSERT_EVENTS = insert(table_of(OutboxEvent))


async def next_seqs(uow: UnitOfWork, streams: list[str]) -> dict[str, int]:
    """Take the next seq of each stream (locking its head until the transaction ends)."""
    session = uow.session
    dialect = session.get_bind().dialect.name
    now = utcnow().replace(tzinfo=None)
    seqs: dict[str, int] = {}
    for stream in sorted(set(streams)):
        result = await session.execute(_UPSERT[dialect], {"stream": stream, "now": now})
        seq = result.lastrowid if dialect == "mysql" else result.scalar_one()  # type: ignore[attr-defined]
        seqs[stream] = int(seq)
    return seqs


async def current_seq(uow: UnitOfWork, stream: str) -> int:
    """The last seq of `stream` (0 when it has none)."""
    seq = await uow.session.scalar(select(StreamHead.last_seq).where(StreamHead.stream == stream))
    return int(seq or 0)


Payload = Mapping[str, Any] | BaseModel
DataFor = Payload | Callable[[str, dict[str, int]], Payload]


def _encode(payload: Payload) -> str:
    if isinstance(payload, BaseModel):
        return payload.model_dump_json()
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


async def emit(
    uow: UnitOfWork, event_type: str, streams: list[str], data: DataFor
) -> dict[str, int]:
    """Record `event_type` on each stream in this transaction; returns the seq given per stream.

    `data` is the payload (a response model, or a mapping), or a function `(stream, seqs) ->
    payload` for payloads that must mention a seq (an order's `stream_seq`).
    """
    seqs = await next_seqs(uow, streams)
    at = utcnow()
    last: tuple[Payload, str] | None = None
    rows: list[dict[str, Any]] = []
    for stream in streams:
        payload = data(stream, seqs) if callable(data) else data
        # Streams usually share one payload: it is encoded once.
        if last is None or last[0] is not payload:
            last = (payload, _encode(payload))
        rows.append(
            {
                "stream": stream,
                "seq": seqs[stream],
                "type": event_type,
                "at": at,
                "payload": last[1],
                "published": 0,
                "created_at": at,
                "updated_at": at,
            }
        )
    # One statement for all the streams, without the ORM's unit of work: nothing reads these
    # rows back in this transaction.
    await uow.session.execute(_INSERT_EVENTS, rows)
    uow.wrote_events = True
    return seqs
