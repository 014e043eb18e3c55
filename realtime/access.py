"""Who may subscribe to which stream (docs/events.md)."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.auth.login import Principal
from app.auth.models import Role, User
from app.catalog.queries import store_owner_id
from app.db import UnitOfWork
from app.orders.models import Order

STREAM = re.compile(r"^(order|store|rider):([1-9][0-9]{0,17})$")


class Refused(Exception):
    """A subscription the caller may not have; `code` is `forbidden` or `not-found`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_stream(stream: object) -> tuple[str, int]:
    """Split `kind:id`; anything else is a stream that does not exist."""
    match = STREAM.match(stream) if isinstance(stream, str) else None
    if match is None:
        raise Refused("not-found")
    return match.group(1), int(match.group(2))


async def authorize(uow: UnitOfWork, principal: Principal, stream: str) -> None:
    """Raise `Refused` unless `principal` may follow `stream`."""
    kind, ident = parse_stream(stream)
    if kind == "rider":
        await _authorize_rider(uow, principal, ident)
    elif kind == "store":
        owner = await store_owner_id(uow, ident)
        if owner is None:
            raise Refused("not-found")
        if owner != principal.user_id:
            raise Refused("forbidden")
    else:
        await _authorize_order(uow, principal, ident)


async def _authorize_rider(uow: UnitOfWork, principal: Principal, rider_id: int) -> None:
    if principal.role == Role.RIDER and principal.user_id == rider_id:
        return
    role = await uow.session.scalar(select(User.role).where(User.id == rider_id))
    if role != Role.RIDER:
        raise Refused("not-found")
    raise Refused("forbidden")


async def _authorize_order(uow: UnitOfWork, principal: Principal, order_id: int) -> None:
    row = (
        await uow.session.execute(
            select(Order.customer_id, Order.store_id, Order.rider_id).where(Order.id == order_id)
        )
    ).first()
    if row is None:
        raise Refused("not-found")
    customer_id, store_id, rider_id = row
    if principal.user_id in (customer_id, rider_id):
        return
    if await store_owner_id(uow, int(store_id)) == principal.user_id:
        return
    raise Refused("forbidden")
