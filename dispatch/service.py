"""Rider use cases: shifts, the offers list, accepting and releasing an order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.auth.revocation import Revocations
from app.catalog.models import Store
from app.db import Database, UnitOfWork, utcnow
from app.errors import Conflict, NotFound
from app.geo import distance_km
from app.orders import clock
from app.orders.events import emit_order_event
from app.orders.lifecycle import DispatchEvent, DispatchState, next_dispatch
from app.orders.models import Order
from app.orders.presenter import order_view
from app.orders.schemas import OrderOut
from dispatch.load import free_order
from dispatch.models import (
    DispatchSearch,
    HistoryKind,
    Offer,
    OfferStatus,
    RiderState,
)
from dispatch.offers import SEARCHING_STATUSES, record, withdraw
from dispatch.presenter import dropoff_of, offer_view
from dispatch.schemas import OfferOut, OfferStoreOut, ShiftOut
from dispatch.worker import SearchWorker

T = TypeVar("T")


@dataclass(frozen=True)
class Position:
    """A point on the map."""

    lat: float
    lng: float


async def _state_for_update(uow: UnitOfWork, rider_id: int) -> RiderState:
    """The rider's state row, locked; created on the first shift."""
    query = (
        select(RiderState)
        .where(RiderState.rider_id == rider_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    state = await uow.session.scalar(query)
    if state is not None:
        return state
    try:
        async with uow.session.begin_nested():
            uow.session.add(RiderState(rider_id=rider_id, online=False))
    except IntegrityError:
        pass  # the same rider's other request created it at the same moment
    state = await uow.session.scalar(query)
    assert state is not None
    return state


async def set_shift(
    *, db: Database, rider_id: int, online: bool, position: Position | None
) -> ShiftOut:
    """Go on or off shift; off shift is refused while carrying an order."""
    async with db.uow() as uow:
        state = await _state_for_update(uow, rider_id)
        if not online and state.active_order_id is not None:
            raise Conflict(
                f"You are carrying order {state.active_order_id}; deliver or release it "
                "before going off shift.",
                code="rider-busy",
                title="Rider is carrying an order",
            )
        state.online = online
        if position is not None:
            state.lat, state.lng = position.lat, position.lng
        if not online:
            offers = list(
                await uow.session.scalars(
                    select(Offer).where(
                        Offer.rider_id == rider_id, Offer.status == OfferStatus.OFFERED
                    )
                )
            )
            await withdraw(uow, offers, status=OfferStatus.WITHDRAWN, reason="off-shift")
        await uow.commit()
        return ShiftOut(online=state.online)


async def list_offers(*, db: Database, rider_id: int) -> list[OfferOut]:
    """The rider's open offers, newest first (none while carrying an order)."""
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                select(
                    Offer,
                    Order.address_lat,
                    Order.address_lng,
                    DispatchSearch.trip_km,
                    Store.id,
                    Store.name,
                    Store.lat,
                    Store.lng,
                )
                .join(Order, Order.id == Offer.order_id)
                .join(DispatchSearch, DispatchSearch.order_id == Offer.order_id)
                .join(Store, Store.id == Order.store_id)
                .join(RiderState, RiderState.rider_id == Offer.rider_id)
                .where(
                    Offer.rider_id == rider_id,
                    Offer.status == OfferStatus.OFFERED,
                    Offer.expires_at > utcnow(),
                    Order.dispatch == DispatchState.SEARCHING,
                    # A rider carrying an order cannot take another one.
                    RiderState.active_order_id.is_(None),
                )
                .order_by(Offer.id.desc())
            )
        ).all()
    return [
        offer_view(
            offer,
            OfferStoreOut(id=store_id, name=name, lat=lat, lng=lng),
            dropoff_of(address_lat, address_lng),
            trip_km if trip_km is not None else distance_km(lat, lng, address_lat, address_lng),
        )
        for offer, address_lat, address_lng, trip_km, store_id, name, lat, lng in rows
    ]


async def _refuse_if_unable(uow: UnitOfWork, rider_id: int) -> None:
    # A cheap early answer for a rider carrying an order or off shift, before racing for the
    # order row; `claim_rider` stays the authoritative check.
    state = (
        await uow.session.execute(
            select(RiderState.active_order_id, RiderState.online).where(
                RiderState.rider_id == rider_id
            )
        )
    ).first()
    if state is not None and state.active_order_id is not None:
        raise Conflict(
            f"You are already carrying order {state.active_order_id}.",
            code="rider-busy",
            title="Rider is carrying an order",
        )
    if state is None or not state.online:
        raise _offline()


def _offline() -> Conflict:
    return Conflict(
        "Go on shift before accepting offers.", code="rider-offline", title="Rider is off shift"
    )


def _is_open(offer: Offer, now: datetime) -> bool:
    return offer.status == OfferStatus.OFFERED and offer.expires_at > now


def _closed(offer: Offer) -> Conflict:
    # An offer past its time stays `offered` until the search's next step closes it.
    state = OfferStatus.EXPIRED if offer.status == OfferStatus.OFFERED else offer.status
    return Conflict(
        f"Your offer of order {offer.order_id} is {state}; only an open offer can be accepted.",
        code="offer-closed",
        title="The offer is no longer open",
    )


async def _take_offer(uow: UnitOfWork, offer: Offer, now: datetime) -> None:
    # Conditional, once the order's row and the rider's are locked (the order every writer of
    # offers takes them in): an offer that a search step expired, or going off shift withdrew,
    # in the meantime matches nothing, and the whole accept is undone.
    taken = await uow.session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.status == OfferStatus.OFFERED, Offer.expires_at > now)
        .values(status=OfferStatus.ACCEPTED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        await uow.session.refresh(offer)
        raise _closed(offer)


async def claim_rider(uow: UnitOfWork, rider_id: int, order_id: int) -> None:
    """Make the rider carry the order: 409 `rider-busy` or `rider-offline` otherwise."""
    # One conditional write decides "busy": of two accepts by one rider, the second waits on
    # the row lock, then finds active_order_id set and matches nothing.
    claimed = await uow.session.execute(
        update(RiderState)
        .where(
            RiderState.rider_id == rider_id,
            RiderState.online.is_(True),
            RiderState.active_order_id.is_(None),
        )
        .values(active_order_id=order_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return
    state = await uow.session.get(RiderState, rider_id)
    if state is not None and state.active_order_id is not None:
        raise Conflict(
            f"You are already carrying order {state.active_order_id}.",
            code="rider-busy",
            title="Rider is carrying an order",
        )
    raise _offline()


async def accept_offer(
    *,
    db: Database,
    worker: SearchWorker,
    rider_id: int,
    order_id: int,
    position: Position | None,
) -> OrderOut:
    """Take an order offered to this rider and still open: exactly one rider wins, by the
    order's version column."""
    taken = Conflict(
        f"Order {order_id} was taken by another rider.",
        code="already-assigned",
        title="Order already has a rider",
    )
    return await taken_or_theirs(
        lambda: _accept_once(
            db=db,
            worker=worker,
            rider_id=rider_id,
            order_id=order_id,
            position=position,
            taken=taken,
        ),
        db=db,
        taken=taken,
        rider_id=rider_id,
        order_ids=lambda _uow: only_order(order_id),
        answer=lambda uow, _ids: order_answer(uow, order_id),
    )


async def only_order(order_id: int) -> list[int]:
    """The orders of a one-order assignment (for `taken_or_theirs`)."""
    return [order_id]


async def order_answer(uow: UnitOfWork, order_id: int) -> OrderOut:
    """The answer to a one-order assignment: the order as its rider sees it."""
    return order_view(await full_order(uow, order_id))


async def taken_or_theirs(
    attempt: Callable[[], Awaitable[T]],
    *,
    db: Database,
    taken: Conflict,
    rider_id: int,
    order_ids: Callable[[UnitOfWork], Awaitable[list[int]]],
    answer: Callable[[UnitOfWork, list[int]], Awaitable[T]],
) -> T:
    """Run an assignment (a rider's accept, a bundle's, an admin's assign). When it lost the
    race (`taken`), the winner may be this very assignment: sent again after its answer was
    lost, or twice at once. If every order is the rider's, the assignment stands and the answer
    is the one the first attempt got; else the conflict stands."""
    try:
        return await attempt()
    except Conflict as conflict:
        if conflict is not taken:
            raise
        async with db.uow() as uow:
            ids = await order_ids(uow)
            # Most losers of a race read one column here; only a winner loads its orders.
            holders = set(
                await uow.session.scalars(select(Order.rider_id).where(Order.id.in_(ids)))
            )
            if holders != {rider_id}:
                raise
            return await answer(uow, ids)


async def _accept_once(
    *,
    db: Database,
    worker: SearchWorker,
    rider_id: int,
    order_id: int,
    position: Position | None,
    taken: Conflict,
) -> OrderOut:
    async with db.uow() as uow:
        # Most riders of a race press after the winner committed: one plain read answers
        # them. The answer is the one the full path gives (a rider with no offer, or offered
        # a bundle, still gets that said), without the offer and order loaded as objects or a
        # second read of who holds the order.
        seen = (
            await uow.session.execute(_LATEST_OFFER, {"order_id": order_id, "rider_id": rider_id})
        ).first()
        if seen is not None and seen.bundle_id is None and seen.holder not in (None, rider_id):
            # The same answer as `taken`, but not `taken` itself: `taken_or_theirs` only reads
            # who holds the order again for `taken`, and this read has just said.
            raise Conflict(taken.detail, code=taken.code, title=taken.title)
        offer = await uow.session.scalar(
            select(Offer)
            .where(Offer.order_id == order_id, Offer.rider_id == rider_id)
            .order_by(Offer.id.desc())
            .limit(1)
        )
        if offer is None:
            raise NotFound(f"You have no offer for order {order_id}.")
        if offer.bundle_id is not None:
            raise Conflict(
                f"Order {order_id} is offered to you with another order as bundle "
                f"{offer.bundle_id}; accept the bundle to take both.",
                code="offer-bundled",
                title="The offer is part of a bundle",
            )
        # Only the order row for now: most racers lose, and the lines, timeline and payment
        # are loaded for the one who wins.
        order = await uow.session.scalar(
            select(Order).where(Order.id == order_id).options(lazyload("*"))
        )
        assert order is not None
        check_needs_rider(order, taken)
        await _refuse_if_unable(uow, rider_id)
        now = utcnow()
        if not _is_open(offer, now):
            raise _closed(offer)
        await put_rider_on(uow, order, rider_id, position, now, taken)
        await _take_offer(uow, offer, now)
        order = await full_order(uow, order_id)
        record(uow, order_id, HistoryKind.ACCEPTED, riders=[rider_id], round_=offer.round, at=now)
        assigned = await emit_order_event(
            uow, order, "order.rider_assigned", extra=[f"rider:{rider_id}"]
        )
        await search_due_now(uow, worker, order_id)
        await uow.commit(stale=taken)
        return assigned


# Built once (a statement object keeps its cache key): the rider's latest offer of the order
# and who holds the order now.
_LATEST_OFFER = (
    select(Offer.bundle_id, Order.rider_id.label("holder"))
    .join(Order, Order.id == Offer.order_id)
    .where(Offer.order_id == bindparam("order_id"), Offer.rider_id == bindparam("rider_id"))
    .order_by(Offer.id.desc())
    .limit(1)
)


async def put_rider_on(
    uow: UnitOfWork,
    order: Order,
    rider_id: int,
    position: Position | None,
    now: datetime,
    taken: Conflict,
) -> None:
    """Give the order (searching, its row loaded) to the rider: the optimistic lock every
    assignment goes through, a rider's accept and an operator's alike."""
    order.rider_id = rider_id
    order.dispatch = next_dispatch(order.dispatch, DispatchEvent.ASSIGN)
    if position is not None:
        order.rider_lat, order.rider_lng, order.rider_located_at = (
            position.lat,
            position.lng,
            now,
        )
    # The rider's way to the store is known now: the estimate moves with the assignment.
    where = (position.lat, position.lng) if position is not None else None
    await clock.on_assigned(uow, order, where, now)
    # The versioned UPDATE: of all riders racing, one matches the version; every other
    # waits for its commit, then matches no row and gets 409 already-assigned. The order
    # row is locked before the rider's row, as every lifecycle transition does, so an
    # accept and a cancellation of the same order cannot deadlock.
    await uow.flush(stale=taken)
    await claim_rider(uow, rider_id, order.id)


def check_needs_rider(order: Order, taken: Conflict) -> None:
    """409 `already-assigned` (as `taken`) or `invalid-transition` unless the order is searching."""
    if order.rider_id is not None or order.dispatch == DispatchState.ASSIGNED:
        raise taken
    if order.dispatch != DispatchState.SEARCHING or order.status not in SEARCHING_STATUSES:
        raise Conflict(
            f"Order {order.id} no longer needs a rider.",
            code="invalid-transition",
            title="Not possible in this status",
        )


async def full_order(uow: UnitOfWork, order_id: int) -> Order:
    """The order with everything its view shows, as this transaction now sees it."""
    order = await uow.session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )
    assert order is not None
    return order


async def search_due_now(uow: UnitOfWork, worker: SearchWorker, order_id: int) -> None:
    """Make the order's search step at once (close losing offers, or search again)."""
    now = utcnow()
    await uow.session.execute(
        update(DispatchSearch)
        .where(DispatchSearch.order_id == order_id)
        .values(deadline_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    uow.after_commit(lambda: worker.want(order_id, now))


async def release_order(
    *,
    db: Database,
    worker: SearchWorker,
    revocations: Revocations,
    rider_id: int,
    order_id: int,
) -> OrderOut:
    """Hand an assigned order back before pickup; it is offered again, and its stream is no
    longer the rider's."""
    changed = Conflict(
        "The order changed at the same moment; reload it.",
        code="invalid-transition",
        title="Not possible in this status",
    )
    async with db.uow() as uow:
        order = await uow.session.get(Order, order_id)
        if order is None or order.rider_id != rider_id:
            raise NotFound(f"You are not carrying order {order_id}.")
        if order.status not in SEARCHING_STATUSES:
            raise Conflict(
                f"Order {order_id} is {order.status.replace('_', ' ')}; it can only be "
                "released before pickup.",
                code="invalid-transition",
                title="Not possible in this status",
            )
        order.rider = None
        order.dispatch = next_dispatch(order.dispatch, DispatchEvent.RELEASE)
        order.rider_lat = order.rider_lng = order.rider_located_at = None
        await uow.flush(stale=changed)
        await free_order(uow, rider_id=rider_id, order_id=order_id)
        await uow.session.execute(
            update(Offer)
            .where(
                Offer.order_id == order_id,
                Offer.rider_id == rider_id,
                Offer.status == OfferStatus.ACCEPTED,
            )
            .values(status=OfferStatus.RELEASED, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        record(uow, order_id, HistoryKind.RELEASED, riders=[rider_id])
        search = await uow.session.get(DispatchSearch, order_id, with_for_update=True)
        if search is not None:
            search.active, search.round, search.radius_km = True, 0, 0.0
        await search_due_now(uow, worker, order_id)
        released = await emit_order_event(
            uow, order, "order.rider_released", extra=[f"rider:{rider_id}"]
        )
        # Every node drops the rider's sockets from the order's stream before the next rider
        # is assigned (and named) on it.
        stream = f"order:{order_id}"
        uow.after_commit(lambda: revocations.streams_changed([stream]))
        await uow.commit(stale=changed)
        return released
