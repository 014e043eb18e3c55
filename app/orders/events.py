"""The events an order's changes publish, recorded in the transaction that changes it."""

from __future__ import annotations

from typing import Any

from app.db import UnitOfWork
from app.orders.models import Order
from app.orders.presenter import order_view
from app.outbox import emit


def order_streams(order: Order) -> list[str]:
    """The streams every change of an order is published on."""
    return [f"order:{order.id}", f"store:{order.store_id}"]


async def emit_order_event(
    uow: UnitOfWork, order: Order, event_type: str, extra: list[str] | None = None
) -> None:
    """Record `event_type` with the order as its data; the order's `stream_seq` follows."""

    def data(stream: str, seqs: dict[str, int]) -> dict[str, Any]:
        order.stream_seq = seqs[f"order:{order.id}"]
        return order_view(order)

    await emit(uow, event_type, order_streams(order) + (extra or []), data)
