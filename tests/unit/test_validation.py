"""Request parsing: 415 unless JSON, 400 with one entry per bad field, unknown fields refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from pydantic import BaseModel, Field
from quart import Quart
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
)

from app import create_app
from app.config import Settings
from app.errors import NotFound, UnsupportedMediaType, ValidationFailed
from app.orders.schemas import PlaceOrderRequest
from app.problems import register_error_handlers
from app.validation import MAX_ID, Id, Schema, body, field_is_id, load, names_ids, query


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
    assert errors[2]["message"] == "Quantity (entry 2) is required."
    assert [e["type"] for e in errors] == ["string_too_long", "string_too_short", "missing"]


def test_unknown_fields_are_refused_by_name() -> None:
    errors = errors_of(
        Basket, {"name": "a", "extra": 1, "lines": [{"sku": "a", "quantity": 1, "x": 2}]}
    )
    assert sorted(errors, key=lambda e: e["field"]) == [
        {
            "field": "extra",
            "message": "“extra” is not a field this request takes.",
            "type": "extra_forbidden",
        },
        {
            "field": "lines[0].x",
            "message": "“x” is not a field this request takes.",
            "type": "extra_forbidden",
        },
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
        {
            "field": "items[0].option_ids[1]",
            "message": "Options (line 1) must be more than 0.",
            "type": "greater_than",
        }
    ]


CARD_ORDER = {
    "store_id": 1,
    "items": [{"menu_item_id": 1, "quantity": 1}],
    "address": {"text": "here", "lat": 1, "lng": 2},
    "payment": {"method": "card", "card_number": "4242424242424242"},
}


@pytest.mark.parametrize(
    ("change", "field", "sentence", "kind"),
    [
        (
            {"payment": {"method": "card", "card_number": "4242 4242"}},
            "payment.card.card_number",
            "Card number must be 16 digits.",
            "string_pattern_mismatch",
        ),
        (
            {"payment": {"method": "card", "card_number": 4242424242424242}},
            "payment.card.card_number",
            "Card number must be 16 digits.",
            "string_type",
        ),
        (
            {"items": [{"menu_item_id": 1, "quantity": 100}]},
            "items[0].quantity",
            "Quantity (line 1) must be at most 99.",
            "less_than_equal",
        ),
        ({"items": []}, "items", "Items need at least one entry.", "too_short"),
        ({"use_points": -1}, "use_points", "Points must be at least 0.", "greater_than_equal"),
        ({"use_points": "many"}, "use_points", "Points must be a whole number.", "int_parsing"),
        (
            {"address": {"text": "", "lat": 1, "lng": 2}},
            "address.text",
            "Address cannot be empty.",
            "string_too_short",
        ),
        (
            {"address": {"text": "here", "lat": 91, "lng": 2}},
            "address.lat",
            "Latitude must be at most 90.",
            "less_than_equal",
        ),
        (
            {"payment": {"method": "cash"}},
            "payment",
            "Payment method must be one of 'card', 'points'.",
            "union_tag_invalid",
        ),
        (
            {"store_note": "x" * 201},
            "store_note",
            "Store note must be at most 200 characters long.",
            "string_too_long",
        ),
    ],
)
def test_each_field_error_is_a_sentence_for_people_with_its_machine_type(
    change: dict[str, Any], field: str, sentence: str, kind: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        load(PlaceOrderRequest, {**CARD_ORDER, **change})
    assert refused.value.errors == [{"field": field, "message": sentence, "type": kind}]
    assert refused.value.detail == sentence


def test_the_detail_says_the_first_three_faults_and_counts_the_rest() -> None:
    with pytest.raises(ValidationFailed) as refused:
        load(Basket, {"name": "x" * 11, "lines": [{"sku": ""}, {"sku": ""}], "more": 1})
    assert refused.value.errors is not None and len(refused.value.errors) == 6
    assert refused.value.detail == (
        "Name must be at most 10 characters long. Sku (entry 1) cannot be empty. "
        "Quantity (entry 1) is required. (And 3 more.)"
    )


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
    assert problem["errors"] == [
        {"field": "body", "message": "The body is not valid JSON.", "type": "json_invalid"}
    ]


async def test_query_strings_are_validated_like_bodies(app: Quart) -> None:
    client = app.test_client()
    ok = await client.get("/baskets", query_string={"limit": "5", "q": " soup "})
    assert await ok.get_json() == {"limit": 5, "q": "soup"}
    assert await (await client.get("/baskets")).get_json() == {"limit": 20, "q": None}
    bad = await client.get("/baskets", query_string={"limit": "0", "page": "2"})
    problem = await bad.get_json()
    assert bad.status_code == 400
    assert [e["field"] for e in problem["errors"]] == ["limit", "page"]


class Claim(Schema):
    store_id: Id
    coupon_ids: list[Id] = Field(default_factory=list)
    note: str = ""


def test_ids_up_to_the_column_range_are_parsed() -> None:
    assert load(Claim, {"store_id": MAX_ID, "coupon_ids": [1]}).store_id == MAX_ID


@pytest.mark.parametrize(
    "data",
    [
        {"store_id": MAX_ID + 1},
        {"store_id": 1, "coupon_ids": [2, 10**40]},
        {"store_id": str(2**64)},
    ],
)
def test_an_id_beyond_the_column_range_is_not_found_naming_it(data: dict[str, Any]) -> None:
    with pytest.raises(NotFound) as refused:
        load(Claim, data)
    assert refused.value.status == 404 and refused.value.detail
    assert refused.value.detail.startswith("No such id: ")


def test_other_faults_beside_an_id_beyond_the_range_are_a_validation_problem() -> None:
    errors = errors_of(Claim, {"store_id": MAX_ID + 1, "note": 5})
    assert errors == [{"field": "note", "message": "Note must be text.", "type": "string_type"}]


def test_only_models_with_ids_say_they_may_answer_not_found() -> None:
    assert names_ids(Claim) and names_ids(PlaceOrderRequest)
    assert not names_ids(Basket) and not names_ids(Page)


async def test_json_nested_deeper_than_the_parser_allows_is_400(app: Quart) -> None:
    response = await app.test_client().post(
        "/baskets", data=b"[" * 100_000, headers={"Content-Type": "application/json"}
    )
    problem = await response.get_json()
    assert response.status_code == 400
    assert problem["errors"] == [
        {"field": "body", "message": "The body is nested too deeply.", "type": "json_invalid"}
    ]


def _request_models() -> dict[str, type[BaseModel]]:
    app = create_app(Settings.model_construct()).quart
    found: dict[str, type[BaseModel]] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for attribute in (QUART_SCHEMA_REQUEST_ATTRIBUTE, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE):
            declared = getattr(view, attribute, None)
            if declared is not None:
                # The body is declared as (model, source), the query string as the model.
                model = declared if isinstance(declared, type) else declared[0]
                found[f"{rule.rule} {attribute}"] = model
    return found


def _fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[tuple[str, Any]]:
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        yield f"{model.__name__}.{name}", field
        for inner in _models_in(field.annotation):
            yield from _fields(inner, seen)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in get_args(annotation):
        yield from _models_in(arg)


def test_every_id_a_request_can_carry_is_typed_as_an_id() -> None:
    models = _request_models()
    assert len(models) >= 10
    seen: set[type[BaseModel]] = set()
    named = {
        path: field
        for model in models.values()
        for path, field in _fields(model, seen)
        if path.endswith(("_id", "_ids", ".id"))
    }
    assert len(named) >= 5
    untyped = [path for path, field in named.items() if not field_is_id(field)]
    assert not untyped, f"type these as app.validation.Id: {untyped}"
