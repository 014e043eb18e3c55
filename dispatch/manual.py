"""An operator's assignment: give a searching order to a chosen rider, or move an assigned one
(not yet picked up) from its rider to another.

It goes through the same optimistic lock as a rider's accept (`service.put_rider_on`), so an
operator racing any number of riders for one order leaves exactly one of them holding it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select, update
from sqlalchemy.orm import lazyload

from app.auth.models import Role, User
from app.auth.revocation import Revocations
from app.db import Database, UnitOfWork, utcnow
from app.errors import Conflict, NotFound
from app.orders.events import emit_order_event
from app.orders.lifecycle import DispatchEvent, DispatchState, next_dispatch
from app.orders.models import Order
from app.orders.schemas import OrderOut
from dispatch.load import free_order
from dispatch.models import HistoryKind, Offer, OfferStatus
from dispatch.offers import SEARCHING_STATUSES, record
from dispatch.service import (
    Position,
    check_needs_rider,
    full_order,
    only_order,
    order_answer,
    put_rider_on,
    search_due_now,
    taken_or_theirs,
)
from dispatch.worker import SearchWorker

# Called inside the assignment's transaction, after it is made (an audit record, say).
InTransaction = Callable[[UnitOfWork, Order], Awaitable[None]]


def _taken(order_id: int) -> Conflict:
    return Conflict(
        f"Order {order_id} was taken by another rider.",
        code="already-assigned",
        title="Order already has a rider",
    )


async def assign_by_operator(
    *,
    db: Database,
    worker: SearchWorker,
    revocations: Revocations,
    order_id: int,
    rider_id: int,
    from_rider_id: int | None,
    position: Position | None,
    also: InTransaction | None = None,
) -> OrderOut:
    """Give the order to `rider_id`: a searching one, or (with `from_rider_id`, its current
    rider) an assigned one not yet picked up, whose rider is freed and leaves its stream."""
    taken = _taken(order_id)
    return await taken_or_theirs(
        lambda: _assign_once(
            db=db,
            worker=worker,
            revocations=revocations,
            order_id=order_id,
            rider_id=rider_id,
            from_rider_id=from_rider_id,
            position=position,
            also=also,
            taken=taken,
        ),
        db=db,
        taken=taken,
        rider_id=rider_id,
        order_ids=lambda _uow: only_order(order_id),
        answer=lambda uow, _ids: order_answer(uow, order_id),
    )


async def _assign_once(
    *,
    db: Database,
    worker: SearchWorker,
    revocations: Revocations,
    order_id: int,
    rider_id: int,
    from_rider_id: int | None,
    position: Position | None,
    also: InTransaction | None,
    taken: Conflict,
) -> OrderOut:
    async with db.uow() as uow:
        order = await uow.session.scalar(
            select(Order).where(Order.id == order_id).options(lazyload("*"))
        )
        if order is None:
            raise NotFound(f"Order {order_id} does not exist.")
        role = await uow.session.scalar(select(User.role).where(User.id == rider_id))
        if role != Role.RIDER:
            raise NotFound(f"Rider {rider_id} does not exist.")
        now = utcnow()
        if from_rider_id is None:
            check_needs_rider(order, taken)
        else:
            _check_reassignable(order, from_rider_id, rider_id, taken)
            order = await _take_back(uow, order, from_rider_id, taken)
        await put_rider_on(uow, order, rider_id, position, now, taken)
        order = await full_order(uow, order_id)
        record(uow, order_id, HistoryKind.ASSIGNED, riders=[rider_id], at=now)
        assigned = await emit_order_event(
            uow, order, "order.rider_assigned", extra=[f"rider:{rider_id}"]
        )
        await search_due_now(uow, worker, order_id)
        if also is not None:
            await also(uow, order)
        if from_rider_id is not None:
            # Every node drops the former rider's sockets from the order's stream.
            stream = f"order:{order_id}"
            uow.after_commit(lambda: revocations.streams_changed([stream]))
        await uow.commit(stale=taken)
        return assigned


def _check_reassignable(order: Order, from_rider_id: int, rider_id: int, taken: Conflict) -> None:
    if order.rider_id != from_rider_id or order.dispatch != DispatchState.ASSIGNED:
        if order.rider_id is None and order.dispatch == DispatchState.SEARCHING:
            raise Conflict(
                f"Order {order.id} has no rider any more; assign it without from_rider_id.",
                code="invalid-transition",
                title="Not possible in this status",
            )
        raise taken
    if order.status not in SEARCHING_STATUSES:
        raise Conflict(
            f"Order {order.id} is {order.status.replace('_', ' ')}; only an order not yet "
            "picked up can be given to another rider.",
            code="invalid-transition",
            title="Not possible in this status",
        )
    if rider_id == from_rider_id:
        raise Conflict(
            f"Rider {rider_id} already carries order {order.id}.",
            code="invalid-transition",
            title="Not possible in this status",
        )


async def _take_back(uow: UnitOfWork, order: Order, from_rider_id: int, taken: Conflict) -> Order:
    """Free the order's rider (as a release would) within this transaction."""
    order.rider_id = None
    order.dispatch = next_dispatch(order.dispatch, DispatchEvent.RELEASE)
    order.rider_lat = order.rider_lng = order.rider_located_at = None
    await uow.flush(stale=taken)
    # The other order of a bundle, if the rider carries one, stays the rider's.
    await free_order(uow, rider_id=from_rider_id, order_id=order.id)
    await uow.session.execute(
        update(Offer)
        .where(
            Offer.order_id == order.id,
            Offer.rider_id == from_rider_id,
            Offer.status == OfferStatus.ACCEPTED,
        )
        .values(status=OfferStatus.RELEASED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    record(uow, order.id, HistoryKind.RELEASED, riders=[from_rider_id], detail="reassigned")
    full = await full_order(uow, order.id)
    await emit_order_event(uow, full, "order.rider_released", extra=[f"rider:{from_rider_id}"])
    return full
