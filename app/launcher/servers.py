"""Real redis-server and mariadbd processes on free ports, in a folder of their own."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.launcher.processes import LaunchError, find_binary, free_port, stop_process, wait_for_port


@dataclass
class RedisServer:
    """One redis-server; `restart(wipe=True)` simulates a crash that loses its data."""

    folder: Path
    port: int = field(default_factory=free_port)
    persistent: bool = False
    process: subprocess.Popen[bytes] | None = None
    # A node of a Redis Cluster (`RedisCluster`): how long it may be silent before its
    # replica takes over, in ms; None for a standalone server.
    cluster_node_timeout: int | None = None
    bus_port: int | None = None
    # The address it listens on, and what the command is run through (`ip netns exec NAME`:
    # a host of its own on a network, see app/launcher/netns.py).
    host: str = "127.0.0.1"
    prefix: list[str] = field(default_factory=list)
    # A replica of that server (`ReplicatedRedis`): read-only, it copies everything it writes.
    replica_of: RedisServer | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            *self.prefix,
            find_binary("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--logfile",
            str(self.folder / "redis.log"),
            "--maxclients",
            "10000",
            # Off the loopback address a Redis without a password refuses everyone unless told
            # otherwise; the only other address it is given is on a private network of hosts.
            *([] if self.host.startswith("127.") else ["--protected-mode", "no"]),
            # A replica that connects is sent the data at once, not after 5 s of waiting for
            # others to share the transfer with.
            "--repl-diskless-sync-delay",
            "0",
        ]
        if self.replica_of is not None:
            args += ["--replicaof", self.replica_of.host, str(self.replica_of.port)]
        if self.cluster_node_timeout is not None:
            self.bus_port = self.bus_port or free_port()
            args += [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(self.folder / "nodes.conf"),
                "--cluster-node-timeout",
                str(self.cluster_node_timeout),
                # The bus port defaults to port + 10000, past 65535 for a high free port.
                "--cluster-port",
                str(self.bus_port),
            ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(
            self.port, process=self.process, timeout=15, what="redis-server", host=self.host
        )
        return self

    def command(self, *args: str | int) -> Any:
        """Run one command on this server (administration and tests)."""
        return _command(self.host, self.port, *args)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the data in memory is gone (unless persistent)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, *, wipe: bool = False) -> None:
        """Stop and start again on the same port; `wipe` also drops any persisted data."""
        self.kill()
        if wipe:
            for leftover in self.folder.glob("appendonly*"):
                if leftover.is_dir():
                    for part in leftover.iterdir():
                        part.unlink()
                    leftover.rmdir()
                else:
                    leftover.unlink()
        self.start()


@contextlib.contextmanager
def _client(host: str, port: int) -> Iterator[Any]:
    import redis

    client = redis.Redis(host=host, port=port, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()


def _command(host: str, port: int, *args: str | int) -> Any:
    with _client(host, port) as client:
        return client.execute_command(*args)


@dataclass
class RedisSentinel:
    """One Redis Sentinel (`redis-server --sentinel`) watching the master of `service`.

    Its state (the replicas and other Sentinels it has met, the master it follows now) lives
    in its configuration file, which it rewrites; `start` writes that file anew.
    """

    folder: Path
    service: str
    master: RedisServer
    quorum: int = 2
    down_after_ms: int = 1000
    failover_timeout_ms: int = 2000
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisSentinel:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "sentinel.conf"
        config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    f"bind {self.host}",
                    f"dir {self.folder}",
                    f"logfile {self.folder / 'sentinel.log'}",
                    f"sentinel monitor {self.service} {self.master.host} {self.master.port} "
                    f"{self.quorum}",
                    # Silent this long, the master is down for this Sentinel; once `quorum`
                    # agree, one of them is elected and promotes the replica.
                    f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}",
                    f"sentinel failover-timeout {self.service} {self.failover_timeout_ms}",
                    f"sentinel parallel-syncs {self.service} 1",
                    "",
                ]
            )
        )
        self.process = subprocess.Popen(
            [find_binary("redis-server"), str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, process=self.process, timeout=15, what="redis-sentinel")
        return self

    def command(self, *args: str | int) -> Any:
        """Run one command on this Sentinel (`SENTINEL MASTER …`)."""
        return _command(self.host, self.port, *args)

    def master_state(self) -> dict[str, Any]:
        """What this Sentinel knows of the master (`SENTINEL MASTER`): port, flags …"""
        with _client(self.host, self.port) as client:
            return dict(client.sentinel_master(self.service))

    def replicas(self) -> list[dict[str, Any]]:
        """What it knows of each replica (`SENTINEL REPLICAS`)."""
        with _client(self.host, self.port) as client:
            return [dict(replica) for replica in client.sentinel_slaves(self.service)]

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


@dataclass
class ReplicatedRedis:
    """A Redis master with a replica, watched by Sentinels that promote the replica if the
    master is lost; clients find the master through them (`url`, `redis+sentinel://`).

    Both servers keep their data across starts (append-only files, with `persistent`). The
    Sentinels are made anew at every start, watching as the master the server that was the
    master when they were last stopped (recorded in the file `master`): after a failover the
    promoted replica, which holds what was written since, stays the master.
    """

    folder: Path
    service: str = "sessions"
    sentinel_count: int = 3
    quorum: int = 2
    down_after_ms: int = 1000
    failover_timeout_ms: int = 2000
    persistent: bool = True
    # The master as started, then its replica; after a failover the roles are swapped
    # (`master_now`).
    servers: list[RedisServer] = field(default_factory=list)
    sentinels: list[RedisSentinel] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The Sentinels and the service, for SESSION_REDIS_URL."""
        found = ",".join(f"{s.host}:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{found}/{self.service}"

    @property
    def master(self) -> RedisServer:
        """The server started as the master."""
        return self.servers[0]

    @property
    def _recorded(self) -> Path:
        return self.folder / "master"

    @property
    def replica(self) -> RedisServer:
        """The server started as its replica."""
        return self.servers[1]

    def start(self) -> ReplicatedRedis:
        first, second = "server1", "server2"
        if self._recorded.exists() and self._recorded.read_text().strip() == second:
            first, second = second, first
        try:
            master = RedisServer(self.folder / first, persistent=self.persistent)
            self.servers = [master]
            master.start()
            replica = RedisServer(
                self.folder / second, persistent=self.persistent, replica_of=master
            )
            self.servers.append(replica)
            replica.start()
            self.sentinels = [
                RedisSentinel(
                    self.folder / f"sentinel{i + 1}",
                    service=self.service,
                    master=master,
                    quorum=self.quorum,
                    down_after_ms=self.down_after_ms,
                    failover_timeout_ms=self.failover_timeout_ms,
                )
                for i in range(self.sentinel_count)
            ]
            for sentinel in self.sentinels:
                sentinel.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 30, *, replicas: int = 1) -> RedisServer:
        """Until every live Sentinel names the same live master, knows the other Sentinels and
        (with `replicas`) that many live replicas in sync; returns that master.

        `replicas=0` after the master was lost for good: the promoted replica serves alone.
        """
        deadline = time.monotonic() + timeout
        while True:
            problem = self._problem(replicas)
            if isinstance(problem, RedisServer):
                return problem
            if time.monotonic() > deadline:
                raise LaunchError(f"the Sentinels did not agree on a master: {problem}")
            time.sleep(0.05)

    def _problem(self, replicas: int) -> str | RedisServer:
        import redis

        live = {server.port: server for server in self.servers if server.alive}
        named: set[int] = set()
        for sentinel in self.sentinels:
            if not sentinel.alive:
                continue
            try:
                state = sentinel.master_state()
                known = sentinel.replicas()
            except redis.RedisError as error:
                return f"sentinel {sentinel.port}: {error}"
            port = int(state["port"])
            if port not in live:
                return f"sentinel {sentinel.port} names the lost master {port}"
            if state["flags"] != "master":
                return f"sentinel {sentinel.port} sees the master {port} as {state['flags']}"
            if int(state["num-other-sentinels"]) < len(self.sentinels) - 1:
                return f"sentinel {sentinel.port} has not met the other Sentinels yet"
            ready = [
                r
                for r in known
                if r["flags"] == "slave"
                and r.get("master-link-status") == "ok"
                and int(r["master-port"]) == port
                and int(r["port"]) in live
            ]
            if len(ready) < replicas:
                return f"sentinel {sentinel.port} knows {len(ready)} replica(s) in sync"
            named.add(port)
        if len(named) != 1:
            return f"the Sentinels name {sorted(named) or 'no'} master(s)"
        master = live[named.pop()]
        try:
            role = master.command("ROLE")[0]
        except redis.RedisError as error:
            return f"master {master.port}: {error}"
        if role not in (b"master", "master"):
            return f"{master.port} is not a master yet"
        return master

    def master_now(self) -> RedisServer:
        """The server the Sentinels name as the master now."""
        for sentinel in self.sentinels:
            if sentinel.alive:
                port = int(sentinel.master_state()["port"])
                return next(server for server in self.servers if server.port == port)
        raise LaunchError("no Sentinel is running")

    def rejoin(self, server: RedisServer, timeout: float = 30) -> None:
        """Start a lost server again as a replica of the master now (its old data is replaced
        by the master's), until the Sentinels see it in sync."""
        master = self.master_now()
        master.replica_of = None
        server.replica_of = master
        server.start()
        self.wait_ready(timeout, replicas=1)

    def stop(self) -> None:
        import redis

        # Which server to start as the master next time: the master now, if it still runs.
        with contextlib.suppress(LaunchError, redis.RedisError, StopIteration):
            if any(sentinel.alive for sentinel in self.sentinels):
                master = self.master_now()
                if master.alive:
                    self._recorded.write_text(master.folder.name)
        # The Sentinels first: a master stopped while they watch would be failed over.
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in reversed(self.servers):
            server.stop()


@dataclass
class RedisCluster:
    """A Redis Cluster of `masters` masters with `replicas` replicas each, from the installed
    redis-server.

    Made anew at every start (its data is a cache and logs the database can rebuild). The nodes
    time out after `node_timeout_ms` of silence, after which a replica of a lost master takes
    its slots over. Three masters or more are joined by `redis-cli --cluster create`, which
    refuses fewer; one or two get their slots by hand (`_join`).
    """

    folder: Path
    masters: int = 3
    replicas: int = 1
    node_timeout_ms: int = 2000
    servers: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The cluster's URL (`redis+cluster://`), naming every node: any live one will do."""
        nodes = ",".join(f"127.0.0.1:{server.port}" for server in self.servers)
        return f"redis+cluster://{nodes}"

    def start(self) -> RedisCluster:
        if self.masters < 1 or self.replicas < 0:
            raise LaunchError(
                f"a Redis Cluster needs a master or more ({self.masters}) and replicas >= 0"
            )
        shutil.rmtree(self.folder, ignore_errors=True)
        count = self.masters * (1 + self.replicas)
        self.servers = [
            RedisServer(self.folder / f"node{i + 1}", cluster_node_timeout=self.node_timeout_ms)
            for i in range(count)
        ]
        try:
            for server in self.servers:
                server.start()
            if self.masters >= 3:
                self._create()
            else:
                self._join()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _create(self) -> None:
        """`redis-cli --cluster create`: the slots split evenly, `replicas` placed per master."""
        result = subprocess.run(
            [
                find_binary("redis-cli"),
                "--cluster",
                "create",
                *[f"127.0.0.1:{server.port}" for server in self.servers],
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            raise LaunchError(f"redis-cli --cluster create failed: {result.stdout[-800:]!r}")

    def _join(self) -> None:
        """What `redis-cli --cluster create` does, by hand: the first `masters` servers take an
        even share of the 16,384 slots each, every server meets the first, and each of the
        others follows its master once it knows it."""
        masters, followers = self.servers[: self.masters], self.servers[self.masters :]
        for index, server in enumerate(masters):
            first, end = (16384 * n // self.masters for n in (index, index + 1))
            server.command("CLUSTER", "ADDSLOTSRANGE", first, end - 1)
            # Distinct epochs from the start, as `--cluster create` gives them (two masters
            # with one epoch would settle it between them only later).
            server.command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        seed = self.servers[0]
        assert seed.bus_port is not None
        for server in self.servers[1:]:
            server.command("CLUSTER", "MEET", seed.host, seed.port, seed.bus_port)
        for index, server in enumerate(followers):
            master = masters[index % self.masters]
            master_id = master.command("CLUSTER", "MYID")
            master_id = master_id.decode() if isinstance(master_id, bytes) else str(master_id)
            self._wait_known(server, master_id)
            server.command("CLUSTER", "REPLICATE", master_id)

    def _wait_known(self, server: RedisServer, node_id: str, timeout: float = 30) -> None:
        """Until `server` has heard of the node `node_id` over the cluster bus."""
        deadline = time.monotonic() + timeout
        while True:
            nodes = server.command("CLUSTER", "NODES")
            text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
            if any(line.split(" ", 1)[0] == node_id for line in text.splitlines()):
                return
            if time.monotonic() > deadline:
                raise LaunchError(f"node {server.port} did not meet node {node_id}")
            time.sleep(0.05)

    def live(self) -> list[RedisServer]:
        return [server for server in self.servers if server.alive]

    def wait_ready(self, timeout: float = 60) -> None:
        """Until every live node says the cluster is ok and each of its slots has a live master."""
        deadline = time.monotonic() + timeout
        while True:
            problem = self._problem()
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise LaunchError(f"the Redis Cluster did not become ready: {problem}")
            time.sleep(0.1)

    def _problem(self) -> str | None:
        import redis

        live = {server.port for server in self.live()}
        for server in self.live():
            try:
                info = server.command("CLUSTER", "INFO")
                slots = server.command("CLUSTER", "SLOTS")
            except redis.RedisError as error:
                return f"node {server.port}: {error}"
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "cluster_state:ok" not in text:
                return f"node {server.port} is not ok yet"
            masters = {int(entry[2][1]) for entry in slots}
            if not masters <= live or sum(e[1] - e[0] + 1 for e in slots) != 16384:
                return f"node {server.port} still maps slots to a lost master"
        return None

    def master_of(self, key: str) -> RedisServer:
        """The live server that holds `key`'s slot now."""
        server = self.live()[0]
        slot = int(server.command("CLUSTER", "KEYSLOT", key))
        for start, end, master, *_ in server.command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                port = int(master[1])
                return next(s for s in self.servers if s.port == port)
        raise LaunchError(f"no master holds the slot of {key!r}")

    def masters_now(self) -> list[RedisServer]:
        """The live servers that are masters now."""
        return [s for s in self.live() if s.command("ROLE")[0] in (b"master", "master")]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@dataclass
class MariaDBServer:
    """A mariadbd with its own data folder, root without a password, on a free port."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # False trades the last second of commits on an OS crash for speed (tests, benchmarks of
    # the app rather than of the disk); the cluster keeps full durability.
    durable: bool = True
    # Replication: a primary writes the binary log (GTIDs are always on in MariaDB); a replica
    # is read-only and follows `primary` (see `replica_of`). Each server of a pair has its own id.
    server_id: int = 1
    binlog: bool = False
    primary: MariaDBServer | None = None
    # The address it listens on, and what the command is run through (see RedisServer).
    host: str = "127.0.0.1"
    prefix: list[str] = field(default_factory=list)

    @property
    def datadir(self) -> Path:
        return self.folder / "data"

    @property
    def tmpdir(self) -> Path:
        return self.folder / "tmp"

    def url(self, database: str, *, user: str = "root", password: str = "") -> str:
        auth = f"{user}:{password}" if password else user
        return f"mysql+aiomysql://{auth}@{self.host}:{self.port}/{database}?charset=utf8mb4"

    def start(self) -> MariaDBServer:
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "mysql").exists():
            result = subprocess.run(
                [
                    find_binary("mariadb-install-db", "mysql_install_db"),
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    # A private temp dir: concurrent installs in /tmp collide on table names.
                    f"--tmpdir={self.tmpdir}",
                ],
                capture_output=True,
                check=False,
            )
            if result.returncode != 0:
                raise LaunchError(f"mariadb-install-db failed: {result.stderr.decode()[-800:]}")
        args = [
            *self.prefix,
            find_binary("mariadbd", "mysqld"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--socket={self.folder / 'mysqld.sock'}",
            f"--pid-file={self.folder / 'mysqld.pid'}",
            f"--log-error={self.folder / 'mariadb.log'}",
            f"--tmpdir={self.tmpdir}",
            "--user=root",
            *self._replication_args(),
            "--skip-name-resolve",
            "--max-connections=1000",
            "--innodb-buffer-pool-size=256M",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            f"--innodb-flush-log-at-trx-commit={1 if self.durable else 2}",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, process=self.process, timeout=60, what="mariadbd", host=self.host)
        self._wait_ready(timeout=60)
        if self.primary is not None:
            self._follow(self.primary)
        return self

    def _wait_ready(self, *, timeout: float) -> None:
        # The port opens before the server answers: on a busy machine a client connecting
        # then is dropped during the handshake ("Lost connection … during query").
        import pymysql

        # Off the loopback address root is let in only once granted (app/launcher/netns.py),
        # so there the server's Unix socket, which answers at the same moment, is asked.
        where: dict[str, object] = (
            {"host": self.host, "port": self.port}
            if self.host.startswith("127.")
            else {"unix_socket": str(self.folder / "mysqld.sock")}
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                pymysql.connect(**where, user="root", password="", connect_timeout=5).close()
                return
            except pymysql.err.OperationalError as error:
                if self.process is not None and self.process.poll() is not None:
                    raise LaunchError(f"mariadbd exited while starting: {error}") from error
                if time.monotonic() > deadline:
                    raise LaunchError(
                        f"mariadbd did not answer within {timeout:g} s: {error}"
                    ) from error
                time.sleep(0.2)

    def replica_of(self, folder: Path) -> MariaDBServer:
        """A read-only replica of this primary, with its own data in `folder` (not started)."""
        if not self.binlog:
            raise LaunchError("a replica needs a primary that writes the binary log")
        return MariaDBServer(
            folder, durable=self.durable, server_id=self.server_id + 1, primary=self
        )

    def _replication_args(self) -> list[str]:
        if self.primary is not None:
            # The relay log is the replica's copy of the primary's binary log; `read_only`
            # refuses writes from clients (replication itself still applies).
            return [
                "--skip-log-bin",
                f"--server-id={self.server_id}",
                f"--relay-log={self.folder / 'relay-bin'}",
                "--read-only=1",
            ]
        if self.binlog:
            return [
                f"--log-bin={self.datadir / 'binlog'}",
                f"--server-id={self.server_id}",
                "--binlog-format=ROW",
                f"--sync-binlog={1 if self.durable else 0}",
            ]
        return ["--skip-log-bin"]

    def _follow(self, primary: MariaDBServer) -> None:
        # Started once; afterwards the replica remembers its primary and position (master.info,
        # gtid_slave_pos) and resumes replicating by itself when it starts again.
        status = self.sql("SHOW SLAVE STATUS")
        if status:
            return
        # An empty gtid_slave_pos replicates from the primary's first binary log: both start
        # empty (the primary's system tables were made before its binary log was on), so the
        # replica needs no copy of the data first.
        self.sql(
            f"CHANGE MASTER TO MASTER_HOST='{primary.host}', MASTER_PORT={primary.port}, "
            "MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, "
            "MASTER_CONNECT_RETRY=1"
        )
        self.sql("START SLAVE")

    def sql(self, statement: str) -> list[tuple[object, ...]]:
        """Run one statement as root (administration: replication, status) and return its rows."""
        import pymysql

        conn = pymysql.connect(host=self.host, port=self.port, user="root", password="")
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
            conn.commit()
            return rows
        finally:
            conn.close()

    def replication(self) -> dict[str, object]:
        """This replica's `SHOW SLAVE STATUS`, by column name (empty if it follows nothing)."""
        import pymysql

        conn = pymysql.connect(
            host=self.host,
            port=self.port,
            user="root",
            password="",
            cursorclass=pymysql.cursors.DictCursor,
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW SLAVE STATUS")
                row = cursor.fetchone()
            return dict(row) if row else {}
        finally:
            conn.close()

    def create_database(self, name: str) -> None:
        """Create (or recreate empty) the database `name`."""
        import pymysql

        conn = pymysql.connect(host=self.host, port=self.port, user="root", password="")
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cursor.execute(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            conn.commit()
        finally:
            conn.close()

    def stop(self) -> None:
        stop_process(self.process, timeout=30)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: the next start runs InnoDB's crash recovery."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None
