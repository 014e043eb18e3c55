"""The store pushes the kitchen's time back: `POST /api/orders/{id}/delay`."""

from __future__ import annotations

from app.auth.models import Role
from app.db import Database, retrying, utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.orders import clock
from app.orders.eta import MAX_TOTAL_DELAY_MINUTES
from app.orders.events import emit_order_event
from app.orders.lifecycle import Party, Status
from app.orders.models import Order
from app.orders.schemas import OrderDelayedOut, OrderOut
from app.orders.service import Actor, party_role

# A lost race on the order's version (SQLite, where rows are not locked for update): the delay
# is tried again on the order as it now is, which is right, as delays add up.
STALE_ATTEMPTS = 3


async def delay_order(*, db: Database, actor: Actor, order_id: int, minutes: int) -> OrderOut:
    """The order's store needs `minutes` more (its owner, while `accepted`); delays add up.

    Moves `eta` and records `order.delayed` (with the minutes) in the same transaction.
    """
    if actor.role != Role.OWNER:
        raise Forbidden("Only the store's owner can delay an order.")
    stale = Conflict(
        "The order changed at the same moment; reload it.",
        code="invalid-transition",
        title="Not possible in this status",
    )

    async def attempt() -> OrderOut:
        async with db.uow() as uow:
            # The order row first and locked (every writer of an order takes it first), so a
            # delay racing another delay, a `ready` or a rider's assignment waits for it and
            # then reads what it wrote; the stream heads come after, in `emit_order_event`.
            order = await uow.session.get(
                Order, order_id, with_for_update=True, populate_existing=True
            )
            if order is None or await party_role(uow, order, actor) != Party.OWNER:
                raise NotFound(f"Order {order_id} does not exist.")
            if order.status != Status.ACCEPTED:
                raise Conflict(
                    f"An order that is {order.status.replace('_', ' ')} cannot be delayed; "
                    "only one the kitchen is still preparing can.",
                    code="invalid-transition",
                    title="Not possible in this status",
                )
            room = MAX_TOTAL_DELAY_MINUTES - (order.delay_minutes or 0)
            if minutes > room:
                raise ValidationFailed(
                    f"Order {order_id} is already delayed by {order.delay_minutes} minutes; "
                    f"an order can be delayed by {MAX_TOTAL_DELAY_MINUTES} minutes in all, "
                    f"so at most {room} more.",
                    errors=[{"field": "minutes", "message": f"must be ≤ {room}"}],
                )
            await clock.on_delayed(uow, order, minutes, utcnow())
            await uow.flush(stale=stale)
            view = await emit_order_event(
                uow,
                order,
                "order.delayed",
                shape=lambda view: OrderDelayedOut(**dict(view), minutes=minutes),
            )
            await uow.commit(stale=stale)
            return view

    for attempt_no in range(1, STALE_ATTEMPTS + 1):
        try:
            return await retrying(attempt)
        except Conflict as conflict:
            if conflict is not stale or attempt_no == STALE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
