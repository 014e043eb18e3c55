"""One batch of the batch dispatcher (DISPATCH_STRATEGY=batch): the orders waiting for a rider
and the idle riders, paired at least total cost (`dispatch.optimiser`), each order offered to its
one rider.

A batch is one transaction. It takes the waiting orders' rows and then the idle riders' rows
with `FOR UPDATE SKIP LOCKED` (orders before riders, the order an accept takes them in): a row
someone else is changing at that moment (an accept, a cancellation, another batch that outlived
its turn) is left to the next batch instead of waited for, so a batch never deadlocks with them
and two batches never offer the same order or the same rider. Under those locks it re-reads
which orders and riders still hold an open offer, so each has at most one.

An offer left unanswered past its `expires_at` is closed (`expired`) by the next batch, which
offers the order again, to anyone but that rider for `EXCLUDE_AFTER_LAPSE`; a rider who handed
the order back is never offered it again. Every `DISPATCH_OFFER_TTL` an order waits without a
taker, its search radius doubles (bounded as in the offer engine). The accept is the offer
engine's, with the same optimistic lock, and once an order has its rider the search step closes
any offer of it still open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import exists, select

from app.catalog.models import Store
from app.db import Database, UnitOfWork, utcnow
from app.geo import distance_km
from app.orders.lifecycle import DispatchState, Status
from app.orders.models import Order
from app.outbox import emit
from dispatch.bundles import Bundle, BundleRules, plan
from dispatch.earnings import FeeSchedule
from dispatch.geo import RIDERS_KEY, riders_near
from dispatch.models import (
    DispatchHistory,
    DispatchSearch,
    HistoryKind,
    Offer,
    OfferStatus,
    RiderState,
)
from dispatch.offers import (
    MAX_OFFERS_PER_ROUND,
    SEARCHING_STATUSES,
    each_stream,
    fixed_fee,
    radius_for,
    record,
)
from dispatch.optimiser import IdleRider, Pair, WaitingOrder
from dispatch.presenter import dropoff_of, offer_view
from dispatch.schemas import BundleOfferOut, OfferOut, OfferStoreOut

# The oldest waiting orders one batch considers (the rest wait for the next one).
MAX_BATCH_ORDERS = 300
# A rider who let an offer of an order lapse is not offered that order again for this long.
EXCLUDE_AFTER_LAPSE = timedelta(minutes=2)


@dataclass(frozen=True)
class BatchConfig:
    """What a batch needs besides the unit of work."""

    geo: Redis
    base_radius_km: float
    offer_ttl: float
    fees: FeeSchedule
    # None: one order per rider, as before bundles (DISPATCH_BUNDLES=false).
    bundles: BundleRules | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch did: orders and riders it took part in, the offers it made."""

    orders: int
    riders: int
    pairs: tuple[Pair, ...]
    bundles: tuple[Bundle, ...] = ()


NOTHING = BatchOutcome(orders=0, riders=0, pairs=())


def _open_offer(now: datetime) -> Any:
    return (Offer.status == OfferStatus.OFFERED) & (Offer.expires_at > now)


async def _waiting_order_ids(uow: UnitOfWork, now: datetime) -> list[int]:
    has_open_offer = exists().where(Offer.order_id == Order.id, _open_offer(now))
    return list(
        await uow.session.scalars(
            select(Order.id)
            .join(DispatchSearch, DispatchSearch.order_id == Order.id)
            .where(
                DispatchSearch.active.is_(True),
                Order.dispatch == DispatchState.SEARCHING,
                Order.status.in_(SEARCHING_STATUSES),
                ~has_open_offer,
            )
            .order_by(Order.id)
            .limit(MAX_BATCH_ORDERS)
        )
    )


async def _lock_orders(uow: UnitOfWork, ids: list[int], now: datetime) -> list[Any]:
    """The orders among `ids` nobody else holds, still waiting, with no open offer: locked."""
    rows = (
        await uow.session.execute(
            select(
                Order.id,
                Order.status,
                Order.dispatch,
                Order.store_id,
                Order.ready_by,
                Order.address_text,
                Order.address_lat,
                Order.address_lng,
            )
            .where(Order.id.in_(ids))
            .order_by(Order.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    rows = [
        r for r in rows if r.dispatch == DispatchState.SEARCHING and r.status in SEARCHING_STATUSES
    ]
    if not rows:
        return []
    offered = set(
        await uow.session.scalars(
            select(Offer.order_id).where(Offer.order_id.in_([r.id for r in rows]), _open_offer(now))
        )
    )
    return [r for r in rows if r.id not in offered]


async def _lock_searches(uow: UnitOfWork, order_ids: list[int]) -> dict[int, DispatchSearch]:
    searches = await uow.session.scalars(
        select(DispatchSearch)
        .where(DispatchSearch.order_id.in_(order_ids), DispatchSearch.active.is_(True))
        .order_by(DispatchSearch.order_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return {s.order_id: s for s in searches}


async def _close_lapsed(uow: UnitOfWork, order_ids: list[int], now: datetime) -> None:
    """Offers of these orders left unanswered past their time become `expired`."""
    lapsed = list(
        await uow.session.scalars(
            select(Offer).where(
                Offer.order_id.in_(order_ids),
                Offer.status == OfferStatus.OFFERED,
                Offer.expires_at <= now,
            )
        )
    )
    for offer in lapsed:
        offer.status = OfferStatus.EXPIRED
        offer.updated_at = now
        record(
            uow, offer.order_id, HistoryKind.EXPIRED, riders=[offer.rider_id], round_=offer.round
        )


def _next_round(
    uow: UnitOfWork, search: DispatchSearch, config: BatchConfig, now: datetime
) -> None:
    """A round without a taker is over: the radius widens, as in the offer engine."""
    search.round += 1
    search.radius_km = radius_for(search.round, config.base_radius_km)
    search.deadline_at = now + timedelta(seconds=config.offer_ttl)
    if search.round > 1:
        record(
            uow,
            search.order_id,
            HistoryKind.WIDENED,
            round_=search.round,
            at=now,
            detail=f"radius {search.radius_km:g} km",
        )


async def _exclusions(uow: UnitOfWork, order_ids: list[int], now: datetime) -> dict[int, set[int]]:
    """Per order, the riders not to offer it: who let it lapse lately, or handed it back."""
    excluded: dict[int, set[int]] = {}
    lapsed = await uow.session.execute(
        select(Offer.order_id, Offer.rider_id).where(
            Offer.order_id.in_(order_ids),
            Offer.status == OfferStatus.EXPIRED,
            Offer.updated_at > now - EXCLUDE_AFTER_LAPSE,
        )
    )
    released = await uow.session.execute(
        select(DispatchHistory.order_id, DispatchHistory.rider_id).where(
            DispatchHistory.order_id.in_(order_ids),
            DispatchHistory.kind == HistoryKind.RELEASED,
        )
    )
    for order_id, rider_id in [*lapsed.all(), *released.all()]:
        if rider_id is not None:
            excluded.setdefault(order_id, set()).add(rider_id)
    return excluded


async def _idle_riders(
    uow: UnitOfWork, geo: Redis, stores: dict[int, Any], reach: dict[int, float], now: datetime
) -> list[IdleRider]:
    """Riders near the stores, online, carrying nothing and holding no open offer: locked."""
    near: set[int] = set()
    for store_id, radius in reach.items():
        store = stores[store_id]
        found = await riders_near(
            geo, lat=store.lat, lng=store.lng, radius_km=radius, limit=MAX_OFFERS_PER_ROUND
        )
        near.update(rider for rider, _ in found)
    if not near:
        return []
    locked = list(
        await uow.session.scalars(
            select(RiderState.rider_id)
            .where(
                RiderState.rider_id.in_(sorted(near)),
                RiderState.online.is_(True),
                RiderState.active_order_id.is_(None),
            )
            .order_by(RiderState.rider_id)
            .with_for_update(skip_locked=True)
        )
    )
    if not locked:
        return []
    offered = set(
        await uow.session.scalars(
            select(Offer.rider_id).where(Offer.rider_id.in_(locked), _open_offer(now))
        )
    )
    idle = [rider for rider in locked if rider not in offered]
    if not idle:
        return []
    positions = await geo.geopos(RIDERS_KEY, *[str(rider) for rider in idle])
    return [
        IdleRider(id=rider, lat=float(pos[1]), lng=float(pos[0]))
        for rider, pos in zip(idle, positions, strict=True)
        if pos is not None
    ]


async def run_batch(
    *, db: Database, config: BatchConfig, still_ours: Callable[[], Awaitable[bool]]
) -> BatchOutcome:
    """Pair the waiting orders with the idle riders and offer each order to its rider; nothing
    is committed unless `still_ours()` says the batch turn is still this node's."""
    async with db.uow() as uow:
        now = utcnow()
        ids = await _waiting_order_ids(uow, now)
        if not ids:
            return NOTHING
        rows = await _lock_orders(uow, ids, now)
        searches = await _lock_searches(uow, [r.id for r in rows])
        rows = [r for r in rows if r.id in searches]
        if not rows:
            return NOTHING
        order_ids = [r.id for r in rows]
        await _close_lapsed(uow, order_ids, now)
        for search in searches.values():
            if search.deadline_at <= now:
                _next_round(uow, search, config, now)
        stores = {
            s.id: s
            for s in (
                await uow.session.execute(
                    select(Store.id, Store.name, Store.lat, Store.lng).where(
                        Store.id.in_({r.store_id for r in rows})
                    )
                )
            ).all()
        }
        reach: dict[int, float] = {}
        for r in rows:
            reach[r.store_id] = max(reach.get(r.store_id, 0.0), searches[r.id].radius_km)
        riders = await _idle_riders(uow, config.geo, stores, reach, now)
        excluded = await _exclusions(uow, order_ids, now)
        waiting = [
            WaitingOrder(
                id=r.id,
                store_lat=stores[r.store_id].lat,
                store_lng=stores[r.store_id].lng,
                customer_lat=r.address_lat,
                customer_lng=r.address_lng,
                ready_by=None if r.status == Status.READY else r.ready_by,
                waiting_since=searches[r.id].created_at,
                radius_km=searches[r.id].radius_km,
                excluded=frozenset(excluded.get(r.id, ())),
            )
            for r in rows
        ]
        # In a thread: a big batch with bundles is an integer programme of a second or two,
        # and the node keeps answering meanwhile.
        chosen = await asyncio.to_thread(plan, waiting, riders, now, config.bundles)
        orders = {r.id: r for r in rows}
        await _offer(uow, chosen.pairs, orders, stores, searches, config, now)
        await _offer_bundles(uow, chosen.bundles, orders, stores, searches, config, now)
        if not await still_ours():
            # The turn's lease ran out (this node stalled): another node may be batching now.
            return NOTHING
        await uow.commit()
        return BatchOutcome(
            orders=len(rows), riders=len(riders), pairs=chosen.pairs, bundles=chosen.bundles
        )


async def _offer(
    uow: UnitOfWork,
    pairs: Sequence[Pair],
    orders: dict[int, Any],
    stores: dict[int, Any],
    searches: dict[int, DispatchSearch],
    config: BatchConfig,
    now: datetime,
) -> None:
    if not pairs:
        return
    expires_at = now + timedelta(seconds=config.offer_ttl)
    views = {}
    for pair in pairs:
        order, search = orders[pair.order_id], searches[pair.order_id]
        store = stores[order.store_id]
        fee, trip_km = fixed_fee(config.fees, search, store, order)
        offer = Offer(
            order_id=order.id,
            rider_id=pair.rider_id,
            round=search.round,
            status=OfferStatus.OFFERED,
            distance_km=round(pair.to_store_km, 3),
            fee=fee,
            expires_at=expires_at,
        )
        uow.session.add(offer)
        record(
            uow,
            order.id,
            HistoryKind.OFFERED,
            riders=[pair.rider_id],
            round_=search.round,
            at=now,
            detail=f"batch, radius {search.radius_km:g} km, cost {pair.cost:.0f} s",
        )
        shop = OfferStoreOut(id=store.id, name=store.name, lat=store.lat, lng=store.lng)
        dropoff = dropoff_of(order.address_lat, order.address_lng)
        views[f"rider:{pair.rider_id}"] = offer_view(offer, shop, dropoff, trip_km)
    # Each rider is in one pair, so one event carries every offer of the batch.
    await emit(uow, "offer.created", list(views), each_stream(views))


async def _offer_bundles(
    uow: UnitOfWork,
    bundles: Sequence[Bundle],
    orders: dict[int, Any],
    stores: dict[int, Any],
    searches: dict[int, DispatchSearch],
    config: BatchConfig,
    now: datetime,
) -> None:
    """Each bundle: one offer per order to its rider, linked by `bundle_id`, and one
    `offer.bundle_created` on the rider's stream."""
    if not bundles:
        return
    expires_at = now + timedelta(seconds=config.offer_ttl)
    made: list[tuple[Bundle, list[Offer], list[float]]] = []
    for bundle in bundles:
        offers, trips = [], []
        for order_id in bundle.order_ids:
            order, search = orders[order_id], searches[order_id]
            store = stores[order.store_id]
            fee, trip_km = fixed_fee(config.fees, search, store, order)
            offers.append(
                Offer(
                    order_id=order_id,
                    rider_id=bundle.rider_id,
                    round=search.round,
                    status=OfferStatus.OFFERED,
                    # Each offer shows the ride to its own store, as a single one would.
                    distance_km=round(_km_to(bundle, order_id, orders, stores), 3),
                    fee=fee,
                    expires_at=expires_at,
                )
            )
            trips.append(trip_km)
        made.append((bundle, offers, trips))
        uow.session.add_all(offers)
    await uow.session.flush()
    views: dict[str, BundleOfferOut] = {}
    for bundle, offers, trips in made:
        bundle_id = offers[0].id
        extra = ", ".join(f"{s / 60:.1f}" for s in bundle.extra_seconds)
        entries: list[OfferOut] = []
        for offer, trip_km in zip(offers, trips, strict=True):
            offer.bundle_id = bundle_id
            order = orders[offer.order_id]
            store = stores[order.store_id]
            partner = next(o for o in bundle.order_ids if o != offer.order_id)
            record(
                uow,
                offer.order_id,
                HistoryKind.OFFERED,
                riders=[bundle.rider_id],
                round_=offer.round,
                at=now,
                detail=(
                    f"batch bundle {bundle_id} with order {partner}, radius "
                    f"{searches[offer.order_id].radius_km:g} km, cost {bundle.cost:.0f} s, "
                    f"extra min {extra}"
                ),
            )
            shop = OfferStoreOut(id=store.id, name=store.name, lat=store.lat, lng=store.lng)
            entries.append(
                offer_view(offer, shop, dropoff_of(order.address_lat, order.address_lng), trip_km)
            )
        views[f"rider:{bundle.rider_id}"] = BundleOfferOut(
            bundle_id=bundle_id,
            offers=entries,
            pickups=list(bundle.pickups),
            dropoffs=list(bundle.dropoffs),
            fee=sum(o.fee for o in offers),
            expires_at=expires_at,
        )
    await emit(uow, "offer.bundle_created", list(views), each_stream(views))


def _km_to(bundle: Bundle, order_id: int, orders: dict[int, Any], stores: dict[int, Any]) -> float:
    """The rider's ride to this order's store: to the first store, then on to the second."""
    if bundle.pickups[0] == order_id:
        return bundle.to_store_km
    first = stores[orders[bundle.pickups[0]].store_id]
    this = stores[orders[order_id].store_id]
    return bundle.to_store_km + distance_km(first.lat, first.lng, this.lat, this.lng)
