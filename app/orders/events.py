"""The events an order's changes publish, recorded in the transaction that changes it."""

from __future__ import annotations

from collections.abc import Callable

from app.db import UnitOfWork
from app.orders.models import Order, OrderRefund
from app.orders.presenter import order_view, refund_view
from app.orders.schemas import OrderOut, OrderRefundedOut
from app.outbox import emit


def order_streams(order: Order) -> list[str]:
    """The streams every change of an order is published on."""
    return [f"order:{order.id}", f"store:{order.store_id}"]


async def emit_order_event(
    uow: UnitOfWork,
    order: Order,
    event_type: str,
    extra: list[str] | None = None,
    *,
    shape: Callable[[OrderOut], OrderOut] | None = None,
) -> OrderOut:
    """Record `event_type` with the order as its data; the order's `stream_seq` follows.

    `shape` turns the order's view into the event's data when the event says more than the
    order (`order.delayed` adds the delay's minutes). Returns the order as the API shows it
    once this change commits.
    """
    view: OrderOut | None = None
    payload: OrderOut | None = None

    def data(stream: str, seqs: dict[str, int]) -> OrderOut:
        # The same view for every stream: built (and serialized) once per event.
        nonlocal view, payload
        if view is None:
            order.stream_seq = seqs[f"order:{order.id}"]
            view = order_view(order)
            payload = shape(view) if shape is not None else view
        assert payload is not None
        return payload

    await emit(uow, event_type, order_streams(order) + (extra or []), data)
    assert view is not None
    return view


async def emit_refunded(uow: UnitOfWork, order: Order, refund: OrderRefund | None) -> OrderOut:
    """Record `order.refunded`: the order with `refund` (None: everything paid went back)."""
    shown = refund_view(refund) if refund is not None else None
    return await emit_order_event(
        uow,
        order,
        "order.refunded",
        shape=lambda view: OrderRefundedOut(**dict(view), refund=shown),
    )
