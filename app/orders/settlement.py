"""A store's settlement: what its delivered orders come to per day, and what it is paid.

An order counts on the day it was delivered, in the store's time zone, with everything it was
paid (`total`) and every part refund it has had (whenever refunded: a refund belongs to the
order's day). Commission is taken per day on what stayed paid and rounded half up to the won;
the range's figures are the days' figures added up, so they agree to the won.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, literal, select

from app.auth.models import Role
from app.catalog.hours import zone
from app.catalog.models import Store
from app.db import Database, replica_fallback, utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.orders.lifecycle import Status
from app.orders.models import Order, OrderTimeline
from app.orders.schemas import SettlementDayOut, SettlementOut, SettlementQuery

MAX_DAYS = 366


@dataclass(frozen=True)
class Range:
    """The days asked for, both included, in the store's zone."""

    first: date
    last: date

    @property
    def days(self) -> list[date]:
        """Every day of the range, in order."""
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def commission_of(net: int, percent: Decimal) -> int:
    """The commission on `net` won at `percent`, rounded half up to the won."""
    return int((Decimal(net) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def settlement_range(query: SettlementQuery, today: date) -> Range:
    """The range the query names, with its defaults; 400 when it is not a range we report."""
    last = query.to or today
    first = query.from_ or last.replace(day=1)
    if first > last:
        raise ValidationFailed(
            f"The range starts ({first.isoformat()}) after it ends ({last.isoformat()}): "
            "`from` must be on or before `to`.",
            errors=[{"field": "from", "message": "From must be on or before to.", "type": "range"}],
        )
    span = (last - first).days + 1
    if span > MAX_DAYS:
        raise ValidationFailed(
            f"The range covers {span:,} days; a settlement covers at most {MAX_DAYS}.",
            errors=[
                {
                    "field": "from",
                    "message": f"From and to may be at most {MAX_DAYS} days apart, both included.",
                    "type": "range",
                }
            ],
        )
    return Range(first, last)


@replica_fallback
async def store_settlement(
    *,
    db: Database,
    user_id: int,
    role: str,
    store_id: int,
    query: SettlementQuery,
    commission_percent: float,
) -> SettlementOut:
    """The settlement of `store_id` over the query's days (its owner, or an admin)."""
    percent = Decimal(str(commission_percent))
    async with db.read_uow() as uow:
        row = (
            await uow.session.execute(
                select(Store.owner_id, Store.timezone).where(Store.id == store_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"Store {store_id} does not exist.")
        if role != Role.ADMIN and row.owner_id != user_id:
            raise Forbidden("Only the store's owner or an admin can read its settlement.")
        tz = zone(row.timezone)
        wanted = settlement_range(query, utcnow().astimezone(tz).date())
        days = wanted.days
        # Each local midnight as a UTC instant: the day of a delivery is the last midnight
        # before it. Computed here (zoneinfo knows every offset change) and given to SQL as a
        # CASE, so that the grouping happens in the database on any dialect.
        starts = [datetime.combine(day, time(), tzinfo=tz) for day in days]
        end = datetime.combine(wanted.last + timedelta(days=1), time(), tzinfo=tz)
        at = OrderTimeline.at
        whens = [(at < start, index - 1) for index, start in enumerate(starts) if index]
        day_index = case(*whens, else_=len(days) - 1) if whens else literal(0)
        delivered = (
            select(
                day_index.label("day"),
                Order.total.label("total"),
                Order.refunded_amount.label("refunded"),
            )
            .join(OrderTimeline, OrderTimeline.order_id == Order.id)
            .where(
                Order.store_id == store_id,
                Order.status == Status.DELIVERED,
                OrderTimeline.status == Status.DELIVERED,
                at >= starts[0],
                at < end,
            )
            .subquery()
        )
        rows = (
            await uow.session.execute(
                select(
                    delivered.c.day,
                    func.count().label("orders"),
                    func.sum(delivered.c.total).label("gross"),
                    func.sum(delivered.c.refunded).label("refunds"),
                )
                .group_by(delivered.c.day)
                .order_by(delivered.c.day)
            )
        ).all()
    out: list[SettlementDayOut] = []
    for found in rows:
        gross, refunds = int(found.gross), int(found.refunds)
        commission = commission_of(gross - refunds, percent)
        out.append(
            SettlementDayOut(
                date=days[int(found.day)].isoformat(),
                orders=int(found.orders),
                gross=gross,
                refunds=refunds,
                commission=commission,
                payout=gross - refunds - commission,
            )
        )
    gross = sum(day.gross for day in out)
    refunds = sum(day.refunds for day in out)
    commission = sum(day.commission for day in out)
    return SettlementOut(
        store_id=store_id,
        first_day=wanted.first.isoformat(),
        last_day=wanted.last.isoformat(),
        timezone=row.timezone,
        commission_percent=float(percent),
        orders=sum(day.orders for day in out),
        gross=gross,
        refunds=refunds,
        commission=commission,
        payout=gross - refunds - commission,
        days=out,
    )
