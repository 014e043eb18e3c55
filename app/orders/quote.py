"""What an order would cost: placement's own pricing, read-only, nothing taken or charged."""

from __future__ import annotations

from app.customers.service import saved_address
from app.db import Database
from app.errors import Conflict
from app.orders.pricing import price_lines, settle
from app.orders.schemas import PaymentMethod, QuoteOut, QuoteRequest
from app.rewards import ledger


async def quote_order(*, db: Database, customer_id: int, request: QuoteRequest) -> QuoteOut:
    """The amounts `place_order` would record for `request` now, refused as it would refuse
    them (store closed, sold out, under the minimum, out of range, coupon unusable, too many
    points). Without an address the delivery fee is the store's first tier's."""
    all_in_points = request.payment is not None and request.payment.method == PaymentMethod.POINTS
    async with db.uow() as uow:
        destination: tuple[float, float] | None = None
        if request.address is not None:
            destination = (request.address.lat, request.address.lng)
        elif request.address_id is not None:
            saved = await saved_address(uow, customer_id=customer_id, address_id=request.address_id)
            destination = (saved.lat, saved.lng)
        priced = await price_lines(uow, request, destination)
        coupon = (
            await ledger.coupon_discount(
                uow, customer_id=customer_id, coupon_id=request.coupon_id, subtotal=priced.subtotal
            )
            if request.coupon_id is not None
            else 0
        )
        amounts = settle(
            priced,
            coupon_discount=coupon,
            use_points=request.use_points,
            all_in_points=all_in_points,
        )
        if amounts.points_used:
            usable = (await ledger.balances(uow, customer_id=customer_id))["usable"]
            if amounts.points_used > usable:
                raise Conflict(
                    ledger.short_of_points(usable=usable, needed=amounts.points_used),
                    code="insufficient-points",
                    title="Not enough points",
                )
    return QuoteOut(
        subtotal=amounts.subtotal,
        delivery_fee=amounts.delivery_fee,
        coupon_discount=amounts.coupon_discount,
        points_used=amounts.points_used,
        total=amounts.total,
        paid_amount=amounts.paid_amount,
    )
