"""Public catalog reads: nearby and filtered store lists, and a store's page with its menu."""

from __future__ import annotations

import math
from typing import Any, cast

from sqlalchemy import Select, func, or_, select

from app.catalog.fees import fee_for, tiers_of
from app.catalog.models import MenuItem, MenuOption, Store
from app.catalog.presenter import listed_store_view, store_page_view
from app.catalog.schemas import DeliveryQuoteOut, StoreListOut, StorePageOut, StoreQuery
from app.db import Database, UnitOfWork, replica_fallback
from app.errors import NotFound
from app.geo import EARTH_RADIUS_KM, KM_PER_DEGREE_LAT, distance_km


def bounding_box(lat: float, lng: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) enclosing the circle; all longitudes near a pole."""
    dlat = radius_km / KM_PER_DEGREE_LAT
    angular = radius_km / EARTH_RADIUS_KM
    cos_lat = math.cos(math.radians(lat))
    if lat + dlat >= 90 or lat - dlat <= -90 or math.sin(angular) >= cos_lat:
        return max(-90.0, lat - dlat), min(90.0, lat + dlat), -180.0, 180.0
    # The circle's widest longitude is where a meridian touches it (not on the centre's
    # parallel): asin(sin(d) / cos(lat)).
    dlng = math.degrees(math.asin(math.sin(angular) / cos_lat))
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Public reads select plain rows, not ORM objects: these are the hottest queries and a row
# has the attributes the views read, at a fraction of the cost of identity-mapped instances.
# Only what the views show: the driver parses every column of every row in Python.
_NOT_SHOWN = ("created_at", "updated_at")
STORE_COLUMNS = tuple(c for c in Store.__table__.c if c.name not in _NOT_SHOWN)
ITEM_COLUMNS = tuple(c for c in MenuItem.__table__.c if c.name not in _NOT_SHOWN)


def _filtered(query: StoreQuery) -> Select[Any]:
    stmt = select(*STORE_COLUMNS)
    # A suspended store (or one whose owner's account is) is hidden from search; its owner
    # still lists it among their own.
    if query.owner_id is None:
        stmt = stmt.where(Store.suspended.is_(False), Store.owner_suspended.is_(False))
    if query.category:
        stmt = stmt.where(Store.category == query.category)
    if query.owner_id is not None:
        stmt = stmt.where(Store.owner_id == query.owner_id)
    if query.q:
        pattern = f"%{_escape_like(query.q.lower())}%"
        stmt = stmt.where(func.lower(Store.name).like(pattern, escape="\\"))
    return stmt


def _near(stmt: Select[Any], lat: float, lng: float, radius_km: float) -> Select[Any]:
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_km)
    stmt = stmt.where(Store.lat.between(min_lat, max_lat))
    if max_lng - min_lng >= 360:
        return stmt
    # A box across the antimeridian is two ranges of stored longitudes.
    if min_lng < -180:
        return stmt.where(or_(Store.lng >= min_lng + 360, Store.lng <= max_lng))
    if max_lng > 180:
        return stmt.where(or_(Store.lng >= min_lng, Store.lng <= max_lng - 360))
    return stmt.where(Store.lng.between(min_lng, max_lng))


@replica_fallback
async def search_stores(*, db: Database, query: StoreQuery) -> StoreListOut:
    """The stores found: nearest first with `distance_km` when a position is given."""
    stmt = _filtered(query)
    async with db.read_uow() as uow:
        if query.lat is None or query.lng is None:
            rows = (await uow.session.execute(stmt.order_by(Store.id).limit(query.limit))).all()
            return StoreListOut(stores=[listed_store_view(cast(Any, row)) for row in rows])
        lat, lng = query.lat, query.lng
        # The index on (lat, lng) narrows to the box; an equirectangular distance (plain
        # arithmetic, so the same SQL runs on MariaDB and SQLite) orders the candidates and
        # bounds how many rows come back. The exact haversine then filters and sorts them;
        # the spare rows cover the tiny differences between the two orders.
        k = math.cos(math.radians(lat))
        approx = (Store.lat - lat) * (Store.lat - lat) + (Store.lng - lng) * (Store.lng - lng) * (
            k * k
        )
        stmt = _near(stmt, lat, lng, query.radius_km).order_by(approx, Store.id)
        min_lng, max_lng = bounding_box(lat, lng, query.radius_km)[2:]
        if min_lng >= -180 and max_lng <= 180 and max_lng - min_lng < 360:
            # Only stores whose own radius reaches the point, in SQL too, so that the rows
            # the limit keeps are ones that can be shown (2% slack for the flat distance; the
            # haversine below decides). Not across the antimeridian, where the flat distance
            # of the longitudes is wrong: there the limit may keep fewer.
            reach = Store.delivery_radius_km * (1.02 / KM_PER_DEGREE_LAT)
            stmt = stmt.where(approx <= reach * reach)
        candidates = (await uow.session.execute(stmt.limit(query.limit + 20))).all()
    found = []
    for row in candidates:
        distance = distance_km(lat, lng, row.lat, row.lng)
        # Only stores that deliver here: within the search's radius and the store's own.
        if distance <= query.radius_km and distance <= row.delivery_radius_km:
            found.append((distance, row.id, row))
    found.sort(key=lambda entry: (entry[0], entry[1]))
    return StoreListOut(
        stores=[
            listed_store_view(cast(Any, row), round(distance, 3))
            for distance, _, row in found[: query.limit]
        ]
    )


@replica_fallback
async def store_page(*, db: Database, store_id: int) -> StorePageOut:
    """The store with its live menu, or 404."""
    async with db.read_uow() as uow:
        store = (
            await uow.session.execute(select(*STORE_COLUMNS).where(Store.id == store_id))
        ).first()
        if store is None:
            raise NotFound(f"Store {store_id} does not exist.")
        items = (
            await uow.session.execute(
                select(*ITEM_COLUMNS)
                .where(MenuItem.store_id == store_id, MenuItem.deleted_at.is_(None))
                .order_by(MenuItem.id)
            )
        ).all()
        options: dict[int, list[Any]] = {row.id: [] for row in items}
        if items:
            for option in await uow.session.execute(
                select(MenuOption.id, MenuOption.item_id, MenuOption.name, MenuOption.price)
                .where(MenuOption.item_id.in_(list(options)))
                .order_by(MenuOption.id)
            ):
                options[option.item_id].append(option)
    return store_page_view(cast(Any, store), [cast(Any, row) for row in items], options)


async def delivery_quote(
    *, db: Database, store_id: int, lat: float, lng: float
) -> DeliveryQuoteOut:
    """What delivering to (`lat`, `lng`) costs from the store, or whether it is out of range."""
    async with db.uow() as uow:
        store = (
            await uow.session.execute(
                select(
                    Store.lat,
                    Store.lng,
                    Store.delivery_fee,
                    Store.delivery_radius_km,
                    Store.delivery_fee_tiers,
                ).where(Store.id == store_id)
            )
        ).first()
    if store is None:
        raise NotFound(f"Store {store_id} does not exist.")
    distance = distance_km(store.lat, store.lng, lat, lng)
    tiers = tiers_of(store.delivery_radius_km, store.delivery_fee_tiers, store.delivery_fee)
    fee = fee_for(tiers, store.delivery_radius_km, distance)
    return DeliveryQuoteOut(
        distance_km=round(distance, 3),
        delivery_fee=fee,
        in_range=fee is not None,
        radius_km=store.delivery_radius_km,
    )


async def store_owner_id(uow: UnitOfWork, store_id: int) -> int | None:
    """The owner of store `store_id`, or None when there is no such store."""
    owner = await uow.session.scalar(select(Store.owner_id).where(Store.id == store_id))
    return None if owner is None else int(owner)
