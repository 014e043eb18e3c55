"""Points and coupon use inside a caller's unit of work (orders call these in their own)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import CursorResult

from app.db import UnitOfWork, utcnow
from app.errors import Conflict
from app.rewards.models import (
    Coupon,
    CouponCampaign,
    CouponStatus,
    LedgerReason,
    PointBalance,
    PointLedger,
)

CONVERSION_UNIT = 5_000
ACCRUAL_PERCENT = 1


def insert_ignore(model: Any, **values: Any) -> Any:
    """`INSERT IGNORE` (MariaDB) / `INSERT OR IGNORE` (SQLite): a duplicate key is a no-op."""
    return (
        insert(model)
        .values(**values)
        .prefix_with("IGNORE", dialect="mysql")
        .prefix_with("OR IGNORE", dialect="sqlite")
    )


async def _rowcount(uow: UnitOfWork, statement: Any) -> int:
    result: CursorResult[Any] = await uow.session.execute(
        statement, execution_options={"synchronize_session": False}
    )  # type: ignore[assignment]
    return int(result.rowcount)


async def _add(uow: UnitOfWork, customer_id: int, *, accrued: int = 0, usable: int = 0) -> None:
    """Add to the balances, creating the row on first use."""
    # Every movement locks the balance row before writing its ledger row: one lock order for
    # all of them, so spends, refunds, accruals and conversions queue instead of deadlocking.
    # (An upsert-then-update would take a shared lock first and deadlock on the upgrade.)
    statement = (
        update(PointBalance)
        .where(PointBalance.customer_id == customer_id)
        .values(accrued=PointBalance.accrued + accrued, usable=PointBalance.usable + usable)
    )
    if await _rowcount(uow, statement) == 1:
        return
    created = insert_ignore(PointBalance, customer_id=customer_id, accrued=accrued, usable=usable)
    if await _rowcount(uow, created) == 0:
        await _rowcount(uow, statement)  # created by a concurrent first movement meanwhile


async def _ledger(
    uow: UnitOfWork,
    *,
    customer_id: int,
    reason: LedgerReason,
    order_id: int | None,
    accrued: int = 0,
    usable: int = 0,
    refund_id: int = 0,
) -> bool:
    """Write a ledger row; False when this order already has a row for `reason` (and
    `refund_id`)."""
    inserted = await _rowcount(
        uow,
        insert_ignore(
            PointLedger,
            customer_id=customer_id,
            reason=reason.value,
            order_id=order_id,
            accrued_delta=accrued,
            usable_delta=usable,
            refund_id=refund_id,
        ),
    )
    return inserted == 1


async def balances(uow: UnitOfWork, *, customer_id: int) -> dict[str, int]:
    """The customer's `{accrued, usable}` (zeros before any movement)."""
    row = (
        await uow.session.execute(
            select(PointBalance.accrued, PointBalance.usable).where(
                PointBalance.customer_id == customer_id
            )
        )
    ).first()
    if row is None:
        return {"accrued": 0, "usable": 0}
    return {"accrued": int(row.accrued), "usable": int(row.usable)}


async def ledger_sums(uow: UnitOfWork, *, customer_id: int) -> dict[str, int]:
    """The balances re-derived from the ledger alone."""
    row = (
        await uow.session.execute(
            select(
                func.coalesce(func.sum(PointLedger.accrued_delta), 0).label("accrued"),
                func.coalesce(func.sum(PointLedger.usable_delta), 0).label("usable"),
            ).where(PointLedger.customer_id == customer_id)
        )
    ).one()
    return {"accrued": int(row.accrued), "usable": int(row.usable)}


async def convert_points(uow: UnitOfWork, *, customer_id: int, amount: int) -> dict[str, int]:
    """Move `amount` from accrued to usable; 409 `insufficient-points` when accrued < amount."""
    # The conditional update alone decides: whatever runs concurrently, accrued never goes
    # negative and the two balances move together, so no point is lost or minted.
    moved = await _rowcount(
        uow,
        update(PointBalance)
        .where(PointBalance.customer_id == customer_id, PointBalance.accrued >= amount)
        .values(accrued=PointBalance.accrued - amount, usable=PointBalance.usable + amount),
    )
    if moved != 1:
        raise Conflict(
            f"Converting {amount} points needs at least {amount} accrued points.",
            code="insufficient-points",
            title="Not enough points",
        )
    await _ledger(
        uow,
        customer_id=customer_id,
        reason=LedgerReason.CONVERSION,
        order_id=None,
        accrued=-amount,
        usable=amount,
    )
    return await balances(uow, customer_id=customer_id)


def short_of_points(*, usable: int, needed: int) -> str:
    """Why points cannot pay, for people."""
    return f"You have {usable:,} usable points; this order needs {needed:,}."


async def spend_points(uow: UnitOfWork, *, customer_id: int, points: int, order_id: int) -> None:
    """Debit usable points for an order; 409 `insufficient-points` when usable < points."""
    if points <= 0:
        return
    spent = await _rowcount(
        uow,
        update(PointBalance)
        .where(PointBalance.customer_id == customer_id, PointBalance.usable >= points)
        .values(usable=PointBalance.usable - points),
    )
    if spent != 1:
        usable = (await balances(uow, customer_id=customer_id))["usable"]
        raise Conflict(
            short_of_points(usable=usable, needed=points),
            code="insufficient-points",
            title="Not enough points",
        )
    if not await _ledger(
        uow,
        customer_id=customer_id,
        reason=LedgerReason.ORDER,
        order_id=order_id,
        usable=-points,
    ):
        raise Conflict(
            f"Order {order_id} has already spent points.",
            code="insufficient-points",
            title="Points already spent",
        )


async def restore_for_order(
    uow: UnitOfWork, *, customer_id: int, order_id: int, coupon_id: int | None, points: int
) -> None:
    """Refund an order's points and coupon; calling it twice for one order restores once."""
    if points > 0:
        await _add(uow, customer_id, usable=points)
        if not await _ledger(
            uow,
            customer_id=customer_id,
            reason=LedgerReason.REFUND,
            order_id=order_id,
            usable=points,
        ):
            await _add(uow, customer_id, usable=-points)  # this order was already refunded
    if coupon_id is not None:
        now = utcnow()
        # Only the order that used the coupon gives it back, and only once.
        await uow.session.execute(
            update(Coupon)
            .where(
                Coupon.id == coupon_id,
                Coupon.customer_id == customer_id,
                Coupon.order_id == order_id,
                Coupon.status == CouponStatus.USED.value,
            )
            .values(
                status=case(
                    (Coupon.expires_at <= now, CouponStatus.EXPIRED.value),
                    else_=CouponStatus.ISSUED.value,
                ),
                order_id=None,
                used_at=None,
            ),
            execution_options={"synchronize_session": False},
        )


async def restore_for_part_refund(
    uow: UnitOfWork, *, customer_id: int, order_id: int, refund_id: int, points: int
) -> None:
    """Give back `points` of an order's refund of part of it, once per refund."""
    if points <= 0:
        return
    await _add(uow, customer_id, usable=points)
    if not await _ledger(
        uow,
        customer_id=customer_id,
        reason=LedgerReason.PART_REFUND,
        order_id=order_id,
        usable=points,
        refund_id=refund_id,
    ):
        await _add(uow, customer_id, usable=-points)  # this refund already restored them


async def accrue_for_delivery(
    uow: UnitOfWork, *, customer_id: int, order_id: int, paid_amount: int
) -> int:
    """Accrue 1% of `paid_amount` (floor) once per order; returns the amount."""
    amount = max(0, paid_amount) * ACCRUAL_PERCENT // 100
    await _add(uow, customer_id, accrued=amount)
    if not await _ledger(
        uow,
        customer_id=customer_id,
        reason=LedgerReason.ACCRUAL,
        order_id=order_id,
        accrued=amount,
    ):
        await _add(uow, customer_id, accrued=-amount)  # this order already accrued
    return amount


async def coupon_discount(
    uow: UnitOfWork, *, customer_id: int, coupon_id: int, subtotal: int
) -> int:
    """The discount the customer's coupon gives on `subtotal` (at most subtotal), or 409
    `coupon-unusable` saying why it gives none. `take_coupon` then marks it used."""
    row = (
        await uow.session.execute(
            select(
                Coupon.status, Coupon.expires_at, CouponCampaign.discount, CouponCampaign.min_order
            )
            .join(CouponCampaign, CouponCampaign.id == Coupon.campaign_id)
            .where(Coupon.id == coupon_id, Coupon.customer_id == customer_id)
        )
    ).first()
    unusable = _unusable_reason(row, now=utcnow(), subtotal=subtotal)
    if unusable is not None or row is None:
        raise _coupon_unusable(coupon_id, unusable or "it is not one of your coupons")
    return min(int(row.discount), subtotal)


async def take_coupon(uow: UnitOfWork, *, customer_id: int, coupon_id: int, order_id: int) -> None:
    """Mark the coupon used by this order; 409 `coupon-unusable` when another order took it
    since `coupon_discount` read it."""
    now = utcnow()
    # The conditional update is what stops two orders from using one coupon.
    taken = await _rowcount(
        uow,
        update(Coupon)
        .where(
            Coupon.id == coupon_id,
            Coupon.customer_id == customer_id,
            Coupon.status == CouponStatus.ISSUED.value,
            Coupon.expires_at > now,
        )
        .values(status=CouponStatus.USED.value, order_id=order_id, used_at=now),
    )
    if taken != 1:
        raise _coupon_unusable(coupon_id, "it has just been used")


def _coupon_unusable(coupon_id: int, why: str) -> Conflict:
    return Conflict(
        f"Coupon {coupon_id} cannot be used: {why}.",
        code="coupon-unusable",
        title="Coupon unusable",
    )


def _unusable_reason(row: Any, *, now: Any, subtotal: int) -> str | None:
    if row is None:
        return "it is not one of your coupons"
    if row.status == CouponStatus.USED.value:
        return "it is already used"
    if row.status == CouponStatus.EXPIRED.value or row.expires_at <= now:
        return "it has expired"
    if subtotal < row.min_order:
        return f"the order must be at least {row.min_order} won"
    return None
