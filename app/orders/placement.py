"""Placing an order: prices re-read from the catalog, one transaction, one charge, idempotent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Insert, insert, select

from app.catalog.models import Store
from app.customers.service import saved_address
from app.db import Base, Database, UnitOfWork, row_values, table_of, utcnow
from app.errors import PaymentDeclined, RateLimited, Unavailable, ValidationFailed
from app.orders.events import emit_order_event
from app.orders.idempotency import (
    KeyLost,
    Outcome,
    claim_key,
    holder_answer,
    mark_done,
    release_key,
    remember,
    renew_lease,
    request_hash,
)
from app.orders.lifecycle import DispatchState, Status
from app.orders.models import IdempotencyRecord, Order, OrderItem, OrderTimeline
from app.orders.pricing import Priced, price_lines, settle
from app.orders.schemas import CardPayment, PlaceOrderRequest
from app.payments.gateway import CardDeclined, GatewayError, PaymentGateway
from app.payments.models import Payment, PaymentStatus
from app.problems import problem_of
from app.ratelimit import RateLimiter
from app.rewards import ledger

log = logging.getLogger("delivery.orders")


@dataclass(frozen=True)
class PlacementLimits:
    """How long a request holds its key without renewing it, and how much a customer may try."""

    key_lease: timedelta
    orders_max: int
    orders_window: int
    card_declines_max: int
    card_declines_window: int
    # How long the store has to answer a new order (STORE_ACCEPT_TIMEOUT).
    accept_within: timedelta


async def place_order(
    *,
    db: Database,
    gateway: PaymentGateway,
    limiter: RateLimiter,
    limits: PlacementLimits,
    customer_id: int,
    idempotency_key: str,
    request: PlaceOrderRequest,
) -> Outcome:
    """Place and pay an order exactly once per Idempotency-Key."""
    _check_destination(request)
    fingerprint = request_hash(request)
    claimed = await claim_key(
        db=db,
        user_id=customer_id,
        key=idempotency_key,
        fingerprint=fingerprint,
        lease=limits.key_lease,
    )
    if isinstance(claimed, Outcome):
        return claimed  # a replay: it does not count against the customer's limits
    record = claimed
    declines = f"orders:declines:{customer_id}"
    try:
        if isinstance(request.payment, CardPayment):
            await limiter.check(declines, limit=limits.card_declines_max)
        await limiter.hit(
            f"orders:placed:{customer_id}", limit=limits.orders_max, window=limits.orders_window
        )
    except RateLimited:
        await release_key(db=db, record=record)
        raise
    try:
        async with _holding(db=db, record=record, lease=limits.key_lease):
            return await _place(
                db=db,
                gateway=gateway,
                customer_id=customer_id,
                request=request,
                record=record,
                accept_within=limits.accept_within,
            )
    except KeyLost:
        # A retry took the key over while this request stalled (a paused node, a gateway that
        # hung past the lease): its order was rolled back, so its charge must go too, and the
        # answer is the one the key's holder gives.
        await _void_quietly(gateway, record.payment_reference)
        return await holder_answer(
            db=db, user_id=customer_id, key=idempotency_key, fingerprint=fingerprint
        )
    except PaymentDeclined as declined:
        await limiter.count(declines, window=limits.card_declines_window)
        # A decline is the answer to this request: the same key gets it again.
        await remember(
            db=db, record=record, outcome=Outcome(402, problem_of(declined).model_dump_json())
        )
        raise
    except BaseException:
        if not await _order_exists(db=db, reference=record.payment_reference):
            # Nothing was committed, so any charge under this reference is voided (never a
            # payment without its order) and the key is free for a retry.
            await _void_quietly(gateway, record.payment_reference)
            await release_key(db=db, record=record)
        raise


@asynccontextmanager
async def _holding(
    *, db: Database, record: IdempotencyRecord, lease: timedelta
) -> AsyncIterator[None]:
    """Renew the key's lease every third of it while the body runs, so that a live request
    keeps its key however long the gateway takes, and a dead one loses it within one lease."""
    done = asyncio.Event()

    async def heartbeat() -> None:
        while True:
            # Waiting on the event, never cancelled mid-statement: a renewal cut half-way
            # would leave its row lock on the key for the order's own transaction to wait on.
            with suppress(TimeoutError):
                async with asyncio.timeout(lease.total_seconds() / 3):
                    await done.wait()
            if done.is_set():
                return
            try:
                if not await renew_lease(db=db, record=record, lease=lease):
                    return  # taken over: the fence in `mark_done` stops this request
            except Exception:
                log.warning("could not renew the lease of key %s", record.id, exc_info=True)

    task = asyncio.create_task(heartbeat(), name=f"key-lease-{record.id}")
    try:
        yield
    finally:
        done.set()
        await task


async def _order_exists(*, db: Database, reference: str) -> bool:
    async with db.uow() as uow:
        found = await uow.session.scalar(select(Payment.id).where(Payment.reference == reference))
    return found is not None


async def _void_quietly(gateway: PaymentGateway, reference: str) -> None:
    try:
        await gateway.void(reference=reference)
    except Exception:
        log.exception("could not void charge %s; the gateway's ledger needs a look", reference)


async def _place(
    *,
    db: Database,
    gateway: PaymentGateway,
    customer_id: int,
    request: PlaceOrderRequest,
    record: IdempotencyRecord,
    accept_within: timedelta,
) -> Outcome:
    # Written with SQLAlchemy Core, each table in one statement: the ORM's unit of work cost
    # more node CPU than the round trips themselves (README, Benchmarks). The ORM objects
    # below are never added to the session; they only carry the new order to its view.
    async with db.uow() as uow:
        destination = await _destination(uow, customer_id, request)
        priced = await price_lines(uow, request, (destination.lat, destination.lng))
        now = utcnow()
        order = Order(
            customer_id=customer_id,
            store_id=request.store_id,
            status=Status.PLACED,
            dispatch=DispatchState.NONE,
            version=1,
            subtotal=priced.subtotal,
            delivery_fee=priced.delivery_fee,
            coupon_id=request.coupon_id,
            address_text=destination.text,
            address_lat=destination.lat,
            address_lng=destination.lng,
            store_note=request.store_note or None,
            rider_note=destination.rider_note,
            # A new order's stream starts at 1 (the event sets it again, to what it took).
            stream_seq=1,
            accept_by=now + accept_within,
            delay_minutes=0,
            created_at=now,
            updated_at=now,
        )
        coupon = (
            await ledger.coupon_discount(
                uow, customer_id=customer_id, coupon_id=request.coupon_id, subtotal=priced.subtotal
            )
            if request.coupon_id is not None
            else 0
        )
        _settle_amounts(order, request, coupon_discount=coupon)
        inserted = cast(
            CursorResult[Any],
            await uow.session.execute(_INSERTS[Order], row_values(order)),
        )
        order.id = int(inserted.lastrowid)
        await _apply_rewards(uow, order=order)
        payment = await _charge(
            gateway, order=order, request=request, reference=record.payment_reference
        )
        order.items = [OrderItem(order_id=order.id, **line) for line in priced.lines]
        order.timeline = [OrderTimeline(order_id=order.id, status=Status.PLACED, at=now)]
        payment.order_id = order.id
        for rows in (order.items, order.timeline, [payment]):
            await uow.session.execute(
                _INSERTS[type(rows[0])], [row_values(row, now) for row in rows]
            )
        order.payment = payment
        order.refunds = []
        # Only its name is shown: the view reads the store from the order.
        order.store = Store(id=order.store_id, name=priced.store_name)

        placed = await emit_order_event(uow, order, "order.placed")
        outcome = Outcome(201, placed.model_dump_json())
        # Marking the key done in the order's own transaction: committed together or not at
        # all, and only while the key is still this request's (else `KeyLost` rolls it back).
        await mark_done(uow, record, outcome)
        await uow.commit()
    return outcome


@dataclass(frozen=True)
class Destination:
    """Where the order goes, copied onto it (a saved address may change or go later)."""

    text: str
    lat: float
    lng: float
    rider_note: str | None


def _check_destination(request: PlaceOrderRequest) -> None:
    if (request.address is None) == (request.address_id is None):
        both = request.address is not None
        raise ValidationFailed(
            "Send either the delivery address or the id of a saved one, not both."
            if both
            else "Send the delivery address, or the id of a saved one (address_id).",
            errors=[
                {
                    "field": "address_id" if both else "address",
                    "message": "Choose a saved address or send a new one, not both."
                    if both
                    else "Where should the order go? Send an address or a saved one.",
                    "type": "invalid" if both else "missing",
                }
            ],
        )


async def _destination(
    uow: UnitOfWork, customer_id: int, request: PlaceOrderRequest
) -> Destination:
    """The address sent, or a copy of the customer's saved one, with the rider's note: the
    one sent (empty for none), else the saved address's."""
    if request.address is not None:
        address = request.address
        return Destination(address.text, address.lat, address.lng, request.rider_note or None)
    assert request.address_id is not None
    saved = await saved_address(uow, customer_id=customer_id, address_id=request.address_id)
    note = request.rider_note if request.rider_note is not None else saved.rider_note
    return Destination(saved.text, saved.lat, saved.lng, note or None)


# Built once: a statement object keeps its cache key, so executing it again costs no rebuild.
_INSERTS: dict[type[Base], Insert] = {
    model: insert(table_of(model)) for model in (Order, OrderItem, OrderTimeline, Payment)
}


def _settle_amounts(order: Order, request: PlaceOrderRequest, *, coupon_discount: int) -> None:
    """The coupon's discount, the points used, the total and what the card pays."""
    amounts = settle(
        Priced(subtotal=order.subtotal, delivery_fee=order.delivery_fee),
        coupon_discount=coupon_discount,
        use_points=request.use_points,
        all_in_points=not isinstance(request.payment, CardPayment),
    )
    order.coupon_discount = amounts.coupon_discount
    order.points_used = amounts.points_used
    order.total = amounts.total
    order.paid_amount = amounts.paid_amount


async def _apply_rewards(uow: UnitOfWork, *, order: Order) -> None:
    """Take the coupon and the points for the order just inserted."""
    if order.coupon_id is not None:
        await ledger.take_coupon(
            uow, customer_id=order.customer_id, coupon_id=order.coupon_id, order_id=order.id
        )
    if order.points_used:
        await ledger.spend_points(
            uow, customer_id=order.customer_id, points=order.points_used, order_id=order.id
        )


async def _charge(
    gateway: PaymentGateway,
    *,
    order: Order,
    request: PlaceOrderRequest,
    reference: str,
) -> Payment:
    """Charge the card (nothing for points): the payment row to insert with the order."""
    payment = Payment(
        method=request.payment.method,
        amount=order.paid_amount,
        status=PaymentStatus.CAPTURED,
        reference=reference,
    )
    if isinstance(request.payment, CardPayment) and order.paid_amount > 0:
        try:
            charge = await gateway.charge(
                reference=reference,
                amount=order.paid_amount,
                card_number=request.payment.card_number,
            )
        except CardDeclined:
            raise PaymentDeclined("The card was declined; nothing was charged.") from None
        except GatewayError:
            # The answer was lost: ask the gateway what happened under our reference.
            try:
                found = await gateway.lookup(reference=reference)
            except GatewayError:
                found = None
            if found is None or found.status != "captured" or found.amount != order.paid_amount:
                raise Unavailable(
                    "The card gateway did not answer; nothing was charged. Retry shortly."
                ) from None
            charge = found
        payment.provider_reference = charge.provider_reference
    return payment
