"""`ReplicatedRedis` on its own: a restart after a failover keeps the promoted replica master."""

from __future__ import annotations

from pathlib import Path

from app.launcher.servers import ReplicatedRedis
from tests.harness import require_binary


def test_a_restart_after_a_failover_starts_the_promoted_replica_as_the_master(
    tmp_path: Path,
) -> None:
    require_binary("redis-server")
    group = ReplicatedRedis(tmp_path / "sessions").start()
    try:
        first = group.master
        assert group.master_now() is first
        first.command("SET", "before", "1")
        first.kill()
        promoted = group.wait_ready(replicas=0)
        assert promoted is group.replica and promoted.folder.name == "server2"
        promoted.command("SET", "after", "1")
        group.stop()

        # Started again: the server that took over is the master, the other copies it.
        group.start()
        assert group.master.folder.name == "server2" and group.master_now() is group.master
        assert group.replica.folder.name == "server1"
        assert group.master.command("EXISTS", "before", "after") == 2
        assert group.replica.command("EXISTS", "before", "after") == 2
        assert group.replica.command("ROLE")[0] == b"slave"
    finally:
        group.stop()
