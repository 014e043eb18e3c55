"""Waiting for a condition in tests: poll it with a deadline, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

T = TypeVar("T")


@overload
async def wait_until(
    condition: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
    what: str,
) -> T: ...


@overload
async def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
    what: str,
) -> T: ...


async def wait_until(
    condition: Callable[[], T | Awaitable[T | None] | None],
    *,
    # Not asyncio.timeout: the deadline is checked between polls, so that the failure can name
    # `what` and the last value instead of cancelling a poll half-way.
    timeout: float = 20.0,  # noqa: ASYNC109
    interval: float = 0.05,
    what: str,
) -> T:
    """Poll `condition` (sync or async) until it gives something truthy, and return that.

    Fails after `timeout` seconds with an AssertionError naming `what` and the last value seen.
    An exception raised by `condition` (a failed assertion inside it) ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        value = cast(T, await result if inspect.isawaitable(result) else result)
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what, value)
        await asyncio.sleep(interval)


def wait_until_sync(
    condition: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.05, what: str
) -> T:
    """`wait_until` for a test that is not a coroutine: blocks the thread between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what, value)
        time.sleep(interval)


def _timed_out(timeout: float, what: str, value: object) -> AssertionError:
    return AssertionError(
        f"timed out after {timeout:g} s waiting for {what} (last value: {value!r})"
    )
