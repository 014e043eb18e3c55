"""The session master killed with SIGKILL: Sentinel promotes the replica, nobody is signed out.

Two real nodes behind nginx find the session Redis's master through three Sentinels. A sign-in
is answered only once the replica holds the session (WAIT), so after the master is killed and
the replica promoted the same cookie is still signed in on nginx and on both nodes; meanwhile
every answer is 200 or 503 with Retry-After, never a 500 or a 401. A sign-out after the
failover ends the session everywhere.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from app.launcher.cluster import Cluster
from app.launcher.servers import RedisServer, ReplicatedRedis
from tests.client import Api, assert_problem
from tests.system import People, http_client, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system

# From the kill to every agent signed in again: the Sentinels see the master down after 1 s,
# elect one of them and promote the replica (2 to 4 s here), and nginx may skip a node that
# answered 503 for up to 5 s more (fail_timeout).
FAILOVER_SECONDS = 20


def _calls(server: RedisServer, command: str) -> int:
    """How many times `server` ran `command` since its statistics were reset."""
    stats = server.command("INFO", "commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def _agents(cluster: Cluster, customer: Api) -> list[Api]:
    """The customer through nginx, and the same cookie sent to each node directly."""
    agents = [customer]
    for node in cluster.node_list:
        agent = Api(http_client(node.url))
        customer.share_session_with(agent)
        agents.append(agent)
    return agents


def _answer(response: httpx.Response) -> int:
    """The status, having checked that a refusal is the product's 503 with Retry-After."""
    if response.status_code != 200:
        body = assert_problem(response, 503, "unavailable")
        assert response.headers.get("Retry-After"), (response.headers, body)
    return response.status_code


# Each answer: which agent (0 is nginx, then each node), its status, and when.
Seen = list[tuple[int, int, float]]


async def _signed_in_everywhere(agents: list[Api], user_id: int, seen: Seen) -> bool:
    """One GET /api/me from every agent (all answers kept in `seen`); True when all are 200."""
    answers = await asyncio.gather(*(agent.get("/api/me") for agent in agents))
    at = time.monotonic()
    for index, response in enumerate(answers):
        seen.append((index, _answer(response), at))
        if response.status_code == 200:
            assert response.json()["user"]["id"] == user_id, response.text
    return all(response.status_code == 200 for response in answers)


async def _kill_master(sentinels: ReplicatedRedis) -> tuple[RedisServer, float]:
    lost = sentinels.master_now()
    await asyncio.to_thread(lost.kill)
    return lost, time.monotonic()


async def test_a_sign_in_waits_for_the_replica_and_a_request_does_not(
    replicated_cluster: Cluster, sentinels: ReplicatedRedis, people: People
) -> None:
    master = sentinels.master_now()
    replica = next(server for server in sentinels.servers if server is not master)
    master.command("CONFIG", "RESETSTAT")
    customer = await people(replicated_cluster.url, "customer")
    # Answered 200 only once the replica had it: it is there already, with no waiting here.
    assert replica.command("EXISTS", f"session:{session_cookie(customer)}") == 1
    assert _calls(master, "wait") == 1
    agents = await _agents(replicated_cluster, customer)
    try:
        for agent in agents:
            assert (await agent.get("/api/me")).status_code == 200
    finally:
        for agent in agents[1:]:
            await agent.http.aclose()
    assert _calls(master, "wait") == 1

    state = json.loads(replicated_cluster.state_path.read_text())
    recorded = state["session_sentinels"]
    assert recorded["url"] == sentinels.url == replicated_cluster.env()["SESSION_REDIS_URL"]
    assert recorded["url"].startswith("redis+sentinel://")
    assert recorded["url"].endswith(f"/{sentinels.service}")
    assert len(recorded["sentinels"]) == 3 and all(s["pid"] for s in recorded["sentinels"])
    assert recorded["replica"]["pid"] and state["session_redis"]["pid"]


async def test_a_signed_in_customer_stays_signed_in_on_every_node_when_the_master_is_killed(
    replicated_cluster: Cluster, sentinels: ReplicatedRedis, people: People
) -> None:
    customer = await people(replicated_cluster.url, "customer")
    user_id = customer.user["id"]  # type: ignore[index]
    agents = await _agents(replicated_cluster, customer)
    try:
        seen: Seen = []
        assert await _signed_in_everywhere(agents, user_id, seen), seen

        lost, killed_at = await _kill_master(sentinels)
        seen.clear()
        await wait_until(
            lambda: _signed_in_everywhere(agents, user_id, seen),
            timeout=FAILOVER_SECONDS,
            interval=0.1,
            what="the same cookie signed in on nginx and on both nodes",
        )
        promoted = await asyncio.to_thread(sentinels.wait_ready, 10, replicas=0)
        assert promoted is not lost and promoted.alive
        statuses = [status for _, status, _ in seen]
        assert set(statuses) <= {200, 503}, seen
        last_503 = {
            name: max((at - killed_at for i, s, at in seen if i == index and s == 503), default=0)
            for index, name in enumerate(["nginx", *(n.name for n in replicated_cluster.node_list)])
        }
        print(
            f"{statuses.count(503)} of {len(statuses)} answers after the kill were 503; "
            "the last one, s after the kill: "
            + ", ".join(f"{name} {seconds:.2f}" for name, seconds in last_503.items())
        )
    finally:
        for agent in agents[1:]:
            await agent.http.aclose()


async def test_signing_out_after_a_failover_ends_the_session_on_every_node(
    replicated_cluster: Cluster, sentinels: ReplicatedRedis, people: People
) -> None:
    customer = await people(replicated_cluster.url, "customer")
    user_id = customer.user["id"]  # type: ignore[index]
    agents = await _agents(replicated_cluster, customer)
    try:
        await _kill_master(sentinels)
        seen: Seen = []
        await wait_until(
            lambda: _signed_in_everywhere(agents, user_id, seen),
            timeout=FAILOVER_SECONDS,
            interval=0.1,
            what="signed in on every node after the failover",
        )

        assert (await customer.post("/api/auth/logout")).status_code == 204
        for agent in agents:
            assert_problem(await agent.get("/api/me"), 401, "unauthenticated")
        # The promoted master has no replica yet: a sign-in waits its 100 ms and goes ahead.
        again = await people(replicated_cluster.url, "customer")
        assert (await again.get("/api/me")).status_code == 200
    finally:
        for agent in agents[1:]:
            await agent.http.aclose()
