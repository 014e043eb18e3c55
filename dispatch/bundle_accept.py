"""Accepting a bundle: the rider takes both orders of a bundle offer at once, or neither.

The same optimistic lock as a single accept: both orders' versioned UPDATEs are flushed in one
statement batch (in order id order, the order every writer of two orders locks them in), then
the rider's row is claimed for both, then both offers are taken conditionally. Any of these
losing (another rider won either order, the rider is busy or off shift, either offer closed
meanwhile) undoes the whole transaction: no rider ever holds one order of a bundle by its
accept, and no order ever has two riders.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from app.db import Database, UnitOfWork, utcnow
from app.errors import Conflict, NotFound
from app.orders import clock
from app.orders.events import emit_order_event
from app.orders.lifecycle import DispatchEvent, next_dispatch
from app.orders.models import Order
from app.orders.presenter import order_view
from dispatch.load import claim_two
from dispatch.models import HistoryKind, Offer, RiderState
from dispatch.offers import record
from dispatch.schemas import BundleAcceptedOut
from dispatch.service import (
    Position,
    _closed,
    _is_open,
    _offline,
    _refuse_if_unable,
    _take_offer,
    check_needs_rider,
    full_order,
    search_due_now,
    taken_or_theirs,
)
from dispatch.worker import SearchWorker


async def accept_bundle(
    *,
    db: Database,
    worker: SearchWorker,
    rider_id: int,
    bundle_id: int,
    position: Position | None,
) -> BundleAcceptedOut:
    """Take both orders of a bundle offered to this rider and still open, or neither."""
    taken = Conflict(
        f"An order of bundle {bundle_id} was taken by another rider.",
        code="already-assigned",
        title="Order already has a rider",
    )

    async def answer(uow: UnitOfWork, ids: list[int]) -> BundleAcceptedOut:
        orders = [order_view(await full_order(uow, order_id)) for order_id in ids]
        return BundleAcceptedOut(bundle_id=bundle_id, orders=orders)

    # As for a single accept: sent again after a lost answer, the bundle is already this
    # rider's, and the answer is its two orders.
    return await taken_or_theirs(
        lambda: _accept_once(
            db=db,
            worker=worker,
            rider_id=rider_id,
            bundle_id=bundle_id,
            position=position,
            taken=taken,
        ),
        db=db,
        taken=taken,
        rider_id=rider_id,
        order_ids=lambda uow: _order_ids(uow.session, rider_id, bundle_id),
        answer=answer,
    )


async def _order_ids(session: AsyncSession, rider_id: int, bundle_id: int) -> list[int]:
    ids = list(
        await session.scalars(
            select(Offer.order_id)
            .where(Offer.bundle_id == bundle_id, Offer.rider_id == rider_id)
            .order_by(Offer.order_id)
        )
    )
    if len(ids) != 2:
        raise NotFound(f"You have no bundle offer {bundle_id}.")
    return ids


async def _accept_once(
    *,
    db: Database,
    worker: SearchWorker,
    rider_id: int,
    bundle_id: int,
    position: Position | None,
    taken: Conflict,
) -> BundleAcceptedOut:
    async with db.uow() as uow:
        offers = list(
            await uow.session.scalars(
                select(Offer)
                .where(Offer.bundle_id == bundle_id, Offer.rider_id == rider_id)
                .order_by(Offer.order_id)
            )
        )
        if len(offers) != 2:
            raise NotFound(f"You have no bundle offer {bundle_id}.")
        ids = [offer.order_id for offer in offers]
        orders = list(
            await uow.session.scalars(
                select(Order).where(Order.id.in_(ids)).order_by(Order.id).options(lazyload("*"))
            )
        )
        for order in orders:
            check_needs_rider(order, taken)
        await _refuse_if_unable(uow, rider_id)
        now = utcnow()
        for offer in offers:
            if not _is_open(offer, now):
                raise _closed(offer)
        where = (position.lat, position.lng) if position is not None else None
        for order in orders:
            order.rider_id = rider_id
            order.dispatch = next_dispatch(order.dispatch, DispatchEvent.ASSIGN)
            if position is not None:
                order.rider_lat, order.rider_lng = position.lat, position.lng
                order.rider_located_at = now
            await clock.on_assigned(uow, order, where, now)
        # Both versioned UPDATEs (by primary key, so the lower order id is locked first): a
        # rider who won either order since makes this match no row, and all of it is undone.
        await uow.flush(stale=taken)
        if not await claim_two(uow, rider_id=rider_id, first=ids[0], second=ids[1]):
            state = await uow.session.get(RiderState, rider_id)
            if state is not None and state.active_order_id is not None:
                raise Conflict(
                    f"You are already carrying order {state.active_order_id}.",
                    code="rider-busy",
                    title="Rider is carrying an order",
                )
            raise _offline()
        for offer in offers:
            await _take_offer(uow, offer, now)
        views = []
        for offer in offers:
            order = await full_order(uow, offer.order_id)
            record(
                uow,
                offer.order_id,
                HistoryKind.ACCEPTED,
                riders=[rider_id],
                round_=offer.round,
                at=now,
                detail=f"bundle {bundle_id}",
            )
            views.append(
                await emit_order_event(
                    uow, order, "order.rider_assigned", extra=[f"rider:{rider_id}"]
                )
            )
            await search_due_now(uow, worker, offer.order_id)
        await uow.commit(stale=taken)
        return BundleAcceptedOut(bundle_id=bundle_id, orders=views)
