"""The order lifecycle table: every allowed move, and every other one refused."""

from __future__ import annotations

import itertools

import pytest

from app.errors import Conflict, Forbidden
from app.orders.lifecycle import REFUNDING, TRANSITIONS, Action, Status, is_repeat, next_status

S, A = Status, Action
# Written out here rather than read from the table, so that a changed table fails this file.
ALLOWED: dict[tuple[Status, Action, str], Status] = {
    (S.PLACED, A.ACCEPT, "owner"): S.ACCEPTED,
    (S.PLACED, A.REJECT, "owner"): S.REJECTED,
    (S.PLACED, A.REJECT, "system"): S.REJECTED,
    (S.PLACED, A.CANCEL, "customer"): S.CANCELLED,
    (S.PLACED, A.CANCEL, "owner"): S.CANCELLED,
    (S.PLACED, A.CANCEL, "operator"): S.CANCELLED,
    (S.ACCEPTED, A.CANCEL, "operator"): S.CANCELLED,
    (S.READY, A.CANCEL, "operator"): S.CANCELLED,
    (S.ACCEPTED, A.READY, "owner"): S.READY,
    (S.ACCEPTED, A.CANCEL, "owner"): S.CANCELLED,
    (S.READY, A.CANCEL, "owner"): S.CANCELLED,
    (S.READY, A.PICKUP, "rider"): S.PICKED_UP,
    (S.PICKED_UP, A.DELIVER, "rider"): S.DELIVERED,
}
ROLES = ("customer", "owner", "rider", "admin", "system", "operator")
# The roles that may take each action in some status; any other role is refused outright.
MAY_TAKE = {
    A.ACCEPT: {"owner"},
    A.REJECT: {"owner", "system"},
    A.READY: {"owner"},
    A.PICKUP: {"rider"},
    A.DELIVER: {"rider"},
    A.CANCEL: {"customer", "owner", "operator"},
}
# A person repeating an action whose status the order already has: a retry, answered with the
# order (the sweepers, party "system", count what they did and never repeat).
REPEATS = {
    (S.ACCEPTED, A.ACCEPT, "owner"),
    (S.REJECTED, A.REJECT, "owner"),
    (S.CANCELLED, A.CANCEL, "customer"),
    (S.CANCELLED, A.CANCEL, "owner"),
    (S.CANCELLED, A.CANCEL, "operator"),
    (S.READY, A.READY, "owner"),
    (S.PICKED_UP, A.PICKUP, "rider"),
    (S.DELIVERED, A.DELIVER, "rider"),
}
EVERY_MOVE = list(itertools.product(Status, Action, ROLES))
REFUSED = [move for move in EVERY_MOVE if move not in ALLOWED]


def test_the_table_holds_exactly_the_allowed_moves() -> None:
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("status", "action", "role"), list(ALLOWED))
def test_an_allowed_move_leads_to_its_status(status: Status, action: Action, role: str) -> None:
    assert next_status(status.value, action, role) == ALLOWED[(status, action, role)]


@pytest.mark.parametrize(("status", "action", "role"), REFUSED)
def test_every_other_move_is_refused(status: Status, action: Action, role: str) -> None:
    with pytest.raises(Conflict if role in MAY_TAKE[action] else Forbidden) as refused:
        next_status(status.value, action, role)
    if role in MAY_TAKE[action]:
        assert (refused.value.status, refused.value.code) == (409, "invalid-transition")
    else:
        assert (refused.value.status, refused.value.code) == (403, "forbidden")


def test_the_refusal_says_what_was_tried_in_which_status() -> None:
    with pytest.raises(Conflict) as refused:
        next_status("picked_up", Action.CANCEL, "owner")
    assert refused.value.detail == "An order that is picked up cannot be cancelled by its owner."
    assert refused.value.title == "Not possible in this status"
    with pytest.raises(Forbidden) as forbidden:
        next_status("placed", Action.ACCEPT, "customer")
    assert forbidden.value.detail == "A customer cannot accept an order."


@pytest.mark.parametrize("status", [S.DELIVERED, S.REJECTED, S.CANCELLED])
def test_a_finished_order_moves_no_more(status: Status) -> None:
    for action, role in itertools.product(Action, ROLES):
        with pytest.raises((Conflict, Forbidden)):
            next_status(status.value, action, role)


def test_only_rejection_and_cancellation_refund() -> None:
    assert frozenset({S.REJECTED, S.CANCELLED}) == REFUNDING
    assert S.DELIVERED not in REFUNDING


@pytest.mark.parametrize(("status", "action", "role"), EVERY_MOVE)
def test_a_repeat_is_exactly_an_action_by_a_party_whose_status_the_order_has(
    status: Status, action: Action, role: str
) -> None:
    assert is_repeat(status.value, action, role) == ((status, action, role) in REPEATS)
