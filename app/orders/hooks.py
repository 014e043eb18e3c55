"""What other parts do inside the transaction that moves an order (declared, then registered).

Orders know nothing of dispatch: the composition root registers dispatch's reaction here, so
the dependency points one way (dispatch → orders) while both still commit together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.db import UnitOfWork
from app.orders.lifecycle import Status
from app.orders.models import Order

OrderMoved = Callable[[UnitOfWork, Order, Status], Awaitable[None]]


class OrderHooks:
    """The reactions run, in registration order, after an order reaches a new status."""

    def __init__(self) -> None:
        self._moved: list[OrderMoved] = []

    def on_moved(self, reaction: OrderMoved) -> None:
        """Run `reaction(uow, order, status)` in every transaction that moves an order."""
        self._moved.append(reaction)

    async def moved(self, uow: UnitOfWork, order: Order, status: Status) -> None:
        """Called by the lifecycle once `order` has reached `status`, before the commit."""
        for reaction in self._moved:
            await reaction(uow, order, status)
