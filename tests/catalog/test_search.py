"""Store search: nearest first with distances, radius, category and name, on MariaDB and SQLite."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pymysql

from app.config import Settings
from app.geo import distance_km
from app.migrate import upgrade_async
from tests.catalog.conftest import CITY_HALL, create_store
from tests.client import Api
from tests.conftest import AppPool
from tests.harness import Infra

# Offsets north of City Hall: ~0.5 km, ~1.5 km, ~4 km, ~12 km.
NORTH_KM = {"Near": 0.5, "Middle": 1.5, "Edge": 4.0, "Far": 12.0}


def _north(km: float) -> tuple[float, float]:
    return CITY_HALL[0] + km / 111.195, CITY_HALL[1]


async def _city(owner: Api) -> dict[str, dict[str, Any]]:
    made = {}
    # Created out of order so that id order is not distance order.
    for name in ("Edge", "Far", "Near", "Middle"):
        lat, lng = _north(NORTH_KM[name])
        category = "chicken" if name in ("Near", "Edge") else "pizza"
        # Each delivers far enough for the search's own radius to decide.
        made[name] = await create_store(
            owner, name=f"{name} Store", lat=lat, lng=lng, category=category, delivery_radius_km=15
        )
    return made


async def _search_nearest_first(api: Api, owner: Api) -> None:
    await _city(owner)
    lat, lng = CITY_HALL
    body = (await api.get(f"/api/stores?lat={lat}&lng={lng}")).json()
    assert [s["name"] for s in body["stores"]] == ["Near Store", "Middle Store", "Edge Store"]
    for store in body["stores"]:
        expected = distance_km(lat, lng, store["lat"], store["lng"])
        assert abs(store["distance_km"] - expected) < 0.001
    assert abs(body["stores"][0]["distance_km"] - 0.5) < 0.01
    wide = (await api.get(f"/api/stores?lat={lat}&lng={lng}&radius_km=20")).json()
    assert [s["name"] for s in wide["stores"]][-1] == "Far Store"
    narrow = (await api.get(f"/api/stores?lat={lat}&lng={lng}&radius_km=1")).json()
    assert [s["name"] for s in narrow["stores"]] == ["Near Store"]
    chicken = (await api.get(f"/api/stores?lat={lat}&lng={lng}&category=chicken")).json()
    assert [s["name"] for s in chicken["stores"]] == ["Near Store", "Edge Store"]


async def test_nearby_search_is_nearest_first_with_distances_on_mariadb(
    api: Api, api_factory: Any
) -> None:
    owner: Api = await api_factory()
    await owner.sign_in_as("owner")
    await _search_nearest_first(api, owner)


async def test_nearby_search_is_nearest_first_with_distances_on_sqlite(
    apps: AppPool, infra: Infra, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'catalog.sqlite3'}"
    await upgrade_async(url)
    app = await apps.start(infra.settings(database_url=url))
    api, owner = await apps.client(app), await apps.client(app)
    await owner.sign_in_as("owner")
    await _search_nearest_first(api, owner)


async def test_name_search_is_case_insensitive_and_treats_wildcards_literally(
    owner: Api, api: Api
) -> None:
    await create_store(owner, name="Hongdae Chicken")
    await create_store(owner, name="100% Pizza")
    await create_store(owner, name="Pizza Palace")
    found = (await api.get("/api/stores?q=CHICK")).json()["stores"]
    assert [s["name"] for s in found] == ["Hongdae Chicken"]
    found = (await api.get("/api/stores?q=%25")).json()["stores"]
    assert [s["name"] for s in found] == ["100% Pizza"]
    found = (await api.get("/api/stores?q=pizza")).json()["stores"]
    assert [s["name"] for s in found] == ["100% Pizza", "Pizza Palace"]
    assert "distance_km" not in found[0]


async def test_nearby_search_over_many_stores_matches_an_exact_scan(
    owner: Api, api: Api, settings: Settings, infra: Infra
) -> None:
    rng = random.Random(7)
    rows = []
    for n in range(3000):
        # Spread over roughly 40 km x 40 km around City Hall.
        lat = CITY_HALL[0] + rng.uniform(-0.18, 0.18)
        lng = CITY_HALL[1] + rng.uniform(-0.23, 0.23)
        # Each store's own delivery radius: only those reaching the point are listed.
        reach = rng.choice([1.0, 3.0, 8.0, 15.0])
        rows.append(
            (owner.user["id"], f"Store {n}", "korean", "addr", lat, lng, "02-000-0000", reach)
        )  # type: ignore[index]
    conn = pymysql.connect(**infra.sync_db)  # type: ignore[arg-type]
    try:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO stores (owner_id, name, category, address, lat, lng, phone, "
                "delivery_radius_km, min_order, delivery_fee, open, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, 0, 1, UTC_TIMESTAMP(), "
                "UTC_TIMESTAMP())",
                rows,
            )
        conn.commit()
    finally:
        conn.close()
    for lat, lng, radius in [
        (37.5665, 126.978, 3),
        (37.60, 127.05, 2),
        (37.45, 126.85, 5),
        (37.5665, 126.978, 12),
    ]:
        body = (
            await api.get(f"/api/stores?lat={lat}&lng={lng}&radius_km={radius}&limit=200")
        ).json()
        expected = sorted(
            (distance_km(lat, lng, r[4], r[5]), r[1])
            for r in rows
            if distance_km(lat, lng, r[4], r[5]) <= min(radius, r[7])
        )[:200]
        assert len(expected) > 10
        assert [s["name"] for s in body["stores"]] == [name for _, name in expected]


async def test_stores_can_be_listed_by_owner(owner: Api, api_factory: Any) -> None:
    other: Api = await api_factory()
    await other.sign_in_as("owner")
    mine = await create_store(owner, name="Mine")
    await create_store(other, name="Theirs")
    owner_id = owner.user["id"]  # type: ignore[index]
    found = (await owner.get(f"/api/stores?owner_id={owner_id}")).json()["stores"]
    assert found == [mine]


async def test_nearby_search_works_across_the_antimeridian(owner: Api, api: Api) -> None:
    await create_store(owner, name="East", lat=-17.0, lng=179.99)
    await create_store(owner, name="West", lat=-17.0, lng=-179.99)
    await create_store(owner, name="Far", lat=-17.0, lng=179.5)
    body = (await api.get("/api/stores?lat=-17.0&lng=179.995&radius_km=5")).json()
    assert [s["name"] for s in body["stores"]] == ["East", "West"]
    body = (await api.get("/api/stores?lat=-17.0&lng=-179.999&radius_km=5")).json()
    assert [s["name"] for s in body["stores"]] == ["West", "East"]
