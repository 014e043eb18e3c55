"""A master of the Redis Cluster killed mid-run: its replica takes over, nothing is lost.

The cache and events Redis of two real nodes is a Redis Cluster; the master that holds a coupon
campaign's counters and several followed streams' logs is killed with SIGKILL while events are
committed and coupons claimed. Every follower on both nodes still ends with every event once,
in order; every claim answers a coupon, a refusal, or 503 with Retry-After while the slots
move, and the campaign issues exactly its quantity.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from app.db import Database
from app.launcher.cluster import Cluster
from app.launcher.servers import RedisServer
from app.rewards.counter import keys
from realtime.eventlog import stream_channel
from tests.client import Api
from tests.realtime.streams import StreamClient
from tests.realtime.test_failures import Writer
from tests.rediscluster.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.rewards.helpers import campaign_body
from tests.system import People, http_client, session_cookie
from tests.waiting import wait_until

pytestmark = pytest.mark.system

QUANTITY = 10


async def _claim(customer: Api, campaign_id: int) -> httpx.Response:
    return await customer.post(f"/api/coupon-campaigns/{campaign_id}/claim")


def _outcome(response: httpx.Response) -> str:
    if response.status_code == 201:
        return "created"
    body = response.json()
    if response.status_code == 503:
        assert body["code"] == "unavailable", body
        assert response.headers.get("Retry-After"), response.headers
    return str(body["code"])


async def test_a_killed_master_loses_no_event_and_claims_see_503_at_most_while_slots_move(
    cluster_on_redis_cluster: Cluster, people: People, cluster_db: Database
) -> None:
    cluster = cluster_on_redis_cluster
    redis_cluster = cluster.cluster_redis
    assert redis_cluster is not None
    admin = Api(http_client(cluster.url))
    victim: RedisServer | None = None
    clients: list[tuple[str, StreamClient]] = []
    writers: list[Writer] = []
    try:
        await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        created = await admin.post("/api/coupon-campaigns", json=campaign_body(quantity=QUANTITY))
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        victim = redis_cluster.master_of(keys(campaign_id)[0])

        # Two riders whose streams live on the victim, and one elsewhere.
        on_victim: list[Api] = []
        elsewhere: list[Api] = []
        while len(on_victim) < 2 or not elsewhere:
            rider = await people(cluster.url, "rider")
            stream = f"rider:{rider.user['id']}"  # type: ignore[index]
            master = redis_cluster.master_of(stream_channel(stream))
            (on_victim if master.port == victim.port else elsewhere).append(rider)
        riders = [*on_victim[:2], elsewhere[0]]
        for rider in riders:
            stream = f"rider:{rider.user['id']}"  # type: ignore[index]
            for node in cluster.node_list:
                client = await StreamClient(node.url, session_cookie(rider)).connect()
                assert (await client.subscribe(stream, after_seq=0))["ok"]
                clients.append((stream, client))
        customers = [await people(cluster.url, "customer") for _ in range(QUANTITY + 5)]

        writers = [Writer(cluster_db, stream).start() for stream in {s for s, _ in clients}]
        for writer in writers:
            await writer.wait_for(10)
        await wait_until(
            lambda: all(c.last.get(s, 0) >= 5 for s, c in clients), what="events before the kill"
        )

        await asyncio.to_thread(victim.kill)
        # Claims while the victim's slots have no master yet.
        during = await asyncio.gather(*(_claim(c, campaign_id) for c in customers))
        outcomes = Counter(_outcome(r) for r in during)
        assert set(outcomes) <= {"created", "coupon-sold-out", "unavailable"}, outcomes
        for writer in writers:
            await writer.wait_for(writer.committed + 10)
        # The replica takes the slots over.
        await asyncio.to_thread(redis_cluster.wait_ready, 60)
        for writer in writers:
            await writer.wait_for(writer.committed + 20)
        totals = {writer.stream: await writer.stop() for writer in writers}

        for stream, client in clients:
            await wait_until(
                lambda c=client, s=stream: c.last.get(s) == totals[s],
                timeout=60,
                what=f"every event of {stream}",
            )
            assert client.seqs(stream) == list(range(1, totals[stream] + 1))

        # Once the slots have moved, every customer gets an answer that is not 503.
        answers: dict[int, str] = {}
        for customer, first in zip(customers, during, strict=True):
            outcome = _outcome(first)
            if outcome == "unavailable":
                again = await _claim(customer, campaign_id)
                outcome = _outcome(again)
            answers[customer.user["id"]] = outcome  # type: ignore[index]
        final = Counter(answers.values())
        assert final["created"] == QUANTITY, final
        assert set(final) <= {"created", "coupon-sold-out"}, final
        issued = await _issued(cluster_db, campaign_id)
        assert sorted(issued) == sorted(c for c, o in answers.items() if o == "created")
    finally:
        for writer in writers:
            if writer._task is not None and not writer._task.done():
                await writer.stop()
        for _, client in clients:
            await client.close()
        await admin.http.aclose()
        if victim is not None and not victim.alive:
            # Back as a replica of the master that took over: the cluster is whole again.
            await asyncio.to_thread(victim.start)
            await asyncio.to_thread(redis_cluster.wait_ready, 60)


async def _issued(db: Database, campaign_id: int) -> list[int]:
    from sqlalchemy import text

    async with db.uow() as uow:
        rows = await uow.session.execute(
            text("SELECT customer_id FROM coupons WHERE campaign_id = :c"), {"c": campaign_id}
        )
        return [int(row[0]) for row in rows]
