"""Bad input always gets the API's problem+json: never a 500, never HTML."""

from __future__ import annotations

import pytest

from tests.client import DEFAULT_PASSWORD, Api, assert_problem, unique_email


async def test_malformed_json_is_validation(api: Api) -> None:
    response = await api.post(
        "/api/auth/signup", content=b'{"email": "a@', headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 400, "validation")
    assert body["errors"] == [
        {"field": "body", "message": "The body is not valid JSON.", "type": "json_invalid"}
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": 12, "password": DEFAULT_PASSWORD, "name": "x", "role": "customer"}, "email"),
        (
            {"email": "a@example.com", "password": ["x"], "name": "x", "role": "customer"},
            "password",
        ),
        (
            {
                "email": "a@example.com",
                "password": DEFAULT_PASSWORD,
                "name": None,
                "role": "customer",
            },
            "name",
        ),
        ({"email": "a@example.com", "password": DEFAULT_PASSWORD, "name": "x", "role": 3}, "role"),
        (
            {
                "email": "not-an-email",
                "password": DEFAULT_PASSWORD,
                "name": "x",
                "role": "customer",
            },
            "email",
        ),
        (
            {
                "email": "a@example.com",
                "password": DEFAULT_PASSWORD,
                "name": "",
                "role": "customer",
            },
            "name",
        ),
    ],
)
async def test_wrong_types_are_validation_naming_the_field(
    api: Api, payload: dict[str, object], field: str
) -> None:
    body = assert_problem(await api.post("/api/auth/signup", json=payload), 400, "validation")
    assert [e["field"] for e in body["errors"]] == [field]


async def test_missing_fields_are_each_named(api: Api) -> None:
    body = assert_problem(
        await api.post("/api/auth/signup", json={"email": "a@example.com"}), 400, "validation"
    )
    assert sorted(e["field"] for e in body["errors"]) == ["name", "password", "role"]


async def test_a_body_that_is_not_an_object_is_validation(api: Api) -> None:
    assert_problem(await api.post("/api/auth/login", json=["a", "b"]), 400, "validation")


async def test_unknown_fields_are_refused(api: Api) -> None:
    payload = {
        "email": unique_email(),
        "password": DEFAULT_PASSWORD,
        "name": "x",
        "role": "customer",
        "is_admin": True,
    }
    body = assert_problem(await api.post("/api/auth/signup", json=payload), 400, "validation")
    assert body["errors"] == [
        {
            "field": "is_admin",
            "message": "“is_admin” is not a field this request takes.",
            "type": "extra_forbidden",
        }
    ]


async def test_oversize_body_is_too_large(api: Api) -> None:
    big = b'{"email": "' + b"a" * (7 * 1024 * 1024) + b'"}'
    response = await api.post(
        "/api/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "too-large")


async def test_unknown_route_is_not_found(api: Api) -> None:
    assert_problem(await api.get("/api/no-such-thing"), 404, "not-found")


async def test_wrong_method_is_method_not_allowed(api: Api) -> None:
    response = await api.delete("/api/auth/login")
    assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]


async def test_wrong_content_type_is_unsupported_media_type(api: Api) -> None:
    response = await api.post(
        "/api/auth/login",
        content=b"email=a&password=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_protected_endpoint_without_session_is_unauthenticated(api: Api) -> None:
    assert_problem(await api.get("/api/me"), 401, "unauthenticated")
    assert_problem(await api.post("/api/auth/logout"), 401, "unauthenticated")
