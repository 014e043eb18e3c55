"""Setting and moving an order's `eta` inside the transaction that changes the order.

Steps: each takes the caller's open `uow` and the order it is about to write (before its
versioned flush), and never commits. The arithmetic is `app.orders.eta`'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.catalog.models import Store
from app.db import UnitOfWork
from app.orders import eta
from app.orders.lifecycle import Status
from app.orders.models import Order


async def _store_point(uow: UnitOfWork, store_id: int) -> tuple[float, float]:
    query = select(Store.lat, Store.lng).where(Store.id == store_id)
    # Not flushing the order the caller is changing: its versioned write belongs to the
    # caller's `uow.flush(stale=…)`, which turns a lost race into the caller's 409.
    with uow.session.no_autoflush:
        row = (await uow.session.execute(query)).one()
    return float(row.lat), float(row.lng)


def _to_customer(store: tuple[float, float], order: Order) -> timedelta:
    return eta.ride_between(*store, order.address_lat, order.address_lng)


def food_ready(order: Order, now: datetime) -> datetime:
    """When the food is ready: now once the kitchen said so, else its expected time."""
    if order.status == Status.READY or order.ready_by is None:
        return now
    return order.ready_by


async def on_accepted(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """The store accepts now with `order.prep_minutes`: the first estimate."""
    assert order.prep_minutes is not None
    store = await _store_point(uow, order.store_id)
    order.ready_by = eta.food_ready_at(now, order.prep_minutes)
    order.eta = eta.at_acceptance(order.ready_by, _to_customer(store, order))


async def on_assigned(
    uow: UnitOfWork, order: Order, rider_at: tuple[float, float] | None, now: datetime
) -> None:
    """A rider at `rider_at` (lat, lng; None when unknown) takes the order."""
    store = await _store_point(uow, order.store_id)
    to_store = eta.ride_between(*rider_at, *store) if rider_at is not None else None
    order.eta = eta.at_assignment(now, food_ready(order, now), to_store, _to_customer(store, order))


async def on_picked_up(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """The rider leaves the store with the food."""
    store = await _store_point(uow, order.store_id)
    order.eta = eta.at_pickup(now, _to_customer(store, order))


async def on_delayed(uow: UnitOfWork, order: Order, minutes: int, now: datetime) -> None:
    """The kitchen needs `minutes` more (on top of every delay before)."""
    store = await _store_point(uow, order.store_id)
    to_customer = _to_customer(store, order)
    order.ready_by = eta.delayed(food_ready(order, now), now, minutes)
    order.delay_minutes = (order.delay_minutes or 0) + minutes
    # An order accepted before estimates existed has none yet: the delay makes its first.
    before = order.eta or eta.at_acceptance(order.ready_by, to_customer)
    order.eta = eta.after_delay(before, order.ready_by, to_customer)
