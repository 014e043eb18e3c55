"""Catalog use cases: owners manage stores, menus and images."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from app.auth.models import User
from app.catalog.cache import CatalogCache
from app.catalog.events import emit_item_event, emit_store_event
from app.catalog.fees import FeeTier, tier_problems, tiers_json, tiers_of
from app.catalog.hours import schedule_problems
from app.catalog.images import CleanImage, new_key
from app.catalog.models import MenuItem, MenuOption, Store
from app.catalog.schemas import HoursUpdate, ItemCreate, ItemUpdate, StoreCreate, StoreUpdate
from app.db import Database, UnitOfWork, utcnow
from app.errors import Conflict, Forbidden, NotFound, ProblemCode, ValidationFailed
from app.storage import Storage

log = logging.getLogger("delivery.catalog")


def list_scope() -> str:
    """Cache scope of every store list."""
    return "list"


def store_scope(store_id: int) -> str:
    """Cache scope of one store's page (with its menu)."""
    return f"store:{store_id}"


async def _owned_store(
    uow: UnitOfWork, owner_id: int, store_id: int, *, lock: bool = False
) -> Store:
    store = await uow.session.get(Store, store_id, with_for_update=lock)
    if store is None:
        raise NotFound(f"Store {store_id} does not exist.")
    if store.owner_id != owner_id:
        raise Forbidden("Only the store's owner may change it.")
    return store


async def _owned_item(
    uow: UnitOfWork, owner_id: int, item_id: int, *, lock: bool = False
) -> MenuItem:
    stmt = (
        select(MenuItem, Store.owner_id)
        .join(Store, Store.id == MenuItem.store_id)
        .where(MenuItem.id == item_id, MenuItem.deleted_at.is_(None))
    )
    row = (await uow.session.execute(stmt.with_for_update() if lock else stmt)).first()
    if row is None:
        raise NotFound(f"Menu item {item_id} does not exist.")
    item, store_owner = row
    if store_owner != owner_id:
        raise Forbidden("Only the store's owner may change its menu.")
    return item


async def _has_item_on_sale(uow: UnitOfWork, store_id: int) -> bool:
    """True when the store's menu has an item a customer can order now."""
    found = await uow.session.scalar(
        select(MenuItem.id)
        .where(
            MenuItem.store_id == store_id,
            MenuItem.deleted_at.is_(None),
            MenuItem.sold_out.is_(False),
        )
        .limit(1)
    )
    return found is not None


def _invalidate(uow: UnitOfWork, cache: CatalogCache, *scopes: str) -> None:
    async def bump() -> None:
        await cache.bump(*scopes)

    uow.after_commit(bump)


def _set_delivery(store: Store, changes: dict[str, Any]) -> None:
    """Apply the delivery fields of a create or update: radius, flat fee or tiers, checked
    together (400 with a sentence per problem)."""
    radius = float(changes.get("delivery_radius_km", store.delivery_radius_km))
    tiers_in = changes.get("delivery_fee_tiers")
    fee = changes.get("delivery_fee")
    problems: list[dict[str, str]] = []
    if tiers_in is not None:
        tiers = [FeeTier(up_to_km=float(t["up_to_km"]), fee=int(t["fee"])) for t in tiers_in]
        problems = tier_problems(radius, tiers)
        if fee is not None and tiers and fee != tiers[0].fee:
            problems.append(
                {
                    "field": "delivery_fee",
                    "message": f"The delivery fee is the first tier's (₩{tiers[0].fee:,}); "
                    "send the same or leave it out.",
                    "type": "invalid",
                }
            )
        stored = tiers_json(tiers)
        fee = tiers[0].fee if tiers else fee
    elif fee is not None:
        stored = "[]"  # a flat fee alone replaces the tiers
    else:
        stored = store.delivery_fee_tiers or "[]"
        if stored != "[]":
            # The radius moved under tiers set before: they must still end at it.
            current = tiers_of(radius, stored, store.delivery_fee)
            if abs(current[-1].up_to_km - radius) > 1e-9:
                problems.append(
                    {
                        "field": "delivery_radius_km",
                        "message": f"The fee tiers end at {current[-1].up_to_km:g} km; send "
                        f"tiers that end at the new radius ({radius:g} km) with it.",
                        "type": "invalid",
                    }
                )
    if problems:
        raise ValidationFailed(
            "The delivery settings are not valid: " + " ".join(p["message"] for p in problems),
            errors=problems,
        )
    store.delivery_radius_km = radius
    store.delivery_fee_tiers = stored
    if fee is not None:
        store.delivery_fee = fee


_DELIVERY_FIELDS = ("delivery_radius_km", "delivery_fee_tiers", "delivery_fee")


async def create_store(
    *, db: Database, cache: CatalogCache, owner_id: int, data: StoreCreate
) -> Store:
    """Open a new store for `owner_id`; it starts closed."""
    async with db.uow() as uow:
        fields = data.model_dump()
        delivery = {key: fields.pop(key) for key in _DELIVERY_FIELDS}
        # Read under a shared lock: a suspension of the account waits for this store to exist
        # (and then marks it), or has committed and is read here.
        owner_suspended = await uow.session.scalar(
            select(User.suspended).where(User.id == owner_id).with_for_update(read=True)
        )
        store = Store(
            owner_id=owner_id,
            open=False,
            delivery_fee_tiers="[]",
            owner_suspended=bool(owner_suspended),
            **fields,
        )
        _set_delivery(store, delivery)
        uow.session.add(store)
        await uow.flush()
        _invalidate(uow, cache, list_scope())
        await uow.commit()
    return store


async def update_store(
    *, db: Database, cache: CatalogCache, owner_id: int, store_id: int, data: StoreUpdate
) -> Store:
    """Change the given fields of the owner's store (including `open`)."""
    async with db.uow() as uow:
        store = await _owned_store(uow, owner_id, store_id, lock=True)
        was_open = store.open
        changes = data.model_dump(exclude_unset=True)
        delivery = {key: changes.pop(key) for key in _DELIVERY_FIELDS if key in changes}
        for field, value in changes.items():
            setattr(store, field, value)
        if delivery:
            _set_delivery(store, delivery)
        if store.open and not was_open and not await _has_item_on_sale(uow, store_id):
            raise Conflict(
                "Add at least one menu item that is not sold out before opening the store: "
                "customers would find nothing to order.",
                code=ProblemCode.EMPTY_MENU,
                title="The menu is empty",
            )
        if store.open != was_open:
            await uow.flush()
            await emit_store_event(uow, store, "store.opened" if store.open else "store.closed")
        _invalidate(uow, cache, list_scope(), store_scope(store_id))
        await uow.commit()
    return store


async def add_item(
    *, db: Database, cache: CatalogCache, owner_id: int, store_id: int, data: ItemCreate
) -> MenuItem:
    """Add an item with its options to the owner's store's menu."""
    async with db.uow() as uow:
        await _owned_store(uow, owner_id, store_id)
        item = MenuItem(
            store_id=store_id,
            name=data.name,
            price=data.price,
            group=data.group,
            description=data.description,
            sold_out=False,
            options=[MenuOption(name=o.name, price=o.price) for o in data.options],
        )
        uow.session.add(item)
        await uow.flush()
        _invalidate(uow, cache, store_scope(store_id))
        await uow.commit()
    return item


async def update_item(
    *, db: Database, cache: CatalogCache, owner_id: int, item_id: int, data: ItemUpdate
) -> MenuItem:
    """Change the given fields of an item; `options`, when given, replaces the list."""
    async with db.uow() as uow:
        item = await _owned_item(uow, owner_id, item_id, lock=True)
        was_sold_out = item.sold_out
        changes = data.model_dump(exclude_unset=True)
        options = changes.pop("options", None)
        for field, value in changes.items():
            setattr(item, field, value)
        if options is not None:
            # Orders keep copies of the options they used, so old option rows may go.
            item.options = [MenuOption(name=o["name"], price=o["price"]) for o in options]
        await uow.flush()
        if item.sold_out != was_sold_out:
            await emit_item_event(uow, item, "item.sold_out" if item.sold_out else "item.available")
        _invalidate(uow, cache, store_scope(item.store_id))
        await uow.commit()
    return item


async def delete_item(*, db: Database, cache: CatalogCache, owner_id: int, item_id: int) -> None:
    """Hide an item from the menu; the row stays for the orders that point at it."""
    async with db.uow() as uow:
        item = await _owned_item(uow, owner_id, item_id)
        item.deleted_at = utcnow()
        _invalidate(uow, cache, store_scope(item.store_id))
        await uow.commit()


async def _replace_image(
    uow: UnitOfWork, storage: Storage, target: Store | MenuItem, key: str, image: CleanImage
) -> None:
    await storage.put(key, image.data, image.content_type)
    old_key, target.image_key = target.image_key, key
    try:
        await uow.commit()
    except BaseException:
        # The new object is orphaned if the row did not take its key.
        await storage.delete(key)
        raise

    async def drop_old() -> None:
        if old_key:
            try:
                await storage.delete(old_key)
            except Exception:
                log.warning("could not delete replaced image %s", old_key, exc_info=True)

    uow.after_commit(drop_old)


async def check_store_owner(*, db: Database, owner_id: int, store_id: int) -> None:
    """404 unless the store exists, 403 unless `owner_id` runs it (before reading an upload)."""
    async with db.uow() as uow:
        await _owned_store(uow, owner_id, store_id)


async def check_item_owner(*, db: Database, owner_id: int, item_id: int) -> None:
    """404 unless the menu item exists, 403 unless `owner_id` runs its store."""
    async with db.uow() as uow:
        await _owned_item(uow, owner_id, item_id)


async def set_store_image(
    *,
    db: Database,
    cache: CatalogCache,
    storage: Storage,
    owner_id: int,
    store_id: int,
    image: CleanImage,
) -> str:
    """Store a new image for the owner's store, delete the old one; the new key."""
    async with db.uow() as uow:
        # The row lock orders concurrent replacements, so each deletes the one it replaced.
        store = await _owned_store(uow, owner_id, store_id, lock=True)
        key = new_key("stores", store_id, image.extension)
        _invalidate(uow, cache, list_scope(), store_scope(store_id))
        await _replace_image(uow, storage, store, key, image)
    return key


async def set_item_image(
    *,
    db: Database,
    cache: CatalogCache,
    storage: Storage,
    owner_id: int,
    item_id: int,
    image: CleanImage,
) -> str:
    """Store a new image for a menu item, delete the old one; the new key."""
    async with db.uow() as uow:
        item = await _owned_item(uow, owner_id, item_id, lock=True)
        key = new_key("items", item_id, image.extension)
        _invalidate(uow, cache, store_scope(item.store_id))
        await _replace_image(uow, storage, item, key, image)
    return key


async def set_hours(
    *,
    db: Database,
    cache: CatalogCache,
    owner_id: int,
    store_id: int,
    data: HoursUpdate,
    now: datetime | None = None,
) -> Store:
    """Replace the owner's store's weekly hours and closed dates (and its zone, when given)."""
    async with db.uow() as uow:
        store = await _owned_store(uow, owner_id, store_id, lock=True)
        timezone = data.timezone or store.timezone
        weekly = [(entry.day, entry.opens, entry.closes) for entry in data.weekly]
        problems, kept = schedule_problems(weekly, data.closed_dates, timezone, now or utcnow())
        if problems:
            raise ValidationFailed(
                "The opening hours are not valid: " + "; ".join(p["message"] for p in problems),
                errors=problems,
            )
        store.timezone = timezone
        store.weekly_hours = json.dumps(
            [{"day": d, "opens": o, "closes": c} for d, o, c in sorted(weekly)],
            separators=(",", ":"),
        )
        store.closed_dates = json.dumps(kept, separators=(",", ":"))
        await uow.flush()
        await emit_store_event(uow, store, "store.hours_changed")
        _invalidate(uow, cache, list_scope(), store_scope(store_id))
        await uow.commit()
    return store


async def pause_store(
    *, db: Database, cache: CatalogCache, owner_id: int, store_id: int, minutes: int
) -> Store:
    """Refuse new orders at the owner's store for `minutes` from now (replacing any pause)."""
    async with db.uow() as uow:
        store = await _owned_store(uow, owner_id, store_id, lock=True)
        now = utcnow()
        if store.paused_until is not None and store.paused_until <= now:
            # A pause that ran out and whose end no sweeper has announced yet: announce it
            # here, so that every pause ends with exactly one `store.resumed`.
            store.paused_until = None
            await uow.flush()
            await emit_store_event(uow, store, "store.resumed")
        store.paused_until = now + timedelta(minutes=minutes)
        await uow.flush()
        await emit_store_event(uow, store, "store.paused")
        _invalidate(uow, cache, list_scope(), store_scope(store_id))
        await uow.commit()
    return store


async def resume_store(*, db: Database, cache: CatalogCache, owner_id: int, store_id: int) -> Store:
    """End the owner's store's pause now (nothing happens when it is not paused)."""
    async with db.uow() as uow:
        store = await _owned_store(uow, owner_id, store_id, lock=True)
        if store.paused_until is not None:
            store.paused_until = None
            await uow.flush()
            await emit_store_event(uow, store, "store.resumed")
            _invalidate(uow, cache, list_scope(), store_scope(store_id))
        await uow.commit()
    return store


async def resume_expired_pauses(*, db: Database, cache: CatalogCache, limit: int = 100) -> int:
    """Announce the end of every pause that has run out; how many this call ended.

    Each end is claimed with a conditional UPDATE (still paused until the same instant), so
    with every node sweeping, each pause ends once: one `store.resumed`, from one node.
    """
    now = utcnow()
    async with db.uow() as uow:
        due = (
            await uow.session.execute(
                select(Store.id, Store.paused_until)
                .where(Store.paused_until <= now)
                .order_by(Store.paused_until)
                .limit(limit)
            )
        ).all()
    ended = 0
    for store_id, until in due:
        async with db.uow() as uow:
            claimed = cast(
                CursorResult[Any],
                await uow.session.execute(
                    update(Store)
                    .where(Store.id == store_id, Store.paused_until == until)
                    .values(paused_until=None, updated_at=utcnow())
                ),
            )
            if claimed.rowcount != 1:
                continue  # another node ended it, or the owner paused or resumed meanwhile
            store = await uow.session.get(Store, store_id)
            if store is None:
                continue
            await emit_store_event(uow, store, "store.resumed")
            _invalidate(uow, cache, list_scope(), store_scope(store_id))
            await uow.commit()
            ended += 1
    return ended
