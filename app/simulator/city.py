"""The city: stores with menus, customers and riders, signed up and in through the API."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from app.simulator.http import ApiClient
from app.simulator.recorder import Recorder

CITY_HALL = (37.5663, 126.9779)
CATEGORIES = ["korean", "chicken", "pizza", "burger", "chinese", "japanese", "asian", "snack"]
DISHES = [
    "Bibimbap",
    "Fried chicken",
    "Bulgogi",
    "Jjajangmyeon",
    "Tteokbokki",
    "Ramen",
    "Pork cutlet",
    "Kimchi stew",
    "Dumplings",
    "Cold noodles",
]
T = TypeVar("T")


def offset(rng: random.Random, center: tuple[float, float], km: float) -> tuple[float, float]:
    """A point uniformly within `km` of `center`."""
    distance = km * math.sqrt(rng.random())
    angle = rng.uniform(0, 2 * math.pi)
    lat = center[0] + distance * math.cos(angle) / 111.0
    lng = center[1] + distance * math.sin(angle) / (111.0 * math.cos(math.radians(center[0])))
    return round(lat, 6), round(lng, 6)


def km_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass
class Item:
    id: int
    price: int


@dataclass
class Store:
    id: int
    owner: ApiClient
    position: tuple[float, float]
    delivery_fee: int
    items: list[Item]
    platter: Item  # a party platter: large orders are how points add up to a conversion


@dataclass
class Person:
    api: ApiClient
    id: int
    position: tuple[float, float]


@dataclass
class City:
    """Everyone the simulation drives, and the coupon campaign."""

    stores: list[Store] = field(default_factory=list)
    customers: list[Person] = field(default_factory=list)
    riders: list[Person] = field(default_factory=list)
    campaign_id: int | None = None
    campaign_quantity: int = 0
    admin: ApiClient | None = None

    def clients(self) -> list[ApiClient]:
        """Every API client, to close at the end."""
        people = [s.owner for s in self.stores] + [p.api for p in self.customers + self.riders]
        return people + ([self.admin] if self.admin else [])


async def _bounded(jobs: list[Awaitable[T]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


def _ok(reply: Any, what: str) -> dict[str, Any]:
    if not reply.ok:
        raise RuntimeError(f"{what} failed: {reply.status} {reply.body}")
    body: dict[str, Any] = reply.body
    return body


async def _store(api: ApiClient, rng: random.Random, n: int) -> Store:
    position = offset(rng, CITY_HALL, 2.5)
    fee = rng.choice([0, 2000, 3000])
    store = _ok(
        await api.call(
            "create-store",
            "POST",
            "/api/stores",
            json={
                "name": f"Kitchen {n}",
                "category": CATEGORIES[n % len(CATEGORIES)],
                "address": f"{n} Sejong-daero, Seoul",
                "lat": position[0],
                "lng": position[1],
                "phone": "02-123-4567",
                "min_order": 0,
                "delivery_fee": fee,
                # Customers live up to 3.5 km from City Hall and stores 2.5 km: every store
                # delivers to every customer.
                "delivery_radius_km": 8,
            },
        ),
        "creating a store",
    )
    items = []
    for dish in rng.sample(DISHES, 5):
        body = {"name": dish, "price": rng.randrange(8000, 26000, 500), "group": "Mains"}
        items.append(
            _ok(
                await api.call("add-item", "POST", f"/api/stores/{store['id']}/menu", json=body),
                "adding an item",
            )
        )
    platter = _ok(
        await api.call(
            "add-item",
            "POST",
            f"/api/stores/{store['id']}/menu",
            json={
                "name": "Party platter",
                "price": rng.randrange(250_000, 600_000, 10_000),
                "group": "Catering",
            },
        ),
        "adding the platter",
    )
    _ok(
        await api.call("open-store", "PATCH", f"/api/stores/{store['id']}", json={"open": True}),
        "opening the store",
    )
    return Store(
        id=int(store["id"]),
        owner=api,
        position=position,
        delivery_fee=fee,
        items=[Item(int(i["id"]), int(i["price"])) for i in items],
        platter=Item(int(platter["id"]), int(platter["price"])),
    )


async def build_city(
    *,
    url: str,
    recorder: Recorder,
    rng: random.Random,
    run_id: str,
    stores: int,
    customers: int,
    riders: int,
    admin: tuple[str, str] | None,
) -> City:
    """Sign everyone up, open the stores, start the coupon campaign."""
    city = City()

    def client() -> ApiClient:
        return ApiClient(url, recorder, random.Random(rng.random()))

    async def person(role: str, n: int, around: tuple[float, float], km: float) -> Person:
        api = client()
        await api.sign_up_and_in(f"sim-{run_id}-{role}{n}@example.com", f"{role} {n}", role)
        return Person(api, int(api.user["id"]), offset(rng, around, km))

    owners = await _bounded([person("owner", n, CITY_HALL, 0) for n in range(stores)], 8)
    city.stores = await _bounded([_store(owner.api, rng, n) for n, owner in enumerate(owners)], 4)
    city.customers = await _bounded(
        [person("customer", n, CITY_HALL, 3.5) for n in range(customers)], 8
    )
    city.riders = await _bounded([person("rider", n, CITY_HALL, 3.0) for n in range(riders)], 8)
    if admin is not None:
        city.admin = client()
        await city.admin.sign_in(*admin)
        now = datetime.now(UTC)
        # Fewer coupons than customers: the campaign sells out during the run.
        city.campaign_quantity = max(1, customers // 2)
        campaign = _ok(
            await city.admin.call(
                "create-campaign",
                "POST",
                "/api/coupon-campaigns",
                json={
                    "name": f"Dinner rush {run_id}",
                    "discount": 3000,
                    "min_order": 15000,
                    "quantity": city.campaign_quantity,
                    "starts_at": (now - timedelta(minutes=1)).isoformat(),
                    "ends_at": (now + timedelta(days=1)).isoformat(),
                },
            ),
            "creating the coupon campaign",
        )
        city.campaign_id = int(campaign["id"])
    return city
