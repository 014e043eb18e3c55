"""The `delivery cluster` command itself: a killed node is reported and restarted, SIGTERM stops
everything it started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

from app.launcher.processes import free_port
from tests.harness import require_binary
from tests.system import NODE_ENV
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.system

DELIVERY = Path(sys.executable).parent / "delivery"


def free_ports(count: int) -> int:
    """P such that P … P+count-1 are all free (the command puts its nodes after nginx's port)."""
    while True:
        first = free_port()
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Lines:
    """Collects a pipe's lines in a thread, so that the test can wait for one with a deadline."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._pipe = pipe
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._pipe:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, match: Callable[[str], bool], *, within: float, what: str) -> str:
        def found() -> list[str]:
            return [line for line in list(self.lines) if match(line)][:1]

        try:
            return wait_until_sync(found, timeout=within, what=f"a line with {what}")[0]
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; the lines: {self.lines}") from None

    def close(self) -> None:
        """After the process ended: the rest of the output, then the pipe closed."""
        self._thread.join(timeout=10)
        self._pipe.close()


@dataclass
class Command:
    """A running `delivery cluster` and what it printed."""

    process: subprocess.Popen[str]
    port: int
    out: Lines
    err: Lines
    # Every process seen below it (`children()`): stopped at the end if any is still running.
    seen: dict[int, str] = field(default_factory=dict)

    def children(self) -> dict[int, str]:
        """The processes below the command now, remembered for the clean-up."""
        now = children(self.process.pid)
        self.seen.update(now)
        return now


@contextlib.contextmanager
def delivery_cluster(folder: Path, *flags: str, nodes: int) -> Iterator[Command]:
    """`delivery cluster --nodes N --port P FLAGS…` in `folder`; whatever of it still runs at the
    end (a failed test) is killed."""
    for names in (("nginx",), ("mariadbd", "mysqld"), ("redis-server",)):
        require_binary(*names)
    port = free_ports(nodes + 1)
    process = subprocess.Popen(
        [str(DELIVERY), "cluster", "--nodes", str(nodes), "--port", str(port), *flags],
        cwd=folder,
        env={**os.environ, **NODE_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    command = Command(process, port, Lines(process.stdout), Lines(process.stderr))
    try:
        yield command
    finally:
        if process.poll() is None:
            command.children()
            process.kill()
            process.wait()
        for pid in command.seen:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        command.out.close()
        command.err.close()


@pytest.fixture
def cluster_command(tmp_path: Path) -> Iterator[Command]:
    """`delivery cluster --nodes 2 --port P` in a folder of its own; killed if a test fails."""
    with delivery_cluster(tmp_path, nodes=2) as command:
        yield command


def test_delivery_cluster_restarts_a_killed_node_and_stops_everything_on_sigterm(
    cluster_command: Command, tmp_path: Path
) -> None:
    process, port = cluster_command.process, cluster_command.port
    out, err = cluster_command.out, cluster_command.err
    out.wait_for(lambda line: "Ctrl-C stops everything" in line, within=180, what="the banner")
    node1 = f"http://127.0.0.1:{port + 1}"
    nodes = {pid: cmdline for pid, cmdline in children(process.pid).items() if " serve " in cmdline}
    killed = next(pid for pid, cmdline in nodes.items() if f"--port {port + 1}" in cmdline)

    os.kill(killed, signal.SIGKILL)
    exited = err.wait_for(lambda line: line.startswith("node1 exited"), within=10, what="exit")
    assert (
        "killed by SIGKILL" in exited and "node1.log" in exited and "restarting it in 1 s" in exited
    )
    restarted = out.wait_for(
        lambda line: line.startswith("node1 restarted"), within=10, what="the restart"
    )
    assert int(restarted.split("(pid ")[1].split(")")[0]) not in nodes

    def node1_ready() -> bool:
        try:
            return httpx.get(f"{node1}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until_sync(node1_ready, timeout=60, interval=0.1, what="node1 to come back")
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
    assert process.poll() is None, "the cluster stopped when a node died"

    everything = children(process.pid)
    assert len(everything) == 7, everything  # mariadbd, three redis-servers, two nodes, nginx
    # cluster.json names every one of them, the restarted node's new pid included.
    state = json.loads((tmp_path / "var" / "cluster" / "cluster.json").read_text())
    recorded = [node["pid"] for node in state["nodes"]] + [
        state[name]["pid"]
        for name in ("nginx", "mariadb", "session_redis", "cache_redis", "events_redis")
    ]
    assert sorted(recorded) == sorted(everything), (recorded, everything)
    assert state["url"] == f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=90) == 0
    assert out.wait_for(lambda line: line == "stopped.", within=5, what="stopped.")
    left = [cmdline for pid, cmdline in everything.items() if running(pid)]
    assert left == [], left
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
    assert not (tmp_path / "var" / "cluster" / "cluster.json").exists()
