"""Waiting for a condition in tests: poll it with a deadline, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")


async def wait_until(
    condition: Callable[[], T | Awaitable[T]],
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
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what} (last value: {value!r})"
            )
        await asyncio.sleep(interval)
