"""Every catalog field is validated: 400 `validation` naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalog.conftest import add_item, create_store, item_body, store_body
from tests.client import Api, assert_problem
from tests.harness import Infra

BAD_STORE_FIELDS: list[tuple[str, Any]] = [
    ("name", ""),
    ("name", "   "),
    ("name", "x" * 101),
    ("name", 42),
    ("category", "sushi-bar"),
    ("category", None),
    ("address", ""),
    ("address", "a" * 201),
    ("lat", 90.5),
    ("lat", -91),
    ("lat", "37.5"),
    ("lng", 180.1),
    ("lng", -181),
    ("lng", True),
    ("phone", "call me"),
    ("phone", "123"),
    ("phone", "02-123-4567-8901-2345-6"),
    ("min_order", -1),
    ("min_order", 1.5),
    ("min_order", "1000"),
    ("min_order", 10_000_001),
    ("delivery_fee", -100),
    ("delivery_fee", 100_001),
    ("delivery_fee", None),
]


@pytest.mark.parametrize(("field", "value"), BAD_STORE_FIELDS)
async def test_a_bad_store_field_is_refused_and_nothing_is_created(
    owner: Api, infra: Infra, field: str, value: Any
) -> None:
    response = await owner.post("/api/stores", json=store_body(**{field: value}))
    body = assert_problem(response, 400, "validation")
    assert [e["field"] for e in body["errors"]] == [field]
    assert infra.query("SELECT COUNT(*) FROM stores") == [(0,)]


@pytest.mark.parametrize("field", list(store_body()))
async def test_a_missing_store_field_is_refused(owner: Api, field: str) -> None:
    data = store_body()
    del data[field]
    body = assert_problem(await owner.post("/api/stores", json=data), 400, "validation")
    assert [e["field"] for e in body["errors"]] == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *BAD_STORE_FIELDS,
        ("open", "yes"),
        ("open", 1),
        ("open", None),
        ("name", None),
        ("owner_id", 7),
    ],
)
async def test_a_bad_store_patch_is_refused_and_changes_nothing(
    owner: Api, field: str, value: Any
) -> None:
    store = await create_store(owner)
    response = await owner.patch(
        f"/api/stores/{store['id']}", json={"name": "Changed", field: value}
    )
    body = assert_problem(response, 400, "validation")
    assert field in [e["field"] for e in body["errors"]]
    assert (await owner.get(f"/api/stores/{store['id']}")).json()["name"] == store["name"]


BAD_ITEM_FIELDS: list[tuple[str, Any]] = [
    ("name", ""),
    ("name", "x" * 101),
    ("price", -1),
    ("price", 99.5),
    ("price", "9000"),
    ("price", 10_000_001),
    ("group", ""),
    ("group", "g" * 51),
    ("description", "d" * 501),
    ("options", "none"),
    ("options", [{"name": "", "price": 0}]),
    ("options", [{"name": "Large", "price": -500}]),
    ("options", [{"name": "Large"}]),
    ("options", [{"name": "Large", "price": 500, "id": 3}]),
    ("options", [{"name": f"o{i}", "price": 0} for i in range(21)]),
]


@pytest.mark.parametrize(("field", "value"), BAD_ITEM_FIELDS)
async def test_a_bad_item_field_is_refused_and_nothing_is_added(
    owner: Api, infra: Infra, field: str, value: Any
) -> None:
    store = await create_store(owner)
    response = await owner.post(f"/api/stores/{store['id']}/menu", json=item_body(**{field: value}))
    body = assert_problem(response, 400, "validation")
    assert all(e["field"].startswith(field) for e in body["errors"]), body
    assert infra.query("SELECT COUNT(*) FROM menu_items") == [(0,)]
    assert infra.query("SELECT COUNT(*) FROM menu_options") == [(0,)]


@pytest.mark.parametrize(
    ("field", "value"),
    [*BAD_ITEM_FIELDS, ("sold_out", "true"), ("sold_out", None), ("price", None), ("store_id", 1)],
)
async def test_a_bad_item_patch_is_refused_and_changes_nothing(
    owner: Api, field: str, value: Any
) -> None:
    store = await create_store(owner)
    item = await add_item(owner, store["id"])
    response = await owner.patch(f"/api/menu-items/{item['id']}", json={field: value})
    body = assert_problem(response, 400, "validation")
    assert all(e["field"].startswith(field) for e in body["errors"]), body
    menu = (await owner.get(f"/api/stores/{store['id']}")).json()["menu"]
    assert menu == [{"group": item["group"], "items": [item]}]


@pytest.mark.parametrize(
    "query",
    [
        "lat=91&lng=126.9",
        "lat=37.5&lng=181",
        "lat=abc&lng=126.9",
        "lat=37.5",
        "lng=126.9",
        "lat=37.5&lng=126.9&radius_km=0",
        "lat=37.5&lng=126.9&radius_km=-3",
        "lat=37.5&lng=126.9&radius_km=51",
        "lat=nan&lng=126.9",
        "category=sushi-bar",
        "q=" + "x" * 101,
        "limit=0",
        "limit=201",
        "colour=red",
    ],
)
async def test_a_bad_search_query_is_refused(api: Api, query: str) -> None:
    assert_problem(await api.get(f"/api/stores?{query}"), 400, "validation")


async def test_malformed_json_is_a_validation_problem(owner: Api) -> None:
    response = await owner.post(
        "/api/stores", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "validation")
