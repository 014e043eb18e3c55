"""Stores: owner-only writes, created closed, readable by anyone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.catalog.conftest import add_item, create_store, image_bytes, store_body, upload
from tests.client import Api, assert_problem
from tests.harness import Infra


async def test_owner_creates_a_closed_store_that_anyone_can_read(
    owner: Api, api_factory: Callable[[], Any]
) -> None:
    store = await create_store(owner)
    assert store["open"] is False
    assert store["owner_id"] == owner.user["id"]  # type: ignore[index]
    assert store["image_url"] is None
    assert set(store) == {
        "id",
        "owner_id",
        "name",
        "category",
        "address",
        "lat",
        "lng",
        "phone",
        "min_order",
        "delivery_fee",
        "open",
        "image_url",
        "delivery_radius_km",
        "delivery_fee_tiers",
        "rating",
        "review_count",
        "timezone",
        "hours",
        "closed_dates",
        "paused_until",
        "open_now",
        "next_open",
        "closes_at",
        "suspended",
    }
    assert store["suspended"] is False
    assert store["rating"] is None and store["review_count"] == 0
    # A new store has no schedule and no pause; closed by its switch, with no time to give.
    assert (store["timezone"], store["hours"], store["closed_dates"]) == ("Asia/Seoul", [], [])
    assert (store["open_now"], store["next_open"], store["paused_until"]) == (False, None, None)
    anonymous: Api = await api_factory()
    page = await anonymous.get(f"/api/stores/{store['id']}")
    assert page.status_code == 200
    assert page.json() == {**store, "menu": []}


async def test_owner_opens_the_store_and_changes_its_fields(owner: Api) -> None:
    store = await create_store(owner)
    await add_item(owner, store["id"])
    response = await owner.patch(
        f"/api/stores/{store['id']}", json={"open": True, "min_order": 15000, "name": "New Name"}
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed == {
        **store,
        "open": True,
        "open_now": True,
        "min_order": 15000,
        "name": "New Name",
    }
    assert (await owner.get(f"/api/stores/{store['id']}")).json()["open"] is True


async def test_a_store_with_nothing_on_sale_cannot_open(owner: Api, infra: Infra) -> None:
    store = await create_store(owner)
    sid = store["id"]
    refused = await owner.patch(f"/api/stores/{sid}", json={"open": True, "name": "Renamed"})
    problem = assert_problem(refused, 409, "empty-menu")
    assert "menu item" in problem["detail"]
    # Nothing of the refused request was written, the name included.
    assert infra.query("SELECT open, name FROM stores WHERE id = %s", sid) == [(0, store["name"])]

    # A sold-out item or a deleted one is nothing to order either.
    sold_out = await add_item(owner, sid, name="Kimbap")
    assert (
        await owner.patch(f"/api/menu-items/{sold_out['id']}", json={"sold_out": True})
    ).status_code == 200
    deleted = await add_item(owner, sid, name="Bibimbap")
    assert (await owner.delete(f"/api/menu-items/{deleted['id']}")).status_code == 204
    assert_problem(await owner.patch(f"/api/stores/{sid}", json={"open": True}), 409, "empty-menu")
    # Other changes of a closed store with an empty menu go through, and so does closing.
    renamed = await owner.patch(f"/api/stores/{sid}", json={"name": "Renamed", "open": False})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"

    # One item back on sale, and the store opens.
    assert (
        await owner.patch(f"/api/menu-items/{sold_out['id']}", json={"sold_out": False})
    ).status_code == 200
    opened = await owner.patch(f"/api/stores/{sid}", json={"open": True})
    assert opened.status_code == 200 and opened.json()["open"] is True


async def test_customers_and_anonymous_callers_cannot_create_stores(
    api_factory: Callable[[], Any],
) -> None:
    anonymous: Api = await api_factory()
    assert_problem(await anonymous.post("/api/stores", json=store_body()), 401, "unauthenticated")
    customer: Api = await api_factory()
    await customer.sign_in_as("customer")
    assert_problem(await customer.post("/api/stores", json=store_body()), 403, "forbidden")


async def test_another_owner_is_forbidden_from_every_write(
    owner: Api, api_factory: Callable[[], Any]
) -> None:
    store = await create_store(owner)
    item = await add_item(owner, store["id"])
    other: Api = await api_factory()
    await other.sign_in_as("owner")
    sid, iid = store["id"], item["id"]
    attempts = [
        await other.patch(f"/api/stores/{sid}", json={"open": True}),
        await other.post(f"/api/stores/{sid}/menu", json={"name": "X", "price": 1, "group": "G"}),
        await other.patch(f"/api/menu-items/{iid}", json={"price": 1}),
        await other.delete(f"/api/menu-items/{iid}"),
        await upload(other, f"/api/stores/{sid}/image", image_bytes()),
        await upload(other, f"/api/menu-items/{iid}/image", image_bytes()),
    ]
    for response in attempts:
        assert_problem(response, 403, "forbidden")
    page = (await owner.get(f"/api/stores/{sid}")).json()
    assert page["open"] is False and page["image_url"] is None
    assert page["menu"][0]["items"] == [item]


async def test_unknown_ids_are_not_found(owner: Api) -> None:
    attempts = [
        await owner.get("/api/stores/999999"),
        await owner.patch("/api/stores/999999", json={"open": True}),
        await owner.post("/api/stores/999999/menu", json={"name": "X", "price": 1, "group": "G"}),
        await owner.patch("/api/menu-items/999999", json={"price": 1}),
        await owner.delete("/api/menu-items/999999"),
        await upload(owner, "/api/stores/999999/image", image_bytes()),
        await upload(owner, "/api/menu-items/999999/image", image_bytes()),
    ]
    for response in attempts:
        assert_problem(response, 404, "not-found")


async def test_an_empty_patch_changes_nothing(owner: Api) -> None:
    store = await create_store(owner)
    response = await owner.patch(f"/api/stores/{store['id']}", json={})
    assert response.status_code == 200
    assert response.json() == store
