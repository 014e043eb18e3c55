"""Prices, options and availability re-read from the catalog: the client sends ids only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from app.catalog.fees import DEFAULT_RADIUS_KM, fee_for, tiers_of
from app.catalog.hours import DEFAULT_TIMEZONE, closed_detail, schedule_of, store_state
from app.catalog.models import MenuItem, MenuOption, Store
from app.db import UnitOfWork, rfc3339, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.geo import distance_km
from app.orders.schemas import PlaceOrderRequest, QuoteRequest

# The most one order may cost, in won: far above any real meal, and a bound that keeps every
# sum an order holds well inside its columns.
MAX_ORDER_TOTAL = 10_000_000


@dataclass
class Priced:
    """The server's computation of an order's lines and amounts."""

    subtotal: int = 0
    delivery_fee: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)
    store_name: str = ""


@dataclass(frozen=True)
class StoreRow:
    """A store as pricing reads it."""

    id: int
    name: str
    open: bool
    delivery_fee: int
    min_order: int
    timezone: str = DEFAULT_TIMEZONE
    weekly_hours: str = "[]"
    closed_dates: str = "[]"
    paused_until: datetime | None = None
    lat: float = 0.0
    lng: float = 0.0
    delivery_radius_km: float = DEFAULT_RADIUS_KM
    delivery_fee_tiers: str = "[]"
    suspended: bool = False
    owner_suspended: bool = False


@dataclass(frozen=True)
class OptionRow:
    """A menu option as pricing reads it."""

    id: int
    name: str
    price: int


@dataclass(frozen=True)
class ItemRow:
    """A menu item as pricing reads it, with its options."""

    id: int
    store_id: int
    name: str
    price: int
    sold_out: bool
    deleted_at: datetime | None
    options: list[OptionRow] = field(default_factory=list)


# Built once: a statement object keeps its cache key, so executing it again costs no rebuild.
_STORE = select(
    Store.id,
    Store.name,
    Store.open,
    Store.delivery_fee,
    Store.min_order,
    Store.timezone,
    Store.weekly_hours,
    Store.closed_dates,
    Store.paused_until,
    Store.lat,
    Store.lng,
    Store.delivery_radius_km,
    Store.delivery_fee_tiers,
    Store.suspended,
    Store.owner_suspended,
).where(Store.id == bindparam("store_id"))
_ITEMS = (
    select(
        MenuItem.id,
        MenuItem.store_id,
        MenuItem.name,
        MenuItem.price,
        MenuItem.sold_out,
        MenuItem.deleted_at,
        MenuOption.id.label("option_id"),
        MenuOption.name.label("option_name"),
        MenuOption.price.label("option_price"),
    )
    .outerjoin(MenuOption, MenuOption.item_id == MenuItem.id)
    .where(MenuItem.id.in_(bindparam("ids", expanding=True)))
    .order_by(MenuItem.id, MenuOption.id)
)


async def price_lines(
    uow: UnitOfWork,
    request: PlaceOrderRequest | QuoteRequest,
    destination: tuple[float, float] | None = None,
) -> Priced:
    """Check the store and every line against the catalog and compute the totals; the
    delivery fee is the store's for the distance to `destination` (lat, lng).

    Two plain reads (the store; the items with their options in one join), not ORM loads:
    nothing here is written back, and loading objects cost an order more than the reads.
    """
    session = uow.session
    store = (await session.execute(_STORE, {"store_id": request.store_id})).first()
    if store is None:
        raise NotFound(f"Store {request.store_id} does not exist.")
    rows = await session.execute(_ITEMS, {"ids": [line.menu_item_id for line in request.items]})
    items: dict[int, ItemRow] = {}
    for row in rows:
        item = items.get(row.id)
        if item is None:
            item = items[row.id] = ItemRow(
                row.id, row.store_id, row.name, row.price, row.sold_out, row.deleted_at
            )
        if row.option_id is not None:
            item.options.append(OptionRow(row.option_id, row.option_name, row.option_price))
    return price_order(StoreRow(**store._mapping), items, request, destination=destination)


def check_open(store: StoreRow, at: datetime) -> None:
    """Refuse with 409 `store-closed` (saying when it opens) unless the store takes orders at
    `at`: its switch on, within its hours, not on a closed date, not paused; 409
    `store-suspended` when the platform suspended it (or its owner's account)."""
    if store.suspended or store.owner_suspended:
        raise Conflict(
            f"{store.name} is suspended by the platform and takes no orders.",
            code="store-suspended",
            title="Store suspended",
        )
    schedule = schedule_of(store.timezone, store.weekly_hours, store.closed_dates)
    state = store_state(schedule, switch_on=store.open, paused_until=store.paused_until, at=at)
    if state.open_now:
        return
    raise Conflict(
        closed_detail(store.name, state, schedule, at),
        code="store-closed",
        title="Store closed",
        extra={"next_open": rfc3339(state.next_open)} if state.next_open else None,
    )


def price_order(
    store: StoreRow,
    items: Mapping[int, ItemRow],
    request: PlaceOrderRequest | QuoteRequest,
    now: datetime | None = None,
    destination: tuple[float, float] | None = None,
) -> Priced:
    """Price `request` at `store` from its menu items by id (the rules, without the reads).

    The delivery fee is the tier of the distance to `destination`; without one (a quote
    with no address) it is the first tier's, the least the store charges.
    """
    check_open(store, now or utcnow())
    priced = Priced(delivery_fee=delivery_fee(store, destination), store_name=store.name)
    errors: list[dict[str, str]] = []
    for index, line in enumerate(request.items):
        item = items.get(line.menu_item_id)
        if item is None or item.store_id != store.id or item.deleted_at is not None:
            errors.append(
                {
                    "field": f"items[{index}].menu_item_id",
                    "message": f"Line {index + 1} is not on this store's menu.",
                    "type": "not_on_menu",
                }
            )
            continue
        if item.sold_out:
            raise Conflict(
                f"{item.name} is sold out.", code="item-unavailable", title="Item unavailable"
            )
        options = {option.id: option for option in item.options}
        repeated = [oid for oid, n in Counter(line.option_ids).items() if n > 1]
        unknown = [oid for oid in line.option_ids if oid not in options]
        if repeated or unknown:
            errors.append(
                {
                    "field": f"items[{index}].option_ids",
                    "message": f"Options {sorted(set(repeated + unknown))} of line {index + 1} "
                    f"are not choices of {item.name}."
                    if unknown
                    else f"An option of {item.name} may be chosen once.",
                    "type": "not_an_option" if unknown else "option_repeated",
                }
            )
            continue
        chosen = [options[oid] for oid in line.option_ids]
        unit = item.price + sum(option.price for option in chosen)
        line_total = unit * line.quantity
        priced.subtotal += line_total
        priced.lines.append(
            {
                "menu_item_id": item.id,
                "name": item.name,
                "price": item.price,
                "quantity": line.quantity,
                "options_json": json.dumps(
                    [{"id": o.id, "name": o.name, "price": o.price} for o in chosen],
                    ensure_ascii=False,
                ),
                "line_total": line_total,
            }
        )
    if errors:
        raise ValidationFailed("Some lines do not match the store's menu.", errors=errors)
    if priced.subtotal + priced.delivery_fee > MAX_ORDER_TOTAL:
        raise ValidationFailed(
            f"An order may cost at most ₩{MAX_ORDER_TOTAL:,}; this one comes to "
            f"₩{priced.subtotal + priced.delivery_fee:,}.",
            errors=[
                {
                    "field": "items",
                    "message": f"An order may cost at most ₩{MAX_ORDER_TOTAL:,}.",
                    "type": "less_than_equal",
                }
            ],
        )
    if priced.subtotal < store.min_order:
        raise ValidationFailed(
            f"The minimum order at {store.name} is ₩{store.min_order:,}.",
            code="below-minimum-order",
            title="Below the minimum order",
        )
    return priced


def delivery_fee(store: StoreRow, destination: tuple[float, float] | None) -> int:
    """The store's fee for delivering to `destination`; 409 `out-of-range` beyond its radius."""
    tiers = tiers_of(store.delivery_radius_km, store.delivery_fee_tiers, store.delivery_fee)
    if destination is None:
        return tiers[0].fee
    distance = distance_km(store.lat, store.lng, *destination)
    fee = fee_for(tiers, store.delivery_radius_km, distance)
    if fee is None:
        raise Conflict(
            f"{store.name} delivers up to {store.delivery_radius_km:g} km away; this address "
            f"is {distance:.1f} km away. Choose an address nearer the store.",
            code="out-of-range",
            title="Address out of delivery range",
            extra={"distance_km": round(distance, 3), "radius_km": store.delivery_radius_km},
        )
    return fee


@dataclass(frozen=True)
class Amounts:
    """What an order costs and how it is paid, in won (1 point = 1 won)."""

    subtotal: int
    delivery_fee: int
    coupon_discount: int
    points_used: int
    total: int
    paid_amount: int


def settle(
    priced: Priced, *, coupon_discount: int, use_points: int, all_in_points: bool
) -> Amounts:
    """The total after the coupon, the points used and what the card pays: what placement
    records and charges, and what a quote shows. `all_in_points`: paid with points alone."""
    due = max(0, priced.subtotal + priced.delivery_fee - coupon_discount)
    if not all_in_points:
        if use_points > due:
            raise ValidationFailed(
                f"Points can pay at most ₩{due:,} of this order.",
                errors=[
                    {
                        "field": "use_points",
                        "message": f"Points can pay at most {due:,} of this order.",
                        "type": "less_than_equal",
                    }
                ],
            )
        points = use_points
    else:
        if use_points not in (0, due):
            raise ValidationFailed(
                f"Paying with points uses points for the whole total: {due:,} points.",
                errors=[
                    {
                        "field": "use_points",
                        "message": f"Leave points out or use {due:,}: the whole total.",
                        "type": "invalid",
                    }
                ],
            )
        points = due
    total = priced.subtotal + priced.delivery_fee - coupon_discount
    return Amounts(
        subtotal=priced.subtotal,
        delivery_fee=priced.delivery_fee,
        coupon_discount=coupon_discount,
        points_used=points,
        total=total,
        paid_amount=total - points,
    )
