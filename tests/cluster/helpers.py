"""Running a supervisor beside a test, reading the cluster's database, polling with a deadline."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx
import pymysql

from app.launcher.cluster import DATABASE, Cluster
from app.launcher.nodes import Node
from app.launcher.supervisor import Backoff, Event, Supervisor


@contextmanager
def supervising(cluster: Cluster, backoff: Backoff | None = None) -> Iterator[Supervisor]:
    """The cluster's supervisor, checking every 0.1 s in a thread until the block ends."""
    supervisor = cluster.supervisor(backoff=backoff, report=print)
    stopping = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            supervisor.run(stopping, interval=0.1)
        except BaseException as error:  # the test fails with it below
            failures.append(error)

    thread = threading.Thread(target=run, name="supervisor", daemon=True)
    thread.start()
    try:
        yield supervisor
    finally:
        stopping.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the supervisor did not stop"
    assert not failures, failures


def events_of(supervisor: Supervisor, node: Node, kind: str | None = None) -> list[Event]:
    """What the supervisor reported about `node` so far (of one kind, if given)."""
    return [
        event
        for event in list(supervisor.events)
        if event.node is node and (kind is None or event.kind == kind)
    ]


def query(cluster: Cluster, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Run SQL on the cluster's database from the test itself."""
    assert cluster.mariadb is not None
    conn = pymysql.connect(
        host="127.0.0.1", port=cluster.mariadb.port, user="root", password="", database=DATABASE
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, args)
            rows = list(cursor.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


async def until(
    check: Callable[[], bool | Awaitable[bool]], *, within: float = 60, what: str
) -> None:
    """Poll `check` until it holds; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.05)


async def ready(node: Node) -> bool:
    """Whether `node` answers 200 on its own /readyz."""
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{node.url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False
