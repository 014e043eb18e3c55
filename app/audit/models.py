"""The audit log of admin actions: rows are only ever added, in the action's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from app.db import Base, IdType, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    admin_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    target_type: Mapped[str] = mapped_column(String(16), nullable=False)
    target_id: Mapped[int] = mapped_column(IdType, nullable=False)
    # What the action said and changed, as JSON (a reason, the riders before and after, …).
    details: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(_mapper: Mapper[Any], _conn: Any, entry: AuditEntry) -> None:
    raise TypeError(f"audit entry {entry.id} is part of an append-only log: add an entry instead")
