"""Public catalog reads: nearby and filtered store lists, and a store's page with its menu."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, func, or_, select

from app.catalog.models import MenuItem, Store
from app.catalog.schemas import StoreQuery
from app.catalog.service import menu_view, store_view
from app.db import UnitOfWork
from app.errors import NotFound

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_KM / 180


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


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


def _filtered(query: StoreQuery) -> Select[Store]:
    stmt = select(Store)
    if query.category:
        stmt = stmt.where(Store.category == query.category)
    if query.owner_id is not None:
        stmt = stmt.where(Store.owner_id == query.owner_id)
    if query.q:
        pattern = f"%{_escape_like(query.q.lower())}%"
        stmt = stmt.where(func.lower(Store.name).like(pattern, escape="\\"))
    return stmt


async def search_stores(*, uow: UnitOfWork, query: StoreQuery) -> dict[str, Any]:
    """`{stores: [...]}`: nearest first with `distance_km` when a position is given."""
    stmt = _filtered(query)
    async with uow:
        if query.lat is None or query.lng is None:
            rows = (await uow.session.scalars(stmt.order_by(Store.id).limit(query.limit))).all()
            return {"stores": [store_view(s) for s in rows]}
        lat, lng = query.lat, query.lng
        min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, query.radius_km)
        # The index on (lat, lng) narrows to the box; an equirectangular distance (plain
        # arithmetic, so the same SQL runs on MariaDB and SQLite) orders the candidates and
        # bounds how many rows come back. The exact haversine then filters and sorts them.
        k = math.cos(math.radians(lat))
        approx = (Store.lat - lat) * (Store.lat - lat) + (Store.lng - lng) * (Store.lng - lng) * (
            k * k
        )
        stmt = stmt.where(Store.lat.between(min_lat, max_lat))
        if max_lng - min_lng < 360:
            # A box across the antimeridian is two ranges of stored longitudes.
            if min_lng < -180:
                stmt = stmt.where(or_(Store.lng >= min_lng + 360, Store.lng <= max_lng))
            elif max_lng > 180:
                stmt = stmt.where(or_(Store.lng >= min_lng, Store.lng <= max_lng - 360))
            else:
                stmt = stmt.where(Store.lng.between(min_lng, max_lng))
        candidates = (
            await uow.session.scalars(stmt.order_by(approx, Store.id).limit(query.limit * 2 + 10))
        ).all()
    found = []
    for store in candidates:
        distance = haversine_km(lat, lng, store.lat, store.lng)
        if distance <= query.radius_km:
            found.append((distance, store.id, store))
    found.sort(key=lambda entry: (entry[0], entry[1]))
    return {
        "stores": [
            {**store_view(store), "distance_km": round(distance, 3)}
            for distance, _, store in found[: query.limit]
        ]
    }


async def store_page(*, uow: UnitOfWork, store_id: int) -> dict[str, Any]:
    """The store with its live menu, or 404."""
    async with uow:
        store = await uow.session.get(Store, store_id)
        if store is None:
            raise NotFound(f"Store {store_id} does not exist.")
        items = (
            await uow.session.scalars(
                select(MenuItem).where(MenuItem.store_id == store_id, MenuItem.deleted_at.is_(None))
            )
        ).all()
    return {**store_view(store), "menu": menu_view(list(items))}
