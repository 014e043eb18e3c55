"""The order lifecycle as one table of (status, action, role) → new status.

Every transition consults it; nothing sets a status directly.
"""

from __future__ import annotations

from enum import StrEnum

from app.errors import Conflict, Forbidden


class Status(StrEnum):
    PLACED = "placed"
    ACCEPTED = "accepted"
    READY = "ready"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    READY = "ready"
    PICKUP = "pickup"
    DELIVER = "deliver"
    CANCEL = "cancel"


# `system` is the platform itself (the automatic rejection of unanswered orders).
TRANSITIONS: dict[tuple[Status, Action, str], Status] = {
    (Status.PLACED, Action.ACCEPT, "owner"): Status.ACCEPTED,
    (Status.PLACED, Action.REJECT, "owner"): Status.REJECTED,
    (Status.PLACED, Action.REJECT, "system"): Status.REJECTED,
    (Status.PLACED, Action.CANCEL, "customer"): Status.CANCELLED,
    (Status.PLACED, Action.CANCEL, "owner"): Status.CANCELLED,
    (Status.ACCEPTED, Action.READY, "owner"): Status.READY,
    (Status.ACCEPTED, Action.CANCEL, "owner"): Status.CANCELLED,
    (Status.READY, Action.CANCEL, "owner"): Status.CANCELLED,
    (Status.READY, Action.PICKUP, "rider"): Status.PICKED_UP,
    (Status.PICKED_UP, Action.DELIVER, "rider"): Status.DELIVERED,
}

# Ending in one of these gives the customer everything back.
REFUNDING = frozenset({Status.REJECTED, Status.CANCELLED})
EVENT_OF = {
    Status.ACCEPTED: "order.accepted",
    Status.REJECTED: "order.rejected",
    Status.READY: "order.ready",
    Status.PICKED_UP: "order.picked_up",
    Status.DELIVERED: "order.delivered",
    Status.CANCELLED: "order.cancelled",
}
_DONE = {
    Action.ACCEPT: "accepted",
    Action.REJECT: "rejected",
    Action.READY: "marked ready",
    Action.PICKUP: "picked up",
    Action.DELIVER: "delivered",
    Action.CANCEL: "cancelled",
}
ROLES_FOR_ACTION = {
    action: {role for (_, a, role) in TRANSITIONS if a == action} for action in Action
}


def next_status(status: str, action: Action, role: str) -> Status:
    """The status `action` by `role` leads to from `status`; 403 or 409 `invalid-transition`."""
    if role not in ROLES_FOR_ACTION[action]:
        raise Forbidden(f"A {role} cannot {action} an order.")
    target = TRANSITIONS.get((Status(status), action, role))
    if target is None:
        raise Conflict(
            f"An order that is {status.replace('_', ' ')} cannot be {_DONE[action]} by its {role}.",
            code="invalid-transition",
            title="Not possible in this status",
        )
    return target
