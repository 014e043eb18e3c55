"""Favourite stores: a heart per store and customer, set and unset idempotently."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import open_shop

Factory = Callable[[], Awaitable[Api]]


async def signed_in(make: Factory, role: str) -> Api:
    api = await make()
    await api.sign_in_as(role)
    return api


async def favourite_ids(api: Api) -> list[int]:
    response = await api.get("/api/me/favourites")
    assert response.status_code == 200, response.text
    return [store["id"] for store in response.json()["stores"]]


async def test_hearts_are_set_and_unset_idempotently_and_listed_newest_first(
    api_factory: Factory, infra: Infra
) -> None:
    owner, me = await signed_in(api_factory, "owner"), await signed_in(api_factory, "customer")
    first, second = await open_shop(owner), await open_shop(owner)
    assert await favourite_ids(me) == []
    for _ in range(2):
        put = await me.put(f"/api/me/favourites/{first.id}")
        assert put.status_code == 204 and put.content == b""
    assert (await me.put(f"/api/me/favourites/{second.id}")).status_code == 204
    assert await favourite_ids(me) == [second.id, first.id]
    listed = (await me.get("/api/me/favourites")).json()["stores"]
    # The same `store` as the catalog shows (without the menu).
    page = (await me.get(f"/api/stores/{first.id}")).json()
    assert listed[1] == {key: value for key, value in page.items() if key != "menu"}
    assert infra.query("SELECT COUNT(*) FROM favourites") == [(2,)]
    for _ in range(2):
        gone = await me.delete(f"/api/me/favourites/{first.id}")
        assert gone.status_code == 204 and gone.content == b""
    assert await favourite_ids(me) == [second.id]


async def test_unknown_stores_other_customers_and_other_roles(
    api_factory: Factory,
) -> None:
    owner, me = await signed_in(api_factory, "owner"), await signed_in(api_factory, "customer")
    other = await signed_in(api_factory, "customer")
    shop = await open_shop(owner)
    await me.put(f"/api/me/favourites/{shop.id}")
    assert await favourite_ids(other) == []
    # Another customer's heart is theirs: removing one's own (absent) heart leaves it.
    assert (await other.delete(f"/api/me/favourites/{shop.id}")).status_code == 204
    assert await favourite_ids(me) == [shop.id]
    for unknown in (shop.id + 1000, 99999999999999999999):
        assert_problem(await me.put(f"/api/me/favourites/{unknown}"), 404, "not-found")
        assert_problem(await me.delete(f"/api/me/favourites/{unknown}"), 404, "not-found")
    assert_problem(await owner.put(f"/api/me/favourites/{shop.id}"), 403, "forbidden")
    assert_problem(await owner.get("/api/me/favourites"), 403, "forbidden")
    anonymous = await api_factory()
    assert_problem(await anonymous.get("/api/me/favourites"), 401, "unauthenticated")
    assert_problem(await anonymous.put(f"/api/me/favourites/{shop.id}"), 401, "unauthenticated")


async def test_at_most_two_hundred_favourites(api_factory: Factory, infra: Infra) -> None:
    owner, me = await signed_in(api_factory, "owner"), await signed_in(api_factory, "customer")
    assert owner.user is not None and me.user is not None
    shop = await open_shop(owner)
    # 200 other stores made and marked in SQL: through the API it would take minutes.
    values = ", ".join(
        f"({owner.user['id']}, 'Store {i}', 'korean', 'x', 37.5, 127.0, '02-123-4567', "
        "0, 0, 1, NOW(6), NOW(6))"
        for i in range(200)
    )
    infra.query(
        "INSERT INTO stores (owner_id, name, category, address, lat, lng, phone, min_order, "
        f"delivery_fee, open, created_at, updated_at) VALUES {values}"
    )
    infra.query(
        "INSERT INTO favourites (customer_id, store_id, created_at, updated_at) "
        "SELECT %s, id, NOW(6), NOW(6) FROM stores WHERE name LIKE 'Store %%'",
        me.user["id"],
    )
    full = assert_problem(await me.put(f"/api/me/favourites/{shop.id}"), 409, "limit-reached")
    assert "200" in full["detail"]
    assert len(await favourite_ids(me)) == 200
    # One already held is still "set": idempotent even when full.
    [(held,)] = infra.query("SELECT MIN(store_id) FROM favourites")
    assert (await me.put(f"/api/me/favourites/{held}")).status_code == 204
    assert (await me.delete(f"/api/me/favourites/{held}")).status_code == 204
    assert (await me.put(f"/api/me/favourites/{shop.id}")).status_code == 204


async def test_the_same_heart_set_at_once_on_two_nodes_is_stored_once(
    apps: AppPool, infra: Infra
) -> None:
    node_a, node_b = await apps.start(), await apps.start()
    owner = await apps.client(node_a)
    await owner.sign_in_as("owner")
    shop = await open_shop(owner)
    on_a, on_b = await apps.client(node_a), await apps.client(node_b)
    await on_a.sign_in_as("customer")
    on_a.share_session_with(on_b)
    answers = await asyncio.gather(
        *((on_a if i % 2 else on_b).put(f"/api/me/favourites/{shop.id}") for i in range(10))
    )
    assert [r.status_code for r in answers] == [204] * 10, [r.text for r in answers]
    assert infra.query("SELECT COUNT(*) FROM favourites") == [(1,)]
