"""Stopping background work within a bound, and naming whatever did not stop.

Every background loop of a node stops the same way: it is asked to stop (a flag, or a
cancellation its unit of work is shielded from), the unit of work in progress gets a grace
period to finish, so that no transaction is cut in the middle of a statement (the server would
keep its row locks until that statement ends), and only then is the task cancelled. A task
that still runs after that is left behind rather than allowed to hold the shutdown up, and
the warning names the line it is stuck on, so that the next such hang explains itself.

Idle waits use `asyncio.timeout`, never `asyncio.wait_for`: on Python 3.11, `wait_for`
returns normally when a cancellation arrives just as the awaited thing completes (CPython
gh-86296), so a loop that relies on being cancelled can go on forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

log = logging.getLogger("delivery.lifecycle")

T = TypeVar("T")

# How long a unit of work in progress (a relay pass, a sweep, a dispatch step) may take to
# finish once its loop is asked to stop; then how long a cancelled task gets to unwind.
STOP_GRACE = 3.0
CANCEL_TIMEOUT = 2.0
# All the steps of one shutdown together; a step that overruns is cut so that the pools
# still close. With the drain before it, a node is gone within a container's usual 10 s.
SHUTDOWN_BUDGET = 8.0
# What a step still gets when the budget is spent: enough to close a pool.
LAST_SLICE = 0.5


def await_chain(task: asyncio.Task[Any]) -> str:
    """Where `task` is suspended: one line per coroutine, outermost first, then what it awaits."""
    lines: list[str] = []
    obj: Any = task.get_coro()
    for _ in range(100):  # a bound, in case of an odd awaitable that refers back to itself
        if obj is None:
            break
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        frame = frame or getattr(obj, "ag_frame", None)
        if frame is None:
            lines.append(f"  awaiting {obj!r}")
            break
        code = frame.f_code
        lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
        nxt = getattr(obj, "cr_await", None)
        if nxt is None:
            nxt = getattr(obj, "gi_yieldfrom", None)
        if nxt is None:
            nxt = getattr(obj, "ag_await", None)
        obj = nxt
    return "\n".join(lines) or "  (no frames)"


def _collect(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("%s failed while stopping", task.get_name(), exc_info=error)


async def stop_tasks(
    tasks: Iterable[asyncio.Task[Any]],
    *,
    grace: float = 0.0,
    unwind: float = CANCEL_TIMEOUT,
) -> bool:
    """Let `tasks` end by themselves for `grace` s, then cancel them and wait `unwind` s more.

    True when all ended. One still running is logged (warning) with the line it is stuck on
    and left behind: a shutdown must not wait on it for ever.
    """
    pending = {task for task in tasks if not task.done()}
    for task in tasks:
        if task.done():
            _collect(task)
    if pending and grace > 0:
        _, pending = await asyncio.wait(pending, timeout=grace)
    if pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=unwind)
    for task in tasks:
        if task.done():
            _collect(task)
    for task in pending:
        log.warning(
            "%s did not stop within %.1f s; it is stuck in:\n%s",
            task.get_name(),
            grace + unwind,
            await_chain(task),
        )
    return not pending


async def stop_task(
    task: asyncio.Task[Any], *, grace: float = 0.0, unwind: float = CANCEL_TIMEOUT
) -> bool:
    """`stop_tasks` for one task."""
    return await stop_tasks([task], grace=grace, unwind=unwind)


async def run_to_end(work: Awaitable[T], *, grace: float = STOP_GRACE) -> T:
    """Await `work`; if the caller is cancelled meanwhile, let `work` finish first (up to `grace` s).

    For a loop stopped by cancellation whose unit of work holds a transaction: the
    cancellation is not lost, it only waits for the transaction to end.
    """
    inner = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        await stop_task(inner, grace=grace)
        raise


async def wait_for_event(event: asyncio.Event, within: float) -> bool:
    """Wait until `event` is set or `within` s pass; True if it was set."""
    try:
        async with asyncio.timeout(within):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def close_within(work: Awaitable[Any], *, seconds: float, what: str) -> bool:
    """Await a close (of a pool, a client) for at most `seconds`; name it if it overran."""
    task = asyncio.ensure_future(work)
    task.set_name(what)
    return await stop_task(task, grace=seconds)


Step = Callable[[], Awaitable[Any]]


class ShutdownStack(AsyncExitStack):
    """An `AsyncExitStack` whose async closes share one deadline of `total` s.

    The deadline starts with the first close. A close that overruns what is left is cancelled,
    with a warning naming where it was stuck; the closes after it still run (each gets at least
    `LAST_SLICE` s), so that what they close is closed.
    """

    def __init__(self, total: float = SHUTDOWN_BUDGET) -> None:
        super().__init__()
        self.total = total
        self._deadline: float | None = None

    def push_async_callback(
        self, callback: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any
    ) -> Callable[..., Awaitable[Any]]:
        """Register `callback(*args, **kwargs)` to run, within the budget, when the stack closes."""
        step = functools.partial(callback, *args, **kwargs)
        name = getattr(callback, "__qualname__", repr(callback))

        async def bounded() -> None:
            if self._deadline is None:
                self._deadline = time.monotonic() + self.total
            left = max(self._deadline - time.monotonic(), LAST_SLICE)
            task = asyncio.ensure_future(step())
            task.set_name(f"shutdown step {name!r}")
            await stop_task(task, grace=left, unwind=LAST_SLICE)

        super().push_async_callback(bounded)
        return callback


async def until_stop_signal(*, then: Callable[[], Awaitable[Any]] | None = None) -> None:
    """Return at the first SIGTERM or SIGINT (Hypercorn's `shutdown_trigger`).

    `then` starts at that moment and runs on while the server stops listening and lets the
    requests in progress finish, e.g. to tell long-lived connections to go elsewhere.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # A second signal now ends the process at once, as an operator pressing Ctrl-C twice
        # expects.
        loop.remove_signal_handler(signum)
    if then is not None:
        task = asyncio.ensure_future(then())
        task.set_name("drain on stop signal")
        _draining.add(task)
        task.add_done_callback(_draining.discard)


# Keeps the drain task referenced until it ends (the loop holds tasks only weakly).
_draining: set[asyncio.Task[Any]] = set()
