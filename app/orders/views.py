"""HTTP for orders: placing, reading and moving them through their lifecycle (docs/api.md)."""

from __future__ import annotations

from datetime import timedelta

from quart import Blueprint, Response, request
from quart_schema import tag

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.container import container
from app.errors import ProblemCode, ValidationFailed
from app.orders import delays, placement, quote, refunds, reorder, service, settlement
from app.orders.hooks import OrderHooks
from app.orders.lifecycle import Action
from app.orders.placement import PlacementLimits
from app.orders.schemas import (
    AcceptRequest,
    DelayRequest,
    EmptyRequest,
    OrderListOut,
    OrderListQuery,
    OrderOut,
    PlaceOrderRequest,
    QuoteOut,
    QuoteRequest,
    ReasonRequest,
    RefundOut,
    RefundRequest,
    ReorderOut,
    SettlementOut,
    SettlementQuery,
)
from app.orders.service import Actor
from app.payments.gateway import PaymentGateway
from app.problems import PROBLEM_TYPE
from app.ratelimit import RateLimiter
from app.responses import header, problems, returns
from app.validation import body, optional_body, query

bp = Blueprint("orders", __name__)

IDEMPOTENCY_KEY = header(
    "Idempotency-Key",
    "Any 1–255 printable characters, new for each order: a retry with the same key and body "
    "gets the first answer for 24 h (charged once).",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
)
REFUND_KEY = header(
    "Idempotency-Key",
    "Optional, any 1–255 printable characters: one refund per key and order, so a retry with "
    "the same key and body gets the first refund again (never a second one); the same key with "
    "another body is 422 `idempotency-mismatch`.",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    required=False,
)


def _idempotency_key(*, required: bool, what: str) -> str | None:
    """The request's `Idempotency-Key`, checked; None when absent and not required."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None and not required:
        return None
    key = (raw or "").strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise ValidationFailed(
            f"Send an Idempotency-Key header (1–255 printable characters) with {what}.",
            errors=[
                {
                    "field": "Idempotency-Key",
                    "message": "The Idempotency-Key header is required."
                    if raw is None
                    else "The Idempotency-Key header must be 1–255 printable characters.",
                    "type": "missing" if raw is None else "value_error",
                }
            ],
        )
    return key


# Every move can find the order gone from the caller's view, or in a status that forbids it.
move_problems = problems(
    ProblemCode.FORBIDDEN, ProblemCode.NOT_FOUND, ProblemCode.INVALID_TRANSITION
)


def _actor(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, role=principal.role)


@bp.post("/api/orders")
@tag(["orders"])
@returns(OrderOut, 201)
@problems(
    ProblemCode.BELOW_MINIMUM_ORDER,
    ProblemCode.PAYMENT_DECLINED,
    ProblemCode.NOT_FOUND,
    ProblemCode.STORE_CLOSED,
    ProblemCode.STORE_SUSPENDED,
    ProblemCode.ITEM_UNAVAILABLE,
    ProblemCode.INSUFFICIENT_POINTS,
    ProblemCode.COUPON_UNUSABLE,
    ProblemCode.OUT_OF_RANGE,
    ProblemCode.IDEMPOTENCY_IN_PROGRESS,
    ProblemCode.IDEMPOTENCY_MISMATCH,
    ProblemCode.RATE_LIMITED,
)
@IDEMPOTENCY_KEY
@login_required(role=Role.CUSTOMER)
@body(PlaceOrderRequest)
async def place_order(principal: Principal, data: PlaceOrderRequest) -> Response:
    """Place and pay an order; requires an `Idempotency-Key` header."""
    key = _idempotency_key(required=True, what="every order")
    assert key is not None
    services = container()
    settings = services.settings
    outcome = await placement.place_order(
        db=services.db,
        gateway=services.get(PaymentGateway),
        limiter=services.get(RateLimiter),
        limits=PlacementLimits(
            key_lease=timedelta(seconds=settings.order_key_lease_seconds),
            orders_max=settings.order_max_per_customer,
            orders_window=settings.order_window_seconds,
            card_declines_max=settings.card_declines_max,
            card_declines_window=settings.card_declines_window_seconds,
            accept_within=timedelta(seconds=settings.store_accept_timeout),
        ),
        customer_id=principal.user_id,
        idempotency_key=key,
        request=data,
    )
    # The first answer under this key, as it was sent: an order, or the decline's problem.
    kind = PROBLEM_TYPE if outcome.status >= 400 else "application/json"
    return Response(outcome.body, status=outcome.status, content_type=kind)


@bp.get("/api/orders")
@tag(["orders"])
@returns(OrderListOut)
@problems(ProblemCode.NOT_FOUND)
@login_required()
@query(OrderListQuery)
async def list_orders(principal: Principal, query: OrderListQuery) -> OrderListOut:
    """The caller's orders, newest first (customer: own; owner: own stores'; rider: assigned)."""
    orders = await service.list_orders(
        db=container().db,
        actor=_actor(principal),
        store_id=query.store_id,
        limit=query.limit,
    )
    return OrderListOut(orders=orders)


@bp.get("/api/orders/<int:order_id>")
@tag(["orders"])
@returns(OrderOut)
@problems(ProblemCode.NOT_FOUND)
@login_required()
async def get_order(principal: Principal, order_id: int) -> OrderOut:
    """One order, for its customer, its store's owner or its rider."""
    return await service.get_order(db=container().db, actor=_actor(principal), order_id=order_id)


async def _move(
    principal: Principal,
    order_id: int,
    action: Action,
    *,
    prep_minutes: int | None = None,
    reason: str | None = None,
) -> OrderOut:
    services = container()
    return await service.transition(
        db=services.db,
        gateway=services.get(PaymentGateway),
        hooks=services.get(OrderHooks),
        actor=_actor(principal),
        order_id=order_id,
        action=action,
        prep_minutes=prep_minutes,
        reason=reason,
    )


@bp.post("/api/orders/<int:order_id>/accept")
@tag(["orders"])
@returns(OrderOut)
@move_problems
@login_required()
@body(AcceptRequest)
async def accept(principal: Principal, order_id: int, data: AcceptRequest) -> OrderOut:
    """The store accepts, with a preparation time; dispatch starts (its owner).

    Sent again once it took effect (a retry after a lost answer): 200, the order unchanged.
    """
    return await _move(principal, order_id, Action.ACCEPT, prep_minutes=data.prep_minutes)


@bp.post("/api/orders/<int:order_id>/reject")
@tag(["orders"])
@returns(OrderOut)
@move_problems
@login_required()
@optional_body(ReasonRequest)
async def reject(principal: Principal, order_id: int, data: ReasonRequest) -> OrderOut:
    """The store rejects; refunded in full (its owner, while placed).

    Sent again once it took effect (a retry after a lost answer): 200, the order unchanged.
    """
    return await _move(principal, order_id, Action.REJECT, reason=data.reason)


@bp.post("/api/orders/<int:order_id>/cancel")
@tag(["orders"])
@returns(OrderOut)
@move_problems
@login_required()
@optional_body(ReasonRequest)
async def cancel(principal: Principal, order_id: int, data: ReasonRequest) -> OrderOut:
    """Cancel (its customer while placed; its owner before pickup); refunded in full.

    Sent again once it took effect (a retry after a lost answer): 200, the order unchanged.
    """
    return await _move(principal, order_id, Action.CANCEL, reason=data.reason)


@bp.post("/api/orders/<int:order_id>/ready")
@tag(["orders"])
@returns(OrderOut)
@move_problems
@login_required()
@optional_body(EmptyRequest)
async def ready(principal: Principal, order_id: int, data: EmptyRequest) -> OrderOut:
    """The kitchen is done (its owner).

    Sent again once it took effect (a retry after a lost answer): 200, the order unchanged.
    """
    return await _move(principal, order_id, Action.READY)


@bp.post("/api/orders/<int:order_id>/pickup")
@tag(["orders"])
@returns(OrderOut)
@move_problems
@login_required()
@optional_body(EmptyRequest)
async def pickup(principal: Principal, order_id: int, data: EmptyRequest) -> OrderOut:
    """The assigned rider picks the order up (needs `ready`).

    Sent again once it took effect (a retry after a lost answer): 200, the order unchanged.
    """
    return await _move(principal, order_id, Action.PICKUP)


@bp.post("/api/orders/<int:order_id>/deliver")
@tag(["orders"])
@returns(OrderOut)
@move_problems
@login_required()
@optional_body(EmptyRequest)
async def deliver(principal: Principal, order_id: int, data: EmptyRequest) -> OrderOut:
    """The assigned rider delivers; points accrue.

    Sent again once it took effect (a retry after a lost answer): 200, the order unchanged.
    """
    return await _move(principal, order_id, Action.DELIVER)


@bp.post("/api/orders/<int:order_id>/reorder")
@tag(["orders"])
@returns(ReorderOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.CUSTOMER)
@optional_body(EmptyRequest)
async def order_again(principal: Principal, order_id: int, data: EmptyRequest) -> ReorderOut:
    """A cart from one of the caller's earlier orders, to review: never a new order.

    Lines whose item is gone, sold out or has lost a chosen option are listed in
    `unavailable` with the reason; prices are the menu's at checkout.
    """
    return await reorder.reorder(db=container().db, actor=_actor(principal), order_id=order_id)


@bp.post("/api/orders/<int:order_id>/delay")
@tag(["orders"])
@returns(OrderOut)
@move_problems
@login_required()
@body(DelayRequest)
async def delay(principal: Principal, order_id: int, data: DelayRequest) -> OrderOut:
    """The kitchen needs more time: `eta` moves and `order.delayed` is sent (its store's owner,
    while `accepted`).

    Delays add up, to at most 180 minutes in all (400 `validation` beyond). Each one is a new
    delay: a retry after a lost answer delays again, so read the order's `delay_minutes` first.
    """
    return await delays.delay_order(
        db=container().db, actor=_actor(principal), order_id=order_id, minutes=data.minutes
    )


@bp.post("/api/orders/quote")
@tag(["orders"])
@returns(QuoteOut)
@problems(
    ProblemCode.BELOW_MINIMUM_ORDER,
    ProblemCode.NOT_FOUND,
    ProblemCode.STORE_CLOSED,
    ProblemCode.STORE_SUSPENDED,
    ProblemCode.ITEM_UNAVAILABLE,
    ProblemCode.INSUFFICIENT_POINTS,
    ProblemCode.COUPON_UNUSABLE,
    ProblemCode.OUT_OF_RANGE,
)
@login_required(role=Role.CUSTOMER)
@body(QuoteRequest)
async def quote_order(principal: Principal, data: QuoteRequest) -> QuoteOut:
    """What the order would cost now: the amounts `POST /api/orders` would record and charge
    for the same body, refused as it would refuse it. Nothing is taken, charged or kept.

    Takes `POST /api/orders`'s body; `payment` and the address may be left out (by card when
    no payment is sent).
    """
    return await quote.quote_order(db=container().db, customer_id=principal.user_id, request=data)


@bp.post("/api/orders/<int:order_id>/refunds")
@tag(["orders"])
@returns(RefundOut, 201)
@problems(
    ProblemCode.FORBIDDEN,
    ProblemCode.NOT_FOUND,
    ProblemCode.INVALID_TRANSITION,
    ProblemCode.REFUND_EXCEEDS_PAID,
    ProblemCode.IDEMPOTENCY_MISMATCH,
)
@REFUND_KEY
@login_required(role=(Role.OWNER, Role.ADMIN))
@body(RefundRequest)
async def refund_part(principal: Principal, order_id: int, data: RefundRequest) -> RefundOut:
    """Give back part of an order: lines (each at the unit price paid, options included) or
    an amount (its store's owner, or an admin; once accepted, delivered included).

    Points paid go back first, then money to the card. Refunds never add up to more than was
    paid (409 `refund-exceeds-paid`, with `refundable`); the order gets `order.refunded` with
    the refund. Send an `Idempotency-Key` to make a retry after a lost answer safe: without
    one, each call is a new refund.
    """
    key = _idempotency_key(required=False, what="a refund")
    services = container()
    return await refunds.refund_part(
        db=services.db,
        gateway=services.get(PaymentGateway),
        actor=_actor(principal),
        order_id=order_id,
        request=data,
        idempotency_key=key,
    )


@bp.get("/api/stores/<int:store_id>/settlement")
@tag(["orders"])
@returns(SettlementOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=(Role.OWNER, Role.ADMIN))
@query(SettlementQuery)
async def store_settlement(
    principal: Principal, store_id: int, query: SettlementQuery
) -> SettlementOut:
    """What the store's delivered orders come to per day and in all, and what it is paid (its
    owner, or an admin): `gross`, `refunds`, `commission` (`PLATFORM_COMMISSION_PERCENT`) and
    `payout`.

    `from` and `to` are days (`YYYY-MM-DD`) in the store's time zone, both included, at most
    366 apart; `to` defaults to today there and `from` to the first of `to`'s month. An order
    counts on the day it was delivered, with its `total` and all its part refunds; days with
    no delivered order are left out. See docs/api.md, Settlement.
    """
    services = container()
    return await settlement.store_settlement(
        db=services.db,
        user_id=principal.user_id,
        role=principal.role,
        store_id=store_id,
        query=query,
        commission_percent=services.settings.platform_commission_percent,
    )
