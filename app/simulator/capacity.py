"""`delivery simulate --find-capacity`: raise a flat demand step by step until placement p99
passes 500 ms or commit→client p99 passes 200 ms; the CPU of every process, step by step."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from app.simulator.config import SimConfig
from app.simulator.demand import DINNER
from app.simulator.recorder import percentile
from app.simulator.runner import Run, say, started

PLACEMENT_P99_MS = 500.0
PUSH_P99_MS = 200.0
STEP_FACTOR = 1.4
WARM_UP_SECONDS = 20.0
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _tree_ticks(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and every process below it (nginx's workers)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += ticks.get(current, 0)
        todo += [child for child, parent in parents.items() if parent == current]
    return total / TICKS


def cpu(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process (with its children), and of the simulator
    itself (its own, without the cluster it may have started): a client that cannot keep up
    shows as latency too."""
    used = {name: _tree_ticks(pid) for name, pid in processes.items()}
    own = os.times()
    used["simulator"] = own.user + own.system
    return used


async def _step(run: Run, peak: float, seconds: float) -> dict[str, float]:
    recorder = run.recorder
    processes = run.deployment.processes()
    before = await asyncio.to_thread(cpu, processes)
    began, began_at = time.time(), recorder.now()
    unserved = run.population.unserved
    sent = await run.population.demand(peak=peak, start=DINNER, wall_seconds=seconds, flat=True)
    # The step's last events get a moment to arrive before they are counted.
    await asyncio.sleep(3)
    elapsed = time.time() - began
    after = await asyncio.to_thread(cpu, processes)
    placed = [lat for at, lat in recorder.placements if at >= began_at]
    pushes = [
        lat
        for d in recorder.deliveries
        if d.at >= began and (lat := recorder.commit_latency(d)) is not None
    ]
    delivered = sum(1 for d in recorder.deliveries if d.at >= began)
    figures = {
        "peak": peak,
        # What the Poisson arrivals asked for in this step (it varies around `peak`).
        "asked_per_min": sent * 60 / seconds,
        # Arrivals that found every customer already waiting for an order: the city's limit.
        "unserved_per_min": (run.population.unserved - unserved) * 60 / seconds,
        "orders_per_min": len(placed) * 60 / seconds,
        "placement_p99_ms": percentile(placed, 0.99) * 1000,
        "push_p99_ms": percentile(pushes, 0.99) * 1000,
        # Events that reached the city's sockets, per second of the step.
        "deliveries_per_s": delivered / elapsed,
    }
    for name in after:
        figures[f"cpu:{name}"] = (after.get(name, 0.0) - before.get(name, 0.0)) / elapsed * 100
    return figures


@dataclass
class Capacity:
    """What a search found: the last step that held every bound (None if even the first broke),
    why it stopped, and every step's figures."""

    sustained: dict[str, float] | None
    stopped: str
    steps: list[dict[str, float]]


async def search(run: Run, config: SimConfig) -> Capacity:
    """Step the demand up on `run`'s city until a latency bound breaks (or the city runs out of
    idle customers), from `config.peak`, each step `config.capacity_step` wall seconds."""
    run.demand_started = time.time()
    # The city has just connected every socket and put its riders on shift: a first stretch at
    # the starting rate settles that (and fills the caches) before any step is judged.
    warm_up = min(WARM_UP_SECONDS, config.capacity_step)
    say(f"warm-up: {config.peak:.0f} orders/min for {warm_up:g} s (not judged) …")
    await run.population.demand(peak=config.peak, start=DINNER, wall_seconds=warm_up, flat=True)
    peak, sustained, stopped = config.peak, None, ""
    steps: list[dict[str, float]] = []
    broken = ""  # the bound the previous try of this step broke, if it did
    while not stopped:
        again = " (again)" if broken else ""
        say(f"step: {peak:.0f} orders/min for {config.capacity_step:g} s{again} …")
        figures = await _step(run, peak, config.capacity_step)
        steps.append(figures)
        usage = "  ".join(f"{k[4:]} {v:.0f}%" for k, v in figures.items() if k.startswith("cpu:"))
        say(
            f"  asked {figures['asked_per_min']:.1f}, achieved {figures['orders_per_min']:.1f}"
            " orders/min  placement p99 "
            f"{figures['placement_p99_ms']:.0f} ms  commit→client p99 "
            f"{figures['push_p99_ms']:.0f} ms  {figures['deliveries_per_s']:.0f} deliveries/s"
            f"\n  CPU (% of one core): {usage}"
        )
        if figures["unserved_per_min"] > 0.2 * (
            figures["asked_per_min"] + figures["unserved_per_min"]
        ):
            # The city, not the cluster, is the limit: a bigger one measures further.
            stopped = (
                f"the city ran out of idle customers at {peak:.0f}/min "
                f"({figures['unserved_per_min']:.0f}/min found none), so this is a floor of "
                "the cluster's capacity: raise --customers to measure further"
            )
        elif bound := broke(figures):
            # One stall (a pause of the collector, a neighbour on the CPU) can lift a step's p99
            # past a bound on its own: a step counts as broken when it breaks one twice running.
            if broken:
                stopped = f"the next step ({peak:.0f}/min) broke a bound twice: {broken}; {bound}"
            else:
                broken = bound
                say(f"  {bound}: this step runs once more")
        else:
            sustained, broken = figures, ""
            peak *= STEP_FACTOR
    return Capacity(sustained, stopped, steps)


def broke(figures: dict[str, float]) -> str:
    """The bound a step broke, in words, or "" if it held every one."""
    if figures["placement_p99_ms"] > PLACEMENT_P99_MS:
        return f"placement p99 {figures['placement_p99_ms']:.0f} ms > {PLACEMENT_P99_MS:.0f}"
    if figures["push_p99_ms"] > PUSH_P99_MS:
        return f"commit→client p99 {figures['push_p99_ms']:.0f} ms > {PUSH_P99_MS:.0f}"
    if figures["orders_per_min"] < 0.8 * figures["asked_per_min"]:
        return (
            f"{figures['orders_per_min']:.0f} of {figures['asked_per_min']:.0f} asked orders/min "
            "placed"
        )
    return ""


async def find_capacity(config: SimConfig) -> int:
    """Step the demand up until a latency bound breaks; print the last sustained step."""
    async with started(config) as run:
        nodes = run.deployment.node_count
        found = await search(run, config)
        sustained = found.sustained
        if sustained is None:
            say(f"capacity: even the first step stopped the search ({found.stopped}); start lower")
            return 1
        say(
            f"capacity: {sustained['orders_per_min']:.1f} orders/min sustained on {nodes} "
            f"node(s) = {sustained['orders_per_min'] / nodes:.1f} orders/min per node "
            f"(placement p99 {sustained['placement_p99_ms']:.0f} ms, commit→client p99 "
            f"{sustained['push_p99_ms']:.0f} ms); {found.stopped}"
        )
        await run.population.drain(30, say)
        return 0
