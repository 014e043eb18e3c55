"""How dispatch follows an order's lifecycle, inside the transaction that moves the order.

Registered with the orders' `OrderHooks` by the composition root.
"""

from __future__ import annotations

from sqlalchemy import update

from app.db import UnitOfWork, utcnow
from app.orders.lifecycle import Status
from app.orders.models import Order
from dispatch.earnings import earn_delivery
from dispatch.load import free_order
from dispatch.models import DispatchSearch, HistoryKind
from dispatch.offers import record
from dispatch.worker import SearchWorker


class DispatchHooks:
    """Dispatch's reaction to order transitions (offers, the rider freed and paid); wakes this
    node's search worker after commit."""

    def __init__(self, worker: SearchWorker) -> None:
        self.worker = worker

    async def order_moved(self, uow: UnitOfWork, order: Order, status: Status) -> None:
        """React to `order` having just reached `status` (offers, rider freed and credited with
        the fee, offers withdrawn)."""
        if status == Status.ACCEPTED:
            await _start_search(uow, order, self.worker)
        elif status in (Status.REJECTED, Status.CANCELLED):
            await _free_rider(uow, order)
            await _stop_search(uow, order, self.worker)
        elif status == Status.DELIVERED:
            await earn_delivery(uow, order, self.worker.engine.fees)
            await _free_rider(uow, order)


async def _start_search(uow: UnitOfWork, order: Order, worker: SearchWorker) -> None:
    # Offers go out from the search worker right after commit, in a transaction of their own
    # that takes its locks in the same order as every other writer of the order.
    now = utcnow()
    uow.session.add(
        DispatchSearch(order_id=order.id, round=0, radius_km=0.0, active=True, deadline_at=now)
    )
    record(uow, order.id, HistoryKind.SEARCH_STARTED, at=now)
    order_id = order.id
    uow.after_commit(lambda: worker.want(order_id, now))


async def _stop_search(uow: UnitOfWork, order: Order, worker: SearchWorker) -> None:
    now = utcnow()
    stopped = await uow.session.execute(
        update(DispatchSearch)
        .where(DispatchSearch.order_id == order.id, DispatchSearch.active.is_(True))
        .values(deadline_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if stopped.rowcount:  # type: ignore[attr-defined]
        order_id = order.id
        uow.after_commit(lambda: worker.want(order_id, now))


async def _free_rider(uow: UnitOfWork, order: Order) -> None:
    if order.rider_id is None:
        return
    if await free_order(uow, rider_id=order.rider_id, order_id=order.id):
        record(uow, order.id, HistoryKind.FREED, riders=[order.rider_id])
