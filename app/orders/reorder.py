"""Ordering again: an earlier order's lines as a cart to review, checked against today's menu."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.auth.models import Role
from app.catalog.models import MenuItem
from app.db import Database
from app.errors import Forbidden, NotFound
from app.orders.models import Order, OrderItem
from app.orders.schemas import ReorderLineOut, ReorderOut, UnavailableLineOut
from app.orders.service import Actor


async def reorder(*, db: Database, actor: Actor, order_id: int) -> ReorderOut:
    """The lines of the customer's earlier order that can be ordered now, and why the others
    cannot. Nothing is placed: placing the cart is a new `POST /api/orders`."""
    if actor.role != Role.CUSTOMER:
        raise Forbidden("Only the customer who placed an order can order it again.")
    async with db.uow() as uow:
        order = await uow.session.get(Order, order_id)
        if order is None or order.customer_id != actor.user_id:
            raise NotFound(f"Order {order_id} does not exist.")
        ids = {line.menu_item_id for line in order.items}
        items = {
            item.id: item
            for item in await uow.session.scalars(select(MenuItem).where(MenuItem.id.in_(ids)))
        }
        lines: list[ReorderLineOut] = []
        unavailable: list[UnavailableLineOut] = []
        for line in order.items:
            item = items.get(line.menu_item_id)
            why = _why_not(line, item, order.store_id)
            if why is None:
                assert item is not None
                option_ids, gone = _options_now(line, item)
                if gone:
                    why = _options_gone(gone)
                else:
                    lines.append(
                        ReorderLineOut(
                            menu_item_id=item.id, quantity=line.quantity, option_ids=option_ids
                        )
                    )
                    continue
            unavailable.append(UnavailableLineOut(name=line.name, why=why))
        return ReorderOut(store_id=order.store_id, items=lines, unavailable=unavailable)


def _why_not(line: OrderItem, item: MenuItem | None, store_id: int) -> str | None:
    if item is None or item.store_id != store_id or item.deleted_at is not None:
        return "It is no longer on the menu."
    if item.sold_out:
        return "It is sold out right now."
    return None


def _options_now(line: OrderItem, item: MenuItem) -> tuple[list[int], list[str]]:
    """The options chosen then, as today's ids (an option the owner re-entered under the
    same name has a new id), and the names of those no longer offered."""
    by_id = {option.id: option for option in item.options}
    by_name = {option.name: option for option in item.options}
    ids: list[int] = []
    gone: list[str] = []
    for chosen in json.loads(line.options_json):
        if chosen["id"] in by_id:
            ids.append(chosen["id"])
        elif chosen["name"] in by_name:
            ids.append(by_name[chosen["name"]].id)
        else:
            gone.append(chosen["name"])
    return sorted(set(ids)), gone


def _options_gone(names: list[str]) -> str:
    if len(names) == 1:
        return f"The option “{names[0]}” is no longer offered."
    listed = ", ".join(f"“{name}”" for name in names[:-1]) + f" and “{names[-1]}”"
    return f"The options {listed} are no longer offered."
