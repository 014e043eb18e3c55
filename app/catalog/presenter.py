"""Stores, menus and images as the API shows them.

The public reads pass plain rows (not ORM objects) that carry the same attributes, so the
views read attributes through the `StoreLike` and `ItemLike` shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar

from app.catalog.schemas import (
    Category,
    ImageOut,
    ItemOut,
    ListedStoreOut,
    MenuGroupOut,
    OptionOut,
    StoreOut,
    StorePageOut,
)

MEDIA_PREFIX = "/media/"
# A store shows a mean rating from this many reviews on.
RATED_FROM = 3
S = TypeVar("S", bound=StoreOut)


class StoreLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def owner_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def lat(self) -> float: ...
    @property
    def lng(self) -> float: ...
    @property
    def phone(self) -> str: ...
    @property
    def min_order(self) -> int: ...
    @property
    def delivery_fee(self) -> int: ...
    @property
    def open(self) -> bool: ...
    @property
    def image_key(self) -> str | None: ...
    @property
    def review_count(self) -> int: ...
    @property
    def rating_sum(self) -> int: ...


class OptionLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def price(self) -> int: ...


class ItemLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def store_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def price(self) -> int: ...
    @property
    def group(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def sold_out(self) -> bool: ...
    @property
    def image_key(self) -> str | None: ...


class ItemWithOptions(ItemLike, Protocol):
    @property
    def options(self) -> Iterable[OptionLike]: ...


def image_url_for(key: str | None) -> str | None:
    """The URL an image key is served at, from every node (None when there is no image)."""
    return f"{MEDIA_PREFIX}{key}" if key else None


def store_rating(rating_sum: int, review_count: int) -> float | None:
    """The mean rating to one decimal, halves rounded up; None below `RATED_FROM` reviews."""
    if review_count < RATED_FROM:
        return None
    # In whole tenths, with integers only: 4.25 is 4.3, whatever binary floats make of it.
    tenths = (rating_sum * 20 + review_count) // (2 * review_count)
    return tenths / 10


def image_view(key: str) -> ImageOut:
    """Where a just-uploaded image is served."""
    return ImageOut(image_url=f"{MEDIA_PREFIX}{key}")


def _store(shape: type[S], store: StoreLike, **more: Any) -> S:
    return shape(
        id=store.id,
        owner_id=store.owner_id,
        name=store.name,
        category=Category(store.category),
        address=store.address,
        lat=store.lat,
        lng=store.lng,
        phone=store.phone,
        min_order=store.min_order,
        delivery_fee=store.delivery_fee,
        open=store.open,
        image_url=image_url_for(store.image_key),
        rating=store_rating(store.rating_sum, store.review_count),
        review_count=store.review_count,
        **more,
    )


def store_view(store: StoreLike) -> StoreOut:
    """The API's `store` (without `menu`)."""
    return _store(StoreOut, store)


def listed_store_view(store: StoreLike, distance_km: float | None = None) -> ListedStoreOut:
    """A store in a search result; `distance_km` when the search gave a position."""
    return _store(ListedStoreOut, store, distance_km=distance_km)


def option_view(option: OptionLike) -> OptionOut:
    """The API's item option."""
    return OptionOut(id=option.id, name=option.name, price=option.price)


def item_view(item: ItemLike, options: Iterable[OptionLike]) -> ItemOut:
    """The API's `item`, with the given options."""
    return ItemOut(
        id=item.id,
        store_id=item.store_id,
        name=item.name,
        price=item.price,
        group=item.group,
        description=item.description,
        sold_out=item.sold_out,
        image_url=image_url_for(item.image_key),
        options=[option_view(option) for option in options],
    )


def menu_item_view(item: ItemWithOptions) -> ItemOut:
    """The API's `item`, with its own options."""
    return item_view(item, item.options)


def store_page_view(
    store: StoreLike, items: Iterable[ItemLike], options: Mapping[int, Iterable[OptionLike]]
) -> StorePageOut:
    """The store with its live items grouped by `group`, groups in the order their first item
    was added (`items` are live and sorted by id)."""
    groups: dict[str, list[ItemOut]] = {}
    for item in items:
        groups.setdefault(item.group, []).append(item_view(item, options[item.id]))
    menu = [MenuGroupOut(group=name, items=entries) for name, entries in groups.items()]
    return _store(StorePageOut, store, menu=menu)
