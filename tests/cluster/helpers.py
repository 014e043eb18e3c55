"""Running a supervisor beside a test, reading the cluster's database, watching its nodes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pymysql
from prometheus_client.parser import text_string_to_metric_families

from app.launcher.cluster import DATABASE, Cluster
from app.launcher.nodes import Node
from app.launcher.supervisor import Backoff, Event, Supervisor
from tests.waiting import wait_until

# How long a test waits for a node to die, come back or answer, unless it says otherwise.
NODE_WAIT = 60.0


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


async def ready(node: Node) -> bool:
    """Whether `node` answers 200 on its own /readyz."""
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{node.url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def served(node: Node, method: str, route: str) -> float:
    """How many `method route` requests `node` answered, from its own /metrics."""
    async with httpx.AsyncClient(timeout=10) as http:
        metrics = (await http.get(f"{node.url}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "http_requests_total"
        and sample.labels.get("method") == method
        and sample.labels.get("route") == route
    )


async def in_rotation(cluster: Cluster) -> None:
    """Until nginx sends requests to every node again.

    nginx tries a node that failed again only after `fail_timeout` (5 s), even if the node is
    back sooner; until then it is out of the rotation.
    """
    before = [await served(node, "GET", "/api/stores") for node in cluster.node_list]
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10) as http:

        async def all_served() -> bool:
            assert (await http.get("/api/stores")).status_code == 200
            after = [await served(node, "GET", "/api/stores") for node in cluster.node_list]
            return all(now > then for now, then in zip(after, before, strict=True))

        await wait_until(all_served, timeout=30, what="nginx to send requests to every node")
