"""Keeps a cluster's nodes running: a node that exits is reported and started again, with back-off.

nginx skips a dead node, so the others keep serving while it is down. A node that keeps exiting
(a bad setting, a crash at start) is started again after 1 s, 2 s, 4 s … up to 30 s, and the
count starts over once a node has stayed up for a minute. nginx and the data services are not
restarted: without one of them no node can serve, so their exit ends the supervision, unless it
happens inside `holding()`, where whoever holds it stops and restarts such a service on purpose.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from app.launcher.nodes import Node
from app.launcher.processes import LaunchError


class ServiceExited(LaunchError):
    """A service the nodes cannot do without (nginx, MariaDB, a Redis) exited."""


class Service(Protocol):
    """Anything the launcher started as one process."""

    process: subprocess.Popen[bytes] | None


@dataclass(frozen=True)
class Backoff:
    """The wait before restarting a node: doubled for every exit in a row, up to `cap`."""

    first: float = 1.0
    cap: float = 30.0
    # A node that stayed up this long was healthy: its next exit is the first in a row again.
    reset_after: float = 60.0

    def delay(self, exits_in_a_row: int) -> float:
        """Seconds to wait before the restart that follows the n-th exit in a row (n ≥ 1)."""
        return min(self.cap, self.first * 2 ** max(0, exits_in_a_row - 1))


def describe_status(status: int | None) -> str:
    """`status 1`, `killed by SIGKILL`, or `status unknown`, for people."""
    if status is None:
        return "status unknown"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"status {status}"


@dataclass(frozen=True)
class Event:
    """What the supervisor saw or did, at `at` on its clock."""

    kind: str  # "exited" or "restarted"
    node: Node
    at: float
    status: int | None = None
    delay: float = 0.0
    pid: int | None = None

    def __str__(self) -> str:
        if self.kind == "exited":
            return (
                f"{self.node.name} exited ({describe_status(self.status)}); "
                f"its log: {self.node.log_path}; restarting it in {self.delay:g} s"
            )
        return f"{self.node.name} restarted (pid {self.pid}) on {self.node.url}"


@dataclass
class _Watch:
    node: Node
    up_since: float
    exits_in_a_row: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Restarts `nodes` that exit; raises ServiceExited when one of `vital` does."""

    nodes: list[Node]
    vital: dict[str, Service] = field(default_factory=dict)
    backoff: Backoff = field(default_factory=Backoff)
    report: Callable[[Event], None] = print
    clock: Callable[[], float] = time.monotonic
    events: list[Event] = field(init=False, default_factory=list)
    _watches: list[_Watch] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        now = self.clock()
        self._watches = [_Watch(node, up_since=now) for node in self.nodes]

    @contextmanager
    def holding(self) -> Iterator[None]:
        """No check runs inside this block: a planned restart of a data service is no exit."""
        with self._lock:
            yield

    def check(self) -> None:
        """One look at every process: report exits, start nodes whose wait is over."""
        with self._lock:
            self._check()

    def _check(self) -> None:
        for name, service in self.vital.items():
            process = service.process
            if process is None or process.poll() is not None:
                status = None if process is None else process.returncode
                raise ServiceExited(f"{name} exited ({describe_status(status)})")
        for watch in self._watches:
            now = self.clock()
            if watch.restart_at is None:
                if not watch.node.alive:
                    self._exited(watch, now)
            elif now >= watch.restart_at:
                self._restart(watch, now)

    def _exited(self, watch: _Watch, now: float) -> None:
        if now - watch.up_since >= self.backoff.reset_after:
            watch.exits_in_a_row = 0
        watch.exits_in_a_row += 1
        delay = self.backoff.delay(watch.exits_in_a_row)
        watch.restart_at = now + delay
        self._emit(Event("exited", watch.node, now, status=watch.node.exit_status, delay=delay))

    def _restart(self, watch: _Watch, now: float) -> None:
        # Not waiting for readiness: nginx sends nothing to a node until it listens, and a node
        # that exits while starting is seen on the next check like any other exit.
        watch.node.spawn()
        watch.up_since = now
        watch.restart_at = None
        pid = watch.node.process.pid if watch.node.process is not None else None
        self._emit(Event("restarted", watch.node, now, pid=pid))

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        self.report(event)

    def run(self, stopping: threading.Event, *, interval: float = 0.2) -> None:
        """Check every `interval` seconds until `stopping` is set."""
        while not stopping.wait(interval):
            self.check()
