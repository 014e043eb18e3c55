"""First-come coupons on a Redis Cluster: the claim script's keys share a slot, and never over-issue."""

from __future__ import annotations

import asyncio
from collections import Counter

import redis

from app.launcher.servers import RedisCluster
from app.rewards.counter import keys
from tests.conftest import AppPool
from tests.harness import Infra
from tests.rewards.helpers import campaign_body, http_client, make_customers, sign_in_admin


def _counter(redis_cluster: RedisCluster, campaign_id: int) -> tuple[int, set[int]]:
    ready, stock, claimed = keys(campaign_id)
    server = redis_cluster.master_of(ready)
    client = redis.Redis(port=server.port)
    try:
        return int(client.get(stock) or -1), {int(m) for m in client.smembers(claimed)}
    finally:
        client.close()


async def test_counter_keys_of_a_campaign_share_one_slot(redis_cluster: RedisCluster) -> None:
    for campaign_id in (1, 7, 2**62):
        slots = {
            redis_cluster.servers[0].command("CLUSTER", "KEYSLOT", k) for k in keys(campaign_id)
        }
        assert len(slots) == 1


async def test_1000_claims_on_two_instances_on_a_redis_cluster_issue_exactly_50(
    apps: AppPool, infra: Infra, redis_cluster: RedisCluster
) -> None:
    app_a, app_b = await apps.start(), await apps.start()
    customers = await make_customers(infra, apps.settings.session_redis_url or "", 500)
    admin = await sign_in_admin(apps, app_a)
    created = await admin.post("/api/coupon-campaigns", json=campaign_body(quantity=50))
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    async with http_client(app_a) as on_a, http_client(app_b) as on_b:

        async def claim(client: object, customer: object) -> tuple[int, str]:
            response = await client.post(  # type: ignore[attr-defined]
                f"/api/coupon-campaigns/{campaign_id}/claim",
                headers=customer.headers,  # type: ignore[attr-defined]
            )
            body = response.json()
            code = "created" if response.status_code == 201 else body["code"]
            return customer.id, code  # type: ignore[attr-defined]

        results = await asyncio.gather(
            *(claim(client, customer) for customer in customers for client in (on_a, on_b))
        )
    outcomes = Counter(code for _, code in results)
    assert outcomes["created"] == 50, outcomes
    assert set(outcomes) <= {"created", "coupon-sold-out", "coupon-already-claimed"}, outcomes
    winners = sorted(customer for customer, code in results if code == "created")
    rows = infra.query("SELECT customer_id FROM coupons WHERE campaign_id = %s", campaign_id)
    assert sorted(int(r[0]) for r in rows) == winners and len(set(winners)) == 50
    stock, claimed = _counter(redis_cluster, campaign_id)
    assert stock == 0 and claimed == set(winners)
