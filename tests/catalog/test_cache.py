"""The read cache: shared by instances, invalidated by every write, one rebuild at a time."""

from __future__ import annotations

import asyncio
from typing import Any

from app import DeliveryApp
from app.catalog.cache import CatalogCache
from tests.catalog.conftest import CITY_HALL, add_item, create_store
from tests.client import Api
from tests.conftest import AppPool

LIST = f"/api/stores?lat={CITY_HALL[0]}&lng={CITY_HALL[1]}"


def _cache(app: DeliveryApp) -> CatalogCache:
    return app.container.get(CatalogCache)


async def _cached(api: Api, path: str) -> dict[str, Any]:
    """Read twice and check the second answer came from the cache Redis."""
    await api.get(path)
    response = await api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["x-cache"] == "hit"
    body: dict[str, Any] = response.json()
    return body


async def _two_instances(apps: AppPool) -> tuple[Api, Api]:
    a, b = await apps.start(), await apps.start()
    reader, writer = await apps.client(a), await apps.client(b)
    await writer.sign_in_as("owner")
    return reader, writer


async def test_store_list_write_on_b_is_seen_by_the_next_read_on_a(apps: AppPool) -> None:
    reader, writer = await _two_instances(apps)
    store = await create_store(writer, name="Old Name")
    await add_item(writer, store["id"])
    assert [s["name"] for s in (await _cached(reader, LIST))["stores"]] == ["Old Name"]
    await writer.patch(f"/api/stores/{store['id']}", json={"name": "New Name", "open": True})
    after = (await reader.get(LIST)).json()["stores"]
    assert [(s["name"], s["open"]) for s in after] == [("New Name", True)]
    # A new store shows up in every cached list, including the name search.
    await _cached(reader, "/api/stores?q=shop")
    await create_store(writer, name="Second Shop")
    assert [s["name"] for s in (await reader.get("/api/stores?q=shop")).json()["stores"]] == [
        "Second Shop"
    ]


async def test_store_page_write_on_b_is_seen_by_the_next_read_on_a(apps: AppPool) -> None:
    reader, writer = await _two_instances(apps)
    store = await create_store(writer)
    path = f"/api/stores/{store['id']}"
    assert (await _cached(reader, path))["delivery_fee"] == 3000
    await writer.patch(path, json={"delivery_fee": 2500, "phone": "02-987-6543"})
    page = (await reader.get(path)).json()
    assert (page["delivery_fee"], page["phone"]) == (2500, "02-987-6543")


async def test_menu_writes_on_b_are_seen_by_the_next_read_on_a(apps: AppPool) -> None:
    reader, writer = await _two_instances(apps)
    store = await create_store(writer)
    path = f"/api/stores/{store['id']}"
    assert (await _cached(reader, path))["menu"] == []

    item = await add_item(writer, store["id"])
    assert (await reader.get(path)).json()["menu"] == [{"group": "Rice", "items": [item]}]

    await _cached(reader, path)
    await writer.patch(f"/api/menu-items/{item['id']}", json={"sold_out": True, "price": 9900})
    items = (await reader.get(path)).json()["menu"][0]["items"]
    assert (items[0]["sold_out"], items[0]["price"]) == (True, 9900)

    await _cached(reader, path)
    await writer.delete(f"/api/menu-items/{item['id']}")
    assert (await reader.get(path)).json()["menu"] == []


async def test_a_cold_hot_key_is_rebuilt_once_across_two_instances(apps: AppPool) -> None:
    a, b = await apps.start(), await apps.start()
    owner = await apps.client(a)
    await owner.sign_in_as("owner")
    store = await create_store(owner)
    for n in range(10):
        await add_item(owner, store["id"], name=f"Item {n}")
    readers = [await apps.client(app) for app in (a, b) for _ in range(2)]
    for app in (a, b):
        _cache(app).stats.builds = 0
    path = f"/api/stores/{store['id']}"
    responses = await asyncio.gather(*(readers[n % 4].get(path) for n in range(60)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert len(responses[0].json()["menu"][0]["items"]) == 10
    assert sum(_cache(app).stats.builds for app in (a, b)) == 1
    served = [r.headers["x-cache"] for r in responses]
    assert served.count("miss") == 1 and "bypass" not in served


async def test_with_the_cache_off_every_read_goes_to_the_database(
    apps: AppPool, settings: Any
) -> None:
    app = await apps.start(settings.model_copy(update={"catalog_cache": False}))
    owner = await apps.client(app)
    await owner.sign_in_as("owner")
    store = await create_store(owner)
    for _ in range(2):
        response = await owner.get(f"/api/stores/{store['id']}")
        assert response.headers["x-cache"] == "bypass"
