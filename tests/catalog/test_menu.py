"""Menus: items grouped with their options, sold out, edits, and soft deletes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.catalog.conftest import add_item, create_store
from tests.client import Api, assert_problem
from tests.harness import Infra


async def test_menu_groups_items_in_the_order_groups_were_first_used(owner: Api) -> None:
    store = await create_store(owner)
    rice = await add_item(owner, store["id"], name="Bibimbap", group="Rice")
    noodle = await add_item(owner, store["id"], name="Naengmyeon", group="Noodles", options=[])
    rice2 = await add_item(owner, store["id"], name="Kimbap", group="Rice")
    assert rice["options"][0]["name"] == "Extra egg" and rice["options"][0]["id"] > 0
    assert set(rice) == {
        "id",
        "store_id",
        "name",
        "price",
        "group",
        "description",
        "sold_out",
        "image_url",
        "options",
    }
    page = (await owner.get(f"/api/stores/{store['id']}")).json()
    assert page["menu"] == [
        {"group": "Rice", "items": [rice, rice2]},
        {"group": "Noodles", "items": [noodle]},
    ]


async def test_owner_marks_an_item_sold_out_and_replaces_its_options(owner: Api) -> None:
    store = await create_store(owner)
    item = await add_item(owner, store["id"])
    response = await owner.patch(
        f"/api/menu-items/{item['id']}",
        json={"sold_out": True, "price": 9500, "options": [{"name": "Spicy", "price": 0}]},
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["sold_out"] is True and changed["price"] == 9500
    assert [(o["name"], o["price"]) for o in changed["options"]] == [("Spicy", 0)]
    page = (await owner.get(f"/api/stores/{store['id']}")).json()
    assert page["menu"] == [{"group": "Rice", "items": [changed]}]


async def test_owner_edits_every_field_of_an_item_and_bad_edits_change_nothing(
    owner: Api, infra: Infra
) -> None:
    store = await create_store(owner)
    item = await add_item(owner, store["id"], name="Bibimbap", group="Rice")
    other = await add_item(owner, store["id"], name="Naengmyeon", group="Noodles", options=[])
    edit = {
        "name": "Dolsot bibimbap",
        "price": 11000,
        "group": "Noodles",
        "description": "In a hot stone bowl.",
        "options": [{"name": "Extra egg", "price": 1000}, {"name": "No chili", "price": 0}],
    }
    response = await owner.patch(f"/api/menu-items/{item['id']}", json=edit)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert {key: changed[key] for key in edit if key != "options"} == {
        key: value for key, value in edit.items() if key != "options"
    }
    assert [(o["name"], o["price"]) for o in changed["options"]] == [
        ("Extra egg", 1000),
        ("No chili", 0),
    ]
    # Moved to the other group: the menu shows it there, and its old group is gone.
    page = (await owner.get(f"/api/stores/{store['id']}")).json()
    assert page["menu"] == [{"group": "Noodles", "items": [changed, other]}]
    # Emptying the options is an edit too.
    cleared = await owner.patch(f"/api/menu-items/{item['id']}", json={"options": []})
    assert cleared.status_code == 200 and cleared.json()["options"] == []

    bad_edits: list[dict[str, Any]] = [
        {"group": ""},
        {"group": None},
        {"group": "G" * 51},
        {"description": "D" * 501},
        {"description": None},
        {"options": None},
        {"options": [{"name": "", "price": 0}]},
        {"options": [{"name": "Egg", "price": -1}]},
        {"options": [{"name": "Egg", "price": "1000"}]},
        {"options": [{"name": f"O{i}", "price": 0} for i in range(21)]},
        {"name": "Fine", "group": ""},
    ]
    before = infra.query(
        "SELECT name, price, `group`, description FROM menu_items WHERE id = %s", item["id"]
    )
    for bad in bad_edits:
        assert_problem(
            await owner.patch(f"/api/menu-items/{item['id']}", json=bad), 400, "validation"
        )
    after = infra.query(
        "SELECT name, price, `group`, description FROM menu_items WHERE id = %s", item["id"]
    )
    assert after == before == [("Dolsot bibimbap", 11000, "Noodles", "In a hot stone bowl.")]
    assert infra.query("SELECT COUNT(*) FROM menu_options WHERE item_id = %s", item["id"]) == [(0,)]


async def test_deleted_item_leaves_the_menu_but_its_row_stays(owner: Api, infra: Infra) -> None:
    store = await create_store(owner)
    kept = await add_item(owner, store["id"], name="Kimbap")
    gone = await add_item(owner, store["id"], name="Bibimbap")
    response = await owner.delete(f"/api/menu-items/{gone['id']}")
    assert response.status_code == 204
    page = (await owner.get(f"/api/stores/{store['id']}")).json()
    assert page["menu"] == [{"group": "Rice", "items": [kept]}]
    rows = infra.query(
        "SELECT name, price, deleted_at IS NOT NULL FROM menu_items WHERE id = %s", gone["id"]
    )
    assert rows == [("Bibimbap", 9000, 1)]
    assert infra.query("SELECT COUNT(*) FROM menu_options WHERE item_id = %s", gone["id"]) == [(2,)]
    # Once deleted it is gone for the API: no edit, no second delete.
    assert_problem(await owner.delete(f"/api/menu-items/{gone['id']}"), 404, "not-found")
    assert_problem(
        await owner.patch(f"/api/menu-items/{gone['id']}", json={"price": 1}), 404, "not-found"
    )


async def test_deleted_item_stays_readable_in_an_order_that_has_it(
    owner: Api, api_factory: Callable[[], Any]
) -> None:
    store = await create_store(owner, min_order=0)
    item = await add_item(owner, store["id"], name="Bibimbap", price=9000)
    await owner.patch(f"/api/stores/{store['id']}", json={"open": True})
    customer: Api = await api_factory()
    await customer.sign_in_as("customer")
    order_request = {
        "store_id": store["id"],
        "items": [
            {"menu_item_id": item["id"], "quantity": 2, "option_ids": [item["options"][0]["id"]]}
        ],
        "address": {"text": "City Hall", "lat": 37.5665, "lng": 126.978},
        "payment": {"method": "card", "card_number": "4111111111111111"},
    }
    placed = await customer.post(
        "/api/orders", json=order_request, headers={"Idempotency-Key": "catalog-soft-delete"}
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    assert (await owner.delete(f"/api/menu-items/{item['id']}")).status_code == 204
    assert (await owner.get(f"/api/stores/{store['id']}")).json()["menu"] == []

    order = (await customer.get(f"/api/orders/{order_id}")).json()
    line = order["items"][0]
    assert (line["menu_item_id"], line["name"], line["price"], line["quantity"]) == (
        item["id"],
        "Bibimbap",
        9000,
        2,
    )
    assert [o["name"] for o in line["options"]] == ["Extra egg"]
    assert (await owner.get(f"/api/orders/{order_id}")).json()["items"] == order["items"]
