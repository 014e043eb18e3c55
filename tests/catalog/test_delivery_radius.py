"""A store's delivery radius and fee by distance: set by its owner with sentence errors, used by
the nearby search, the checkout's delivery quote, the order quote and the order itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.geo import KM_PER_DEGREE_LAT
from tests.catalog.conftest import CITY_HALL, add_item, create_store
from tests.client import Api, assert_problem
from tests.orders.helpers import new_key

TIERS = [{"up_to_km": 1, "fee": 1000}, {"up_to_km": 2.5, "fee": 2500}, {"up_to_km": 4, "fee": 4000}]


def north(km: float) -> dict[str, float]:
    """A point `km` due north of City Hall."""
    return {"lat": CITY_HALL[0] + km / KM_PER_DEGREE_LAT, "lng": CITY_HALL[1]}


async def test_a_new_store_delivers_three_km_at_its_flat_fee(owner: Api) -> None:
    store = await create_store(owner)
    assert store["delivery_radius_km"] == 3
    assert store["delivery_fee_tiers"] == [{"up_to_km": 3, "fee": 3000}]


async def test_the_owner_sets_radius_and_tiers_and_everyone_reads_them(
    owner: Api, api_factory: Callable[[], Any]
) -> None:
    store = await create_store(owner)
    changed = await owner.patch(
        f"/api/stores/{store['id']}", json={"delivery_radius_km": 4, "delivery_fee_tiers": TIERS}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["delivery_radius_km"] == 4 and body["delivery_fee_tiers"] == TIERS
    assert body["delivery_fee"] == 1000  # the first tier's: what lists show as "from"
    anyone: Api = await api_factory()
    # Through the cache: the write bumped the store's and the lists' versions.
    page = (await anyone.get(f"/api/stores/{store['id']}")).json()
    assert page["delivery_fee_tiers"] == TIERS
    # A flat fee sent alone replaces the tiers with one up to the radius.
    flat = await owner.patch(f"/api/stores/{store['id']}", json={"delivery_fee": 2000})
    assert flat.json()["delivery_fee_tiers"] == [{"up_to_km": 4, "fee": 2000}]
    page = (await anyone.get(f"/api/stores/{store['id']}")).json()
    assert page["delivery_fee_tiers"] == [{"up_to_km": 4, "fee": 2000}]


async def test_bad_delivery_settings_are_refused_with_sentences_and_nothing_changes(
    owner: Api,
) -> None:
    store = await create_store(owner)
    path = f"/api/stores/{store['id']}"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"delivery_radius_km": 0.4}, "delivery_radius_km"),
        ({"delivery_radius_km": 15.5}, "delivery_radius_km"),
        ({"delivery_radius_km": "3"}, "delivery_radius_km"),
        ({"delivery_fee_tiers": []}, "delivery_fee_tiers"),
        ({"delivery_fee_tiers": [{"up_to_km": 3, "fee": 100_001}]}, "delivery_fee_tiers[0].fee"),
        ({"delivery_fee_tiers": [{"up_to_km": 3, "fee": -1}]}, "delivery_fee_tiers[0].fee"),
        ({"delivery_fee_tiers": [{"up_to_km": 3, "fee": 2**63}]}, "delivery_fee_tiers[0].fee"),
        ({"delivery_fee_tiers": [{"up_to_km": 3, "fee": "3000"}]}, "delivery_fee_tiers[0].fee"),
        ({"delivery_fee_tiers": [{"up_to_km": 3}]}, "delivery_fee_tiers[0].fee"),
        ({"delivery_fee_tiers": [{"up_to_km": i / 2 + 0.5, "fee": 0} for i in range(11)]}, ""),
        ({"delivery_fee_tiers": [{"up_to_km": 2.5, "fee": 3000}]}, "up_to_km"),
        ({"delivery_fee_tiers": [{"up_to_km": 2, "fee": 1}, {"up_to_km": 1, "fee": 2}]}, ""),
        ({"delivery_fee_tiers": [{"up_to_km": 1, "fee": 5}, {"up_to_km": 3, "fee": 4}]}, "fee"),
        ({"delivery_fee_tiers": [{"up_to_km": 3.05, "fee": 1}]}, "up_to_km"),
        ({"delivery_fee_tiers": [{"up_to_km": 3, "fee": 1}], "delivery_fee": 2}, "delivery_fee"),
        ({"delivery_fee_tiers": None}, "delivery_fee_tiers"),
    ]
    for change, field in cases:
        response = await owner.patch(path, json=change)
        problem = assert_problem(response, 400, "validation")
        assert problem["errors"], (change, problem)
        assert any(field in error["field"] for error in problem["errors"]), (change, problem)
        assert all(error["message"] for error in problem["errors"]), problem
    # The sentences say what fits.
    short = await owner.patch(path, json={"delivery_fee_tiers": [{"up_to_km": 2.5, "fee": 1}]})
    assert "must end at the delivery radius (3 km), not at 2.5 km" in short.json()["detail"]
    # Tiers set, a radius alone that they do not reach is refused; with tiers it is fine.
    assert (
        await owner.patch(
            path, json={"delivery_fee_tiers": [*TIERS[:2], {"up_to_km": 3, "fee": 3000}]}
        )
    ).status_code == 200
    moved = await owner.patch(path, json={"delivery_radius_km": 5})
    assert (
        "send tiers that end at the new radius (5 km)"
        in assert_problem(moved, 400, "validation")["detail"]
    )
    unchanged = (await owner.get(path)).json()
    assert unchanged["delivery_radius_km"] == 3 and unchanged["delivery_fee"] == 1000


async def test_nearby_search_lists_only_stores_whose_radius_reaches_the_point(
    owner: Api, api_factory: Callable[[], Any]
) -> None:
    near = await create_store(owner, name="Near Kimbap", delivery_radius_km=1)
    far = await create_store(owner, name="Far Kimbap", delivery_radius_km=6)
    anyone: Api = await api_factory()

    async def found(km: float) -> set[int]:
        point = north(km)
        response = await anyone.get(
            f"/api/stores?lat={point['lat']}&lng={point['lng']}&radius_km=10"
        )
        assert response.status_code == 200, response.text
        return {store["id"] for store in response.json()["stores"]}

    assert await found(0.5) >= {near["id"], far["id"]}
    assert far["id"] in await found(2) and near["id"] not in await found(2)
    assert not {near["id"], far["id"]} & await found(7)


async def test_the_delivery_quote_gives_the_tier_of_the_distance_or_out_of_range(
    owner: Api, api_factory: Callable[[], Any]
) -> None:
    store = await create_store(
        owner, delivery_radius_km=4, delivery_fee_tiers=TIERS, delivery_fee=1000
    )
    anyone: Api = await api_factory()

    async def quote(km: float) -> dict[str, Any]:
        point = north(km)
        response = await anyone.get(
            f"/api/stores/{store['id']}/delivery-quote?lat={point['lat']}&lng={point['lng']}"
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert await quote(0.5) == {
        "distance_km": 0.5,
        "delivery_fee": 1000,
        "in_range": True,
        "radius_km": 4,
    }
    assert (await quote(1.0))["delivery_fee"] == 1000  # a tier reaches its own end
    assert (await quote(1.2))["delivery_fee"] == 2500
    assert (await quote(3.9))["delivery_fee"] == 4000
    assert await quote(4.2) == {
        "distance_km": 4.2,
        "delivery_fee": None,
        "in_range": False,
        "radius_km": 4,
    }
    for bad in ("lat=91&lng=0", "lat=x&lng=1", "lat=1", "lat=nan&lng=1", ""):
        assert_problem(
            await anyone.get(f"/api/stores/{store['id']}/delivery-quote?{bad}"), 400, "validation"
        )
    assert_problem(
        await anyone.get(f"/api/stores/{2**63}/delivery-quote?lat=1&lng=1"), 404, "not-found"
    )
    assert_problem(
        await anyone.get("/api/stores/999999/delivery-quote?lat=1&lng=1"), 404, "not-found"
    )


async def test_orders_pay_the_tier_of_their_distance_and_beyond_the_radius_are_refused(
    owner: Api, api_factory: Callable[[], Any], infra: Any
) -> None:
    store = await create_store(
        owner, delivery_radius_km=4, delivery_fee_tiers=TIERS, delivery_fee=1000, min_order=0
    )
    item = await add_item(owner, store["id"], options=[])
    assert (await owner.patch(f"/api/stores/{store['id']}", json={"open": True})).status_code == 200
    customer: Api = await api_factory()
    await customer.sign_in_as("customer")

    def body(km: float) -> dict[str, Any]:
        return {
            "store_id": store["id"],
            "items": [{"menu_item_id": item["id"], "quantity": 1, "option_ids": []}],
            "address": {"text": "Somewhere north", **north(km)},
            "payment": {"method": "card", "card_number": "4111111111111111"},
        }

    quoted = await customer.post("/api/orders/quote", json=body(2))
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["delivery_fee"] == 2500 and quoted.json()["total"] == 9000 + 2500
    without_address = {k: v for k, v in body(2).items() if k != "address"}
    assert (await customer.post("/api/orders/quote", json=without_address)).json()[
        "delivery_fee"
    ] == 1000
    placed = await customer.post(
        "/api/orders", json=body(2), headers={"Idempotency-Key": new_key()}
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["delivery_fee"] == 2500 and placed.json()["paid_amount"] == 11500
    # A saved address counts the same way.
    saved = await customer.post(
        "/api/me/addresses", json={"label": "Far", "text": "Far away", **north(3.5)}
    )
    assert saved.status_code == 201, saved.text
    by_id = {**without_address, "address_id": saved.json()["id"]}
    assert (await customer.post("/api/orders/quote", json=by_id)).json()["delivery_fee"] == 4000

    for refused in (
        await customer.post("/api/orders/quote", json=body(4.5)),
        await customer.post("/api/orders", json=body(4.5), headers={"Idempotency-Key": new_key()}),
    ):
        problem = assert_problem(refused, 409, "out-of-range")
        assert problem["distance_km"] == 4.5 and problem["radius_km"] == 4
        assert "delivers up to 4 km away; this address is 4.5 km away" in problem["detail"]
    # Nothing of the refused order remains, and nothing was charged for it.
    assert infra.query("SELECT COUNT(*) FROM orders") == [(1,)]
    assert infra.query("SELECT COUNT(*) FROM sandbox_charges") == [(1,)]
