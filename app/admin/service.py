"""Admin use cases: the platform at a glance, the queues, and the operators' interventions.

Each intervention reuses the path its parties take (a rider's accept, a cancellation with its
refund, a sign-out) and adds its audit record to that path's own transaction.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Select, func, select

from app.admin.schemas import (
    AdminOrderOut,
    AdminRiderOut,
    AdminUserOut,
    OrderQueue,
    OverviewOut,
    RiderCounts,
    StatusCounts,
    StuckCounts,
)
from app.audit import service as audit
from app.auth.models import Role, User
from app.auth.presenter import user_view
from app.auth.revocation import Revocations
from app.auth.sessions import SessionStore
from app.catalog.cache import CatalogCache
from app.catalog.events import emit_store_event
from app.catalog.models import Store
from app.catalog.presenter import store_view
from app.catalog.schemas import StoreOut
from app.catalog.service import list_scope, store_scope
from app.db import Database, UnitOfWork, utcnow
from app.errors import Forbidden, NotFound
from app.orders.hooks import OrderHooks
from app.orders.lifecycle import Action, DispatchState, Status
from app.orders.models import Order
from app.orders.presenter import order_view
from app.orders.schemas import OrderOut
from app.orders.service import Actor, transition
from app.payments.gateway import PaymentGateway
from dispatch.geo import RIDERS_KEY, remove_rider
from dispatch.manual import assign_by_operator
from dispatch.models import Offer, OfferStatus, RiderState
from dispatch.offers import SEARCHING_STATUSES, withdraw
from dispatch.service import Position
from dispatch.worker import SearchWorker

OPEN_STATUSES = (Status.PLACED, Status.ACCEPTED, Status.READY, Status.PICKED_UP)


def _searching() -> Any:
    return (Order.dispatch == DispatchState.SEARCHING) & Order.status.in_(SEARCHING_STATUSES)


async def _count(uow: UnitOfWork, query: Select[Any]) -> int:
    return int(await uow.session.scalar(query) or 0)


async def overview(*, db: Database) -> OverviewOut:
    """Orders by status, riders on shift and busy, and the orders waiting for someone."""
    async with db.uow() as uow:
        by_status = {
            str(status): int(count)
            for status, count in await uow.session.execute(
                select(Order.status, func.count()).group_by(Order.status)
            )
        }
        on_shift = select(func.count()).select_from(RiderState).where(RiderState.online.is_(True))
        online = await _count(uow, on_shift)
        busy = await _count(uow, on_shift.where(RiderState.active_order_id.is_not(None)))
        searching = await _count(uow, select(func.count()).select_from(Order).where(_searching()))
    return OverviewOut(
        orders_by_status=StatusCounts(**by_status),
        riders=RiderCounts(online=online, busy=busy),
        stuck=StuckCounts(unaccepted=by_status.get(Status.PLACED, 0), searching=searching),
    )


async def list_orders(*, db: Database, state: OrderQueue, limit: int) -> list[AdminOrderOut]:
    """The orders of one queue, the longest waiting first, each with its age."""
    query = select(Order).order_by(Order.id).limit(limit)
    if state == OrderQueue.UNACCEPTED:
        query = query.where(Order.status == Status.PLACED)
    elif state == OrderQueue.SEARCHING:
        query = query.where(_searching())
    else:
        query = query.where(Order.status.in_(OPEN_STATUSES))
    now = utcnow()
    async with db.uow() as uow:
        orders = list(await uow.session.scalars(query))
        return [
            AdminOrderOut(
                **order_view(order).model_dump(),
                age_seconds=max(0, int((now - order.created_at).total_seconds())),
            )
            for order in orders
        ]


async def riders_on_shift(*, db: Database, cache: Redis) -> list[AdminRiderOut]:
    """Every rider on shift with the last position the dispatch index has of them."""
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                select(User.id, User.name, User.email, RiderState)
                .join(RiderState, RiderState.rider_id == User.id)
                .where(RiderState.online.is_(True))
                .order_by(User.id)
            )
        ).all()
    positions = await cache.geopos(RIDERS_KEY, *[str(r.id) for r in rows]) if rows else []
    riders = []
    for row, where in zip(rows, positions, strict=True):
        state: RiderState = row.RiderState
        lat, lng = (float(where[1]), float(where[0])) if where else (state.lat, state.lng)
        riders.append(
            AdminRiderOut(
                id=row.id,
                name=row.name,
                email=row.email,
                lat=lat,
                lng=lng,
                active_order_id=state.active_order_id,
            )
        )
    return riders


async def assign(
    *,
    db: Database,
    cache: Redis,
    worker: SearchWorker,
    revocations: Revocations,
    admin_id: int,
    order_id: int,
    rider_id: int,
    from_rider_id: int | None,
) -> OrderOut:
    """Give the order to a rider, or move it from its rider to another (before pickup)."""
    [where] = await cache.geopos(RIDERS_KEY, str(rider_id))

    async def audited(uow: UnitOfWork, order: Order) -> None:
        audit.record(
            uow,
            admin_id=admin_id,
            action="order.assign" if from_rider_id is None else "order.reassign",
            target_type="order",
            target_id=order.id,
            details={"rider_id": rider_id, "from_rider_id": from_rider_id},
        )

    return await assign_by_operator(
        db=db,
        worker=worker,
        revocations=revocations,
        order_id=order_id,
        rider_id=rider_id,
        from_rider_id=from_rider_id,
        position=Position(float(where[1]), float(where[0])) if where else None,
        also=audited,
    )


async def cancel(
    *,
    db: Database,
    gateway: PaymentGateway,
    hooks: OrderHooks,
    admin_id: int,
    order_id: int,
    reason: str,
) -> OrderOut:
    """Cancel an order not yet picked up, refunding it in full (as a store's cancellation)."""

    async def audited(uow: UnitOfWork, order: Order) -> None:
        audit.record(
            uow,
            admin_id=admin_id,
            action="order.cancel",
            target_type="order",
            target_id=order.id,
            # What goes back now: the whole of what was paid, less earlier part refunds.
            details={"reason": reason, "refund": order.total - (order.refunded_amount or 0)},
        )

    return await transition(
        db=db,
        gateway=gateway,
        hooks=hooks,
        actor=Actor(user_id=admin_id, role=Role.ADMIN, console=True),
        order_id=order_id,
        action=Action.CANCEL,
        reason=reason,
        also=audited,
    )


async def set_user_suspended(
    *,
    db: Database,
    sessions: SessionStore,
    revocations: Revocations,
    cache: Redis,
    catalog: CatalogCache,
    admin_id: int,
    user_id: int,
    suspended: bool,
) -> AdminUserOut:
    """Suspend an account (its sessions end and its sockets close, on every node) or restore it.

    An idle rider also goes off shift, so that no offer reaches a rider who cannot sign in. An
    owner's stores are suspended with the account and restored with it (those an admin
    suspended on their own stay so), seen by every node at once.
    """
    async with db.uow() as uow:
        user = await uow.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound(f"User {user_id} does not exist.")
        if user.role == Role.ADMIN:
            raise Forbidden("An admin account cannot be suspended from the console.")
        changed = user.suspended != suspended
        off_shift = False
        if changed:
            user.suspended = suspended
            if suspended and user.role == Role.RIDER:
                off_shift = await _take_off_shift(uow, user_id)
            if user.role == Role.OWNER:
                await _suspend_owned_stores(uow, catalog, user_id, suspended)
            audit.record(
                uow,
                admin_id=admin_id,
                action="user.suspend" if suspended else "user.unsuspend",
                target_type="user",
                target_id=user_id,
                details={"email": user.email, "role": user.role},
            )
        await uow.commit()
    if suspended:
        # Also when nothing changed: a retry after a lost answer finishes what the first began.
        await sessions.destroy_all(user_id)
        await revocations.user_ended(user_id)
        if off_shift:
            await remove_rider(cache, user_id)
    return AdminUserOut(user=user_view(user), suspended=user.suspended)


async def _suspend_owned_stores(
    uow: UnitOfWork, catalog: CatalogCache, owner_id: int, suspended: bool
) -> None:
    """Mark the owner's stores as suspended with the account (or no longer); each whose
    suspension changes by it announces it as its own suspension does."""
    stores = list(
        await uow.session.scalars(
            select(Store).where(Store.owner_id == owner_id).order_by(Store.id).with_for_update()
        )
    )
    if not stores:
        return
    for store in stores:
        store.owner_suspended = suspended
    await uow.flush()
    for store in stores:
        if not store.suspended:  # one suspended on its own stays so either way
            await emit_store_event(
                uow, store, "store.suspended" if suspended else "store.unsuspended"
            )

    async def bump() -> None:
        await catalog.bump(list_scope(), *(store_scope(store.id) for store in stores))

    uow.after_commit(bump)


async def _take_off_shift(uow: UnitOfWork, rider_id: int) -> bool:
    """Put an idle rider off shift, withdrawing the offers they hold; True if they were on."""
    state = await uow.session.get(RiderState, rider_id, with_for_update=True)
    if state is None or not state.online or state.active_order_id is not None:
        return False
    state.online = False
    offers = list(
        await uow.session.scalars(
            select(Offer).where(Offer.rider_id == rider_id, Offer.status == OfferStatus.OFFERED)
        )
    )
    await withdraw(uow, offers, status=OfferStatus.WITHDRAWN, reason="suspended")
    return True


async def set_store_suspended(
    *, db: Database, cache: CatalogCache, admin_id: int, store_id: int, suspended: bool
) -> StoreOut:
    """Suspend a store (hidden from search, no orders) or restore it; every node sees it at once.

    A store whose owner's account is suspended stays suspended with it when restored here.
    """
    async with db.uow() as uow:
        store = await uow.session.get(Store, store_id, with_for_update=True)
        if store is None:
            raise NotFound(f"Store {store_id} does not exist.")
        if store.suspended == suspended:
            return store_view(store)
        store.suspended = suspended
        audit.record(
            uow,
            admin_id=admin_id,
            action="store.suspend" if suspended else "store.unsuspend",
            target_type="store",
            target_id=store_id,
            details={"name": store.name},
        )
        await uow.flush()
        if store.owner_suspended:
            # Suspended with its owner's account either way: nothing changes for anyone.
            view = store_view(store)
        else:
            view = await emit_store_event(
                uow, store, "store.suspended" if suspended else "store.unsuspended"
            )

        async def bump() -> None:
            await cache.bump(list_scope(), store_scope(store_id))

        uow.after_commit(bump)
        await uow.commit()
    return view
