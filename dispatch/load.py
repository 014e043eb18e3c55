"""What a rider carries: the writes of `rider_states.active_order_id` and `second_order_id`."""

from __future__ import annotations

from sqlalchemy import case, or_, update

from app.db import UnitOfWork, utcnow
from dispatch.models import RiderState


async def free_order(uow: UnitOfWork, *, rider_id: int, order_id: int) -> bool:
    """The rider no longer carries `order_id` (delivered, handed back, cancelled); the other
    order of a bundle, if any, stays as the first. False when the rider was not carrying it."""
    # SET is evaluated left to right on MariaDB (each sees the previous assignments) and on the
    # old row on SQLite: the first assignment reads `second_order_id` before it is cleared, so
    # both give the same row.
    freed = await uow.session.execute(
        update(RiderState)
        .where(
            RiderState.rider_id == rider_id,
            or_(RiderState.active_order_id == order_id, RiderState.second_order_id == order_id),
        )
        .ordered_values(
            (
                RiderState.active_order_id,
                case(
                    (RiderState.active_order_id == order_id, RiderState.second_order_id),
                    else_=RiderState.active_order_id,
                ),
            ),
            (RiderState.second_order_id, None),
            (RiderState.updated_at, utcnow()),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(freed.rowcount)  # type: ignore[attr-defined]


async def claim_two(uow: UnitOfWork, *, rider_id: int, first: int, second: int) -> bool:
    """The rider, on shift and carrying nothing, takes both orders of a bundle; False when
    it is busy or off shift (one conditional write decides, as for a single order)."""
    claimed = await uow.session.execute(
        update(RiderState)
        .where(
            RiderState.rider_id == rider_id,
            RiderState.online.is_(True),
            RiderState.active_order_id.is_(None),
            RiderState.second_order_id.is_(None),
        )
        .values(active_order_id=first, second_order_id=second, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]
