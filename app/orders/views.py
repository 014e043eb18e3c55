"""HTTP for orders (CONTRACT §4)."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request
from quart_schema import tag

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.container import container
from app.errors import ValidationFailed
from app.orders import placement, service
from app.orders.hooks import OrderHooks
from app.orders.lifecycle import Action
from app.orders.schemas import (
    AcceptRequest,
    EmptyRequest,
    OrderListQuery,
    PlaceOrderRequest,
    ReasonRequest,
)
from app.orders.service import Actor
from app.payments.gateway import PaymentGateway
from app.validation import body, query, read_json

bp = Blueprint("orders", __name__)


def _actor(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, role=principal.role)


@bp.post("/api/orders")
@tag(["orders"])
@login_required(role=Role.CUSTOMER)
@body(PlaceOrderRequest)
async def place_order(principal: Principal, data: PlaceOrderRequest) -> tuple[Response, int]:
    """Place and pay an order; requires an `Idempotency-Key` header."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise ValidationFailed(
            "Send an Idempotency-Key header (1–255 printable characters) with every order.",
            errors=[{"field": "Idempotency-Key", "message": "required header"}],
        )
    services = container()
    outcome = await placement.place_order(
        db=services.db,
        gateway=services.get(PaymentGateway),
        customer_id=principal.user_id,
        idempotency_key=key,
        request=data,
    )
    response = jsonify(outcome.body)
    if outcome.status >= 400:
        response.content_type = "application/problem+json"
    return response, outcome.status


@bp.get("/api/orders")
@tag(["orders"])
@login_required()
@query(OrderListQuery)
async def list_orders(principal: Principal, query: OrderListQuery) -> Response:
    """The caller's orders, newest first."""
    orders = await service.list_orders(
        db=container().db,
        actor=_actor(principal),
        store_id=query.store_id,
        limit=query.limit,
    )
    return jsonify({"orders": orders})


@bp.get("/api/orders/<int:order_id>")
@tag(["orders"])
@login_required()
async def get_order(principal: Principal, order_id: int) -> Response:
    """One order, for its customer, its store's owner or its rider."""
    return jsonify(
        await service.get_order(db=container().db, actor=_actor(principal), order_id=order_id)
    )


async def _move(principal: Principal, order_id: int, action: Action, **fields: object) -> Response:
    services = container()
    order = await service.transition(
        db=services.db,
        gateway=services.get(PaymentGateway),
        hooks=services.get(OrderHooks),
        actor=_actor(principal),
        order_id=order_id,
        action=action,
        **fields,  # type: ignore[arg-type]
    )
    return jsonify(order)


async def _optional_body(
    model: type[ReasonRequest] | type[EmptyRequest],
) -> ReasonRequest | EmptyRequest:
    # Actions without required fields accept an empty body as well as `{}`.
    if not await request.get_data():
        return model()
    return await read_json(model)


@bp.post("/api/orders/<int:order_id>/accept")
@tag(["orders"])
@login_required()
@body(AcceptRequest)
async def accept(principal: Principal, order_id: int, data: AcceptRequest) -> Response:
    """The store accepts, with a preparation time; dispatch starts."""
    return await _move(principal, order_id, Action.ACCEPT, prep_minutes=data.prep_minutes)


@bp.post("/api/orders/<int:order_id>/reject")
@tag(["orders"])
@login_required()
async def reject(principal: Principal, order_id: int) -> Response:
    """The store rejects; refunded in full."""
    data = await _optional_body(ReasonRequest)
    return await _move(principal, order_id, Action.REJECT, reason=getattr(data, "reason", None))


@bp.post("/api/orders/<int:order_id>/cancel")
@tag(["orders"])
@login_required()
async def cancel(principal: Principal, order_id: int) -> Response:
    """Cancel (customer while placed; owner before pickup); refunded in full."""
    data = await _optional_body(ReasonRequest)
    return await _move(principal, order_id, Action.CANCEL, reason=getattr(data, "reason", None))


@bp.post("/api/orders/<int:order_id>/ready")
@tag(["orders"])
@login_required()
async def ready(principal: Principal, order_id: int) -> Response:
    """The kitchen is done."""
    await _optional_body(EmptyRequest)
    return await _move(principal, order_id, Action.READY)


@bp.post("/api/orders/<int:order_id>/pickup")
@tag(["orders"])
@login_required()
async def pickup(principal: Principal, order_id: int) -> Response:
    """The assigned rider picks the order up (needs `ready`)."""
    await _optional_body(EmptyRequest)
    return await _move(principal, order_id, Action.PICKUP)


@bp.post("/api/orders/<int:order_id>/deliver")
@tag(["orders"])
@login_required()
async def deliver(principal: Principal, order_id: int) -> Response:
    """The assigned rider delivers; points accrue."""
    await _optional_body(EmptyRequest)
    return await _move(principal, order_id, Action.DELIVER)
