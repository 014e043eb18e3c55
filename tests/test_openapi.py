"""The API description: valid OpenAPI 3, complete for every operation, and the same as the
committed reference (docs/openapi.json) and the endpoints docs/api.md lists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from app.errors import ProblemCode
from app.problems import PROBLEMS
from tests.client import Api

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
async def spec(api: Api) -> dict[str, Any]:
    """The description as a running app serves it."""
    response = await api.get("/api/openapi.json")
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_description_is_valid_openapi_3(spec: dict[str, Any]) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_operation_has_a_schema_for_each_status_it_documents(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        if not any(status.startswith("2") for status in responses):
            missing.append(f"{method} {path}: no success response")
        for status, response in responses.items():
            if status == "204":
                assert "content" not in response, (method, path)
                continue
            content = response.get("content") or {}
            if not content or not all(media.get("schema") for media in content.values()):
                missing.append(f"{method} {path} {status}")
    assert missing == []


def test_every_problem_response_names_its_codes_and_their_status(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            assert list(response["content"]) == ["application/problem+json"], (method, path)
            schema = response["content"]["application/problem+json"]["schema"]
            if "allOf" not in schema:  # a problem with more fields (readiness)
                assert _resolve(spec, schema)["properties"]["code"]
                continue
            codes = schema["properties"]["code"]["enum"]
            assert codes, (method, path, status)
            assert {PROBLEMS[ProblemCode(code)][0] for code in codes} == {int(status)}
            for code in codes:
                assert f"`{code}`" in response["description"]


def test_the_problem_schema_lists_every_code(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status", "code"]
    codes = _resolve(spec, problem["properties"]["code"])["enum"]
    assert set(codes) == set(ProblemCode)


def test_signed_in_operations_name_the_cookie_and_writes_the_csrf_header(
    spec: dict[str, Any],
) -> None:
    assert spec["components"]["securitySchemes"]["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "delivery_session",
        "description": "The session cookie set by `POST /api/auth/login` (HttpOnly).",
    }
    for method, path, operation in _operations(spec):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        signed_in = operation.get("security") == [{"session": []}]
        if signed_in:
            assert "401" in operation["responses"], (method, path)
        assert ("X-CSRF-Token" in headers) == (signed_in and method != "GET"), (method, path)
    place = spec["paths"]["/api/orders"]["post"]
    assert any(
        p["name"] == "Idempotency-Key" and p["in"] == "header" and p["required"]
        for p in place["parameters"]
    )


def test_uploads_are_multipart_with_one_binary_file(spec: dict[str, Any]) -> None:
    for path in ("/api/stores/{store_id}/image", "/api/menu-items/{item_id}/image"):
        body = spec["paths"][path]["put"]["requestBody"]
        schema = body["content"]["multipart/form-data"]["schema"]
        assert body["required"] is True
        assert schema["required"] == ["file"]
        assert schema["properties"]["file"]["format"] == "binary"


def test_enums_and_nullable_fields_are_declared(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas["Category"]["enum"]) >= {"korean", "chicken", "dessert"}
    assert set(schemas["Role"]["enum"]) == {"customer", "owner", "rider", "admin"}
    assert "picked_up" in schemas["Status"]["enum"]
    assert set(schemas["PaymentMethod"]["enum"]) == {"card", "points"}
    order = schemas["OrderOut"]["properties"]
    assert {"type": "null"} in order["rider"]["anyOf"]
    assert {"type": "null"} in order["payment"]["anyOf"]
    assert "anyOf" not in order["total"] and order["total"]["type"] == "integer"
    store = schemas["ListedStoreOut"]
    assert "distance_km" not in store["required"] and store["properties"]["distance_km"] == {
        "description": "Kilometres from the given lat/lng; present only when they were given.",
        "title": "Distance Km",
        "type": "number",
    }


def test_the_committed_reference_is_the_live_description(spec: dict[str, Any]) -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == spec, "run `delivery openapi` to regenerate docs/openapi.json"


def test_docs_api_md_lists_every_operation_and_every_problem_code(spec: dict[str, Any]) -> None:
    reference = (ROOT / "docs" / "api.md").read_text()
    listed = set(re.findall(r"^\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)`", reference, re.M))
    assert listed == {(method, path) for method, path, _ in _operations(spec)}
    for code in ProblemCode:
        assert f"`{code}`" in reference, code
