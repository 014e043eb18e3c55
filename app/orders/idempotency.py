"""Idempotency-Key records: the first answer to a key is the answer to every retry for 24 h."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from sqlalchemy import CursorResult, and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.db import Database, UnitOfWork, row_values, table_of, utcnow
from app.errors import Conflict, IdempotencyMismatch
from app.orders.models import IdempotencyRecord, SupersededCharge
from app.orders.schemas import PlaceOrderRequest

KEY_TTL = timedelta(hours=24)
# A key taken before leases existed counts as held this long from its creation.
LEGACY_LEASE = timedelta(seconds=60)


class KeyLost(Exception):
    """The key was taken over while this request ran: it must not finish (its work is undone)."""


# Fields the body gained later: left out of the fingerprint when not sent, so that a key
# taken by an earlier body keeps its fingerprint.
_LATER_FIELDS = ("address", "address_id", "store_note", "rider_note")


def request_hash(request: PlaceOrderRequest) -> str:
    """A fingerprint of the request body (defaults filled in, keys sorted)."""
    fields = request.model_dump(mode="json")
    for name in _LATER_FIELDS:
        if fields.get(name) is None:
            fields.pop(name, None)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What `POST /api/orders` answers: a status and the JSON it sent (an order or a problem),
    kept as sent so that every retry gets the same bytes."""

    status: int
    body: str


# Built once: a statement object keeps its cache key, so executing it again costs no rebuild.
_CLAIM = insert(table_of(IdempotencyRecord))
# The fence: the key is still in progress under the request's own reference (`p_id`,
# `p_reference`). A retry that takes the key over replaces the reference.
_FENCE = and_(
    IdempotencyRecord.id == bindparam("p_id"),
    IdempotencyRecord.state == "in_progress",
    IdempotencyRecord.payment_reference == bindparam("p_reference"),
)
_MARK_DONE = (
    update(table_of(IdempotencyRecord))
    .where(_FENCE)
    .values(
        state="done",
        response_status=bindparam("p_status"),
        response_body=bindparam("p_body"),
        updated_at=bindparam("p_now"),
    )
)


async def claim_key(
    *, db: Database, user_id: int, key: str, fingerprint: str, lease: timedelta
) -> IdempotencyRecord | Outcome:
    """Take the key for this request, or return the first answer given under it."""
    now = utcnow()
    async with db.uow() as uow:
        record = IdempotencyRecord(
            user_id=user_id,
            key=key,
            request_hash=fingerprint,
            state="in_progress",
            payment_reference="ord_" + secrets.token_hex(12),
            lease_until=now + lease,
            expires_at=now + KEY_TTL,
        )
        try:
            # A plain insert (no unit of work): the record is only carried, never written back.
            inserted = cast(
                CursorResult[Any], await uow.session.execute(_CLAIM, row_values(record, now))
            )
            record.id = int(inserted.lastrowid)
            record.created_at = now
            await uow.commit()
            return record
        except IntegrityError:
            pass
    async with db.uow() as uow:
        existing = await uow.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        )
    if existing is None:  # released between our insert and our read: try once more
        return await claim_key(
            db=db, user_id=user_id, key=key, fingerprint=fingerprint, lease=lease
        )
    decision = decide(existing, fingerprint=fingerprint, now=now)
    if decision is Claimable.EXPIRED:
        await release_key(db=db, record=existing)
        return await claim_key(
            db=db, user_id=user_id, key=key, fingerprint=fingerprint, lease=lease
        )
    if decision is Claimable.ABANDONED:
        return await _take_over(db=db, stale=existing, lease=lease)
    return decision


class Claimable(Enum):
    """Why a key that is already taken may be taken again."""

    EXPIRED = "expired"  # its 24 h are over: the request runs afresh
    ABANDONED = "abandoned"  # its lease ran out: its request died (or stalled) before committing


def decide(existing: IdempotencyRecord, *, fingerprint: str, now: datetime) -> Outcome | Claimable:
    """What a request under an existing key gets: the first answer, or the key; else 422 or 409."""
    if existing.expires_at <= now:
        return Claimable.EXPIRED
    if existing.request_hash != fingerprint:
        raise IdempotencyMismatch("This Idempotency-Key was used with a different request body.")
    if existing.state == "done":
        assert existing.response_status is not None and existing.response_body is not None
        return Outcome(existing.response_status, existing.response_body)
    lease_until = existing.lease_until or existing.created_at + LEGACY_LEASE
    if lease_until <= now:
        return Claimable.ABANDONED
    raise Conflict(
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        code="idempotency-in-progress",
        title="Still in progress",
    )


def _held(record: IdempotencyRecord) -> dict[str, Any]:
    """`_FENCE`'s values for this request's key."""
    return {"p_id": record.id, "p_reference": record.payment_reference}


async def _take_over(
    *, db: Database, stale: IdempotencyRecord, lease: timedelta
) -> IdempotencyRecord:
    """Adopt a key whose holder's lease ran out; the new reference fences the old holder out."""
    new_reference = "ord_" + secrets.token_hex(12)
    async with db.uow() as uow:
        result = await uow.session.execute(
            update(table_of(IdempotencyRecord))
            .where(_FENCE)
            .values(payment_reference=new_reference, lease_until=utcnow() + lease),
            _held(stale),
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("Still in progress.", code="idempotency-in-progress")
        # Whatever the gateway captured under the old reference is owed back (the sweeper
        # voids it), in the same transaction that takes the reference's request the key.
        uow.session.add(SupersededCharge(reference=stale.payment_reference))
        await uow.commit()
    stale.payment_reference = new_reference
    return stale


async def renew_lease(*, db: Database, record: IdempotencyRecord, lease: timedelta) -> bool:
    """Extend the holder's lease; False once the key is no longer this request's."""
    async with db.uow() as uow:
        result = await uow.session.execute(
            update(table_of(IdempotencyRecord)).where(_FENCE).values(lease_until=utcnow() + lease),
            _held(record),
        )
        await uow.commit()
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release_key(*, db: Database, record: IdempotencyRecord) -> None:
    """Free the key so that a retry runs afresh (unless another request holds it by now)."""
    async with db.uow() as uow:
        await uow.session.execute(delete(table_of(IdempotencyRecord)).where(_FENCE), _held(record))
        await uow.commit()


async def mark_done(uow: UnitOfWork, record: IdempotencyRecord, outcome: Outcome) -> None:
    """Store `outcome` as the answer to every retry with this key, in the caller's transaction.

    Raises `KeyLost` when a retry took the key over meanwhile: the caller's transaction must
    then roll back, since the key's new holder gives the answer.
    """
    result = await uow.session.execute(
        _MARK_DONE,
        {**_held(record), "p_status": outcome.status, "p_body": outcome.body, "p_now": utcnow()},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise KeyLost(record.payment_reference)


async def remember(*, db: Database, record: IdempotencyRecord, outcome: Outcome) -> None:
    """Store `outcome` for this key in a transaction of its own (if the key is still ours)."""
    async with db.uow() as uow:
        try:
            await mark_done(uow, record, outcome)
        except KeyLost:
            return
        await uow.commit()


async def holder_answer(*, db: Database, user_id: int, key: str, fingerprint: str) -> Outcome:
    """What the key's current holder answers, for a request that lost the key: its first
    answer once it has one, else 409 in progress."""
    async with db.uow() as uow:
        existing = await uow.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        )
    if existing is not None:
        decision = decide(existing, fingerprint=fingerprint, now=utcnow())
        if isinstance(decision, Outcome):
            return decision
    raise Conflict(
        "A retry with this Idempotency-Key took it over; it gives the answer.",
        code="idempotency-in-progress",
        title="Still in progress",
    )
