"""The offer engine: each step of an order's rider search, run by whichever node claims it.

A step locks the order row, then its search row (the same order every writer of an order
uses), so steps of one order never overlap and never act on a stale view of the order:
- the order no longer needs a rider (assigned, cancelled, rejected): every live offer is
  closed (`lost` for the riders who did not win, `withdrawn` otherwise) with `offer.withdrawn`;
- (with DISPATCH_STRATEGY=batch, nothing else: the batches offer the order, `dispatch.batch`)
- the round's deadline has passed: its offers expire, the radius widens (doubling from
  `DISPATCH_RADIUS_KM`, bounded by `MAX_RADIUS_KM`) and online idle riders inside it get an
  `offer.created`, nearest first.

The rider's fee (`dispatch.earnings.FeeSchedule`: `DISPATCH_FEE_BASE` + `DISPATCH_FEE_PER_KM`
per km from the store to the customer) is fixed on the search row by the order's first round,
so every later round, and the delivery's earnings entry, use that same fee.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from redis.asyncio import Redis
from sqlalchemy import Row, select

from app.catalog.models import Store
from app.db import Database, UnitOfWork, utcnow
from app.geo import distance_km
from app.orders.lifecycle import DispatchState, Status
from app.orders.models import Order
from app.outbox import emit
from dispatch.earnings import FeeSchedule
from dispatch.geo import riders_near
from dispatch.models import (
    DispatchHistory,
    DispatchSearch,
    HistoryKind,
    Offer,
    OfferStatus,
    RiderState,
)
from dispatch.presenter import dropoff_of, offer_view, withdrawn_view
from dispatch.schedule import schedule
from dispatch.schemas import OfferStoreOut, OfferWithdrawnOut

MAX_RADIUS_KM = 24.0
MAX_OFFERS_PER_ROUND = 200
WITHDRAW_BATCH = 25
SEARCHING_STATUSES = (Status.ACCEPTED, Status.READY)
P = TypeVar("P")


def radius_for(round_: int, base_km: float) -> float:
    """The search radius of round 1, 2, 3…: doubling from the base, never above the bound."""
    return min(base_km * 2 ** max(0, round_ - 1), max(base_km, MAX_RADIUS_KM))


@dataclass(frozen=True)
class Engine:
    """What a step needs besides the unit of work."""

    geo: Redis
    base_radius_km: float
    offer_ttl: float
    fees: FeeSchedule
    # DISPATCH_STRATEGY=batch: rounds and offers are the batches' (`dispatch.batch`); a step
    # only closes the offers of an order that no longer needs a rider.
    batch: bool = False


def record(
    uow: UnitOfWork,
    order_id: int,
    kind: HistoryKind,
    *,
    riders: Iterable[int | None] = (None,),
    round_: int = 0,
    at: datetime | None = None,
    detail: str | None = None,
) -> None:
    """Append history rows (one per rider) for what just happened."""
    at = at or utcnow()
    uow.session.add_all(
        DispatchHistory(
            order_id=order_id, rider_id=rider, kind=kind, round=round_, at=at, detail=detail
        )
        for rider in riders
    )


async def _locked_order(uow: UnitOfWork, order_id: int) -> Any:
    row = (
        await uow.session.execute(
            select(
                Order.id,
                Order.status,
                Order.dispatch,
                Order.rider_id,
                Order.store_id,
                Order.address_lat,
                Order.address_lng,
            )
            .where(Order.id == order_id)
            .with_for_update()
        )
    ).first()
    return row


async def live_offers(uow: UnitOfWork, order_id: int, limit: int | None = None) -> list[Offer]:
    """The order's offers still open (the first `limit` of them)."""
    return list(
        await uow.session.scalars(
            select(Offer)
            .where(Offer.order_id == order_id, Offer.status == OfferStatus.OFFERED)
            .order_by(Offer.id)
            .limit(limit)
        )
    )


def each_stream(payloads: Mapping[str, P]) -> Callable[[str, dict[str, int]], P]:
    """The outbox payload function giving each stream its own payload."""

    def pick(stream: str, _seqs: dict[str, int]) -> P:
        return payloads[stream]

    return pick


async def withdraw(
    uow: UnitOfWork, offers: list[Offer], *, status: OfferStatus, reason: str
) -> None:
    """Close `offers` and tell each rider with `offer.withdrawn`."""
    if not offers:
        return
    now = utcnow()
    kind = HistoryKind.LOST if status == OfferStatus.LOST else HistoryKind.WITHDRAWN
    # One event per offer; a rider withdrawn from several orders (going off shift) gets one
    # event per order, so the offers are sent in waves with each rider's stream once per wave.
    waves: list[dict[str, OfferWithdrawnOut]] = []
    for offer in offers:
        offer.status = status
        stream = f"rider:{offer.rider_id}"
        wave = next((w for w in waves if stream not in w), None)
        if wave is None:
            wave = {}
            waves.append(wave)
        wave[stream] = withdrawn_view(offer, status, reason)
        uow.session.add(
            DispatchHistory(
                order_id=offer.order_id,
                rider_id=offer.rider_id,
                kind=kind,
                round=offer.round,
                at=now,
                detail=reason,
            )
        )
    for wave in waves:
        await emit(uow, "offer.withdrawn", list(wave), each_stream(wave))


async def step(*, db: Database, engine: Engine, order_id: int) -> datetime | None:
    """Advance one order's search if due; returns when to look at it again (None: done)."""
    if engine.batch and not await _batch_step_needed(db, order_id):
        return None
    async with db.uow() as uow:
        order = await _locked_order(uow, order_id)
        search = await uow.session.scalar(
            select(DispatchSearch)
            .where(DispatchSearch.order_id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if order is None or search is None or not search.active:
            return None
        if order.dispatch != DispatchState.SEARCHING or order.status not in SEARCHING_STATUSES:
            assigned = order.rider_id is not None and order.dispatch == DispatchState.ASSIGNED
            # In batches, each its own transaction: the rider streams' heads stay locked for
            # a short while, so riders winning other orders are not held up behind this one.
            batch = await live_offers(uow, order_id, limit=WITHDRAW_BATCH + 1)
            await withdraw(
                uow,
                batch[:WITHDRAW_BATCH],
                status=OfferStatus.LOST if assigned else OfferStatus.WITHDRAWN,
                reason="assigned" if assigned else str(order.status),
            )
            # A bundle is both orders or neither: the other order of a bundle closed here gets
            # a step of its own, which closes its offer (under that order's lock, never this
            # one's: two orders' rows are only ever locked in id order, by an accept).
            partners = await _bundle_partners(uow, batch[:WITHDRAW_BATCH])
            more = len(batch) > WITHDRAW_BATCH
            search.active = more
            await uow.commit()
            for partner in partners:
                await schedule(engine.geo, partner, utcnow())
            return utcnow() if more else None
        await _close_broken_bundles(uow, order_id)
        if engine.batch:
            await uow.commit()
            return None
        now = utcnow()
        if search.deadline_at > now:
            return search.deadline_at
        await _expire(uow, search, now)
        search.round += 1
        search.radius_km = radius_for(search.round, engine.base_radius_km)
        search.deadline_at = now + timedelta(seconds=engine.offer_ttl)
        if search.round > 1:
            record(
                uow,
                order_id,
                HistoryKind.WIDENED,
                round_=search.round,
                at=now,
                detail=f"radius {search.radius_km:g} km",
            )
        await _offer(uow, engine, order, search)
        await uow.commit()
        return search.deadline_at


async def _batch_step_needed(db: Database, order_id: int) -> bool:
    """With batches, whether a step has anything to do: close the offers of an order that no
    longer needs a rider, or a bundle whose other half closed. Read without locking, so that a
    step with nothing to do never holds the order's row while a batch skips it as taken."""
    async with db.uow() as uow:
        order = (
            await uow.session.execute(
                select(Order.dispatch, Order.status).where(Order.id == order_id)
            )
        ).first()
        if (
            order is None
            or order.dispatch != DispatchState.SEARCHING
            or order.status not in SEARCHING_STATUSES
        ):
            return True
        mine = select(Offer.bundle_id).where(
            Offer.order_id == order_id,
            Offer.status == OfferStatus.OFFERED,
            Offer.bundle_id.is_not(None),
        )
        bundles = set(await uow.session.scalars(mine))
        if not bundles:
            return False
        partners_open = set(
            await uow.session.scalars(
                select(Offer.bundle_id).where(
                    Offer.bundle_id.in_(bundles),
                    Offer.order_id != order_id,
                    Offer.status == OfferStatus.OFFERED,
                )
            )
        )
        return bundles != partners_open


async def _bundle_partners(uow: UnitOfWork, offers: list[Offer]) -> list[int]:
    """The orders with an open offer bundled with any of `offers`."""
    bundles = {o.bundle_id for o in offers if o.bundle_id is not None}
    if not bundles:
        return []
    return sorted(
        set(
            await uow.session.scalars(
                select(Offer.order_id).where(
                    Offer.bundle_id.in_(bundles), Offer.status == OfferStatus.OFFERED
                )
            )
        )
    )


async def _close_broken_bundles(uow: UnitOfWork, order_id: int) -> None:
    """Withdraw this order's open bundled offers whose other half is no longer open."""
    mine = list(
        await uow.session.scalars(
            select(Offer).where(
                Offer.order_id == order_id,
                Offer.status == OfferStatus.OFFERED,
                Offer.bundle_id.is_not(None),
            )
        )
    )
    if not mine:
        return
    still_open = set(
        await uow.session.scalars(
            select(Offer.bundle_id).where(
                Offer.bundle_id.in_({o.bundle_id for o in mine}),
                Offer.order_id != order_id,
                Offer.status == OfferStatus.OFFERED,
            )
        )
    )
    broken = [o for o in mine if o.bundle_id not in still_open]
    await withdraw(uow, broken, status=OfferStatus.WITHDRAWN, reason="bundle")


async def _expire(uow: UnitOfWork, search: DispatchSearch, now: datetime) -> None:
    expired = await live_offers(uow, search.order_id)
    for offer in expired:
        offer.status = OfferStatus.EXPIRED
    if expired:
        record(
            uow,
            search.order_id,
            HistoryKind.EXPIRED,
            riders=[o.rider_id for o in expired],
            round_=search.round,
            at=now,
        )


def fixed_fee(
    fees: FeeSchedule, search: DispatchSearch, store: Any, order: Any
) -> tuple[int, float]:
    """The order's rider fee and trip (km), fixed on its search when it is first offered: later
    settings or a moved store change no fee offered (both strategies offer through this)."""
    if search.rider_fee is None or search.trip_km is None:
        trip = distance_km(store.lat, store.lng, order.address_lat, order.address_lng)
        search.rider_fee, search.trip_km = fees.fee(trip), round(trip, 3)
    return int(search.rider_fee), float(search.trip_km)


async def _offer(uow: UnitOfWork, engine: Engine, order: Row[Any], search: DispatchSearch) -> None:
    store = (
        await uow.session.execute(
            select(Store.id, Store.name, Store.lat, Store.lng).where(Store.id == order.store_id)
        )
    ).one()
    fee, trip_km = fixed_fee(engine.fees, search, store, order)
    near = await riders_near(
        engine.geo,
        lat=store.lat,
        lng=store.lng,
        radius_km=search.radius_km,
        limit=MAX_OFFERS_PER_ROUND,
    )
    if not near:
        return
    idle = set(
        await uow.session.scalars(
            select(RiderState.rider_id).where(
                RiderState.rider_id.in_([rider for rider, _ in near]),
                RiderState.online.is_(True),
                RiderState.active_order_id.is_(None),
            )
        )
    )
    # A rider who handed this order back is not asked to take it again.
    idle -= set(
        await uow.session.scalars(
            select(DispatchHistory.rider_id).where(
                DispatchHistory.order_id == order.id,
                DispatchHistory.kind == HistoryKind.RELEASED,
            )
        )
    )
    dropoff = dropoff_of(order.address_lat, order.address_lng)
    offers = [
        Offer(
            order_id=order.id,
            rider_id=rider,
            round=search.round,
            status=OfferStatus.OFFERED,
            distance_km=round(km, 3),
            fee=fee,
            expires_at=search.deadline_at,
        )
        for rider, km in near
        if rider in idle
    ]
    if not offers:
        return
    uow.session.add_all(offers)
    record(
        uow,
        order.id,
        HistoryKind.OFFERED,
        riders=[o.rider_id for o in offers],
        round_=search.round,
        detail=f"radius {search.radius_km:g} km",
    )
    shop = OfferStoreOut(id=store.id, name=store.name, lat=store.lat, lng=store.lng)
    views = {f"rider:{o.rider_id}": offer_view(o, shop, dropoff, trip_km) for o in offers}
    await emit(uow, "offer.created", list(views), each_stream(views))
