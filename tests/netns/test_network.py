"""Each service is a host of its own: it listens on its address on the bridge and nowhere else,
the others reach it only there, and every cable has its latency."""

from __future__ import annotations

import subprocess

import httpx
import pytest
import redis

from app.launcher.netns import INTERFACE, NetnsCluster
from tests.netns.conftest import connect_times, on_host, query

pytestmark = pytest.mark.system


def listening(cluster: NetnsCluster, name: str) -> set[str]:
    """The TCP addresses (address:port) that something listens on in host `name`."""
    lines = cluster.host(name).run("ss", "-Hltn").stdout.splitlines()
    return {line.split()[3] for line in lines if line.strip()}


def test_every_service_listens_on_its_own_hosts_address_only(
    network_cluster: NetnsCluster,
) -> None:
    cluster = network_cluster
    expected = {
        "nginx": 80,
        "db": 3306,
        "redis-session": 6379,
        "redis-cache": 6379,
        "redis-events": 6379,
        "app1": 8000,
        "app2": 8000,
    }
    for name, port in expected.items():
        assert listening(cluster, name) == {f"{cluster.host(name).address}:{port}"}, name
    # Distinct hosts, one subnet, and the bridge as this machine's way there.
    addresses = {cluster.host(name).address for name in expected}
    assert len(addresses) == len(expected)
    assert cluster.network is not None
    route = subprocess.run(
        ["ip", "-4", "route", "get", cluster.host("nginx").address],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"dev {cluster.network.bridge}" in route.stdout, route.stdout


def test_an_app_host_reaches_the_database_and_redis_on_their_hosts_not_on_its_loopback(
    network_cluster: NetnsCluster,
) -> None:
    cluster = network_cluster
    app1 = cluster.host("app1")
    for port in (3306, 6379, 80):
        assert on_host(app1, "127.0.0.1", port) == {"error": "ConnectionRefusedError"}, port
    for name, port in (("redis-cache", 6379), ("redis-events", 6379), ("nginx", 80)):
        assert "ms" in on_host(app1, cluster.host(name).address, port), name
    # The database host itself has no node and no Redis.
    db = cluster.host("db")
    assert on_host(db, "127.0.0.1", 8000) == {"error": "ConnectionRefusedError"}
    assert on_host(db, "127.0.0.1", 6379) == {"error": "ConnectionRefusedError"}


async def test_the_nodes_talk_to_mariadb_and_redis_from_their_own_hosts(
    network_cluster: NetnsCluster,
) -> None:
    cluster = network_cluster
    apps = {cluster.host("app1").address, cluster.host("app2").address}
    assert cluster.network is not None
    here = cluster.network.gateway
    async with httpx.AsyncClient(base_url=cluster.url, timeout=30) as http:
        for _ in range(6):  # through nginx to both nodes
            assert (await http.get("/api/stores")).status_code == 200
    # MariaDB sees each node's connections coming from that node's host.
    rows = query(
        cluster,
        "SELECT DISTINCT SUBSTRING_INDEX(host, ':', 1) FROM information_schema.processlist "
        "WHERE db = %s",
        "delivery",
    )
    seen = {str(address) for (address,) in rows}
    assert apps <= seen <= apps | {here}, seen
    for server in (cluster.session_redis, cluster.cache_redis, cluster.events_redis):
        assert server is not None
        client = redis.Redis(host=server.host, port=server.port)
        try:
            peers = {str(c["addr"]).rsplit(":", 1)[0] for c in client.client_list()}
        finally:
            client.close()
        assert apps <= peers <= apps | {here}, (server.url, peers)
    # Each node is reached by nginx from nginx's host (and by nothing else but this machine).
    nginx = cluster.host("nginx").address
    for name in ("app1", "app2"):
        established = cluster.host(name).run("ss", "-Htn", "state", "established").stdout
        peers = {
            line.split()[3].rsplit(":", 1)[0]
            for line in established.splitlines()
            if line.split()[2].endswith(":8000")
        }
        assert nginx in peers and peers <= {nginx, here}, (name, peers)


def test_every_cable_adds_its_millisecond(network_cluster: NetnsCluster) -> None:
    cluster = network_cluster
    assert cluster.network is not None and cluster.network.latency in {"netem", "nfqueue"}
    app1, cache = cluster.host("app1"), cluster.host("redis-cache")
    # Host to host: each way crosses one delayed cable, so a round trip takes ≥ 2 ms.
    between = connect_times(app1, cache.address, 6379)
    assert min(between) >= 2.0, between
    # This machine to nginx: only nginx's answer crosses a delayed cable.
    to_nginx = connect_times(None, cluster.host("nginx").address, 80)
    assert min(to_nginx) >= 1.0, to_nginx
    # Within one host (its own address goes over its loopback) there is no cable and no delay.
    within = connect_times(app1, app1.address, 8000)
    assert min(within) < 1.0, within
    if cluster.network.latency == "netem":
        shown = app1.run("tc", "qdisc", "show", "dev", INTERFACE).stdout
        assert "netem" in shown and "delay 1ms" in shown, shown
