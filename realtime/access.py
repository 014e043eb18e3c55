"""Who may subscribe to which stream (docs/events.md): the REST API's rules, read afresh.

Whatever the caller may not know exists is `not-found`, whether it exists or not: another
party's order, another rider's stream. Only a store, which anyone may look up
(`GET /api/stores/{id}`), is `forbidden` to whoever does not own it, as its REST writes are.
A store's public stream (`store-public:{id}`) carries only what its page shows anyone, so
anyone signed in may follow it. The operators' stream `ops` is for admins; anyone else is
`forbidden` (the stream is no secret).
"""

from __future__ import annotations

import re
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from app.auth.login import Principal
from app.auth.models import Role
from app.catalog.queries import store_owner_id
from app.db import UnitOfWork
from app.orders.models import Order
from app.orders.service import Actor, party_role

STREAM = re.compile(r"(order|store|rider|store-public):([1-9][0-9]{0,17})")
# The operators' stream (`realtime.ops`): admins only.
OPS_STREAM = "ops"


class Refused(Exception):
    """A subscription the caller may not have; `code` is `forbidden` or `not-found`."""

    def __init__(self, code: Literal["forbidden", "not-found"]) -> None:
        super().__init__(code)
        self.code: Literal["forbidden", "not-found"] = code


def parse_stream(stream: object) -> tuple[str, int]:
    """Split `kind:id` (`ops` is `("ops", 0)`); anything else is a stream that does not exist."""
    if stream == OPS_STREAM:
        return OPS_STREAM, 0
    match = STREAM.fullmatch(stream) if isinstance(stream, str) else None
    if match is None:
        raise Refused("not-found")
    return match.group(1), int(match.group(2))


async def authorize(uow: UnitOfWork, principal: Principal, stream: str) -> None:
    """Raise `Refused` unless `principal` may follow `stream` now."""
    kind, ident = parse_stream(stream)
    if kind == OPS_STREAM:
        if principal.role != Role.ADMIN:
            raise Refused("forbidden")
    elif kind == "rider":
        if principal.role != Role.RIDER or principal.user_id != ident:
            raise Refused("not-found")
    elif kind == "store-public":
        if await store_owner_id(uow, ident) is None:
            raise Refused("not-found")
    elif kind == "store":
        owner = await store_owner_id(uow, ident)
        if owner is None:
            raise Refused("not-found")
        if principal.role != Role.OWNER or owner != principal.user_id:
            raise Refused("forbidden")
    else:
        await _authorize_order(uow, principal, ident)


async def _authorize_order(uow: UnitOfWork, principal: Principal, order_id: int) -> None:
    # Its parties as `GET /api/orders/{id}` sees them: a rider who handed the order back (or
    # lost it) is no longer one.
    order = await uow.session.scalar(
        select(Order).where(Order.id == order_id).options(lazyload("*"))
    )
    if order is None:
        raise Refused("not-found")
    party = await party_role(uow, order, Actor(user_id=principal.user_id, role=principal.role))
    if party is None:
        raise Refused("not-found")
