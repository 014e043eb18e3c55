"""`delivery cluster` keeps serving when a node dies: the supervisor reports it and restarts it."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from app.launcher.cluster import Cluster
from app.launcher.supervisor import Backoff, ServiceExited
from tests.cluster.helpers import NODE_WAIT, events_of, in_rotation, ready, supervising
from tests.system import http_client
from tests.waiting import wait_until

pytestmark = pytest.mark.system


async def test_a_killed_node_is_restarted_while_nginx_keeps_serving(
    breakable_cluster: Cluster,
) -> None:
    cluster = breakable_cluster
    node = cluster.node_list[0]
    assert node.process is not None
    killed_pid = node.process.pid
    answers: list[int] = []
    with supervising(cluster) as supervisor:
        async with http_client(cluster.url) as http:
            stop = asyncio.Event()

            async def load() -> None:
                while not stop.is_set():
                    answers.append((await http.get("/api/stores")).status_code)

            task = asyncio.create_task(load())
            try:
                await in_rotation(cluster)
                os.kill(killed_pid, signal.SIGKILL)
                at_kill = len(answers)
                await wait_until(
                    lambda: events_of(supervisor, node, "restarted"),
                    timeout=NODE_WAIT,
                    what="the restart",
                )
                await wait_until(
                    lambda: ready(node), timeout=NODE_WAIT, what=f"{node.name}'s /readyz"
                )
                while_down = len(answers) - at_kill
                # And once it is back, nginx sends it requests again.
                await wait_until(
                    lambda: len(answers) >= at_kill + while_down + 10,
                    timeout=NODE_WAIT,
                    what="more load",
                )
            finally:
                stop.set()
                await task
    exited, restarted = events_of(supervisor, node)
    assert exited.kind == "exited" and exited.status == -signal.SIGKILL
    assert exited.delay == Backoff().first
    report = str(exited)
    assert node.name in report and "killed by SIGKILL" in report and str(node.log_path) in report
    assert restarted.kind == "restarted" and restarted.pid != killed_pid
    assert node.alive and node.process is not None and node.process.pid == restarted.pid
    assert while_down > 0, "no request went through nginx while the node was down"
    assert set(answers) == {200}, [status for status in answers if status != 200]


async def test_a_node_that_keeps_exiting_is_restarted_after_growing_delays(
    breakable_cluster: Cluster,
) -> None:
    cluster = breakable_cluster
    node = cluster.node_list[1]
    backoff = Backoff(first=0.5, cap=2.0, reset_after=8.0)
    with supervising(cluster, backoff) as supervisor:
        # Every start from now on fails at once: the setting is not an address.
        node.env["TRUSTED_PROXIES"] = "not-an-address"
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGKILL)
        await wait_until(
            lambda: len(events_of(supervisor, node, "exited")) >= 4,
            timeout=NODE_WAIT,
            what="four exits in a row",
        )
        node.env = cluster.env()
        await wait_until(
            lambda: ready(node), timeout=NODE_WAIT, what=f"{node.name} back with good settings"
        )
        back = events_of(supervisor, node, "restarted")[-1]
        exits = events_of(supervisor, node, "exited")
        assert [event.delay for event in exits] == [0.5, 1.0, 2.0, 2.0]
        assert [event.status for event in exits] == [-signal.SIGKILL, 1, 1, 1]
        events = events_of(supervisor, node)
        for exited, restarted in zip(events[::2], events[1::2], strict=False):
            assert exited.kind == "exited" and restarted.kind == "restarted"
            assert restarted.at - exited.at >= exited.delay
        assert "status 1" in str(exits[1])

        # Up for longer than reset_after: its next exit is the first in a row again.
        await wait_until(
            lambda: time.monotonic() - back.at > backoff.reset_after,
            timeout=backoff.reset_after + 5,
            what="the node to stay up",
        )
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGKILL)
        await wait_until(
            lambda: len(events_of(supervisor, node, "exited")) == 5,
            timeout=NODE_WAIT,
            what="the exit",
        )
        assert events_of(supervisor, node, "exited")[-1].delay == backoff.first
        await wait_until(lambda: ready(node), timeout=NODE_WAIT, what=f"{node.name} back again")


def test_the_supervisor_gives_up_when_nginx_exits(breakable_cluster: Cluster) -> None:
    nginx = breakable_cluster.nginx
    assert nginx is not None and nginx.process is not None
    supervisor = breakable_cluster.supervisor()
    supervisor.check()
    nginx.process.terminate()
    nginx.process.wait(timeout=30)
    # Without nginx no node is reachable: `delivery cluster` stops everything and exits 1.
    with pytest.raises(ServiceExited, match=r"^nginx exited \(status 0\)$"):
        supervisor.check()
    assert supervisor.events == []
