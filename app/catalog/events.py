"""The events a store's changes publish, recorded in the transaction that changes it.

Store events go to the owner's `store:{id}` and to `store-public:{id}`, which anyone signed in
may follow (a store's page and a cart); item events only to `store-public:{id}`. Both carry
nothing that `GET /api/stores/{id}` does not show anyone.
"""

from __future__ import annotations

from app.catalog.models import MenuItem, Store
from app.catalog.presenter import menu_item_view, store_view
from app.catalog.schemas import ItemOut, StoreOut
from app.db import UnitOfWork
from app.outbox import emit


def owner_stream(store_id: int) -> str:
    """The owner's stream: the store's orders and its own changes."""
    return f"store:{store_id}"


def public_stream(store_id: int) -> str:
    """The store's public stream: what its page shows, live."""
    return f"store-public:{store_id}"


async def emit_store_event(uow: UnitOfWork, store: Store, event_type: str) -> StoreOut:
    """Record `event_type` with the store (as the API shows it now) on both its streams."""
    view = store_view(store)
    await emit(uow, event_type, [owner_stream(store.id), public_stream(store.id)], view)
    return view


async def emit_item_event(uow: UnitOfWork, item: MenuItem, event_type: str) -> ItemOut:
    """Record `event_type` with the menu item on its store's public stream."""
    view = menu_item_view(item)
    await emit(uow, event_type, [public_stream(item.store_id)], view)
    return view
