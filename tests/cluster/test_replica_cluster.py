"""`delivery cluster --replica`: a MariaDB primary and a read-only replica that the nodes read."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pymysql
import pytest

from app.launcher.cluster import DATABASE, Cluster
from app.launcher.processes import LaunchError
from app.launcher.servers import MariaDBServer
from tests.client import Api
from tests.cluster.test_cluster_command import Command, children, delivery_cluster, running
from tests.harness import require_binary
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.system


@pytest.fixture
def replica_command(tmp_path: Path) -> Iterator[Command]:
    """`delivery cluster --replica --nodes 1 --port P` in a folder of its own."""
    with delivery_cluster(tmp_path, "--replica", nodes=1) as command:
        yield command


def test_cluster_with_a_replica_names_both_and_its_writes_reach_the_replica(
    replica_command: Command, tmp_path: Path
) -> None:
    process, port, out = replica_command.process, replica_command.port, replica_command.out
    out.wait_for(lambda line: "Ctrl-C stops everything" in line, within=180, what="the banner")
    primary_line = out.wait_for(lambda line: line.startswith("  mariadb "), within=1, what="db")
    replica_line = out.wait_for(lambda line: line.startswith("  replica "), within=1, what="rep")
    state = json.loads((tmp_path / "var" / "cluster" / "cluster.json").read_text())
    assert f"127.0.0.1:{state['mariadb']['port']}" in primary_line
    assert f"127.0.0.1:{state['mariadb_replica']['port']}" in replica_line
    everything = children(process.pid)
    assert len(everything) == 7, everything  # two mariadbd, three redis-servers, a node, nginx
    assert state["mariadb_replica"]["pid"] in everything
    replica_cmdline = everything[state["mariadb_replica"]["pid"]]
    assert "--read-only=1" in replica_cmdline
    node_pid = state["nodes"][0]["pid"]
    environ = Path(f"/proc/{node_pid}/environ").read_bytes().split(b"\0")
    replica_url = f"127.0.0.1:{state['mariadb_replica']['port']}/{DATABASE}"
    assert any(
        entry.startswith(b"DATABASE_READ_URL=") and replica_url.encode() in entry
        for entry in environ
    ), "the node was not given the replica"

    async def write_through_nginx() -> int:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            owner = Api(http)
            await owner.sign_in_as("owner")
            created = await owner.post(
                "/api/stores",
                json={
                    "name": "Replica Cluster Kimbap",
                    "category": "korean",
                    "address": "1 Sejong-daero, Seoul",
                    "lat": 37.566,
                    "lng": 126.977,
                    "phone": "02-123-4567",
                    "min_order": 10000,
                    "delivery_fee": 3000,
                },
            )
            assert created.status_code == 201, created.text
            listed = await owner.get("/api/stores")
            assert listed.status_code == 200
            return int(created.json()["id"])

    store_id = asyncio.run(write_through_nginx())

    def on_replica() -> bool:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=state["mariadb_replica"]["port"],
            user="root",
            password="",
            database=DATABASE,
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT name FROM stores WHERE id = %s", (store_id,))
                return cursor.fetchall() == (("Replica Cluster Kimbap",),)
        finally:
            conn.close()

    wait_until_sync(on_replica, timeout=30, what="the store on the replica")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=90) == 0
    left = [cmdline for pid, cmdline in everything.items() if running(pid)]
    assert left == [], left


def test_a_replica_is_refused_for_a_database_made_without_one(tmp_path: Path) -> None:
    require_binary("mariadbd", "mysqld")
    MariaDBServer(tmp_path / "mariadb").start().stop()
    with pytest.raises(LaunchError, match="start with --fresh"):
        Cluster(folder=tmp_path, nodes=1, replica=True).start()
