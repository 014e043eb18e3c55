"""A Redis Cluster of one or two masters (slots assigned by hand: `redis-cli --cluster create`
refuses fewer than three), with and without replicas."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.exceptions import MovedError

from app.launcher.servers import RedisCluster
from app.redis_clients import connect
from tests.harness import require_binary


@pytest.mark.parametrize(("masters", "replicas"), [(1, 0), (2, 0), (2, 1)])
async def test_a_cluster_of_one_or_two_masters_splits_the_slots_and_routes_keys_to_their_master(
    tmp_path: Path, masters: int, replicas: int
) -> None:
    require_binary("redis-server")
    cluster = RedisCluster(tmp_path / "cluster", masters=masters, replicas=replicas).start()
    client = connect(cluster.url)
    try:
        assert len(cluster.servers) == masters * (1 + replicas)
        chosen = cluster.servers[:masters]
        assert {s.port for s in cluster.masters_now()} == {s.port for s in chosen}
        # An even share of the 16,384 slots each, every node agreeing.
        for server in cluster.servers:
            ranges = sorted(
                (int(e[0]), int(e[1]), int(e[2][1])) for e in server.command("CLUSTER", "SLOTS")
            )
            assert ranges == [
                (16384 * n // masters, 16384 * (n + 1) // masters - 1, chosen[n].port)
                for n in range(masters)
            ]
        for index, follower in enumerate(cluster.servers[masters:]):
            role = follower.command("ROLE")
            assert role[0] == b"slave" and int(role[2]) == chosen[index % masters].port

        owners = set()
        for n in range(64):
            key = f"rt:head:{{order:{n}}}"
            master = cluster.master_of(key)
            owners.add(master.port)
            # The application's cluster client writes it where master_of says it lives …
            await client.set(key, n)
            assert master.command("GET", key) == str(n).encode()
            # … and any other master sends the client there.
            for other in chosen:
                if other.port != master.port:
                    with pytest.raises(MovedError, match=f" 127.0.0.1:{master.port}$"):
                        other.command("GET", key)
        assert owners == {s.port for s in chosen}
    finally:
        await client.aclose()
        cluster.stop()
