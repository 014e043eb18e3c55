"""Order use cases after placement: reads, lifecycle transitions, refunds, automatic rejection."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.auth.models import Role
from app.catalog.models import Store
from app.catalog.queries import store_owner_id
from app.db import Database, UnitOfWork, replica_fallback, retrying, utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.orders import clock
from app.orders.events import emit_order_event, emit_refunded
from app.orders.hooks import OrderHooks
from app.orders.lifecycle import (
    EVENT_OF,
    PARTIES_FOR_ACTION,
    REFUNDING,
    Action,
    DispatchEvent,
    DispatchState,
    Party,
    Status,
    is_repeat,
    next_dispatch,
    next_status,
)
from app.orders.models import Order, OrderTimeline
from app.orders.presenter import order_view
from app.orders.schemas import OrderOut
from app.payments.gateway import PaymentGateway
from app.payments.models import Payment, PaymentStatus
from app.rewards import ledger

log = logging.getLogger("delivery.orders")


@dataclass(frozen=True)
class Actor:
    """Who asks: a signed-in user with a role, or the platform itself (`role` None)."""

    user_id: int
    role: Role | None
    # An admin acting from the operations console: the order's `operator` party.
    console: bool = False


# Called inside a transition's transaction once the change is made (an audit record, say).
InTransaction = Callable[[UnitOfWork, Order], Awaitable[None]]

SYSTEM_ACTOR = Actor(user_id=0, role=None)


async def party_role(uow: UnitOfWork, order: Order, actor: Actor) -> Party | None:
    """The caller's part in this order (customer, owner, rider, system), or None."""
    if actor.role is None:
        return Party.SYSTEM
    if actor.console and actor.role == Role.ADMIN:
        return Party.OPERATOR
    if actor.role == Role.CUSTOMER and order.customer_id == actor.user_id:
        return Party.CUSTOMER
    if actor.role == Role.RIDER and order.rider_id == actor.user_id:
        return Party.RIDER
    if actor.role == Role.OWNER and await store_owner_id(uow, order.store_id) == actor.user_id:
        return Party.OWNER
    return None


async def load_order(uow: UnitOfWork, order_id: int, actor: Actor) -> tuple[Order, Party]:
    """The order and the caller's part in it; 404 for anyone who is not one of its parties."""
    order = await uow.session.get(Order, order_id)
    role = await party_role(uow, order, actor) if order is not None else None
    if order is None or role is None:
        raise NotFound(f"Order {order_id} does not exist.")
    return order, role


async def get_order(*, db: Database, actor: Actor, order_id: int) -> OrderOut:
    """One order, for its customer, its store's owner or its rider."""
    async with db.uow() as uow:
        order, _ = await load_order(uow, order_id, actor)
        return order_view(order)


@replica_fallback
async def list_orders(
    *, db: Database, actor: Actor, store_id: int | None, limit: int
) -> list[OrderOut]:
    """The caller's orders, newest first (customer: own; owner: own stores'; rider: assigned)."""
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    # History may lag the primary by a moment (a replica, if configured); what an order's
    # parties act on (GET of one order, transitions) reads the primary.
    async with db.read_uow() as uow:
        if actor.role == Role.CUSTOMER:
            query = query.where(Order.customer_id == actor.user_id)
        elif actor.role == Role.RIDER:
            query = query.where(Order.rider_id == actor.user_id)
        elif actor.role == Role.OWNER:
            owned = select(Store.id).where(Store.owner_id == actor.user_id)
            if store_id is not None:
                if await store_owner_id(uow, store_id) != actor.user_id:
                    raise NotFound(f"Store {store_id} does not exist.")
                query = query.where(Order.store_id == store_id)
            else:
                query = query.where(Order.store_id.in_(owned))
        else:
            return []
        return [order_view(order) for order in await uow.session.scalars(query)]


async def transition(
    *,
    db: Database,
    gateway: PaymentGateway,
    hooks: OrderHooks,
    actor: Actor,
    order_id: int,
    action: Action,
    prep_minutes: int | None = None,
    reason: str | None = None,
    also: InTransaction | None = None,
) -> OrderOut:
    """Move an order by the lifecycle table; refunds in full when it ends rejected or cancelled.

    `also` runs in the transaction that moves the order (not for a repeat that moves nothing).
    """
    stale = Conflict(
        "The order changed at the same moment; reload it.",
        code="invalid-transition",
        title="Not possible in this status",
    )
    # Compared by value: a role that is never a party of an order (an admin outside the
    # console) is simply refused.
    if (
        actor.role is not None
        and not actor.console
        and actor.role.value not in PARTIES_FOR_ACTION[action]
    ):
        raise Forbidden(f"A {actor.role} cannot {action} an order.")

    async def attempt() -> tuple[OrderOut, bool]:
        return await _transition_once(
            db=db,
            hooks=hooks,
            actor=actor,
            order_id=order_id,
            action=action,
            prep_minutes=prep_minutes,
            reason=reason,
            stale=stale,
            also=also,
        )

    try:
        view, refund_owed = await retrying(attempt)
    except Conflict as conflict:
        if conflict is not stale:
            raise
        # Two copies of one action racing (a double click, a retry on another node): the one
        # that lost to the other is a repeat of it, and gets the order as the winner left it.
        repeat = await _repeat_view(db=db, actor=actor, order_id=order_id, action=action)
        if repeat is None:
            raise
        return repeat
    if refund_owed:
        # The order's end is committed with the refund marked owed; only now is the gateway
        # asked, so a crash here leaves a pending refund for the sweeper, never a refund of an
        # order that stayed open.
        try:
            view = await settle_refund(db=db, gateway=gateway, order_id=order_id) or view
        except Exception:
            log.warning("refund of order %s left pending", order_id, exc_info=True)
    return view


async def _repeat_view(
    *, db: Database, actor: Actor, order_id: int, action: Action
) -> OrderOut | None:
    async with db.uow() as uow:
        order, role = await load_order(uow, order_id, actor)
        return order_view(order) if is_repeat(order.status, action, role) else None


async def _transition_once(
    *,
    db: Database,
    hooks: OrderHooks,
    actor: Actor,
    order_id: int,
    action: Action,
    prep_minutes: int | None,
    reason: str | None,
    stale: Conflict,
    also: InTransaction | None,
) -> tuple[OrderOut, bool]:
    refund_owed = False
    async with db.uow() as uow:
        order, role = await load_order(uow, order_id, actor)
        if is_repeat(order.status, action, role):
            # Nothing is written: the first attempt's event and refund stand.
            return order_view(order), False
        target = next_status(order.status, action, role)
        now = utcnow()
        order.status = target
        order.timeline.append(OrderTimeline(status=target, at=now))
        if target == Status.ACCEPTED:
            order.prep_minutes = prep_minutes
            order.accepted_at = now
            order.dispatch = next_dispatch(order.dispatch, DispatchEvent.SEARCH)
            await clock.on_accepted(uow, order, now)
        if target == Status.PICKED_UP:
            await clock.on_picked_up(uow, order, now)
        if reason:
            order.reason = reason
        if target in REFUNDING and order.dispatch == DispatchState.SEARCHING:
            order.dispatch = next_dispatch(order.dispatch, DispatchEvent.STOP)
        # The versioned write happens here: of two racing transitions only one gets past it.
        await uow.flush(stale=stale)
        # Locks are taken in one order everywhere: the order row, then the customer's points
        # and coupon, then the rider's state, then the stream heads (placement takes points
        # before heads too), so concurrent placements, cancellations and accepts cannot
        # deadlock on each other.
        if target in REFUNDING:
            refund_owed = await _refund(uow, order)
        if target == Status.DELIVERED:
            await ledger.accrue_for_delivery(
                uow, customer_id=order.customer_id, order_id=order.id, paid_amount=order.paid_amount
            )
        await hooks.moved(uow, order, target)
        view = await emit_order_event(uow, order, EVENT_OF[target])
        if target in REFUNDING and not refund_owed:
            view = await emit_refunded(uow, order, None)
        if also is not None:
            await also(uow, order)
        await uow.commit(stale=stale)
        return view, refund_owed


async def _refund(uow: UnitOfWork, order: Order) -> bool:
    """Give back points and coupon now; True when card money is owed (marked pending).

    What part refunds gave back already is not given again: the points they restored are left
    out here, and the gateway refunds only what is still captured.
    """
    owed = False
    payment = order.payment
    card_back = sum(refund.card for refund in order.refunds)
    if payment is not None and payment.status == PaymentStatus.CAPTURED:
        owed = payment.method == "card" and payment.amount - card_back > 0
        payment.status = PaymentStatus.REFUND_PENDING if owed else PaymentStatus.REFUNDED
    await ledger.restore_for_order(
        uow,
        customer_id=order.customer_id,
        order_id=order.id,
        coupon_id=order.coupon_id,
        points=order.points_used - sum(refund.points for refund in order.refunds),
    )
    return owed


async def settle_refund(*, db: Database, gateway: PaymentGateway, order_id: int) -> OrderOut | None:
    """Return an ended order's card money if it is still owed, and mark it refunded once.

    None when nothing is owed (any more) or the gateway failed; the sweeper tries again.
    """
    async with db.uow() as uow:
        reference = await uow.session.scalar(
            select(Payment.reference).where(
                Payment.order_id == order_id, Payment.status == PaymentStatus.REFUND_PENDING
            )
        )
    if reference is None:
        return None
    try:
        # Refunding is idempotent per reference at the gateway: a second try refunds once.
        await gateway.refund(reference=reference)
    except Exception:
        log.warning("refund of order %s failed; the sweeper retries it", order_id, exc_info=True)
        return None

    async def mark_refunded() -> OrderOut | None:
        async with db.uow() as uow:
            # The order row first, as every transition locks it, then its payment.
            order = await uow.session.get(
                Order, order_id, with_for_update=True, populate_existing=True
            )
            assert order is not None
            # Whoever moves the payment out of pending tells the customer; the others stop.
            moved = await uow.session.execute(
                update(Payment)
                .where(Payment.order_id == order_id, Payment.status == PaymentStatus.REFUND_PENDING)
                .values(status=PaymentStatus.REFUNDED)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return None
            if order.payment is not None:
                await uow.session.refresh(order.payment)
            view = await emit_refunded(uow, order, None)
            await uow.commit()
            return view

    return await retrying(mark_refunded)


async def settle_pending_refunds(
    *, db: Database, gateway: PaymentGateway, older_than: float, batch: int = 100
) -> int:
    """Finish refunds left pending longer than `older_than` seconds; returns how many."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    async with db.uow() as uow:
        due = list(
            await uow.session.scalars(
                select(Payment.order_id)
                .where(Payment.status == PaymentStatus.REFUND_PENDING, Payment.updated_at <= cutoff)
                .order_by(Payment.id)
                .limit(batch)
            )
        )
    settled = 0
    for order_id in due:
        if await settle_refund(db=db, gateway=gateway, order_id=order_id) is not None:
            settled += 1
    return settled


async def reject_unanswered(
    *,
    db: Database,
    gateway: PaymentGateway,
    hooks: OrderHooks,
    as_of: datetime | None = None,
    batch: int = 100,
) -> int:
    """Reject (and refund) orders still `placed` when their `accept_by` has come (by `as_of`,
    now unless given); returns how many.

    The deadline was fixed when the order was placed and is the one its views show, so every
    node rejects at the time the store was shown, whatever its own STORE_ACCEPT_TIMEOUT.
    """
    cutoff = as_of or utcnow()
    async with db.uow() as uow:
        due = list(
            await uow.session.scalars(
                select(Order.id)
                .where(Order.status == Status.PLACED, Order.accept_by <= cutoff)
                .order_by(Order.id)
                .limit(batch)
            )
        )
    rejected = 0
    for order_id in due:
        try:
            await transition(
                db=db,
                gateway=gateway,
                hooks=hooks,
                actor=SYSTEM_ACTOR,
                order_id=order_id,
                action=Action.REJECT,
                reason="The store did not answer in time.",
            )
            rejected += 1
        except Conflict:
            pass  # another node, the store or the customer got there first
    return rejected
