"""The audit log: every admin action adds one row, in the transaction of the action itself, so
that an action and its record commit or vanish together. Nothing updates or deletes a row."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.audit.schemas import AuditEntryOut, AuditListOut
from app.auth.models import User
from app.db import Database, UnitOfWork, utcnow


def record(
    uow: UnitOfWork,
    *,
    admin_id: int,
    action: str,
    target_type: str,
    target_id: int,
    details: dict[str, Any],
) -> None:
    """Add the record of an admin action to this transaction."""
    uow.session.add(
        AuditEntry(
            admin_id=admin_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=json.dumps(details, ensure_ascii=False, separators=(",", ":")),
            at=utcnow(),
        )
    )


async def read(*, db: Database, limit: int, before_id: int | None) -> AuditListOut:
    """The newest `limit` entries (older than `before_id`, when given)."""
    query = (
        select(AuditEntry, User.name)
        .join(User, User.id == AuditEntry.admin_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    async with db.uow() as uow:
        rows = (await uow.session.execute(query)).all()
    entries = [
        AuditEntryOut(
            id=entry.id,
            admin_id=entry.admin_id,
            admin_name=name,
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            details=json.loads(entry.details),
            at=entry.at,
        )
        for entry, name in rows[:limit]
    ]
    more = len(rows) > limit
    return AuditListOut(entries=entries, next_before_id=entries[-1].id if more else None)
