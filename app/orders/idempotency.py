"""Idempotency-Key records: the first answer to a key is the answer to every retry for 24 h."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Update, delete, select, update
from sqlalchemy.exc import IntegrityError

from app.db import Database, utcnow
from app.errors import Conflict, IdempotencyMismatch
from app.orders.models import IdempotencyRecord
from app.orders.schemas import PlaceOrderRequest

KEY_TTL = timedelta(hours=24)
# An in-progress key older than this belonged to a request that died before committing.
STALE_IN_PROGRESS = timedelta(seconds=60)


def request_hash(request: PlaceOrderRequest) -> str:
    """A fingerprint of the request body (defaults filled in, keys sorted)."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What `POST /api/orders` answers: a status and the JSON it sent (an order or a problem),
    kept as sent so that every retry gets the same bytes."""

    status: int
    body: str


async def claim_key(
    db: Database, *, user_id: int, key: str, fingerprint: str
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
            expires_at=now + KEY_TTL,
        )
        uow.session.add(record)
        try:
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
        return await claim_key(db, user_id=user_id, key=key, fingerprint=fingerprint)
    decision = decide(existing, fingerprint=fingerprint, now=now)
    if decision is Claimable.EXPIRED:
        await release_key(db, existing)
        return await claim_key(db, user_id=user_id, key=key, fingerprint=fingerprint)
    if decision is Claimable.ABANDONED:
        return await _take_over(db, existing)
    return decision


class Claimable(Enum):
    """Why a key that is already taken may be taken again."""

    EXPIRED = "expired"  # its 24 h are over: the request runs afresh
    ABANDONED = "abandoned"  # in progress too long: its request died before committing


def decide(existing: IdempotencyRecord, *, fingerprint: str, now: datetime) -> Outcome | Claimable:
    """What a request under an existing key gets: the first answer, or the key; else 422 or 409."""
    if existing.expires_at <= now:
        return Claimable.EXPIRED
    if existing.request_hash != fingerprint:
        raise IdempotencyMismatch("This Idempotency-Key was used with a different request body.")
    if existing.state == "done":
        assert existing.response_status is not None and existing.response_body is not None
        return Outcome(existing.response_status, existing.response_body)
    if existing.created_at <= now - STALE_IN_PROGRESS:
        return Claimable.ABANDONED
    raise Conflict(
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        code="idempotency-in-progress",
        title="Still in progress",
    )


async def _take_over(db: Database, stale: IdempotencyRecord) -> IdempotencyRecord:
    """Adopt a key whose request died before committing (its charge, if any, is voided)."""
    new_reference = "ord_" + secrets.token_hex(12)
    async with db.uow() as uow:
        result = await uow.session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == stale.id,
                IdempotencyRecord.state == "in_progress",
                IdempotencyRecord.payment_reference == stale.payment_reference,
            )
            .values(payment_reference=new_reference, created_at=utcnow())
        )
        await uow.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("Still in progress.", code="idempotency-in-progress")
    stale.payment_reference = new_reference
    return stale


async def release_key(db: Database, record: IdempotencyRecord) -> None:
    """Free the key so that a retry runs afresh."""
    async with db.uow() as uow:
        await uow.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id)
        )
        await uow.commit()


def mark_done(record: IdempotencyRecord, outcome: Outcome) -> Update:
    """The statement that stores `outcome` as the answer to every retry with this key."""
    return (
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == record.id)
        .values(
            state="done",
            response_status=outcome.status,
            response_body=outcome.body,
        )
    )


async def remember(db: Database, record: IdempotencyRecord, outcome: Outcome) -> None:
    """Store `outcome` for this key in a transaction of its own."""
    async with db.uow() as uow:
        await uow.session.execute(mark_done(record, outcome))
        await uow.commit()
