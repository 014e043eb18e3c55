"""The deployment a simulation runs against: a cluster it starts itself, a running `delivery
cluster` it is pointed at (its folder's `cluster.json`), or only a URL."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from app.launcher.cluster import DATABASE, Cluster
from app.launcher.netns import ip
from app.launcher.supervisor import Event, Supervisor
from app.simulator.config import NODE_ENV


class Unsupported(RuntimeError):
    """This deployment cannot do that (a fault needs a cluster the simulator can reach)."""


@dataclass
class Deployment:
    """Only a URL: no fault, no database to audit, no process to measure."""

    url: str

    def state(self) -> dict[str, Any]:
        """What runs where (see `Cluster.state`); empty when unknown."""
        return {}

    def database(self) -> pymysql.connections.Connection[Any] | None:
        """A connection to the deployment's database, for read-only audit queries."""
        state = self.state()
        if not state.get("mariadb"):
            return None
        return pymysql.connect(
            host=state["mariadb"].get("host", "127.0.0.1"),
            port=int(state["mariadb"]["port"]),
            user="root",
            password="",
            database=state["mariadb"].get("database", DATABASE),
            autocommit=True,
        )

    def processes(self) -> dict[str, int]:
        """Each process's name and pid: nodes, MariaDB, each Redis, nginx."""
        state = self.state()
        found = {n["name"]: n["pid"] for n in state.get("nodes", []) if n.get("pid")}
        for name in ("mariadb", "session_redis", "cache_redis", "events_redis", "nginx"):
            if (state.get(name) or {}).get("pid"):
                found[name] = state[name]["pid"]
        servers = (state.get("redis_cluster") or {}).get("nodes") or []
        for number, server in enumerate(servers, 1):
            if (server or {}).get("pid"):
                found[f"redis_cluster{number}"] = server["pid"]
        return found

    @property
    def node_count(self) -> int:
        return max(1, len(self.state().get("nodes", [])))

    def kill_node(self, index: int) -> str:
        """SIGKILL a node; its supervisor starts it again."""
        pid = self._node_pid(index)
        os.kill(pid, signal.SIGKILL)
        return f"pid {pid}"

    def pause_node(self, index: int, seconds: float) -> str:
        """SIGSTOP a node for `seconds`, then SIGCONT (blocking; run it in a thread)."""
        pid = self._node_pid(index)
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
        return f"pid {pid} for {seconds:g} s"

    def _node_pid(self, index: int) -> int:
        nodes = self.state().get("nodes", [])
        if not nodes:
            raise Unsupported("no cluster.json: node faults need --cluster or --cluster-dir")
        pid = nodes[index % len(nodes)].get("pid")
        if not pid:
            raise Unsupported(f"{nodes[index % len(nodes)]['name']} is not running")
        return int(pid)

    def partition_node(self, index: int, seconds: float) -> str:
        """Pull the cable of node `index`'s host out of the bridge for `seconds`, then plug it
        back in (blocking; run it in a thread). Only on `delivery netns up`'s network."""
        nodes = self.state().get("nodes", [])
        node = nodes[index % len(nodes)] if nodes else {}
        if not node.get("cable"):
            raise Unsupported(
                "cutting a node off the network needs the network topology: "
                "`delivery netns up`, then --cluster-dir var/netns"
            )
        ip("link", "set", node["cable"], "down")
        try:
            time.sleep(seconds)
        finally:
            ip("link", "set", node["cable"], "up")
        return f"{node['name']} at {node['host']} unreachable for {seconds:g} s"

    def restart_redis(self, which: str) -> str:
        """Kill the `cache` or `events` Redis and start it again with its data gone."""
        raise Unsupported(
            "restarting a Redis needs a cluster of the simulator's own (--cluster): the "
            "supervisor of a running `delivery cluster` stops everything when a Redis exits"
        )

    def restart_mariadb(self, down_for: float) -> str:
        """SIGKILL MariaDB, leave it down for `down_for` s, and start it again."""
        raise Unsupported(
            "killing MariaDB needs a cluster of the simulator's own (--cluster): the "
            "supervisor of a running `delivery cluster` stops everything when MariaDB exits"
        )

    def close(self) -> None:
        """Stop what the simulator started (nothing here)."""


@dataclass
class RunningCluster(Deployment):
    """A `delivery cluster` started elsewhere; its folder's cluster.json says what runs where."""

    folder: Path = field(default_factory=lambda: Path("var/cluster"))

    def state(self) -> dict[str, Any]:
        path = self.folder / "cluster.json"
        if not path.exists():
            raise Unsupported(f"{path} does not exist: is `delivery cluster` running there?")
        state: dict[str, Any] = json.loads(path.read_text())
        return state


@dataclass
class OwnCluster(Deployment):
    """A cluster the simulator starts (with its settings) and supervises, and stops at the end."""

    cluster: Cluster | None = None
    supervisor: Supervisor | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    events: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        folder: Path,
        nodes: int,
        node_env: dict[str, str] | None = None,
        *,
        redis_cluster: bool = False,
    ) -> OwnCluster:
        """MariaDB, three Redis (or a session Redis and a Redis Cluster), `nodes` nodes and
        nginx, with the simulation's settings."""
        env = dict(NODE_ENV if node_env is None else node_env)
        cluster = Cluster(
            folder=folder, nodes=nodes, node_env=env, redis_cluster=redis_cluster
        ).start()
        own = cls(url=cluster.url, cluster=cluster)
        own.supervisor = cluster.supervisor(report=own._report)
        own._thread = threading.Thread(target=own._supervise, name="supervisor", daemon=True)
        own._thread.start()
        return own

    def _report(self, event: Event) -> None:
        assert self.cluster is not None
        if event.kind == "restarted":
            self.cluster.write_state()
        self.events.append(str(event))
        print(f"  [cluster] {event}", flush=True)

    def _supervise(self) -> None:
        assert self.supervisor is not None
        try:
            self.supervisor.run(self._stopping, interval=0.2)
        except Exception as error:
            print(f"  [cluster] supervision ended: {error}", flush=True)

    def state(self) -> dict[str, Any]:
        assert self.cluster is not None
        return self.cluster.state()

    def restart_redis(self, which: str) -> str:
        assert self.cluster is not None and self.supervisor is not None
        with self.supervisor.holding():
            if which == "cache":
                self.cluster.restart_cache_redis(wipe=True)
            else:
                self.cluster.restart_events_redis(wipe=True)
        return f"{which} Redis back empty on port {self.state()[which + '_redis']['port']}"

    def restart_mariadb(self, down_for: float) -> str:
        assert self.cluster is not None and self.supervisor is not None
        with self.supervisor.holding():
            self.cluster.restart_mariadb(down_for=down_for)
        return f"down {down_for:g} s, back as pid {self.state()['mariadb']['pid']}"

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.cluster is not None:
            self.cluster.stop()
