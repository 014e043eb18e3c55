"""Response shapes of the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.responses import Out, Timestamp


class AuditEntryOut(Out):
    """One admin action, as it was recorded with the action."""

    id: int
    admin_id: int
    admin_name: str
    action: str = Field(
        description="`order.assign`, `order.reassign`, `order.cancel`, `order.refund`, "
        "`user.suspend`, `user.unsuspend`, `store.suspend` or `store.unsuspend`."
    )
    target_type: str = Field(description="`order`, `user` or `store`.")
    target_id: int
    details: dict[str, Any]
    at: Timestamp


class AuditListOut(Out):
    entries: list[AuditEntryOut] = Field(description="Newest first.")
    next_before_id: int | None = Field(description="Send as `before_id` for older entries.")
