"""The order lifecycle as tables: (status, action, party) → status, and the rider search's
(dispatch state, event) → dispatch state.

Every transition consults them; nothing sets a status or a dispatch state directly.
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


class Party(StrEnum):
    """Who acts on an order: one of its parties, or the platform itself."""

    CUSTOMER = "customer"
    OWNER = "owner"
    RIDER = "rider"
    SYSTEM = "system"
    # An admin acting from the operations console (`/api/admin/...`), never through the
    # parties' own routes.
    OPERATOR = "operator"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    READY = "ready"
    PICKUP = "pickup"
    DELIVER = "deliver"
    CANCEL = "cancel"


# `system` is the platform itself (the automatic rejection of unanswered orders); `operator`
# an admin in the operations console.
TRANSITIONS: dict[tuple[Status, Action, Party], Status] = {
    (Status.PLACED, Action.ACCEPT, Party.OWNER): Status.ACCEPTED,
    (Status.PLACED, Action.REJECT, Party.OWNER): Status.REJECTED,
    (Status.PLACED, Action.REJECT, Party.SYSTEM): Status.REJECTED,
    (Status.PLACED, Action.CANCEL, Party.CUSTOMER): Status.CANCELLED,
    (Status.PLACED, Action.CANCEL, Party.OWNER): Status.CANCELLED,
    (Status.PLACED, Action.CANCEL, Party.OPERATOR): Status.CANCELLED,
    (Status.ACCEPTED, Action.CANCEL, Party.OPERATOR): Status.CANCELLED,
    (Status.READY, Action.CANCEL, Party.OPERATOR): Status.CANCELLED,
    (Status.ACCEPTED, Action.READY, Party.OWNER): Status.READY,
    (Status.ACCEPTED, Action.CANCEL, Party.OWNER): Status.CANCELLED,
    (Status.READY, Action.CANCEL, Party.OWNER): Status.CANCELLED,
    (Status.READY, Action.PICKUP, Party.RIDER): Status.PICKED_UP,
    (Status.PICKED_UP, Action.DELIVER, Party.RIDER): Status.DELIVERED,
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
PARTIES_FOR_ACTION = {
    action: {party for (_, a, party) in TRANSITIONS if a == action} for action in Action
}


def next_status(status: str, action: Action, party: Party) -> Status:
    """The status `action` by `party` leads to from `status`; 403 or 409 `invalid-transition`."""
    if party not in PARTIES_FOR_ACTION[action]:
        raise Forbidden(f"A {party} cannot {action} an order.")
    target = TRANSITIONS.get((Status(status), action, party))
    if target is None:
        raise Conflict(
            f"An order that is {status.replace('_', ' ')} cannot be {_DONE[action]} by its {party}.",
            code="invalid-transition",
            title="Not possible in this status",
        )
    return target


def is_repeat(status: str, action: Action, party: Party) -> bool:
    """Whether the order is already where `action` by `party` leads: a retry of an action that
    took effect (its answer lost to a dropped connection or a 503) gets the order, not 409.
    The platform's own moves (the sweepers) are never repeats: they count what they did."""
    return party != Party.SYSTEM and any(
        a == action and p == party and target == status for (_, a, p), target in TRANSITIONS.items()
    )


class DispatchState(StrEnum):
    """Where an order's rider search stands (`order.dispatch`)."""

    NONE = "none"
    SEARCHING = "searching"
    ASSIGNED = "assigned"


class DispatchEvent(StrEnum):
    SEARCH = "search"  # the store accepted: look for a rider
    ASSIGN = "assign"  # a rider won the order
    RELEASE = "release"  # the rider gave it back before pickup
    STOP = "stop"  # the order ended (rejected, cancelled) while still searching


DISPATCH_MOVES: dict[tuple[DispatchState, DispatchEvent], DispatchState] = {
    (DispatchState.NONE, DispatchEvent.SEARCH): DispatchState.SEARCHING,
    (DispatchState.SEARCHING, DispatchEvent.ASSIGN): DispatchState.ASSIGNED,
    (DispatchState.ASSIGNED, DispatchEvent.RELEASE): DispatchState.SEARCHING,
    (DispatchState.SEARCHING, DispatchEvent.STOP): DispatchState.NONE,
}


def next_dispatch(state: str, event: DispatchEvent) -> DispatchState:
    """The dispatch state `event` leads to from `state`; 409 `invalid-transition` otherwise."""
    target = DISPATCH_MOVES.get((DispatchState(state), event))
    if target is None:
        raise Conflict(
            f"A rider search that is {state} cannot {event}.",
            code="invalid-transition",
            title="Not possible in this status",
        )
    return target
