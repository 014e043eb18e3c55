"""The demo city: enough stores, categories, menus, options and images, loaded idempotently."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.catalog.demo_city import CITY_HALL
from app.config import Settings
from app.demo import DEMO_PASSWORD, load_demo
from app.demo_accounts import DEMO_CAMPAIGN
from app.geo import distance_km
from tests.client import Api
from tests.harness import Infra


async def test_demo_city_is_complete_and_loading_it_again_adds_nothing(
    settings: Settings, infra: Infra, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await load_demo(settings) == 0
    assert await load_demo(settings, only_if_empty=True) == 0
    assert await load_demo(settings) == 0
    assert infra.query("SELECT COUNT(*), COUNT(DISTINCT name) FROM stores") == [(24, 24)]
    # One admin and one running campaign, however often the demo is loaded.
    assert infra.query("SELECT COUNT(*) FROM users WHERE role = 'admin'") == [(1,)]
    assert infra.query("SELECT COUNT(*) FROM coupon_campaigns") == [(1,)]
    # Every run ends with every demo sign-in, the already-loaded one included.
    runs = capsys.readouterr().out.split("Demo sign-ins")
    assert len(runs) == 4
    for run in runs[1:]:
        for email in ("customer@", "owner@", "rider1@", "rider2@", "admin@"):
            assert f"{email}demo.delivery" in run
        assert DEMO_PASSWORD in run and "one browser profile" in run
        assert "operations console at /admin" in run

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


async def test_demo_has_an_admin_and_a_running_campaign_customers_can_claim(
    settings: Settings, infra: Infra, api_factory: Callable[[], Any]
) -> None:
    assert await load_demo(settings) == 0
    admin: Api = await api_factory()
    await admin.login("admin@demo.delivery", DEMO_PASSWORD)
    assert admin.user is not None and admin.user["role"] == "admin"
    campaigns = (await admin.get("/api/coupon-campaigns")).json()["campaigns"]
    assert [c["name"] for c in campaigns] == [DEMO_CAMPAIGN]
    [campaign] = campaigns
    now = datetime.now(UTC)
    assert datetime.fromisoformat(campaign["starts_at"]) <= now
    assert datetime.fromisoformat(campaign["ends_at"]) > now + timedelta(days=300)

    customer: Api = await api_factory()
    await customer.login("customer@demo.delivery", DEMO_PASSWORD)
    claimed = await customer.post(f"/api/coupon-campaigns/{campaign['id']}/claim")
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["discount"] == 3000

    # A campaign that ended (or ran out) is replaced by a running one at the next load.
    infra.query("UPDATE coupon_campaigns SET ends_at = %s", now.replace(tzinfo=None))
    assert await load_demo(settings, only_if_empty=True) == 0
    later = (await admin.get("/api/coupon-campaigns")).json()["campaigns"]
    assert len(later) == 2 and datetime.fromisoformat(later[0]["ends_at"]) > now
