"""How dispatch follows an order's lifecycle, inside the transaction that moves the order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.db import UnitOfWork

if TYPE_CHECKING:
    from app.orders.lifecycle import Status
    from app.orders.models import Order


async def order_moved(uow: UnitOfWork, *, order: Order, status: Status) -> None:
    """React to `order` having just reached `status` (offers, rider freed, offers withdrawn)."""
