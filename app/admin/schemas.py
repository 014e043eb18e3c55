"""Request and response shapes of the operations console's API."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, StrictBool

from app.auth.schemas import UserOut
from app.orders.schemas import OrderOut
from app.responses import Out
from app.validation import Id, Partial, Schema


class OrderQueue(StrEnum):
    """Which orders `GET /api/admin/orders` lists."""

    UNACCEPTED = "unaccepted"
    SEARCHING = "searching"
    ACTIVE = "active"


class AdminOrdersQuery(Partial):
    state: OrderQueue = Field(
        default=OrderQueue.ACTIVE,
        description="`unaccepted`: placed, waiting for the store; `searching`: accepted, "
        "waiting for a rider; `active`: every order not yet delivered, rejected or cancelled.",
    )
    limit: int = Field(default=100, ge=1, le=500)


class AuditQuery(Partial):
    limit: int = Field(default=100, ge=1, le=500)
    before_id: Id | None = Field(default=None, description="Entries older than this one.")


class AssignRequest(Schema):
    rider_id: Id = Field(description="The rider who gets the order (online and idle).")
    from_rider_id: Id | None = Field(
        default=None,
        description="To move an assigned order not yet picked up: the rider carrying it now. "
        "Left out, the order must still be searching for a rider.",
    )


class CancelRequest(Schema):
    reason: str = Field(min_length=1, max_length=300, description="Why; the customer sees it.")


class SuspendRequest(Schema):
    # Strict: a suspension is not inferred from "yes" or 1.
    suspended: StrictBool = Field(description="`true` suspends, `false` restores.")


class StatusCounts(Out):
    """How many orders are in each status."""

    placed: int = 0
    accepted: int = 0
    ready: int = 0
    picked_up: int = 0
    delivered: int = 0
    rejected: int = 0
    cancelled: int = 0


class RiderCounts(Out):
    online: int = Field(description="Riders on shift.")
    busy: int = Field(description="Riders on shift carrying an order.")


class StuckCounts(Out):
    unaccepted: int = Field(description="Orders placed and not yet answered by their store.")
    searching: int = Field(description="Orders accepted and still without a rider.")


class OverviewOut(Out):
    """The platform at a glance."""

    orders_by_status: StatusCounts
    riders: RiderCounts
    stuck: StuckCounts


class AdminOrderOut(OrderOut):
    """An order as the console lists it: the API's `order` and how long it has waited."""

    age_seconds: int = Field(ge=0, description="Seconds since it was placed.")


class AdminOrderListOut(Out):
    orders: list[AdminOrderOut] = Field(description="Oldest first: the longest wait on top.")


class AdminRiderOut(Out):
    """A rider on shift, where the map shows them."""

    id: int
    name: str
    email: str
    lat: float | None = Field(description="The last position known (null: none yet).")
    lng: float | None
    active_order_id: int | None = Field(description="The order carried now, if any.")


class AdminRiderListOut(Out):
    riders: list[AdminRiderOut]


class AdminUserOut(Out):
    """An account as the console sees it."""

    user: UserOut
    suspended: bool
