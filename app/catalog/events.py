"""The events a store's changes publish, recorded in the transaction that changes it.

Every store and item event goes to `store-public:{id}`, which anyone signed in may follow (a
store's page, a cart); a pause and its end go to the owner's `store:{id}` too, beside the
store's orders. They carry nothing that `GET /api/stores/{id}` does not show anyone.
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


# The store events the owner's stream carries as well (a pause, a suspension and their ends).
OWNER_EVENTS = frozenset({"store.paused", "store.resumed", "store.suspended", "store.unsuspended"})


async def emit_store_event(uow: UnitOfWork, store: Store, event_type: str) -> StoreOut:
    """Record `event_type` with the store (as the API shows it now) on its public stream, and
    on the owner's for a pause and its end."""
    view = store_view(store)
    streams = [public_stream(store.id)]
    if event_type in OWNER_EVENTS:
        streams.append(owner_stream(store.id))
    await emit(uow, event_type, streams, view)
    return view


async def emit_item_event(uow: UnitOfWork, item: MenuItem, event_type: str) -> ItemOut:
    """Record `event_type` with the menu item on its store's public stream."""
    view = menu_item_view(item)
    await emit(uow, event_type, [public_stream(item.store_id)], view)
    return view
