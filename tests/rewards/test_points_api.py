"""Points over HTTP: balances, conversion rules, and conversions racing on two instances."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from app import DeliveryApp
from app.errors import Conflict
from app.rewards import ledger
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.rewards.helpers import http_client, make_customers, uow_of


async def _give_accrued(app: DeliveryApp, customer_id: int, amount: int, order_id: int = 1) -> None:
    async with uow_of(app) as uow:
        await ledger.accrue_for_delivery(
            uow, customer_id=customer_id, order_id=order_id, paid_amount=amount * 100
        )
        await uow.commit()


async def test_new_customer_has_no_points(api: Api) -> None:
    await api.sign_in_as("customer")
    response = await api.get("/api/me/points")
    assert response.status_code == 200
    assert response.json() == {"accrued": 0, "usable": 0}


async def test_points_are_for_customers_only(api: Api) -> None:
    await api.sign_in_as("rider")
    assert_problem(await api.get("/api/me/points"), 403, "forbidden")
    assert_problem(
        await api.post("/api/me/points/convert", json={"amount": 5_000}), 403, "forbidden"
    )


async def test_conversion_amount_must_be_a_positive_multiple_of_5000(api: Api) -> None:
    await api.sign_in_as("customer")
    for amount in (0, -5_000, 4_999, 7_500, 5_000.0, "5000", True, None):
        body = assert_problem(
            await api.post("/api/me/points/convert", json={"amount": amount}), 400, "validation"
        )
        assert body["errors"][0]["field"] == "amount", body
    body = assert_problem(await api.post("/api/me/points/convert", json={}), 400, "validation")
    assert body["errors"] == [
        {"field": "amount", "message": "Amount is required.", "type": "missing"}
    ]
    assert body["detail"] == "Amount is required."


async def test_converting_more_than_accrued_is_insufficient_points(
    app: DeliveryApp, api: Api, infra: Infra
) -> None:
    user = await api.sign_in_as("customer")
    await _give_accrued(app, user["id"], 9_999)
    assert_problem(
        await api.post("/api/me/points/convert", json={"amount": 10_000}),
        409,
        "insufficient-points",
    )
    converted = await api.post("/api/me/points/convert", json={"amount": 5_000})
    assert converted.status_code == 200, converted.text
    assert converted.json() == {"accrued": 4_999, "usable": 5_000}
    assert (await api.get("/api/me/points")).json() == {"accrued": 4_999, "usable": 5_000}


async def test_200_concurrent_conversions_on_two_instances_exactly_10_succeed(
    apps: AppPool, infra: Infra
) -> None:
    app_a, app_b = await apps.start(), await apps.start()
    (customer,) = await make_customers(infra, apps.settings.session_redis_url or "", 1)
    await _give_accrued(app_a, customer.id, 50_000)

    async def convert(client: httpx.AsyncClient) -> httpx.Response:
        # Two hundred at once queue on the customer's lock; on a loaded machine the last ones
        # may be told 503 (nothing changed) with Retry-After, and send again as a client would.
        while True:
            response = await client.post(
                "/api/me/points/convert", json={"amount": 5_000}, headers=customer.headers
            )
            if response.status_code != 503:
                return response
            await asyncio.sleep(float(response.headers["Retry-After"]))

    async with http_client(app_a) as on_a, http_client(app_b) as on_b:
        responses = await asyncio.gather(*(convert(on_a if i % 2 else on_b) for i in range(200)))
    outcomes = Counter(
        r.status_code if r.status_code == 200 else r.json()["code"] for r in responses
    )
    assert outcomes == {200: 10, "insufficient-points": 190}, outcomes
    async with uow_of(app_b) as uow:
        balances = await ledger.balances(uow, customer_id=customer.id)
        sums = await ledger.ledger_sums(uow, customer_id=customer.id)
    assert balances == sums == {"accrued": 0, "usable": 50_000}
    assert infra.query(
        "SELECT COUNT(*) FROM point_ledger WHERE reason = 'conversion' AND customer_id = %s",
        customer.id,
    ) == [(10,)]


async def test_the_database_guard_alone_stops_over_conversion_without_the_lock(
    apps: AppPool, infra: Infra
) -> None:
    app_a, app_b = await apps.start(), await apps.start()
    (customer,) = await make_customers(infra, apps.settings.session_redis_url or "", 1)
    await _give_accrued(app_a, customer.id, 50_000)

    async def convert_unlocked(app: DeliveryApp) -> str:
        try:
            async with uow_of(app) as uow:
                await ledger.convert_points(uow, customer_id=customer.id, amount=5_000)
                await uow.commit()
        except Conflict as error:
            return error.code
        return "ok"

    results = await asyncio.gather(*(convert_unlocked((app_a, app_b)[i % 2]) for i in range(200)))
    assert Counter(results) == {"ok": 10, "insufficient-points": 190}
    async with uow_of(app_a) as uow:
        balances = await ledger.balances(uow, customer_id=customer.id)
        sums = await ledger.ledger_sums(uow, customer_id=customer.id)
    assert balances == sums == {"accrued": 0, "usable": 50_000}


async def test_conversion_answers_unavailable_while_the_lock_redis_is_down(
    apps: AppPool, infra: Infra
) -> None:
    from app.launcher.servers import RedisServer

    own = RedisServer(infra.folder / f"redis-lock-{time.monotonic_ns()}").start()
    try:
        app = await apps.start(infra.settings(cache_redis_url=own.url))
        (customer,) = await make_customers(infra, apps.settings.session_redis_url or "", 1)
        await _give_accrued(app, customer.id, 5_000)
        async with http_client(app) as client:
            own.stop()
            down = await client.post(
                "/api/me/points/convert", json={"amount": 5_000}, headers=customer.headers
            )
            assert_problem(down, 503, "unavailable")
            assert down.headers["Retry-After"] == "1"
            own.start()
            up = await client.post(
                "/api/me/points/convert", json={"amount": 5_000}, headers=customer.headers
            )
            assert up.status_code == 200, up.text
    finally:
        own.stop()
    assert infra.query(
        "SELECT accrued, usable FROM point_balances WHERE customer_id = %s", customer.id
    ) == [(0, 5_000)]
