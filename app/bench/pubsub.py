"""Publish capacity of a Redis Cluster of 1, 2 and 3 masters: sharded pub/sub beside classic.

On a Redis Cluster the fan-out publishes each event with SPUBLISH on its stream's shard channel
(realtime/sharded.py), which only the master of the channel's slot handles; a classic PUBLISH is
handled by the node it is sent to and then sent over the cluster bus to every other node, each
of which handles it again. For each number of masters (no replicas, a fresh cluster each),
`redis-benchmark` sends the same publishes of an event-sized payload with each command, spread
over the masters' slots, while the masters' CPU time is read from /proc.

The raw publishes/s is bound by the machine: the masters and the benchmark client share its
cores. The figure that answers "does a master more add capacity" is the capacity: the masters
× one core each / the server CPU that one publish costs summed over all masters, the rate the
masters would take with a core each.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from app.bench.common import cpu_seconds, say
from app.launcher.processes import LaunchError, find_binary
from app.launcher.servers import RedisCluster

COMMANDS = ("SPUBLISH", "PUBLISH")
# `{tag}` is replaced by redis-benchmark --cluster with a hash tag of each node's slots, so that
# every client publishes to the slots of the master it is connected to (on one master it stays a
# fixed tag); `__rand_int__` spreads the publishes over many channels, as streams do.
CHANNEL = "rt:events:{tag}:__rand_int__"
CHANNELS = 100_000

# One event as the fan-out publishes it: an order's status change (about 300 bytes).
PAYLOAD = json.dumps(
    {
        "stream": "order:1048576",
        "seq": 7,
        "type": "order.status_changed",
        "at": "2025-01-01T12:00:00.000Z",
        "data": {
            "order_id": 1048576,
            "store_id": 4096,
            "status": "picked_up",
            "previous": "ready",
            "rider_id": 65536,
            "eta_minutes": 12,
            "total": 27000,
            "address": "Seoul City Hall",
            "note": "ring the bell, leave it at the door",
        },
    },
    separators=(",", ":"),
)


def _cores() -> list[int]:
    """The CPU cores this process may run on."""
    return sorted(os.sched_getaffinity(0))


def _pin(cluster: RedisCluster, cores: list[int]) -> list[int]:
    """Pin master i to core i % cores when there is a core per master; the core of each master,
    or none when there are fewer cores than masters."""
    masters = cluster.servers[: cluster.masters]
    if len(cores) < len(masters):
        return []
    placed = []
    for index, server in enumerate(masters):
        assert server.process is not None
        placed.append(cores[index % len(cores)])
        os.sched_setaffinity(server.process.pid, {placed[-1]})
    return placed


def _publish_calls(cluster: RedisCluster, command: str) -> int:
    """How many `command`s the masters ran since their last CONFIG RESETSTAT; a failed or
    rejected one is an error."""
    calls = 0
    for server in cluster.servers:
        stats = server.command("INFO", "commandstats").get(f"cmdstat_{command.lower()}", {})
        if stats.get("failed_calls") or stats.get("rejected_calls"):
            raise LaunchError(f"{command} failed on node {server.port}: {stats}")
        calls += int(stats.get("calls", 0))
    return calls


def _benchmark(
    cluster: RedisCluster, command: str, *, publishes: int, clients: int, pipeline: int
) -> dict[str, Any]:
    """One redis-benchmark run of `command`: its rate, the masters' and its own CPU."""
    pids = [server.process.pid for server in cluster.servers if server.process is not None]
    for server in cluster.servers:
        server.command("CONFIG", "RESETSTAT")
    args = [
        find_binary("redis-benchmark"),
        "-h", "127.0.0.1", "-p", str(cluster.servers[0].port),
        "-n", str(publishes), "-c", str(clients), "-P", str(pipeline),
        "-r", str(CHANNELS), "-q",
    ]  # fmt: skip
    # redis-benchmark --cluster refuses a cluster of one node: it is sent to directly.
    if cluster.masters > 1:
        args.append("--cluster")
    args += [command, CHANNEL, PAYLOAD]
    server_before = [cpu_seconds(pid) for pid in pids]
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    wall = time.monotonic() - started
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = [
        cpu_seconds(pid) - before for pid, before in zip(pids, server_before, strict=True)
    ]
    # -q prints progress lines ended by \r, then "<command>: N requests per second, p50=…".
    last = done.stdout.strip().split("\r")[-1]
    rate = re.search(r"([\d.]+) requests per second", last)
    if done.returncode != 0 or rate is None:
        raise LaunchError(f"redis-benchmark failed: {done.stdout[-400:]} {done.stderr[-400:]}")
    counted = _publish_calls(cluster, command)
    if counted != publishes:
        raise LaunchError(f"the masters ran {counted} {command}s, not {publishes}")
    client_cpu = (client_after.ru_utime - client_before.ru_utime) + (
        client_after.ru_stime - client_before.ru_stime
    )
    per_publish_us = sum(server_cpu) / publishes * 1e6
    return {
        "publishes": counted,
        "wall_s": round(wall, 2),
        "publishes_per_s": round(float(rate.group(1))),
        # Of the machine's cores, how many the masters and the client kept busy meanwhile.
        "server_cores": round(sum(server_cpu) / wall, 2),
        "client_cores": round(client_cpu / wall, 2),
        "server_cpu_s": [round(spent, 2) for spent in server_cpu],
        "server_cpu_us_per_publish": round(per_publish_us, 3),
        "client_cpu_us_per_publish": round(client_cpu / publishes * 1e6, 3),
        "capacity_per_s": round(cluster.masters * 1e6 / per_publish_us),
    }


def _round(masters: int, *, publishes: int, clients: int, pipeline: int) -> dict[str, Any]:
    """A fresh cluster of `masters` masters, each command measured on it, then gone."""
    folder = Path(tempfile.mkdtemp(prefix="bench-pubsub-"))
    cluster = RedisCluster(folder / "redis-cluster", masters=masters, replicas=0)
    try:
        cluster.start()
        cores = _cores()
        placed = _pin(cluster, cores)
        where = (
            "pinned: "
            + ", ".join(f"master {n + 1} on core {core}" for n, core in enumerate(placed))
            if placed
            else f"not pinned: {masters} masters on {len(cores)} cores, the scheduler places them"
        )
        say(f"  {masters} master(s), no replicas ({where}):")
        figures: dict[str, Any] = {"masters": masters, "pinned": bool(placed)}
        for command in COMMANDS:
            measured = _benchmark(
                cluster, command, publishes=publishes, clients=clients, pipeline=pipeline
            )
            say(
                f"    {command:<8} {measured['publishes_per_s']:>10,}/s raw,"
                f" server {measured['server_cpu_us_per_publish']:.3f} µs/publish"
                f" (all masters: {', '.join(f'{s:.2f}' for s in measured['server_cpu_s'])} s),"
                f" client {measured['client_cpu_us_per_publish']:.3f} µs/publish;"
                f" cores busy: masters {measured['server_cores']:.2f},"
                f" client {measured['client_cores']:.2f}"
                f" → capacity {measured['capacity_per_s']:>10,}/s"
            )
            figures[command.lower()] = measured
        return figures
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def run(*, masters: list[int], publishes: int, clients: int, pipeline: int) -> dict[str, Any]:
    """Each number of masters in turn; the capacity ratios of each to one master."""
    say(
        f"  {publishes:,} publishes of {len(PAYLOAD)} bytes per command, {clients} clients,"
        f" {pipeline} pipelined, on {CHANNELS:,} channels"
    )
    say(
        f"  this machine's {len(_cores())} cores are shared by the masters and the client: the raw"
        " rate is bound by the machine and the client; the capacity is masters × 1 core /"
        " server CPU per publish"
    )
    rounds = []
    for count in masters:
        rounds.append(
            await asyncio.to_thread(
                _round, count, publishes=publishes, clients=clients, pipeline=pipeline
            )
        )
    one = next((r for r in rounds if r["masters"] == 1), None)
    ratios: dict[str, dict[str, float]] = {}
    if one is not None:
        for command in COMMANDS:
            key = command.lower()
            ratios[key] = {
                f"{r['masters']}:1": round(r[key]["capacity_per_s"] / one[key]["capacity_per_s"], 2)
                for r in rounds
                if r["masters"] > 1
            }
        for r in rounds:
            if r["masters"] > 1:
                name = f"{r['masters']}:1"
                say(
                    f"  capacity {r['masters']} masters : 1 ="
                    f" SPUBLISH {ratios['spublish'][name]:.2f}×"
                    f"  PUBLISH {ratios['publish'][name]:.2f}×"
                )
    return {
        "publishes": publishes,
        "clients": clients,
        "pipeline": pipeline,
        "payload_bytes": len(PAYLOAD),
        "cores": len(_cores()),
        "rounds": rounds,
        "capacity_ratio": ratios,
    }
