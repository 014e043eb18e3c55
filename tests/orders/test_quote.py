"""POST /api/orders/quote: what placing the order would record and charge, and nothing taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app import DeliveryApp
from app.rewards import coupons, ledger
from app.rewards.state import RewardsState
from tests.client import Api, assert_problem
from tests.harness import Infra
from tests.orders.helpers import Shop, new_key, open_shop, order_body
from tests.rewards.helpers import uow_of

AMOUNTS = ("subtotal", "delivery_fee", "coupon_discount", "points_used", "total", "paid_amount")


async def _usable_points(app: DeliveryApp, customer: Api, points: int) -> None:
    """Give the signed-in customer `points` usable points (a multiple of 5,000)."""
    assert customer.user is not None
    async with uow_of(app) as uow:
        await ledger.accrue_for_delivery(
            uow, customer_id=customer.user["id"], order_id=10**9, paid_amount=points * 100
        )
        await uow.commit()
    converted = await customer.post("/api/me/points/convert", json={"amount": points})
    assert converted.status_code == 200, converted.text


async def _coupon(app: DeliveryApp, customer: Api, *, discount: int, min_order: int) -> int:
    """A coupon of the customer's. Made through the service, as a campaign made before
    campaigns had to cover their discount (the API now refuses a discount above min_order)."""
    now = datetime.now(UTC)
    campaign = await coupons.create_campaign(
        db=app.container.db,
        counter=app.container.get(RewardsState).counter,
        name=f"₩{discount:,} off",
        discount=discount,
        min_order=min_order,
        quantity=10,
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        valid_days=30,
    )
    claimed = await customer.post(f"/api/coupon-campaigns/{campaign['id']}/claim")
    assert claimed.status_code == 201, claimed.text
    coupon_id: int = claimed.json()["id"]
    return coupon_id


def _without_payment(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("payment", "address")}


async def _quote_then_place(customer: Api, shop: Shop, **extra: Any) -> dict[str, Any]:
    """The quote for an order, checked against what placing the same body records."""
    body = order_body(shop, **extra)
    quoted = await customer.post("/api/orders/quote", json=body)
    assert quoted.status_code == 200, quoted.text
    if body["payment"]["method"] == "card":
        # Without payment and address it is the same quote.
        bare = await customer.post("/api/orders/quote", json=_without_payment(body))
        assert bare.json() == quoted.json()
    placed = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": new_key()})
    assert placed.status_code == 201, placed.text
    assert {k: placed.json()[k] for k in AMOUNTS} == quoted.json()
    assert placed.json()["payment"]["reference"]
    quote: dict[str, Any] = quoted.json()
    return quote


async def test_the_quote_is_what_placing_the_order_records_and_charges(
    app: DeliveryApp, api_factory, infra: Infra
) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    await _usable_points(app, customer, 20_000)

    # 1 burger with cheese (8,500) and fries (3,000): 11,500 of food and a 3,000 fee; a
    # ₩50,000 coupon gives at most the food, so the card pays the fee.
    big = await _coupon(app, customer, discount=50_000, min_order=10_000)
    assert await _quote_then_place(customer, shop, quantity=1, coupon_id=big) == {
        "subtotal": 11_500,
        "delivery_fee": 3_000,
        "coupon_discount": 11_500,
        "points_used": 0,
        "total": 3_000,
        "paid_amount": 3_000,
    }
    charged = infra.query("SELECT amount FROM sandbox_charges ORDER BY id DESC LIMIT 1")
    assert charged == [(3_000,)]

    small = await _coupon(app, customer, discount=2_000, min_order=10_000)
    assert await _quote_then_place(customer, shop, coupon_id=small, use_points=5_000) == {
        "subtotal": 20_000,
        "delivery_fee": 3_000,
        "coupon_discount": 2_000,
        "points_used": 5_000,
        "total": 21_000,
        "paid_amount": 16_000,
    }
    # Points alone pay the whole total.
    points_only = await _quote_then_place(customer, shop, quantity=1, payment={"method": "points"})
    assert (points_only["points_used"], points_only["paid_amount"]) == (14_500, 0)


async def test_a_quote_takes_nothing_and_charges_nothing(
    app: DeliveryApp, api_factory, infra: Infra
) -> None:  # type: ignore[no-untyped-def]
    owner, customer = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    await _usable_points(app, customer, 5_000)
    coupon = await _coupon(app, customer, discount=2_000, min_order=10_000)
    for _ in range(3):
        quoted = await customer.post(
            "/api/orders/quote", json=order_body(shop, coupon_id=coupon, use_points=5_000)
        )
        assert quoted.status_code == 200, quoted.text
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(0,)]
    assert infra.query("SELECT COUNT(*) FROM idempotency_keys") == [(0,)]
    assert infra.query("SELECT status FROM coupons WHERE id = %s", coupon) == [("issued",)]
    assert (await customer.get("/api/me/points")).json()["usable"] == 5_000


async def test_the_quote_refuses_what_placement_refuses_in_sentences(
    app: DeliveryApp, api_factory
) -> None:  # type: ignore[no-untyped-def]
    owner, customer, other = await api_factory(), await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    await other.sign_in_as("customer")
    shop = await open_shop(owner, min_order=15_000)
    await _usable_points(app, customer, 5_000)

    async def refused(status: int, code: str, **extra: Any) -> dict[str, Any]:
        body = order_body(shop, **extra)
        quoted = assert_problem(await customer.post("/api/orders/quote", json=body), status, code)
        placed = await customer.post(
            "/api/orders", json=body, headers={"Idempotency-Key": new_key()}
        )
        assert_problem(placed, status, code)
        assert placed.json()["detail"] == quoted["detail"]
        return quoted

    points = await refused(409, "insufficient-points", use_points=10_000)
    assert points["detail"] == "You have 5,000 usable points; this order needs 10,000."
    too_many = await refused(400, "validation", use_points=30_000)
    assert too_many["errors"] == [
        {
            "field": "use_points",
            "message": "Points can pay at most 23,000 of this order.",
            "type": "less_than_equal",
        }
    ]
    short = await refused(409, "insufficient-points", payment={"method": "points"})
    assert short["detail"] == "You have 5,000 usable points; this order needs 23,000."
    await refused(400, "below-minimum-order", quantity=1)
    line = await refused(
        400, "validation", items=[{"menu_item_id": shop.fries["id"], "quantity": 100}]
    )
    assert line["detail"] == "Quantity (line 1) must be at most 99."
    empty = await refused(400, "validation", items=[])
    assert empty["errors"][0]["field"] == "items"
    assert empty["detail"] == "Items need at least one entry."

    theirs = await _coupon(app, other, discount=1_000, min_order=1_000)
    unusable = await refused(409, "coupon-unusable", coupon_id=theirs)
    assert "not one of your coupons" in unusable["detail"]
    await refused(404, "not-found", store_id=10**12)

    closed = await owner.patch(f"/api/stores/{shop.id}", json={"open": False})
    assert closed.status_code == 200
    await refused(409, "store-closed")


async def test_only_a_customer_asks_for_a_quote(api_factory) -> None:  # type: ignore[no-untyped-def]
    owner, anonymous = await api_factory(), await api_factory()
    await owner.sign_in_as("owner")
    shop = await open_shop(owner)
    assert_problem(
        await anonymous.post("/api/orders/quote", json=order_body(shop)), 401, "unauthenticated"
    )
    assert_problem(await owner.post("/api/orders/quote", json=order_body(shop)), 403, "forbidden")
