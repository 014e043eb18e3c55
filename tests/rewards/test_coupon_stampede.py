"""A first-come campaign under a stampede on two instances, also with the counter Redis wiped."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import redis

from app import DeliveryApp
from app.launcher.servers import RedisServer
from app.rewards.counter import keys
from tests.conftest import AppPool
from tests.harness import Infra
from tests.rewards.helpers import (
    Customer,
    campaign_body,
    http_client,
    make_customers,
    sign_in_admin,
)
from tests.waiting import wait_until


async def _campaign(apps: AppPool, app: DeliveryApp, quantity: int = 100) -> int:
    admin = await sign_in_admin(apps, app)
    created = await admin.post("/api/coupon-campaigns", json=campaign_body(quantity=quantity))
    assert created.status_code == 201, created.text
    campaign_id: int = created.json()["id"]
    return campaign_id


async def _claim(
    client: httpx.AsyncClient, campaign_id: int, customer: Customer
) -> tuple[int, str]:
    response = await client.post(
        f"/api/coupon-campaigns/{campaign_id}/claim", headers=customer.headers
    )
    body = response.json()
    code = "created" if response.status_code == 201 else body["code"]
    if code not in {"created", "coupon-sold-out", "coupon-already-claimed"}:
        print("claim answered", response.status_code, body)
    return customer.id, code


def _issued(infra: Infra, campaign_id: int) -> list[int]:
    rows = infra.query("SELECT customer_id FROM coupons WHERE campaign_id = %s", campaign_id)
    return [int(r[0]) for r in rows]


def _counter(port: int, campaign_id: int) -> tuple[int, set[int]]:
    client = redis.Redis(port=port)
    try:
        _, stock, claimed = keys(campaign_id)
        return int(client.get(stock) or -1), {int(m) for m in client.smembers(claimed)}
    finally:
        client.close()


async def test_2000_claims_from_1000_customers_on_two_instances_issue_exactly_100(
    apps: AppPool, infra: Infra
) -> None:
    app_a, app_b = await apps.start(), await apps.start()
    customers = await make_customers(infra, apps.settings.session_redis_url or "", 1000)
    campaign_id = await _campaign(apps, app_a)
    async with http_client(app_a) as on_a, http_client(app_b) as on_b:
        results = await asyncio.gather(
            *(
                _claim(client, campaign_id, customer)
                for customer in customers
                for client in (on_a, on_b)
            )
        )
    outcomes = Counter(code for _, code in results)
    assert outcomes["created"] == 100, outcomes
    assert set(outcomes) <= {"created", "coupon-sold-out", "coupon-already-claimed"}, outcomes
    winners = [customer for customer, code in results if code == "created"]
    issued = _issued(infra, campaign_id)
    assert sorted(issued) == sorted(winners) and len(set(issued)) == 100
    assert infra.query("SELECT issued FROM coupon_campaigns WHERE id = %s", campaign_id) == [(100,)]
    stock, claimed = _counter(infra.cache_redis.port, campaign_id)
    assert stock == 0 and claimed == set(issued)


async def test_claims_stay_exact_when_the_counting_redis_loses_its_data_half_way(
    apps: AppPool, infra: Infra, tmp_path: object
) -> None:
    own = RedisServer(infra.folder / f"redis-coupons-{time.monotonic_ns()}").start()
    try:
        settings = infra.settings(cache_redis_url=own.url)
        app_a, app_b = await apps.start(settings), await apps.start(settings)
        customers = await make_customers(infra, settings.session_redis_url or "", 1000)
        campaign_id = await _campaign(apps, app_a)

        async def wipe_half_way() -> None:
            await wait_until(
                lambda: len(_issued(infra, campaign_id)) >= 40,
                timeout=60,
                interval=0.01,
                what="40 coupons issued before the wipe",
            )
            await asyncio.to_thread(own.restart, wipe=True)

        async with http_client(app_a) as on_a, http_client(app_b) as on_b:
            wiper = asyncio.create_task(wipe_half_way())
            results = await asyncio.gather(
                *(
                    _claim(client, campaign_id, customer)
                    for customer in customers
                    for client in (on_a, on_b)
                )
            )
            await wiper
            outcomes = Counter(code for _, code in results)
            assert set(outcomes) <= {
                "created",
                "coupon-sold-out",
                "coupon-already-claimed",
                "unavailable",
            }, outcomes
            first = _issued(infra, campaign_id)
            assert len(first) <= 100 and len(set(first)) == len(first)
            # Claims resume once the counters are rebuilt: customers without a coupon retry.
            holders = set(first)
            retry = [c for c in customers if c.id not in holders][:300]

            async def sold_out_after_a_retry() -> bool:
                if len(_issued(infra, campaign_id)) >= 100:
                    return True
                again = await asyncio.gather(
                    *(_claim((on_a, on_b)[i % 2], campaign_id, c) for i, c in enumerate(retry))
                )
                assert all(code != "created" or cid not in holders for cid, code in again)
                holders.update(cid for cid, code in again if code == "created")
                return False

            # Each poll is a round of retries, so no pause between them.
            await wait_until(
                sold_out_after_a_retry,
                timeout=60,
                interval=0,
                what="claims to resume after the rebuild and sell out",
            )

        # Winners whose insert committed after the rebuild read the database are added to the
        # rebuilt counter by the background reconciler.
        def reconciled() -> bool:
            stock, claimed = _counter(own.port, campaign_id)
            return stock == 0 and claimed >= set(_issued(infra, campaign_id))

        await wait_until(
            reconciled,
            timeout=30,
            interval=0.1,
            what="the rebuilt counter to be sold out and hold every winner",
        )
    finally:
        own.stop()
    issued = _issued(infra, campaign_id)
    assert len(issued) == 100 and len(set(issued)) == 100
    assert outcomes["unavailable"] > 0, "the wipe should have been noticed by some claims"
    assert infra.query("SELECT issued FROM coupon_campaigns WHERE id = %s", campaign_id) == [(100,)]
