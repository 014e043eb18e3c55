"""Riders' earnings: the fee of an order, the append-only ledger, and a rider's sums.

A delivery earns the rider the fee fixed on the order's search when it was first offered (what
every offer of it showed), written in the transaction that marks the order delivered. Entries
are never edited or deleted: a mistake is corrected by a further `correction` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Mapper

from app.db import Database, UnitOfWork, utcnow
from app.errors import NotFound, ValidationFailed
from app.geo import distance_km
from app.orders.models import Order
from dispatch.models import DispatchSearch, EarningKind, Offer, OfferStatus, RiderEarning
from dispatch.period import PLATFORM_TIMEZONE, Period
from dispatch.schemas import EarningEntryOut, EarningsOut

# A correction moves a rider's earnings by at most this much either way, in won.
MAX_CORRECTION = 10_000_000


@dataclass(frozen=True)
class FeeSchedule:
    """`DISPATCH_FEE_BASE` plus `DISPATCH_FEE_PER_KM` per km from the store to the customer."""

    base: int = 3_000
    per_km: int = 500

    def fee(self, store_to_customer_km: float) -> int:
        """What the rider earns for a trip of that length, in won: the per-km part is rounded
        to 100 won."""
        return self.base + round(self.per_km * store_to_customer_km / 100.0) * 100


@event.listens_for(RiderEarning, "before_update")
@event.listens_for(RiderEarning, "before_delete")
def _ledger_is_append_only(_mapper: Mapper[Any], _conn: Any, entry: RiderEarning) -> None:
    raise TypeError(f"earnings entry {entry.id} is part of a ledger: add a correction instead")


async def _fee_of(uow: UnitOfWork, order: Order, rider_id: int, fees: FeeSchedule) -> int:
    fixed = await uow.session.scalar(
        select(DispatchSearch.rider_fee).where(DispatchSearch.order_id == order.id)
    )
    if fixed is not None:
        return int(fixed)
    # A search begun before fees were fixed on it: the fee the rider accepted.
    accepted = await uow.session.scalar(
        select(Offer.fee)
        .where(
            Offer.order_id == order.id,
            Offer.rider_id == rider_id,
            Offer.status == OfferStatus.ACCEPTED,
        )
        .order_by(Offer.id.desc())
        .limit(1)
    )
    if accepted is not None:
        return int(accepted)
    store = order.store
    return fees.fee(distance_km(store.lat, store.lng, order.address_lat, order.address_lng))


async def earn_delivery(uow: UnitOfWork, order: Order, fees: FeeSchedule) -> None:
    """Credit the order's rider with its fee, in the transaction that delivers it."""
    if order.rider_id is None:
        return
    now = utcnow()
    # The unique `delivery_of` refuses a second entry for the order, should two deliveries of
    # it ever both get past the order's version check.
    uow.session.add(
        RiderEarning(
            rider_id=order.rider_id,
            order_id=order.id,
            amount=await _fee_of(uow, order, order.rider_id, fees),
            kind=EarningKind.DELIVERY,
            at=now,
            delivery_of=order.id,
        )
    )


async def add_correction(
    *, db: Database, rider_id: int, order_id: int, amount: int, note: str
) -> RiderEarning:
    """Correct a rider's earnings for an order they delivered by `amount` won (either sign)."""
    if amount == 0 or abs(amount) > MAX_CORRECTION:
        raise ValidationFailed(
            f"A correction moves earnings by 1 to {MAX_CORRECTION:,} won either way.",
            errors=[{"field": "amount", "message": "Amount must not be zero or that large."}],
        )
    async with db.uow() as uow:
        delivered = await uow.session.scalar(
            select(RiderEarning.id).where(
                RiderEarning.delivery_of == order_id, RiderEarning.rider_id == rider_id
            )
        )
        if delivered is None:
            raise NotFound(f"Rider {rider_id} earned nothing for order {order_id} to correct.")
        entry = RiderEarning(
            rider_id=rider_id,
            order_id=order_id,
            amount=amount,
            kind=EarningKind.CORRECTION,
            at=utcnow(),
            note=note[:200],
        )
        uow.session.add(entry)
        await uow.commit()
        return entry


async def rider_earnings(*, db: Database, rider_id: int, period: Period) -> EarningsOut:
    """The rider's ledger entries in `period`, newest first, with their sum and deliveries."""
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                select(
                    RiderEarning.order_id, RiderEarning.amount, RiderEarning.kind, RiderEarning.at
                )
                .where(
                    RiderEarning.rider_id == rider_id,
                    RiderEarning.at >= period.start,
                    RiderEarning.at < period.end,
                )
                .order_by(RiderEarning.at.desc(), RiderEarning.id.desc())
            )
        ).all()
    entries = [
        EarningEntryOut(order_id=order_id, fee=amount, kind=EarningKind(kind), at=at)
        for order_id, amount, kind, at in rows
    ]
    return EarningsOut(
        time_zone=PLATFORM_TIMEZONE,
        start=period.start,
        end=period.end,
        total=sum(e.fee for e in entries),
        deliveries=sum(1 for e in entries if e.kind == EarningKind.DELIVERY),
        entries=entries,
    )
