"""The production topology on one machine: `delivery cluster`, the system tests and benchmarks.

MariaDB (with `replica=True`, a primary and a read-only replica of it), a session Redis (with
`session_replica=True`, a master and a replica watched by three Sentinels), a cache Redis, an
events Redis, N Hypercorn nodes and nginx, all from installed binaries, started in order with
health checks, with their data and logs in one folder.
What runs where (pids, ports, folders) is written to `cluster.json` in that folder, for tools
that act on a running cluster (`delivery simulate --faults`).
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from app.launcher.nginx import Nginx
from app.launcher.nodes import Node
from app.launcher.processes import LaunchError, free_port
from app.launcher.servers import MariaDBServer, RedisCluster, RedisServer, ReplicatedRedis
from app.launcher.supervisor import Backoff, Event, Service, Supervisor
from app.migrate import upgrade

DATABASE = "delivery"
# nginx connects to the nodes from this loopback address and the nodes believe only it about
# who the client is: any other local process reaches them from 127.0.0.1 (Linux routes all of
# 127.0.0.0/8 to the loopback device).
PROXY_ADDRESS = "127.0.0.2"
PROXY_TRUST = {"TRUSTED_PROXIES": PROXY_ADDRESS}


@dataclass
class Cluster:
    """Everything `delivery cluster` runs; `start()` brings it up, `stop()` takes it down."""

    folder: Path
    nodes: int = 2
    port: int | None = None
    fresh: bool = False
    node_env: dict[str, str] = field(default_factory=dict)
    # A MariaDB replica that serves the nodes' catalog and history reads (DATABASE_READ_URL).
    replica: bool = False
    # A Redis Cluster (three masters, a replica each) for the cache and the events instead of
    # two single servers; the sessions keep their single server.
    redis_cluster: bool = False
    # The session Redis as a master with a replica, watched by three Sentinels that promote
    # the replica when the master is lost; the nodes find the master through them.
    session_replica: bool = False
    mariadb: MariaDBServer | None = None
    mariadb_replica: MariaDBServer | None = None
    session_redis: RedisServer | None = None
    session_sentinels: ReplicatedRedis | None = None
    cache_redis: RedisServer | None = None
    events_redis: RedisServer | None = None
    cluster_redis: RedisCluster | None = None
    node_list: list[Node] = field(default_factory=list)
    nginx: Nginx | None = None

    @property
    def log_dir(self) -> Path:
        return self.folder / "logs"

    @property
    def url(self) -> str:
        """nginx's address: what browsers use."""
        assert self.nginx is not None
        return self.nginx.url

    @property
    def database_url(self) -> str:
        assert self.mariadb is not None
        return self.mariadb.url(DATABASE)

    @property
    def database_read_url(self) -> str | None:
        """The replica's URL, or None without one."""
        return self.mariadb_replica.url(DATABASE) if self.mariadb_replica else None

    def node_port(self, index: int) -> int:
        return self.port + 1 + index if self.port else free_port()

    def secret_key(self) -> str:
        """A secret kept with the data, so sessions survive a restart of the cluster."""
        path = self.folder / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def env(self) -> dict[str, str]:
        """The environment of every node."""
        assert self.session_redis is not None
        if self.cluster_redis is not None:
            cache_url = events_url = self.cluster_redis.url
        else:
            assert self.cache_redis is not None and self.events_redis is not None
            cache_url, events_url = self.cache_redis.url, self.events_redis.url
        replica = {"DATABASE_READ_URL": url} if (url := self.database_read_url) else {}
        sessions = self.session_sentinels or self.session_redis
        return {
            "DATABASE_URL": self.database_url,
            **replica,
            "SESSION_REDIS_URL": sessions.url,
            "CACHE_REDIS_URL": cache_url,
            "EVENTS_REDIS_URL": events_url,
            "SECRET_KEY": self.secret_key(),
            "STORAGE_URL": f"file://{(self.folder / 'media').resolve()}",
            **PROXY_TRUST,
            # nginx keeps the access log; a node writing one more line per request costs CPU.
            "ACCESS_LOG": "false",
            "VAR_DIR": str(self.folder / "var"),
            **self.node_env,
        }

    def start(self) -> Cluster:
        """Start every service in order, each healthy before the next; stop all on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        if self.fresh and self.folder.exists():
            for name in (
                "mariadb",
                "mariadb-replica",
                "redis-session",
                "redis-session-replicated",
                "redis-cache",
                "redis-events",
                "media",
                "nginx",
            ):
                shutil.rmtree(self.folder / name, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.mariadb = MariaDBServer(self.folder / "mariadb", binlog=self.replica)
        if self.replica:
            self._check_replicable(self.mariadb)
        self.mariadb.start()
        if self.replica:
            self.mariadb_replica = self.mariadb.replica_of(self.folder / "mariadb-replica").start()
        self._ensure_database()
        if self.session_replica:
            self.session_sentinels = ReplicatedRedis(self.folder / "redis-session-replicated")
            self.session_sentinels.start()
            self.session_redis = self.session_sentinels.master
        else:
            self.session_redis = RedisServer(self.folder / "redis-session", persistent=True)
            self.session_redis.start()
        if self.redis_cluster:
            self.cluster_redis = RedisCluster(self.folder / "redis-cluster").start()
        else:
            self.cache_redis = RedisServer(self.folder / "redis-cache", persistent=True).start()
            self.events_redis = RedisServer(self.folder / "redis-events", persistent=True).start()
        upgrade(self.database_url)
        for index in range(self.nodes):
            node = Node(
                name=f"node{index + 1}",
                env=self.env(),
                log_dir=self.log_dir,
                port=self.node_port(index),
            )
            self.node_list.append(node.start())
        self.nginx = Nginx(
            folder=self.folder / "nginx",
            upstreams=[f"127.0.0.1:{node.port}" for node in self.node_list],
            port=self.port or free_port(),
            log_dir=self.log_dir,
            proxy_bind=PROXY_ADDRESS,
        ).start()
        self.write_state()

    def _check_replicable(self, primary: MariaDBServer) -> None:
        replica_data = self.folder / "mariadb-replica" / "data"
        # A new replica copies nothing: it replays the primary's binary log from its start,
        # which holds everything only if the primary has written one from its first day.
        started = (primary.datadir / "mysql").exists()
        logged = (primary.datadir / "binlog.index").exists()
        if started and not logged and not (replica_data / "mysql").exists():
            raise LaunchError(
                f"the database in {primary.folder} was made without a replica, which would "
                "start empty; start with --fresh to add one"
            )

    @property
    def state_path(self) -> Path:
        return self.folder / "cluster.json"

    def state(self) -> dict[str, object]:
        """What runs where: nginx's URL, and each process's pid, port and folder or log."""

        def pid(service: Service | None) -> int | None:
            process = service.process if service is not None else None
            return process.pid if process is not None and process.poll() is None else None

        def redis(server: RedisServer | None) -> dict[str, object] | None:
            if server is None:
                return None
            return {
                "pid": pid(server),
                "port": server.port,
                "url": server.url,
                "folder": str(server.folder),
            }

        return {
            "url": self.nginx.url if self.nginx is not None else None,
            "nginx": {"pid": pid(self.nginx), "port": self.nginx.port} if self.nginx else None,
            "nodes": [
                {
                    "name": node.name,
                    "pid": pid(node),
                    "port": node.port,
                    "url": node.url,
                    "log": str(node.log_path),
                }
                for node in self.node_list
            ],
            "mariadb": {
                "pid": pid(self.mariadb),
                "port": self.mariadb.port,
                "database": DATABASE,
                "folder": str(self.mariadb.folder),
            }
            if self.mariadb
            else None,
            "mariadb_replica": {
                "pid": pid(self.mariadb_replica),
                "port": self.mariadb_replica.port,
                "database": DATABASE,
                "folder": str(self.mariadb_replica.folder),
            }
            if self.mariadb_replica
            else None,
            # With Sentinels, the server started as the master (see `session_sentinels` for
            # the one that is master now).
            "session_redis": redis(self.session_redis),
            "session_sentinels": {
                "url": self.session_sentinels.url,
                "service": self.session_sentinels.service,
                "replica": redis(self.session_sentinels.replica),
                "sentinels": [
                    {"pid": pid(s), "port": s.port, "folder": str(s.folder)}
                    for s in self.session_sentinels.sentinels
                ],
            }
            if self.session_sentinels
            else None,
            "cache_redis": redis(self.cache_redis),
            "events_redis": redis(self.events_redis),
            "redis_cluster": {
                "url": self.cluster_redis.url,
                "nodes": [redis(server) for server in self.cluster_redis.servers],
            }
            if self.cluster_redis
            else None,
        }

    def write_state(self) -> None:
        """Record `state()` in `cluster.json` (replaced atomically; readers never see half)."""
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.state(), indent=2))
        temporary.replace(self.state_path)

    def _ensure_database(self) -> None:
        import pymysql

        assert self.mariadb is not None
        conn = pymysql.connect(host="127.0.0.1", port=self.mariadb.port, user="root", password="")
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            conn.commit()
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop everything this cluster started, front to back."""
        if self.nginx is not None:
            self.nginx.stop()
        for node in self.node_list:
            node.stop()
        for server in (
            self.events_redis,
            self.cache_redis,
            self.session_sentinels,
            self.session_redis,
            self.cluster_redis,
            self.mariadb_replica,
            self.mariadb,
        ):
            if server is not None:
                server.stop()
        self.state_path.unlink(missing_ok=True)

    def kill_node(self, index: int) -> Node:
        """SIGKILL node `index`, as a crash would."""
        node = self.node_list[index]
        node.kill()
        return node

    def restart_node(self, index: int) -> Node:
        """Start node `index` again on its port (after `kill_node` or a stop)."""
        node = self.node_list[index]
        node.stop()
        return node.start()

    def restart_events_redis(self, *, wipe: bool = True) -> None:
        """Kill the events Redis and start it again; `wipe` loses its data as well."""
        assert self.events_redis is not None
        self.events_redis.restart(wipe=wipe)
        self.write_state()

    def restart_cache_redis(self, *, wipe: bool = True) -> None:
        """Kill the cache Redis (counters, locks, rider positions) and start it again."""
        assert self.cache_redis is not None
        self.cache_redis.restart(wipe=wipe)
        self.write_state()

    def restart_mariadb(self, *, down_for: float = 0.0) -> None:
        """SIGKILL MariaDB, wait `down_for` seconds, and start it again (crash recovery)."""
        assert self.mariadb is not None
        self.mariadb.kill()
        time.sleep(down_for)
        self.mariadb.start()
        self.write_state()

    def supervisor(
        self, *, backoff: Backoff | None = None, report: Callable[[Event], None] = print
    ) -> Supervisor:
        """A supervisor that restarts this cluster's nodes and gives up when another part exits."""
        vital: dict[str, Service | None] = {
            "nginx": self.nginx,
            "mariadbd": self.mariadb,
            # With Sentinels, a lost master is their business: the replica takes over.
            "the session redis-server": None if self.session_sentinels else self.session_redis,
            "the cache redis-server": self.cache_redis,
            "the events redis-server": self.events_redis,
        }
        return Supervisor(
            self.node_list,
            vital={name: service for name, service in vital.items() if service is not None},
            backoff=backoff or Backoff(),
            report=report,
        )

    def urls(self) -> list[str]:
        """nginx first, then each node."""
        return [self.url, *(node.url for node in self.node_list)]


def _reporter(cluster: Cluster) -> Callable[[Event], None]:
    def report(event: Event) -> None:
        if event.kind == "restarted":
            cluster.write_state()
        print(event, file=sys.stderr if event.kind == "exited" else sys.stdout, flush=True)

    return report


def run_cluster(
    *,
    nodes: int,
    port: int,
    fresh: bool,
    replica: bool = False,
    redis_cluster: bool = False,
    session_replica: bool = False,
) -> int:
    """`delivery cluster`: run and restart nodes that exit until Ctrl-C or SIGTERM, then stop."""
    if nodes < 1:
        print("delivery: --nodes must be at least 1", file=sys.stderr)
        return 2
    cluster = Cluster(
        folder=Path("var/cluster").resolve(),
        nodes=nodes,
        port=port,
        fresh=fresh,
        replica=replica,
        redis_cluster=redis_cluster,
        session_replica=session_replica,
    )
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _on_signal)
    try:
        database = "MariaDB and a replica" if replica else "MariaDB"
        redis = "a session Redis and a Redis Cluster" if redis_cluster else "three Redis"
        if session_replica:
            others = "a Redis Cluster" if redis_cluster else "a cache and an events Redis"
            redis = f"a session Redis with a replica and three Sentinels, {others}"
        print(f"starting {database}, {redis}, {nodes} node(s) and nginx …", flush=True)
        cluster.start()
        print(f"delivery cluster is up (data and logs in {cluster.folder}):", flush=True)
        print(f"  nginx   {cluster.url}", flush=True)
        for role, server in (("mariadb", cluster.mariadb), ("replica", cluster.mariadb_replica)):
            if server is not None:
                print(f"  {role:<7} 127.0.0.1:{server.port} ({server.folder})", flush=True)
        if (sentinels := cluster.session_sentinels) is not None:
            where = f"master :{sentinels.master.port}, replica :{sentinels.replica.port}"
            print(f"  session {sentinels.url} ({where})", flush=True)
        if cluster.cluster_redis is not None:
            print(f"  redis   {cluster.cluster_redis.url} (cache and events)", flush=True)
        for node in cluster.node_list:
            print(f"  {node.name:<7} {node.url}", flush=True)
        print("A node that exits is started again. Ctrl-C stops everything.", flush=True)
        cluster.supervisor(report=_reporter(cluster)).run(stopping)
        return 0
    except KeyboardInterrupt:
        return 0
    except LaunchError as error:
        print(f"delivery: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        # A second signal during the stop must not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("stopping …", flush=True)
        cluster.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("stopped.", flush=True)
