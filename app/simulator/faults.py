"""Faults during the rush, at set points of the demand window, printed as they happen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.simulator.config import clock_text
from app.simulator.deployment import Deployment, Unsupported
from app.simulator.recorder import FaultMark, Recorder

PAUSE_SECONDS = 10.0
DATABASE_DOWN_SECONDS = 3.0
PARTITION_SECONDS = 10.0


@dataclass(frozen=True)
class Fault:
    """One fault: when (a fraction of the demand window) and what."""

    at: float
    name: str
    run: Callable[[Deployment], str]


SCHEDULE = [
    Fault(0.15, "kill -9 node1", lambda d: d.kill_node(0)),
    Fault(0.30, "SIGSTOP node2 for 10 s", lambda d: d.pause_node(1, PAUSE_SECONDS)),
    Fault(0.45, "events Redis restarted empty", lambda d: d.restart_redis("events")),
    Fault(0.60, "cache Redis restarted empty", lambda d: d.restart_redis("cache")),
    Fault(0.75, "kill -9 MariaDB and restart", lambda d: d.restart_mariadb(DATABASE_DOWN_SECONDS)),
]

# `--partition`: on the network topology of `delivery netns up`, node1's host loses its cable.
PARTITION = [
    Fault(
        0.35,
        "node1's host cut off the network for 10 s",
        lambda d: d.partition_node(0, PARTITION_SECONDS),
    ),
]


def schedule_for(*, faults: bool, partition: bool) -> list[Fault]:
    """The faults of a run with `--faults` and/or `--partition`, in the order they happen."""
    chosen = (SCHEDULE if faults else []) + (PARTITION if partition else [])
    return sorted(chosen, key=lambda fault: fault.at)


async def inject(
    deployment: Deployment,
    recorder: Recorder,
    *,
    wall_seconds: float,
    clock: Callable[[], float],
    schedule: list[Fault] = SCHEDULE,
) -> None:
    """Run each fault of `schedule` at its point of the window (`wall_seconds` long, from now)."""
    began = time.monotonic()
    for fault in schedule:
        await asyncio.sleep(max(0.0, began + fault.at * wall_seconds - time.monotonic()))
        mark = FaultMark(fault.name, time.time())
        recorder.faults.append(mark)
        print(f"!! {clock_text(clock())} fault: {fault.name} …", flush=True)
        try:
            mark.detail = await asyncio.to_thread(fault.run, deployment)
            outcome = f"done ({mark.detail})"
        except Unsupported as error:
            mark.detail = f"skipped: {error}"
            outcome = mark.detail
        except Exception as error:
            mark.detail = f"failed: {type(error).__name__}: {error}"
            outcome = mark.detail
        mark.ended = time.time()
        print(f"!! {clock_text(clock())} fault: {fault.name}: {outcome}", flush=True)
