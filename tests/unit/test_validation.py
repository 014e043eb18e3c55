"""Request parsing: 415 unless JSON, 400 with one entry per bad field, unknown fields refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import Field
from quart import Quart

from app.errors import UnsupportedMediaType, ValidationFailed
from app.orders.schemas import PlaceOrderRequest
from app.problems import register_error_handlers
from app.validation import Schema, body, load, query


class Line(Schema):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class Basket(Schema):
    name: str = Field(max_length=10)
    lines: list[Line] = Field(default_factory=list)


class Page(Schema):
    limit: int = Field(default=20, ge=1, le=100)
    q: str | None = None


def errors_of(model: type[Schema], data: Any) -> list[dict[str, str]]:
    """The field errors `load` raises for `data`."""
    with pytest.raises(ValidationFailed) as refused:
        load(model, data)
    assert refused.value.status == 400 and refused.value.code == "validation"
    assert refused.value.errors is not None
    return refused.value.errors


def test_a_valid_body_is_parsed_and_its_strings_stripped() -> None:
    basket = load(Basket, {"name": "  lunch ", "lines": [{"sku": "k1", "quantity": "2"}]})
    assert basket == Basket(name="lunch", lines=[Line(sku="k1", quantity=2)])


def test_each_bad_field_is_named_by_its_path() -> None:
    errors = errors_of(
        Basket, {"name": "x" * 11, "lines": [{"sku": "a", "quantity": 1}, {"sku": ""}]}
    )
    assert [e["field"] for e in errors] == ["name", "lines[1].sku", "lines[1].quantity"]
    assert errors[2]["message"] == "Field required"


def test_unknown_fields_are_refused_by_name() -> None:
    errors = errors_of(
        Basket, {"name": "a", "extra": 1, "lines": [{"sku": "a", "quantity": 1, "x": 2}]}
    )
    assert sorted(errors, key=lambda e: e["field"]) == [
        {"field": "extra", "message": "unknown field"},
        {"field": "lines[0].x", "message": "unknown field"},
    ]


def test_a_body_that_is_not_an_object_is_a_body_error() -> None:
    assert [e["field"] for e in errors_of(Basket, [1, 2])] == ["body"]


def test_list_positions_are_indexes_in_the_path() -> None:
    order = {
        "store_id": 1,
        "items": [{"menu_item_id": 1, "quantity": 1, "option_ids": [4, -1]}],
        "address": {"text": "here", "lat": 1, "lng": 2},
        "payment": {"method": "points"},
    }
    errors = errors_of(PlaceOrderRequest, order)
    assert errors == [
        {"field": "items[0].option_ids[1]", "message": "Input should be greater than 0"}
    ]


@pytest.fixture
def app() -> Quart:
    """An app with one JSON route and one query-string route, and the error handlers."""
    app = Quart(__name__)
    register_error_handlers(app)

    @app.post("/baskets")
    @body(Basket)
    async def create(data: Basket) -> dict[str, Any]:
        return data.model_dump()

    @app.get("/baskets")
    @query(Page)
    async def search(query: Page) -> dict[str, Any]:
        return query.model_dump()

    return app


async def test_a_json_body_reaches_the_view_as_the_model(app: Quart) -> None:
    response = await app.test_client().post("/baskets", json={"name": "lunch"})
    assert response.status_code == 200
    assert await response.get_json() == {"name": "lunch", "lines": []}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}],
)
async def test_a_body_not_sent_as_json_is_415(app: Quart, headers: dict[str, str]) -> None:
    response = await app.test_client().post(
        "/baskets", data=json.dumps({"name": "lunch"}), headers=headers
    )
    problem = await response.get_json()
    assert (response.status_code, problem["code"]) == (415, UnsupportedMediaType.code)


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b"{'name': 'x'}"])
async def test_malformed_json_is_400_naming_the_body(app: Quart, raw: bytes) -> None:
    response = await app.test_client().post(
        "/baskets", data=raw, headers={"Content-Type": "application/json"}
    )
    problem = await response.get_json()
    assert response.status_code == 400
    assert problem["errors"] == [{"field": "body", "message": "malformed JSON"}]


async def test_query_strings_are_validated_like_bodies(app: Quart) -> None:
    client = app.test_client()
    ok = await client.get("/baskets", query_string={"limit": "5", "q": " soup "})
    assert await ok.get_json() == {"limit": 5, "q": "soup"}
    assert await (await client.get("/baskets")).get_json() == {"limit": 20, "q": None}
    bad = await client.get("/baskets", query_string={"limit": "0", "page": "2"})
    problem = await bad.get_json()
    assert bad.status_code == 400
    assert [e["field"] for e in problem["errors"]] == ["limit", "page"]
