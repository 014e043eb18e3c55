"""Prices, options and availability re-read from the catalog: the client sends ids only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.catalog.models import MenuItem, Store
from app.db import UnitOfWork
from app.errors import Conflict, NotFound, ValidationFailed
from app.orders.schemas import PlaceOrderRequest

# The most one order may cost, in won: far above any real meal, and a bound that keeps every
# sum an order holds well inside its columns.
MAX_ORDER_TOTAL = 10_000_000


@dataclass
class Priced:
    """The server's computation of an order's lines and amounts."""

    subtotal: int = 0
    delivery_fee: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)


async def price_lines(uow: UnitOfWork, request: PlaceOrderRequest) -> Priced:
    """Check the store and every line against the catalog and compute the totals."""
    store = await uow.session.get(Store, request.store_id)
    if store is None:
        raise NotFound(f"Store {request.store_id} does not exist.")
    ids = {line.menu_item_id for line in request.items}
    items = {
        item.id: item
        for item in await uow.session.scalars(select(MenuItem).where(MenuItem.id.in_(ids)))
    }
    return price_order(store, items, request)


def price_order(store: Store, items: Mapping[int, MenuItem], request: PlaceOrderRequest) -> Priced:
    """Price `request` at `store` from its menu items by id (the rules, without the reads)."""
    if not store.open:
        raise Conflict(
            f"{store.name} is closed right now.", code="store-closed", title="Store closed"
        )
    priced = Priced(delivery_fee=store.delivery_fee)
    errors: list[dict[str, str]] = []
    for index, line in enumerate(request.items):
        item = items.get(line.menu_item_id)
        if item is None or item.store_id != store.id or item.deleted_at is not None:
            errors.append(
                {"field": f"items[{index}].menu_item_id", "message": "not on this store's menu"}
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
                    "message": f"options {sorted(set(repeated + unknown))} are not choices of this item"
                    if unknown
                    else "an option may be chosen once",
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
            errors=[{"field": "items", "message": f"the total must be ≤ {MAX_ORDER_TOTAL}"}],
        )
    if priced.subtotal < store.min_order:
        raise ValidationFailed(
            f"The minimum order at {store.name} is ₩{store.min_order:,}.",
            code="below-minimum-order",
            title="Below the minimum order",
        )
    return priced
