"""Coupon campaigns and claims over HTTP: validation, windows, limits and the counter's repair."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from app import DeliveryApp
from app.rewards.counter import keys
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.rewards.helpers import campaign_body, sign_in_admin


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _customer(apps: AppPool, app: DeliveryApp) -> Api:
    client = await apps.client(app)
    await client.sign_in_as("customer")
    return client


async def test_admin_creates_a_campaign_and_anyone_lists_it_with_remaining(
    apps: AppPool, app: DeliveryApp, api: Api
) -> None:
    admin = await sign_in_admin(apps, app)
    body = campaign_body(quantity=3)
    created = await admin.post("/api/coupon-campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["remaining"] == 3 and campaign["quantity"] == 3
    assert campaign["discount"] == 3_000 and campaign["min_order"] == 15_000
    assert campaign["starts_at"].endswith("Z") and campaign["ends_at"].endswith("Z")
    customer = await _customer(apps, app)
    claimed = await customer.post(f"/api/coupon-campaigns/{campaign['id']}/claim")
    assert claimed.status_code == 201, claimed.text
    listed = await api.get("/api/coupon-campaigns")
    assert listed.status_code == 200
    (shown,) = listed.json()["campaigns"]
    assert shown == {**campaign, "remaining": 2}


async def test_only_an_admin_may_create_a_campaign(
    apps: AppPool, app: DeliveryApp, api: Api
) -> None:
    assert_problem(
        await api.post("/api/coupon-campaigns", json=campaign_body()), 401, "unauthenticated"
    )
    customer = await _customer(apps, app)
    assert_problem(
        await customer.post("/api/coupon-campaigns", json=campaign_body()), 403, "forbidden"
    )


async def test_every_campaign_field_is_validated(apps: AppPool, app: DeliveryApp) -> None:
    admin = await sign_in_admin(apps, app)
    now = datetime.now(UTC)
    cases = {
        "name": [""],
        "discount": [0, -1, 1.5, "3000", None],
        "min_order": [-1, 2.5, None],
        "quantity": [0, -3, 1.0, True],
        "starts_at": ["yesterday", "2026-11-24T12:00:00", None],
        "ends_at": [_z(now - timedelta(hours=2)), "2026-13-01T00:00:00Z"],
        "valid_days": [0, 366],
    }
    for field, values in cases.items():
        for value in values:
            response = await admin.post(
                "/api/coupon-campaigns", json=campaign_body(**{field: value})
            )
            body = assert_problem(response, 400, "validation")
            assert [e["field"] for e in body["errors"]] == [field], (field, value, body)
    start = now + timedelta(hours=1)
    same = await admin.post(
        "/api/coupon-campaigns", json=campaign_body(starts_at=_z(start), ends_at=_z(start))
    )
    assert assert_problem(same, 400, "validation")["errors"] == [
        {
            "field": "ends_at",
            "message": "The campaign must end after it starts.",
            "type": "value_error",
        }
    ]
    unknown = await admin.post("/api/coupon-campaigns", json=campaign_body(free_lunch=True))
    assert assert_problem(unknown, 400, "validation")["errors"] == [
        {
            "field": "free_lunch",
            "message": "“free_lunch” is not a field this request takes.",
            "type": "extra_forbidden",
        }
    ]


async def test_claims_outside_the_campaign_window_are_coupon_unusable(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    admin = await sign_in_admin(apps, app)
    now = datetime.now(UTC)
    later = await admin.post(
        "/api/coupon-campaigns",
        json=campaign_body(
            starts_at=_z(now + timedelta(hours=1)), ends_at=_z(now + timedelta(hours=2))
        ),
    )
    customer = await _customer(apps, app)
    body = assert_problem(
        await customer.post(f"/api/coupon-campaigns/{later.json()['id']}/claim"),
        409,
        "coupon-unusable",
    )
    assert body["title"] == "Campaign not started"
    ended = await admin.post("/api/coupon-campaigns", json=campaign_body())
    infra.query(
        "UPDATE coupon_campaigns SET ends_at = %s WHERE id = %s",
        (now - timedelta(seconds=1)).replace(tzinfo=None),
        ended.json()["id"],
    )
    body = assert_problem(
        await customer.post(f"/api/coupon-campaigns/{ended.json()['id']}/claim"),
        409,
        "coupon-unusable",
    )
    assert body["title"] == "Campaign ended"
    assert infra.query("SELECT COUNT(*) FROM coupons") == [(0,)]


async def test_second_claim_is_already_claimed_and_last_coupon_sells_out(
    apps: AppPool, app: DeliveryApp
) -> None:
    admin = await sign_in_admin(apps, app)
    campaign_id = (
        await admin.post("/api/coupon-campaigns", json=campaign_body(quantity=1))
    ).json()["id"]
    first, second = await _customer(apps, app), await _customer(apps, app)
    won = await first.post(f"/api/coupon-campaigns/{campaign_id}/claim")
    assert won.status_code == 201, won.text
    coupon = won.json()
    assert coupon["campaign_id"] == campaign_id and coupon["status"] == "issued"
    assert set(coupon) == {
        "id",
        "campaign_id",
        "name",
        "discount",
        "min_order",
        "status",
        "expires_at",
    }
    assert_problem(
        await first.post(f"/api/coupon-campaigns/{campaign_id}/claim"),
        409,
        "coupon-already-claimed",
    )
    assert_problem(
        await second.post(f"/api/coupon-campaigns/{campaign_id}/claim"), 409, "coupon-sold-out"
    )
    assert_problem(await second.post("/api/coupon-campaigns/999999/claim"), 404, "not-found")
    mine = await first.get("/api/me/coupons")
    assert mine.status_code == 200 and mine.json() == {"coupons": [coupon]}
    assert (await second.get("/api/me/coupons")).json() == {"coupons": []}


async def test_claiming_in_a_loop_is_rate_limited(apps: AppPool, app: DeliveryApp) -> None:
    admin = await sign_in_admin(apps, app)
    campaign_id = (await admin.post("/api/coupon-campaigns", json=campaign_body())).json()["id"]
    customer = await _customer(apps, app)
    codes = []
    for _ in range(11):
        response = await customer.post(f"/api/coupon-campaigns/{campaign_id}/claim")
        codes.append(response.status_code)
    assert codes[0] == 201 and codes[1:10] == [409] * 9
    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["Retry-After"]) >= 1


async def test_expired_coupon_is_listed_as_expired(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    admin = await sign_in_admin(apps, app)
    campaign_id = (await admin.post("/api/coupon-campaigns", json=campaign_body())).json()["id"]
    customer = await _customer(apps, app)
    coupon = (await customer.post(f"/api/coupon-campaigns/{campaign_id}/claim")).json()
    infra.query(
        "UPDATE coupons SET expires_at = %s WHERE id = %s",
        datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1),
        coupon["id"],
    )
    (listed,) = (await customer.get("/api/me/coupons")).json()["coupons"]
    assert listed["status"] == "expired"


async def test_a_claim_the_counter_forgot_is_refused_by_the_database_and_stock_is_returned(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    admin = await sign_in_admin(apps, app)
    campaign_id = (
        await admin.post("/api/coupon-campaigns", json=campaign_body(quantity=5))
    ).json()["id"]
    customer = await _customer(apps, app)
    assert (await customer.post(f"/api/coupon-campaigns/{campaign_id}/claim")).status_code == 201
    assert customer.user is not None
    _, stock, claimed = keys(campaign_id)
    counter = redis.Redis(port=infra.cache_redis.port)
    try:
        counter.srem(claimed, customer.user["id"])  # the counter loses this customer's mark
        assert_problem(
            await customer.post(f"/api/coupon-campaigns/{campaign_id}/claim"),
            409,
            "coupon-already-claimed",
        )
        assert int(counter.get(stock) or 0) == 4
    finally:
        counter.close()
    assert infra.query(
        "SELECT COUNT(*), MAX(issued) FROM coupons JOIN coupon_campaigns c ON c.id = campaign_id"
    ) == [(1, 1)]


async def test_claims_answer_unavailable_while_the_counting_redis_is_down(
    apps: AppPool, infra: Infra
) -> None:
    from app.launcher.servers import RedisServer

    own = RedisServer(infra.folder / f"redis-down-{datetime.now(UTC).timestamp()}").start()
    try:
        app = await apps.start(infra.settings(cache_redis_url=own.url))
        admin = await sign_in_admin(apps, app)
        campaign_id = (await admin.post("/api/coupon-campaigns", json=campaign_body())).json()["id"]
        customer = await _customer(apps, app)
        own.stop()
        down = await customer.post(f"/api/coupon-campaigns/{campaign_id}/claim")
        assert_problem(down, 503, "unavailable")
        assert down.headers["Retry-After"] == "1"
        own.start()
        claimed = await customer.post(f"/api/coupon-campaigns/{campaign_id}/claim")
        assert claimed.status_code == 201, claimed.text
    finally:
        own.stop()
    assert infra.query("SELECT COUNT(*) FROM coupons") == [(1,)]


async def test_a_campaign_may_not_discount_more_than_its_minimum_order(
    apps: AppPool, app: DeliveryApp, infra: Infra
) -> None:
    admin = await sign_in_admin(apps, app)
    refused = assert_problem(
        await admin.post(
            "/api/coupon-campaigns", json=campaign_body(discount=50_000, min_order=10_000)
        ),
        400,
        "validation",
    )
    sentence = (
        "The minimum order (₩10,000) must be at least the discount (₩50,000): raise the "
        "minimum order or lower the discount."
    )
    assert refused["errors"] == [
        {"field": "min_order", "message": sentence, "type": "discount_above_min_order"}
    ]
    assert refused["detail"] == sentence
    assert infra.query("SELECT COUNT(*) FROM coupon_campaigns") == [(0,)]
    equal = await admin.post(
        "/api/coupon-campaigns", json=campaign_body(discount=10_000, min_order=10_000)
    )
    assert equal.status_code == 201, equal.text
