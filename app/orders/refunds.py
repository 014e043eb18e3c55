"""Refunds of part of an order: `POST /api/orders/{id}/refunds`.

Points paid go back first, then card money. The refund, the points and the event commit in one
transaction under the order's row lock, which is where the sum of refunds is checked against
what was paid; the card part is then asked of the gateway, and a crash in between leaves it
pending for the sweeper (as a cancellation's refund is).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from app.audit import service as audit
from app.auth.models import Role
from app.db import Database, UnitOfWork, retrying, utcnow
from app.errors import Conflict, Forbidden, IdempotencyMismatch, NotFound
from app.orders.events import emit_refunded
from app.orders.lifecycle import REFUNDING, Party, Status
from app.orders.models import Order, OrderRefund, RefundCardStatus
from app.orders.presenter import refund_view
from app.orders.schemas import RefundOut, RefundRequest
from app.orders.service import Actor, party_role
from app.payments.gateway import PaymentGateway
from app.payments.models import Payment
from app.rewards import ledger

log = logging.getLogger("delivery.orders")

# A part refund is possible once the store has accepted the order, until the end (delivered
# included); rejected and cancelled orders were refunded in full already.
REFUNDABLE = frozenset({Status.ACCEPTED, Status.READY, Status.PICKED_UP, Status.DELIVERED})
# A lost race on the order's version (SQLite, where rows are not locked for update): the refund
# is tried again against the order as it now is, which re-checks what is left to refund.
STALE_ATTEMPTS = 5


def _exceeds(detail: str, refundable: int) -> Conflict:
    return Conflict(
        detail,
        code="refund-exceeds-paid",
        title="More than can be refunded",
        extra={"refundable": refundable},
    )


def _refunded_quantities(order: Order) -> dict[int, int]:
    """Per order line (its id), how many were given back by earlier refunds."""
    given: dict[int, int] = {}
    for refund in order.refunds:
        for line in json.loads(refund.lines_json or "[]"):
            given[line["order_item_id"]] = given.get(line["order_item_id"], 0) + line["quantity"]
    return given


def _lines_amount(order: Order, request: RefundRequest) -> tuple[int, list[dict[str, Any]]]:
    """The won the requested lines come to, and the refund's lines (per order line)."""
    assert request.lines is not None
    given = _refunded_quantities(order)
    amount = 0
    chosen: list[dict[str, Any]] = []
    for index, wanted in enumerate(request.lines):
        # An item ordered on two lines (with other options) is taken line by line, each at
        # the unit price it was paid.
        ordered = [item for item in order.items if item.menu_item_id == wanted.menu_item_id]
        if not ordered:
            raise NotFound(
                f"Line {index + 1}: item {wanted.menu_item_id} is not part of order {order.id}."
            )
        left = sum(item.quantity - given.get(item.id, 0) for item in ordered)
        if wanted.quantity > left:
            raise _exceeds(
                f"Only {left} of {ordered[0].name} can still be refunded on this order "
                f"(ordered {sum(item.quantity for item in ordered)}).",
                order.total - (order.refunded_amount or 0),
            )
        remaining = wanted.quantity
        for item in ordered:
            take = min(remaining, item.quantity - given.get(item.id, 0))
            if take <= 0:
                continue
            unit = item.line_total // item.quantity
            chosen.append(
                {
                    "order_item_id": item.id,
                    "menu_item_id": item.menu_item_id,
                    "name": item.name,
                    "quantity": take,
                    "amount": unit * take,
                }
            )
            amount += unit * take
            remaining -= take
    return amount, chosen


async def _load_refundable(uow: UnitOfWork, order_id: int, actor: Actor) -> Order:
    # The order row first and locked, as every writer of an order takes it: concurrent refunds
    # (on any node) queue here, and each one reads the sum the one before it committed.
    order = await uow.session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.")
    if actor.role != Role.ADMIN:
        role = await party_role(uow, order, actor)
        if role is None:
            raise NotFound(f"Order {order_id} does not exist.")
        if role != Party.OWNER:
            raise Forbidden("Only the store's owner or an admin can refund an order.")
    if order.status in REFUNDING:
        raise Conflict(
            f"Order {order_id} was {order.status} and everything paid for it was refunded "
            "then; there is nothing left to refund.",
            code="invalid-transition",
            title="Not possible in this status",
        )
    if order.status not in REFUNDABLE:
        raise Conflict(
            f"Order {order_id} is not accepted yet: reject it to refund it in full.",
            code="invalid-transition",
            title="Not possible in this status",
        )
    return order


async def refund_part(
    *,
    db: Database,
    gateway: PaymentGateway,
    actor: Actor,
    order_id: int,
    request: RefundRequest,
    idempotency_key: str | None = None,
) -> RefundOut:
    """Give back lines of the order or an amount (its store's owner, or an admin), never
    more than was paid in all; points first, then the card. Under an `idempotency_key`, the
    order gets one refund: a retry of the same request gets it again, another request 422."""
    if actor.role not in (Role.OWNER, Role.ADMIN):
        raise Forbidden("Only the store's owner or an admin can refund an order.")
    digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
    stale = Conflict(
        "The order changed at the same moment; reload it.",
        code="invalid-transition",
        title="Not possible in this status",
    )

    async def attempt() -> OrderRefund:
        async with db.uow() as uow:
            order = await _load_refundable(uow, order_id, actor)
            if idempotency_key is not None:
                # Under the order's lock: a retry racing its first attempt waits for it here.
                done = await uow.session.scalar(
                    select(OrderRefund).where(
                        OrderRefund.order_id == order_id,
                        OrderRefund.idempotency_key == idempotency_key,
                    )
                )
                if done is not None:
                    if done.request_digest != digest:
                        raise IdempotencyMismatch(
                            "This Idempotency-Key was used for another refund of this order; "
                            "send a new key for a new refund."
                        )
                    return done
            lines: list[dict[str, Any]] | None = None
            if request.lines is not None:
                amount, lines = _lines_amount(order, request)
            else:
                assert request.amount is not None
                amount = request.amount
            already = order.refunded_amount or 0
            left = order.total - already
            if amount > left:
                raise _exceeds(
                    f"Order {order_id} was paid ₩{order.total:,} (card and points) and "
                    f"₩{already:,} of it has been refunded: at most ₩{left:,} more can be.",
                    left,
                )
            points_left = order.points_used - sum(refund.points for refund in order.refunds)
            points = min(amount, max(0, points_left))
            card = amount - points
            refund = OrderRefund(
                amount=amount,
                points=points,
                card=card,
                lines_json=json.dumps(lines, ensure_ascii=False) if lines is not None else None,
                reason=request.reason,
                reference="rfd_" + secrets.token_hex(12),
                card_status=RefundCardStatus.PENDING if card else RefundCardStatus.NONE,
                refunded_by=actor.user_id,
                created_at=utcnow(),
                idempotency_key=idempotency_key,
                request_digest=digest if idempotency_key is not None else None,
            )
            order.refunds.append(refund)
            order.refunded_amount = already + amount
            # The versioned write: a transition that read the order before this refund fails
            # its own check and reloads it.
            await uow.flush(stale=stale)
            # Then the customer's points, then the stream heads: the lock order of every
            # writer of an order.
            await ledger.restore_for_part_refund(
                uow,
                customer_id=order.customer_id,
                order_id=order.id,
                refund_id=refund.id,
                points=points,
            )
            await emit_refunded(uow, order, refund)
            if actor.role == Role.ADMIN:
                audit.record(
                    uow,
                    admin_id=actor.user_id,
                    action="order.refund",
                    target_type="order",
                    target_id=order.id,
                    details={"amount": amount, "lines": lines, "reason": request.reason},
                )
            await uow.commit(stale=stale)
            return refund

    for attempt_no in range(1, STALE_ATTEMPTS + 1):
        try:
            refund = await retrying(attempt)
            break
        except Conflict as conflict:
            if conflict is not stale or attempt_no == STALE_ATTEMPTS:
                raise
    if refund.card:
        try:
            await settle_part_refund(db=db, gateway=gateway, refund_id=refund.id)
        except Exception:
            log.warning("card part of refund %s left pending", refund.id, exc_info=True)
    return refund_view(refund)


async def settle_part_refund(*, db: Database, gateway: PaymentGateway, refund_id: int) -> bool:
    """Refund a part refund's card money if it is still pending; True when this call settled
    it. The gateway refunds once per refund reference, so racing settlers refund once."""
    async with db.uow() as uow:
        row = (
            await uow.session.execute(
                select(OrderRefund.reference, OrderRefund.card, Payment.reference.label("charge"))
                .join(Payment, Payment.order_id == OrderRefund.order_id)
                .where(
                    OrderRefund.id == refund_id,
                    OrderRefund.card_status == RefundCardStatus.PENDING,
                )
            )
        ).first()
    if row is None:
        return False
    try:
        await gateway.refund_part(
            reference=row.charge, refund_reference=row.reference, amount=row.card
        )
    except Exception:
        log.warning("refund %s: the gateway failed; the sweeper retries", refund_id, exc_info=True)
        return False
    async with db.uow() as uow:
        moved = await uow.session.execute(
            update(OrderRefund)
            .where(OrderRefund.id == refund_id, OrderRefund.card_status == RefundCardStatus.PENDING)
            .values(card_status=RefundCardStatus.REFUNDED, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await uow.commit()
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


async def settle_pending_part_refunds(
    *, db: Database, gateway: PaymentGateway, older_than: float, batch: int = 100
) -> int:
    """Finish the card parts left pending longer than `older_than` seconds; how many."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    async with db.uow() as uow:
        due = list(
            await uow.session.scalars(
                select(OrderRefund.id)
                .where(
                    OrderRefund.card_status == RefundCardStatus.PENDING,
                    OrderRefund.updated_at <= cutoff,
                )
                .order_by(OrderRefund.id)
                .limit(batch)
            )
        )
    settled = 0
    for refund_id in due:
        if await settle_part_refund(db=db, gateway=gateway, refund_id=refund_id):
            settled += 1
    return settled
