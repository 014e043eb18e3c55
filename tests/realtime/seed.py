"""Rows and events written straight to a database, for realtime tests that need no REST flow."""

from __future__ import annotations

from typing import Any

from app.db import Database
from app.outbox import emit


async def insert_store(db: Database, *, owner_id: int) -> int:
    """A minimal open store owned by `owner_id`."""
    from app.catalog.models import Store

    async with db.uow() as uow:
        store = Store(
            owner_id=owner_id,
            name="Realtime Kitchen",
            category="korean",
            address="1 Test-ro",
            lat=37.5,
            lng=127.0,
            phone="02-000-0000",
            min_order=0,
            delivery_fee=0,
            open=True,
        )
        uow.session.add(store)
        await uow.commit()
        return int(store.id)


async def insert_order(
    db: Database, *, customer_id: int, store_id: int, rider_id: int | None = None
) -> int:
    """A minimal order row (no items), enough to authorize its stream."""
    from app.orders.models import Order

    async with db.uow() as uow:
        order = Order(
            customer_id=customer_id,
            store_id=store_id,
            rider_id=rider_id,
            status="placed",
            dispatch="none",
            version=1,
            subtotal=10000,
            delivery_fee=0,
            coupon_discount=0,
            points_used=0,
            total=10000,
            paid_amount=10000,
            address_text="2 Test-ro",
            address_lat=37.5,
            address_lng=127.0,
            stream_seq=0,
        )
        uow.session.add(order)
        await uow.commit()
        return int(order.id)


async def write_event(db: Database, stream: str, n: int = 0, **data: Any) -> int:
    """Commit one event on `stream` without waking any relay (a node that died after commit)."""
    async with db.uow() as uow:
        seqs = await emit(uow, "order.accepted", [stream], {"n": n, **data})
        await uow.commit()
    return seqs[stream]
