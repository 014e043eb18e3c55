"""Hostile input to every endpoint, found by walking the route table: deeply nested JSON is 400
`validation`, an id beyond what a BIGINT column holds is 404 `not-found`; never a 500."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.routing import Rule

from app import DeliveryApp
from app.responses import AUTH_ATTRIBUTE
from app.validation import MAX_ID
from tests.client import Api, assert_problem
from tests.conftest import AppPool
from tests.harness import Infra
from tests.orders.helpers import new_key, open_shop, order_body
from tests.rewards.helpers import sign_in_admin

# 4 KiB of brackets: deeper than Python's recursion limit.
NESTED = b"[" * 4096
BEYOND = (str(MAX_ID + 1), str(10**30), "9" * 5000)
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Route:
    rule: Rule
    method: str
    view: Any

    @property
    def takes_json(self) -> bool:
        return getattr(self.view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is not None

    @property
    def roles(self) -> tuple[str, ...] | None:
        """Who may call it: None for anyone, () for any signed-in role."""
        roles: tuple[str, ...] | None = getattr(self.view, AUTH_ATTRIBUTE, None)
        return roles

    def path(self, value: object) -> str:
        """The rule's path with every parameter set to `value`."""
        return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", str(value), self.rule.rule)

    def __str__(self) -> str:
        return f"{self.method} {self.rule.rule}"


def routes(app: DeliveryApp) -> Iterator[Route]:
    """Every (rule, method) the app answers, but sign-out last (it ends the session)."""
    rules = sorted(app.quart.url_map.iter_rules(), key=lambda r: r.rule == "/api/auth/logout")
    for rule in rules:
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield Route(rule, method, app.quart.view_functions[rule.endpoint])


@pytest.fixture
async def callers(apps: AppPool, app: DeliveryApp) -> dict[str, Api]:
    """A signed-in client of every role, and an anonymous one."""
    out = {"anonymous": await apps.client(app), "admin": await sign_in_admin(apps, app)}
    for role in ("customer", "owner", "rider"):
        out[role] = await apps.client(app)
        await out[role].sign_in_as(role)
    return out


def caller_of(route: Route, callers: dict[str, Api]) -> Api:
    """A client the route lets through to its parsing."""
    if route.roles is None:
        return callers["anonymous"]
    return callers[route.roles[0] if route.roles else "customer"]


def assert_not_a_fault(response: httpx.Response, what: str) -> None:
    """A client error as problem+json, or a success: never a 5xx, never HTML."""
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), what


async def test_every_json_endpoint_answers_deeply_nested_json_with_validation(
    app: DeliveryApp, callers: dict[str, Api]
) -> None:
    json_routes = 0
    for route in routes(app):
        api = caller_of(route, callers)
        response = await api.request(
            route.method,
            route.path(1),
            content=NESTED,
            headers={"Content-Type": "application/json", "Idempotency-Key": new_key()},
        )
        if route.takes_json:
            json_routes += 1
            body = assert_problem(response, 400, "validation")
            assert body["errors"] == [
                {
                    "field": "body",
                    "message": "The body is nested too deeply.",
                    "type": "json_invalid",
                }
            ], route
        else:
            assert_not_a_fault(response, str(route))
    assert json_routes >= 12  # the walk found the API's bodies


async def test_every_path_id_beyond_the_column_range_is_not_found(
    app: DeliveryApp, callers: dict[str, Api]
) -> None:
    with_ids = [route for route in routes(app) if "<int:" in route.rule.rule]
    assert len(with_ids) >= 15
    for route in with_ids:
        api = caller_of(route, callers)
        for value in BEYOND:
            response = await api.request(route.method, route.path(value), json={})
            assert_problem(response, 404, "not-found")
        # The largest id a column holds reaches the database, which finds nothing.
        response = await api.request(route.method, route.path(MAX_ID), json={})
        assert_not_a_fault(response, f"{route} with id {MAX_ID}")


@pytest.mark.parametrize(
    "change",
    [
        {"coupon_id": MAX_ID + 1},
        {"coupon_id": 2**64},
        {"store_id": MAX_ID + 1},
        {"items": [{"menu_item_id": MAX_ID + 1, "quantity": 1}]},
        {"items": [{"menu_item_id": "BURGER", "quantity": 1, "option_ids": [MAX_ID + 1]}]},
    ],
    ids=["coupon", "coupon-2^64", "store", "item", "option"],
)
async def test_an_order_naming_an_id_beyond_the_column_range_is_not_found_and_nothing_is_kept(
    apps: AppPool, app: DeliveryApp, infra: Infra, change: dict[str, Any]
) -> None:
    owner, customer = await apps.client(app), await apps.client(app)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    body = {**order_body(shop), **copy.deepcopy(change)}
    if body["items"][0]["menu_item_id"] == "BURGER":
        body["items"][0]["menu_item_id"] = shop.burger["id"]
    response = await customer.post("/api/orders", json=body, headers={"Idempotency-Key": new_key()})
    problem = assert_problem(response, 404, "not-found")
    assert str(MAX_ID + 1) in problem["detail"] or str(2**64) in problem["detail"]
    assert infra.query("SELECT COUNT(*) FROM orders") == [(0,)]


async def test_an_order_naming_the_largest_coupon_id_is_refused_as_any_unknown_coupon(
    apps: AppPool, app: DeliveryApp
) -> None:
    owner, customer = await apps.client(app), await apps.client(app)
    await owner.sign_in_as("owner")
    await customer.sign_in_as("customer")
    shop = await open_shop(owner)
    response = await customer.post(
        "/api/orders",
        json=order_body(shop, coupon_id=MAX_ID),
        headers={"Idempotency-Key": new_key()},
    )
    assert_problem(response, 409, "coupon-unusable")


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("owner", f"/api/orders?store_id={MAX_ID + 1}"),
        ("customer", f"/api/orders?store_id={10**40}"),
        ("anonymous", f"/api/stores?owner_id={MAX_ID + 1}"),
    ],
)
async def test_a_query_id_beyond_the_column_range_is_not_found(
    callers: dict[str, Api], role: str, path: str
) -> None:
    assert_problem(await callers[role].get(path), 404, "not-found")


async def test_a_query_id_at_the_top_of_the_range_finds_nothing(callers: dict[str, Api]) -> None:
    response = await callers["anonymous"].get(f"/api/stores?owner_id={MAX_ID}")
    assert response.status_code == 200, response.text
    assert response.json()["stores"] == []
