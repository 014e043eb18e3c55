"""Orders as the API and their events show them."""

from __future__ import annotations

import json

from app.db import utcnow
from app.orders.eta import minutes_until
from app.orders.lifecycle import REFUNDING, DispatchState, Status
from app.orders.models import Order, OrderItem, OrderRefund
from app.orders.schemas import (
    AddressOut,
    OrderLineOut,
    OrderOut,
    PaymentMethod,
    PaymentOut,
    RefundLineOut,
    RefundOut,
    RiderOut,
    TimelineEntryOut,
)
from app.payments.models import Payment, PaymentStatus


def payment_view(payment: Payment) -> PaymentOut:
    """The API's `payment`."""
    return PaymentOut(
        method=PaymentMethod(payment.method),
        status=PaymentStatus(payment.status),
        reference=payment.reference,
    )


def line_view(line: OrderItem) -> OrderLineOut:
    """An order line with the options chosen, as they were."""
    return OrderLineOut(
        menu_item_id=line.menu_item_id,
        name=line.name,
        price=line.price,
        quantity=line.quantity,
        # The options were copied as JSON when ordered; validated straight into `OptionOut`s.
        options=json.loads(line.options_json),
        line_total=line.line_total,
    )


def refund_view(refund: OrderRefund) -> RefundOut:
    """The API's `refund`."""
    lines = None
    if refund.lines_json is not None:
        lines = [
            RefundLineOut(
                menu_item_id=line["menu_item_id"],
                name=line["name"],
                quantity=line["quantity"],
                amount=line["amount"],
            )
            for line in json.loads(refund.lines_json)
        ]
    return RefundOut(
        id=refund.id,
        amount=refund.amount,
        points=refund.points,
        card=refund.card,
        lines=lines,
        reason=refund.reason,
        at=refund.created_at,
    )


def order_view(order: Order) -> OrderOut:
    """The API's `order`, as the REST API and its events show it."""
    rider = None
    if order.rider is not None:
        rider = RiderOut(
            id=order.rider.id, name=order.rider.name, lat=order.rider_lat, lng=order.rider_lng
        )
    eta = order.eta if order.status not in REFUNDING else None
    eta_minutes = None
    if eta is not None:
        eta_minutes = 0 if order.status == Status.DELIVERED else minutes_until(eta, utcnow())
    return OrderOut(
        id=order.id,
        customer_id=order.customer_id,
        store_id=order.store_id,
        store_name=order.store.name,
        status=Status(order.status),
        items=[line_view(line) for line in order.items],
        subtotal=order.subtotal,
        delivery_fee=order.delivery_fee,
        coupon_discount=order.coupon_discount,
        points_used=order.points_used,
        total=order.total,
        paid_amount=order.paid_amount,
        payment=payment_view(order.payment) if order.payment is not None else None,
        address=AddressOut(text=order.address_text, lat=order.address_lat, lng=order.address_lng),
        rider=rider,
        dispatch=DispatchState(order.dispatch),
        prep_minutes=order.prep_minutes,
        reason=order.reason,
        timeline=[TimelineEntryOut(status=Status(t.status), at=t.at) for t in order.timeline],
        created_at=order.created_at,
        stream_seq=order.stream_seq,
        store_note=order.store_note,
        rider_note=order.rider_note,
        accept_by=order.accept_by if order.status == Status.PLACED else None,
        eta=eta,
        eta_minutes=eta_minutes,
        ready_by=order.ready_by if eta is not None else None,
        delay_minutes=order.delay_minutes or 0,
        # Ended rejected or cancelled, everything paid goes back (the card part perhaps still
        # on its way: `payment.status` says).
        refunded_amount=order.total if order.status in REFUNDING else order.refunded_amount or 0,
        refunds=[refund_view(refund) for refund in order.refunds],
    )
