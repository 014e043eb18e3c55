"""The simulator's dispatch check: one rider per order, and a rider with two orders only when
they were accepted together as one bundle (replayed from the dispatch history)."""

from __future__ import annotations

from typing import Any

from app.simulator.audit import Database, check_dispatch


class History(Database):
    """The check's two queries answered from lists: the history rows, no double accept."""

    def __init__(self, history: list[tuple[Any, ...]]) -> None:
        self.history = history

    def rows(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        return self.history if "dispatch_history" in sql else []


def verdict(*rows: tuple[int, int, str, str | None]) -> tuple[str, list[str]]:
    history = [
        (i, order, rider, kind, detail) for i, (order, rider, kind, detail) in enumerate(rows)
    ]
    check = check_dispatch(History(history), [1])
    return check.verdict, check.evidence


def test_two_orders_of_one_bundle_pass_and_are_counted() -> None:
    status, details = verdict(
        (1, 7, "accepted", "bundle 5"),
        (2, 7, "accepted", "bundle 5"),
        (1, 7, "freed", None),
        (2, 7, "released", None),
        (3, 7, "accepted", None),
        (3, 7, "freed", None),
    )
    assert status == "PASS", details
    assert "3 assignments (1 bundles of two)" in details[0]


def test_a_new_order_while_one_of_a_bundle_is_still_carried_fails() -> None:
    status, details = verdict(
        (1, 7, "accepted", "bundle 5"),
        (2, 7, "accepted", "bundle 5"),
        (1, 7, "freed", None),
        (3, 7, "accepted", None),
    )
    assert status == "FAIL" and "rider 7 took order 3 while carrying [2]" in details[1]


def test_a_second_order_not_from_the_same_bundle_fails() -> None:
    assert verdict((1, 7, "accepted", None), (2, 7, "accepted", None))[0] == "FAIL"
    assert verdict((1, 7, "accepted", None), (2, 7, "accepted", "bundle 5"))[0] == "FAIL"
    assert verdict((1, 7, "accepted", "bundle 4"), (2, 7, "accepted", "bundle 5"))[0] == "FAIL"


def test_a_third_order_fails_even_from_the_same_bundle() -> None:
    status, details = verdict(
        (1, 7, "accepted", "bundle 5"),
        (2, 7, "accepted", "bundle 5"),
        (3, 7, "accepted", "bundle 5"),
    )
    assert status == "FAIL" and "rider 7 took order 3 while carrying [1, 2]" in details[1]


def test_an_order_with_two_riders_fails() -> None:
    assert verdict((1, 7, "accepted", None), (1, 8, "accepted", None))[0] == "FAIL"
