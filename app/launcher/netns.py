"""The production topology across a real network: every host in a Linux network namespace of its
own, `delivery netns up` and the network tests.

One bridge in the root namespace is the switch; each host (nginx, the app nodes, the database,
each Redis) is a namespace with one veth cable to it and one address on the subnet, and the
services listen on that address only, so they talk to each other over the bridge and nowhere
else (a host's 127.0.0.1 has nothing of the others). The root namespace has the subnet's first
address on the bridge: the browser, the tests and the simulator reach nginx (and, for the audit,
the database) from there. Each host's cable has a latency (1 ms by default): `tc netem`, or
where the kernel has no netem, the same delay from user space (app/launcher/latency.py).

    10.77.N.1   the root namespace (the bridge)      10.77.N.2   nginx :80
    10.77.N.10  MariaDB :3306                        10.77.N.11  the session Redis :6379
    10.77.N.12  the cache Redis :6379                10.77.N.13  the events Redis :6379
    10.77.N.21… the app nodes :8000

Names carry a run id (namespaces `dn<id>-<host>`, the bridge `dn<id>br`, cables `dn<id>c<n>`)
and N is a free /24, so two topologies on one machine do not meet. The bridge's alias records
the pid that made it: `sweep()` (`delivery netns down`) removes whatever a process that died
without cleaning up (SIGKILL, a crash) left behind. Needs root (CAP_NET_ADMIN), iproute2 and,
without netem, iptables.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from app.launcher.cluster import DATABASE, Cluster
from app.launcher.nginx import Nginx
from app.launcher.nodes import Node
from app.launcher.processes import LaunchError, find_binary, stop_process
from app.launcher.servers import MariaDBServer, RedisServer
from app.launcher.supervisor import Event
from app.migrate import upgrade

PREFIX = "dn"
ALIAS = "delivery-netns pid="
SUBNET = "10.77"
INTERFACE = "eth0"
LATENCY_SCRIPT = Path(__file__).with_name("latency.py")
# The last byte of each host's address; app nodes from APP_BASE + 1 on.
ADDRESSES = {
    "nginx": 2,
    "db": 10,
    "redis-session": 11,
    "redis-cache": 12,
    "redis-events": 13,
}
APP_BASE = 20
# App hosts take .21 to .254 of the subnet; a cable's delay of a second is already absurd.
MAX_NODES = 254 - APP_BASE
MAX_LATENCY_MS = 1000.0
HTTP_PORT = 80
NODE_PORT = 8000
MARIADB_PORT = 3306
REDIS_PORT = 6379


class NetworkUnavailable(LaunchError):
    """The kernel or the user may not make namespaces, veths or bridges here."""


def run(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one command (ip, tc, iptables) and return its result; raise with its stderr."""
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
    if check and result.returncode != 0:
        raise LaunchError(f"`{' '.join(args)}` failed: {result.stderr.strip()}")
    return result


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([find_binary("ip"), *args], check=check)


@dataclass(frozen=True)
class Host:
    """One host: its namespace, its address on the bridge and the bridge's end of its cable."""

    name: str
    netns: str
    address: str
    cable: str

    @property
    def prefix(self) -> list[str]:
        """What a command is run through to run on this host."""
        return [find_binary("ip"), "netns", "exec", self.netns]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command on this host and wait for it."""
        return run([*self.prefix, *args], check=check)


def check_privileges() -> None:
    """Fail at once, saying why, where namespaces cannot be made (not root, a locked kernel)."""
    if os.geteuid() != 0:
        raise NetworkUnavailable(
            "network namespaces need root (CAP_NET_ADMIN): run it as root, or with sudo"
        )
    try:
        find_binary("ip")
    except LaunchError as error:
        raise NetworkUnavailable(f"{error}: install iproute2 (make system-packages)") from error
    probe = f"{PREFIX}probe{os.getpid()}"
    made = ip("netns", "add", probe, check=False)
    ip("netns", "del", probe, check=False)
    if made.returncode != 0:
        raise NetworkUnavailable(
            f"this kernel refuses to make a network namespace: {made.stderr.strip()}"
        )


@dataclass
class Network:
    """The bridge, one namespace per host and the cables between them, with their latency."""

    run_id: str
    subnet: int
    hosts: dict[str, Host] = field(default_factory=dict)
    latency_ms: float = 1.0
    # "netem" or "nfqueue" (the user-space delay, where the kernel has no netem).
    latency: str = ""
    delayers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_dir: Path | None = None
    bridge_made: bool = False

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.run_id}br"

    @property
    def gateway(self) -> str:
        """The root namespace's address on the bridge (where the tests and browsers are)."""
        return f"{SUBNET}.{self.subnet}.1"

    @property
    def cidr(self) -> str:
        return f"{SUBNET}.{self.subnet}.0/24"

    @classmethod
    def create(
        cls, names: list[str], *, latency_ms: float = 1.0, log_dir: Path | None = None
    ) -> Network:
        """Make the bridge and a host for each of `names`; remove everything on failure."""
        check_privileges()
        sweep()
        network = cls(run_id=_new_run_id(), subnet=0, latency_ms=latency_ms, log_dir=log_dir)
        try:
            network._create_bridge()
            for index, name in enumerate(names):
                network._add_host(name, index)
            network._add_latency()
        except BaseException:
            network.destroy()
            raise
        return network

    def _create_bridge(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.bridge_made = True
        ip("link", "set", self.bridge, "alias", f"{ALIAS}{os.getpid()}")
        used = set(re.findall(rf"\b{re.escape(SUBNET)}\.(\d+)\.", ip("-4", "addr").stdout))
        used |= set(re.findall(rf"\b{re.escape(SUBNET)}\.(\d+)\.", ip("-4", "route").stdout))
        free = [n for n in range(1, 255) if str(n) not in used]
        if not free:
            raise LaunchError(f"no free /24 left in {SUBNET}.0.0/16")
        self.subnet = random.choice(free)
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def _add_host(self, name: str, index: int) -> None:
        last = ADDRESSES.get(name) or APP_BASE + int(name.removeprefix("app"))
        host = Host(
            name=name,
            netns=f"{PREFIX}{self.run_id}-{name}",
            address=f"{SUBNET}.{self.subnet}.{last}",
            cable=f"{PREFIX}{self.run_id}c{index}",
        )
        ip("netns", "add", host.netns)
        self.hosts[name] = host
        ip(
            "link",
            "add",
            host.cable,
            "type",
            "veth",
            "peer",
            "name",
            INTERFACE,
            "netns",
            host.netns,
        )
        ip("link", "set", host.cable, "master", self.bridge, "up")
        host.run("ip", "link", "set", "lo", "up")
        host.run("ip", "addr", "add", f"{host.address}/24", "dev", INTERFACE)
        host.run("ip", "link", "set", INTERFACE, "up")

    def _add_latency(self) -> None:
        """A delay on every packet a host sends on its cable: netem, else NFQUEUE."""
        if self.latency_ms <= 0:
            self.latency = "none"
            return
        delay = f"{self.latency_ms:g}ms"
        for host in self.hosts.values():
            tc = host.run(
                "tc", "qdisc", "add", "dev", INTERFACE, "root", "netem", "delay", delay, check=False
            )
            if tc.returncode != 0:
                if "unknown" not in tc.stderr.lower() and "not found" not in tc.stderr.lower():
                    raise LaunchError(f"tc netem on {host.name} failed: {tc.stderr.strip()}")
                self.latency = "nfqueue"
                break
            self.latency = "netem"
        if self.latency == "nfqueue":
            try:
                iptables = find_binary("iptables")
            except LaunchError as error:
                raise LaunchError(
                    "this kernel has no netem and the user-space delay needs iptables: "
                    "install it (make system-packages)"
                ) from error
            for host in self.hosts.values():
                host.run(
                    iptables, "-A", "OUTPUT", "-o", INTERFACE, "-j", "NFQUEUE",
                    "--queue-num", "0", "--queue-bypass",
                )  # fmt: skip
                self._start_delayer(host)
            self._wait_for_delayers()

    def _start_delayer(self, host: Host) -> None:
        args = [
            *host.prefix,
            sys.executable,
            str(LATENCY_SCRIPT),
            "--delay-ms",
            f"{self.latency_ms:g}",
        ]
        if self.log_dir is None:
            process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with (self.log_dir / f"latency-{host.name}.log").open("ab") as log:
                process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.delayers.append(process)

    def _wait_for_delayers(self, timeout: float = 15) -> None:
        """Until every host's queue has its delayer bound (the kernel lists it)."""
        deadline = time.monotonic() + timeout
        waiting = list(self.hosts.values())
        while waiting:
            for process in self.delayers:
                if process.poll() is not None:
                    raise LaunchError(f"the latency delay exited with status {process.returncode}")
            waiting = [
                host
                for host in waiting
                if not host.run("cat", "/proc/net/netfilter/nfnetlink_queue").stdout.strip()
            ]
            if waiting and time.monotonic() > deadline:
                raise LaunchError(f"no latency delay bound in {', '.join(h.name for h in waiting)}")
            if waiting:
                time.sleep(0.05)

    def partition(self, name: str) -> None:
        """Pull the host's cable out of the bridge: its packets and those to it are lost."""
        ip("link", "set", self.hosts[name].cable, "down")

    def heal(self, name: str) -> None:
        """Plug the host's cable back in."""
        ip("link", "set", self.hosts[name].cable, "up")

    def destroy(self) -> None:
        """Stop the delays, remove every namespace (and so its cable) and the bridge."""
        for process in self.delayers:
            stop_process(process, timeout=5)
        self.delayers.clear()
        for host in self.hosts.values():
            _remove_netns(host.netns)
            # The kernel frees a namespace, and the cable in it, in the background: removing
            # the bridge's end now removes both ends at once.
            ip("link", "del", host.cable, check=False)
        self.hosts.clear()
        if self.bridge_made:
            ip("link", "del", self.bridge, check=False)
            self.bridge_made = False

    def describe(self) -> dict[str, Any]:
        return {
            "bridge": self.bridge,
            "subnet": self.cidr,
            "gateway": self.gateway,
            "latency_ms": self.latency_ms,
            "latency": self.latency,
            "hosts": {
                host.name: {"netns": host.netns, "address": host.address, "cable": host.cable}
                for host in self.hosts.values()
            },
        }


def _remove_netns(name: str) -> None:
    """Kill whatever still runs in namespace `name`, then remove it (and so its cable)."""
    for pid in ip("netns", "pids", name, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    ip("netns", "del", name, check=False)


def _namespaces() -> list[str]:
    # `ip netns list` prints "NAME" or "NAME (id: N)" per line.
    return [
        line.split()[0] for line in ip("netns", "list", check=False).stdout.splitlines() if line
    ]


def _remove(run_id: str) -> None:
    """Every namespace and the bridge of run `run_id`, with any process still in them."""
    for name in _namespaces():
        if name.startswith(f"{PREFIX}{run_id}-"):
            _remove_netns(name)
    links = json.loads(ip("-j", "link", "show", check=False).stdout or "[]")
    for link in links:
        if str(link.get("ifname", "")).startswith(f"{PREFIX}{run_id}c"):
            ip("link", "del", link["ifname"], check=False)
    ip("link", "del", f"{PREFIX}{run_id}br", check=False)


def _new_run_id() -> str:
    """A run id no topology on this machine uses."""
    taken = set(leftovers())
    while (run_id := secrets.token_hex(2)) in taken:
        pass
    return run_id


def leftovers() -> dict[str, int]:
    """Each topology on this machine (its run id) and the pid that made it (0: unknown)."""
    found = {}
    bridges = json.loads(
        ip("-j", "-d", "link", "show", "type", "bridge", check=False).stdout or "[]"
    )
    for bridge in bridges:
        if m := re.fullmatch(rf"{PREFIX}([0-9a-f]{{4}})br", bridge.get("ifname", "")):
            alias = str(bridge.get("ifalias", ""))
            found[m[1]] = int(alias.removeprefix(ALIAS)) if alias.startswith(ALIAS) else 0
    # Namespaces whose bridge is already gone (a removal cut short) count as abandoned.
    for name in _namespaces():
        if m := re.fullmatch(rf"{PREFIX}([0-9a-f]{{4}})-[a-z0-9-]+", name):
            found.setdefault(m[1], 0)
    return found


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(*, everything: bool = False) -> list[str]:
    """Remove the topologies whose maker has died (`everything`: all); their run ids."""
    try:
        find_binary("ip")
    except LaunchError:
        return []
    removed = []
    for run_id, pid in leftovers().items():
        if everything or not _alive(pid):
            _remove(run_id)
            removed.append(run_id)
    return removed


@dataclass
class NetnsCluster(Cluster):
    """`Cluster`'s services, each on a host of its own (see the module's description)."""

    latency_ms: float = 1.0
    network: Network | None = None

    def host_names(self) -> list[str]:
        return [*ADDRESSES, *(f"app{index + 1}" for index in range(self.nodes))]

    def host(self, name: str) -> Host:
        assert self.network is not None
        return self.network.hosts[name]

    def env(self) -> dict[str, str]:
        # The nodes believe X-Forwarded-For from nginx's host only.
        return {**super().env(), "TRUSTED_PROXIES": self.host("nginx").address, **self.node_env}

    def _start(self) -> None:
        if self.replica:
            raise LaunchError("a read replica is not part of the network topology yet")
        if self.session_replica:
            raise LaunchError("a session replica is not part of the network topology yet")
        if self.fresh and self.folder.exists():
            for name in ("mariadb", "redis-session", "redis-cache", "redis-events", "media"):
                shutil.rmtree(self.folder / name, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.network = Network.create(
            self.host_names(), latency_ms=self.latency_ms, log_dir=self.log_dir
        )
        db = self.host("db")
        self.mariadb = MariaDBServer(
            self.folder / "mariadb", port=MARIADB_PORT, host=db.address, prefix=db.prefix
        )
        self.mariadb.start()
        self._ensure_database()
        for role in ("session", "cache", "events"):
            host = self.host(f"redis-{role}")
            server = RedisServer(
                self.folder / f"redis-{role}",
                port=REDIS_PORT,
                persistent=True,
                host=host.address,
                prefix=host.prefix,
            ).start()
            setattr(self, f"{role}_redis", server)
        upgrade(self.database_url)
        for index in range(self.nodes):
            app = self.host(f"app{index + 1}")
            node = Node(
                name=f"node{index + 1}",
                env=self.env(),
                log_dir=self.log_dir,
                port=NODE_PORT,
                host=app.address,
                prefix=app.prefix,
            )
            self.node_list.append(node.start())
        front = self.host("nginx")
        self.nginx = Nginx(
            folder=self.folder / "nginx",
            upstreams=[f"{node.host}:{node.port}" for node in self.node_list],
            port=self.port or HTTP_PORT,
            log_dir=self.log_dir,
            host=front.address,
            prefix=front.prefix,
        ).start()
        self.write_state()

    def _ensure_database(self) -> None:
        """The database, and root from the subnet's addresses (a fresh server knows only
        localhost); through the server's Unix socket, which no namespace hides."""
        import pymysql

        assert self.mariadb is not None
        conn = pymysql.connect(
            unix_socket=str(self.mariadb.folder / "mysqld.sock"), user="root", password=""
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
                cursor.execute(f"CREATE USER IF NOT EXISTS 'root'@'{SUBNET}.%'")
                cursor.execute(f"GRANT ALL ON *.* TO 'root'@'{SUBNET}.%' WITH GRANT OPTION")
            conn.commit()
        finally:
            conn.close()

    def state(self) -> dict[str, object]:
        """`Cluster.state()`, with each service's host (namespace, address, cable)."""
        state = super().state()
        if self.network is None:
            return state
        state["network"] = self.network.describe()
        hosts = {"nginx": "nginx", "mariadb": "db"} | {
            f"{role}_redis": f"redis-{role}" for role in ("session", "cache", "events")
        }
        for key, name in hosts.items():
            entry = state.get(key)
            if isinstance(entry, dict):
                entry.update(self._where(name))
        nodes = state["nodes"]
        assert isinstance(nodes, list)
        for index, entry in enumerate(nodes):
            entry.update(self._where(f"app{index + 1}"))
        return state

    def _where(self, name: str) -> dict[str, str]:
        host = self.host(name)
        return {"host": host.address, "netns": host.netns, "cable": host.cable}

    def stop(self) -> None:
        """Stop every service, then remove the network (whatever happened before)."""
        try:
            super().stop()
        finally:
            if self.network is not None:
                self.network.destroy()

    def partition(self, name: str, seconds: float) -> None:
        """Cut host `name` off the network for `seconds`, then plug it back in."""
        assert self.network is not None
        self.network.partition(name)
        try:
            time.sleep(seconds)
        finally:
            self.network.heal(name)


def run_netns(*, nodes: int, port: int, fresh: bool, latency_ms: float) -> int:
    """`delivery netns up`: the topology in namespaces until Ctrl-C or SIGTERM, then removed."""
    if not 1 <= nodes <= MAX_NODES:
        print(f"delivery: --nodes must be between 1 and {MAX_NODES}", file=sys.stderr)
        return 2
    if not 0 <= latency_ms <= MAX_LATENCY_MS:
        print(f"delivery: --latency-ms must be between 0 and {MAX_LATENCY_MS:g}", file=sys.stderr)
        return 2
    cluster = NetnsCluster(
        folder=Path("var/netns").resolve(),
        nodes=nodes,
        port=port,
        fresh=fresh,
        latency_ms=latency_ms,
    )
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _on_signal)
    try:
        print(
            f"starting a network of {nodes + 5} hosts: nginx, MariaDB, three Redis and "
            f"{nodes} node(s) …",
            flush=True,
        )
        cluster.start()
        assert cluster.network is not None
        network = cluster.network
        print(
            f"delivery netns is up on {network.bridge} ({network.cidr}, this machine is "
            f"{network.gateway}; {latency_ms:g} ms per cable by {network.latency}); "
            f"data and logs in {cluster.folder}:",
            flush=True,
        )
        print(f"  nginx   {cluster.url}", flush=True)
        for label, server in (
            ("mariadb", cluster.mariadb),
            ("session", cluster.session_redis),
            ("cache", cluster.cache_redis),
            ("events", cluster.events_redis),
        ):
            if server is not None:
                print(f"  {label:<7} {server.host}:{server.port}", flush=True)
        for node in cluster.node_list:
            print(f"  {node.name:<7} {node.url}", flush=True)
        print(
            "A node that exits is started again. Ctrl-C stops everything and removes the network.",
            flush=True,
        )

        def report(event: Event) -> None:
            if event.kind == "restarted":
                cluster.write_state()
            print(event, flush=True)

        cluster.supervisor(report=report).run(stopping)
        return 0
    except KeyboardInterrupt:
        return 0
    except LaunchError as error:
        print(f"delivery: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("stopping …", flush=True)
        cluster.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("stopped; the network is removed.", flush=True)


def run_netns_down(*, everything: bool) -> int:
    """`delivery netns down`: remove the namespaces and bridges that no live process owns."""
    try:
        check_privileges()
    except NetworkUnavailable as error:
        print(f"delivery: {error}", file=sys.stderr)
        return 1
    removed = sweep(everything=everything)
    running = [run_id for run_id, pid in leftovers().items() if _alive(pid)]
    print(f"removed {len(removed)} topolog{'y' if len(removed) == 1 else 'ies'}", flush=True)
    if running:
        print(
            f"still running (stop their `delivery netns up`, or add --all): {', '.join(running)}",
            flush=True,
        )
    return 0
