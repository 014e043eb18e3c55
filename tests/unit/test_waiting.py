"""The tests' one way to wait: poll a condition, return what it found, fail with what it saw."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.waiting import wait_until, wait_until_sync


async def test_returns_the_first_truthy_value_of_a_sync_condition() -> None:
    seen: Iterator[object] = iter([None, 0, [], {"id": 7}, {"id": 8}])
    assert await wait_until(lambda: next(seen), timeout=5, interval=0, what="an order") == {"id": 7}


async def test_awaits_an_async_condition() -> None:
    calls = 0

    async def third_time() -> str:
        nonlocal calls
        calls += 1
        return "ready" if calls == 3 else ""

    assert await wait_until(third_time, timeout=5, interval=0, what="ready") == "ready"
    assert calls == 3


async def test_a_condition_that_holds_at_once_is_not_waited_for() -> None:
    started = time.monotonic()
    assert await wait_until(lambda: 1, timeout=5, interval=10, what="one") == 1
    assert time.monotonic() - started < 1


async def test_fails_after_the_timeout_naming_what_and_the_last_value() -> None:
    polls: list[list[str]] = []

    def offers() -> list[str]:
        polls.append([])
        return polls[-1]

    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        await wait_until(offers, timeout=0.05, interval=0.01, what="an offer")
    assert time.monotonic() - started >= 0.05
    assert len(polls) >= 2
    assert str(failed.value) == "timed out after 0.05 s waiting for an offer (last value: [])"


async def test_an_error_in_the_condition_ends_the_wait_at_once() -> None:
    def broken() -> bool:
        raise AssertionError("every read must show the new name")

    started = time.monotonic()
    with pytest.raises(AssertionError, match="every read must show the new name"):
        await wait_until(broken, timeout=5, what="a read")
    assert time.monotonic() - started < 1


def test_the_sync_wait_returns_the_first_truthy_value() -> None:
    seen = iter([None, "", {"line": "node1 restarted"}, {"line": "later"}])
    found = wait_until_sync(lambda: next(seen), timeout=5, interval=0, what="a line")
    assert found == {"line": "node1 restarted"}


def test_the_sync_wait_fails_after_the_timeout_naming_what_and_the_last_value() -> None:
    polls: list[int] = []

    def ready() -> int:
        polls.append(0)
        return 0

    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        wait_until_sync(ready, timeout=0.05, interval=0.01, what="node1 to come back")
    assert time.monotonic() - started >= 0.05
    assert len(polls) >= 2
    assert (
        str(failed.value) == "timed out after 0.05 s waiting for node1 to come back (last value: 0)"
    )


def test_an_error_in_the_sync_condition_ends_the_wait_at_once() -> None:
    def broken() -> bool:
        raise AssertionError("the banner must name the port")

    started = time.monotonic()
    with pytest.raises(AssertionError, match="the banner must name the port"):
        wait_until_sync(broken, timeout=5, what="the banner")
    assert time.monotonic() - started < 1
