"""The demo city: enough stores, categories, menus, options and images, loaded idempotently."""

from __future__ import annotations

from app.catalog.demo_city import CITY_HALL
from app.config import Settings
from app.demo import DEMO_PASSWORD, load_demo
from app.geo import distance_km
from tests.client import Api
from tests.harness import Infra


async def test_demo_city_is_complete_and_loading_it_again_adds_nothing(
    settings: Settings, infra: Infra, api: Api
) -> None:
    assert await load_demo(settings) == 0
    assert await load_demo(settings, only_if_empty=True) == 0
    assert await load_demo(settings) == 0
    assert infra.query("SELECT COUNT(*), COUNT(DISTINCT name) FROM stores") == [(24, 24)]

    lat, lng = CITY_HALL
    stores = (await api.get(f"/api/stores?lat={lat}&lng={lng}&radius_km=3")).json()["stores"]
    assert len(stores) >= 20
    assert len({s["category"] for s in stores}) >= 5
    for store in stores:
        assert distance_km(lat, lng, store["lat"], store["lng"]) <= 3
        assert store["open"] is True and store["image_url"]
        page = (await api.get(f"/api/stores/{store['id']}")).json()
        items = [item for group in page["menu"] for item in group["items"]]
        assert len(items) >= 8
        assert all(item["options"] and item["image_url"] for item in items)
    picture = await api.get(stores[0]["image_url"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"

    await api.login("owner@demo.delivery", DEMO_PASSWORD)
    assert api.user is not None and api.user["role"] == "owner"
