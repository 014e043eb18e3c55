"""HTTP for stores, menus and images, and the media files themselves (docs/api.md)."""

from __future__ import annotations

import functools
import re
from typing import Any

from quart import Blueprint, Response
from quart_schema import tag

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.catalog import queries, service
from app.catalog.cache import CatalogCache, Expiring
from app.catalog.presenter import image_view, menu_item_view, stale_at, store_view
from app.catalog.schemas import (
    DeliveryQuoteOut,
    DeliveryQuoteQuery,
    HoursUpdate,
    ImageOut,
    ItemCreate,
    ItemOut,
    ItemUpdate,
    PauseRequest,
    StoreCreate,
    StoreListOut,
    StoreOut,
    StorePageOut,
    StoreQuery,
    StoreUpdate,
)
from app.catalog.uploads import admit_upload, uploaded_image
from app.container import container
from app.errors import NotFound, ProblemCode
from app.responses import binary, no_content, problems, returns, upload
from app.storage import Storage
from app.validation import body, query

bp = Blueprint("catalog", __name__)

KEY_PATTERN = re.compile(r"^(stores|items|demo)/[0-9a-z-]{1,40}/[0-9a-f]{32}\.(jpg|png|webp)$")
IMMUTABLE = "public, max-age=31536000, immutable"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
SERVED_BY = {"X-Cache": "How the cache served it: `hit`, `miss`, `wait` or `bypass`."}
# An image arrives as multipart field `file`; its content, not its name, decides its type.
image_upload = upload("file", IMAGE_TYPES, "A JPEG, PNG or WebP image of at most 5 MiB.")
image_problems = problems(
    ProblemCode.VALIDATION,
    ProblemCode.TOO_LARGE,
    ProblemCode.UNSUPPORTED_MEDIA_TYPE,
    ProblemCode.NOT_FOUND,
    ProblemCode.RATE_LIMITED,
)


def _catalog() -> tuple[CatalogCache, Storage]:
    services = container()
    return services.get(CatalogCache), services.get(Storage)


def _json(data: bytes, served: str, status: int = 200) -> Response:
    response = Response(data, status=status, content_type="application/json")
    response.headers["X-Cache"] = served
    return response


@bp.get("/api/stores")
@tag(["catalog"])
@returns(StoreListOut, headers=SERVED_BY)
@query(StoreQuery)
async def list_stores(query: StoreQuery) -> Response:
    """Stores by category and name; nearest first with `distance_km` given lat/lng."""
    cache, _ = _catalog()
    db = container().db

    async def build() -> Expiring:
        # `open_now` is as of the build: the entry goes when the first store's changes.
        found = await queries.search_stores(db=db, query=query)
        return Expiring(found, stale_at(found.stores))

    data, served = await cache.get_or_build(service.list_scope(), query.key(), build)
    return _json(data, served)


@bp.get("/api/stores/<int:store_id>")
@tag(["catalog"])
@returns(StorePageOut, headers=SERVED_BY)
@problems(ProblemCode.NOT_FOUND)
async def get_store(store_id: int) -> Response:
    """A store with its menu."""
    cache, _ = _catalog()
    db = container().db

    async def build() -> Expiring:
        page = await queries.store_page(db=db, store_id=store_id)
        return Expiring(page, stale_at([page]))

    data, served = await cache.get_or_build(service.store_scope(store_id), "page", build)
    return _json(data, served)


@bp.get("/api/stores/<int:store_id>/delivery-quote")
@tag(["catalog"])
@returns(DeliveryQuoteOut)
@problems(ProblemCode.NOT_FOUND)
@query(DeliveryQuoteQuery)
async def delivery_quote(store_id: int, query: DeliveryQuoteQuery) -> DeliveryQuoteOut:
    """What delivery from this store to `lat`/`lng` costs (its fee tiers), or that the point
    is beyond its radius (`in_range` false, `delivery_fee` null). For checkout; not cached."""
    return await queries.delivery_quote(
        db=container().db, store_id=store_id, lat=query.lat, lng=query.lng
    )


@bp.post("/api/stores")
@tag(["catalog"])
@returns(StoreOut, 201)
@login_required(role=Role.OWNER)
@body(StoreCreate)
async def create_store(principal: Principal, data: StoreCreate) -> StoreOut:
    """Open a store (created closed)."""
    cache, _ = _catalog()
    store = await service.create_store(
        db=container().db, cache=cache, owner_id=principal.user_id, data=data
    )
    return store_view(store)


@bp.patch("/api/stores/<int:store_id>")
@tag(["catalog"])
@returns(StoreOut)
@problems(ProblemCode.NOT_FOUND, ProblemCode.EMPTY_MENU)
@login_required(role=Role.OWNER)
@body(StoreUpdate)
async def update_store(principal: Principal, store_id: int, data: StoreUpdate) -> StoreOut:
    """Change a store's fields or open/close it."""
    cache, _ = _catalog()
    store = await service.update_store(
        db=container().db,
        cache=cache,
        owner_id=principal.user_id,
        store_id=store_id,
        data=data,
    )
    return store_view(store)


@bp.put("/api/stores/<int:store_id>/hours")
@tag(["catalog"])
@returns(StoreOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.OWNER)
@body(HoursUpdate)
async def put_hours(principal: Principal, store_id: int, data: HoursUpdate) -> StoreOut:
    """Set the store's weekly opening hours, closed dates and time zone (replacing them)."""
    cache, _ = _catalog()
    store = await service.set_hours(
        db=container().db, cache=cache, owner_id=principal.user_id, store_id=store_id, data=data
    )
    return store_view(store)


@bp.post("/api/stores/<int:store_id>/pause")
@tag(["catalog"])
@returns(StoreOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.OWNER)
@body(PauseRequest)
async def pause_store(principal: Principal, store_id: int, data: PauseRequest) -> StoreOut:
    """Refuse new orders for `minutes` (5–240); ordering resumes by itself afterwards."""
    cache, _ = _catalog()
    store = await service.pause_store(
        db=container().db,
        cache=cache,
        owner_id=principal.user_id,
        store_id=store_id,
        minutes=data.minutes,
    )
    return store_view(store)


@bp.delete("/api/stores/<int:store_id>/pause")
@tag(["catalog"])
@returns(StoreOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.OWNER)
async def resume_store(principal: Principal, store_id: int) -> StoreOut:
    """End the pause now (answers the store as it is when none is running)."""
    cache, _ = _catalog()
    store = await service.resume_store(
        db=container().db, cache=cache, owner_id=principal.user_id, store_id=store_id
    )
    return store_view(store)


@bp.post("/api/stores/<int:store_id>/menu")
@tag(["catalog"])
@returns(ItemOut, 201)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.OWNER)
@body(ItemCreate)
async def add_item(principal: Principal, store_id: int, data: ItemCreate) -> ItemOut:
    """Add a menu item."""
    cache, _ = _catalog()
    item = await service.add_item(
        db=container().db,
        cache=cache,
        owner_id=principal.user_id,
        store_id=store_id,
        data=data,
    )
    return menu_item_view(item)


@bp.patch("/api/menu-items/<int:item_id>")
@tag(["catalog"])
@returns(ItemOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.OWNER)
@body(ItemUpdate)
async def update_item(principal: Principal, item_id: int, data: ItemUpdate) -> ItemOut:
    """Change a menu item, or mark it sold out."""
    cache, _ = _catalog()
    item = await service.update_item(
        db=container().db,
        cache=cache,
        owner_id=principal.user_id,
        item_id=item_id,
        data=data,
    )
    return menu_item_view(item)


@bp.delete("/api/menu-items/<int:item_id>")
@tag(["catalog"])
@no_content
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.OWNER)
async def delete_item(principal: Principal, item_id: int) -> Response:
    """Remove an item from the menu (past orders keep their copy)."""
    cache, _ = _catalog()
    await service.delete_item(
        db=container().db, cache=cache, owner_id=principal.user_id, item_id=item_id
    )
    return Response(status=204)


@bp.put("/api/stores/<int:store_id>/image")
@tag(["catalog"])
@returns(ImageOut)
@image_problems
@image_upload
@login_required(role=Role.OWNER)
async def put_store_image(principal: Principal, store_id: int) -> ImageOut:
    """Upload the store's image (JPEG, PNG or WebP, at most 5 MiB)."""
    cache, storage = _catalog()
    owner = functools.partial(
        service.check_store_owner,
        db=container().db,
        owner_id=principal.user_id,
        store_id=store_id,
    )
    await admit_upload(principal, owner)
    image = await uploaded_image()
    key = await service.set_store_image(
        db=container().db,
        cache=cache,
        storage=storage,
        owner_id=principal.user_id,
        store_id=store_id,
        image=image,
    )
    return image_view(key)


@bp.put("/api/menu-items/<int:item_id>/image")
@tag(["catalog"])
@returns(ImageOut)
@image_problems
@image_upload
@login_required(role=Role.OWNER)
async def put_item_image(principal: Principal, item_id: int) -> ImageOut:
    """Upload a menu item's image (JPEG, PNG or WebP, at most 5 MiB)."""
    cache, storage = _catalog()
    owner = functools.partial(
        service.check_item_owner, db=container().db, owner_id=principal.user_id, item_id=item_id
    )
    await admit_upload(principal, owner)
    image = await uploaded_image()
    key = await service.set_item_image(
        db=container().db,
        cache=cache,
        storage=storage,
        owner_id=principal.user_id,
        item_id=item_id,
        image=image,
    )
    return image_view(key)


@bp.get("/media/<path:key>")
@tag(["catalog"])
@binary(200, IMAGE_TYPES, "The image; `Cache-Control: immutable` (a key never changes).")
@problems(ProblemCode.NOT_FOUND)
async def media(key: str) -> Any:
    """An uploaded image, from whichever backend is configured; cached for a year."""
    if not KEY_PATTERN.match(key):
        raise NotFound("No such image.")
    _, storage = _catalog()
    found = await storage.get(key)
    if found is None:
        raise NotFound("No such image.")
    response = Response(found.data, content_type=found.content_type)
    # Keys are never reused (a replacement gets a new key), so the bytes never change.
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
