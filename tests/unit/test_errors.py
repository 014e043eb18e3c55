"""Problem+json: every failure, ours or the framework's, rendered the same way.

A bare Quart app with the error handlers and routes that fail on purpose, called through
Quart's in-memory test client (no socket).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from sqlalchemy.exc import OperationalError

from app.errors import Conflict, NotFound, RateLimited, Unavailable, ValidationFailed
from app.problems import PROBLEM_TYPE, problem, register_error_handlers

FAILURES: dict[str, Exception] = {
    "not-found": NotFound("Store 7 does not exist."),
    "conflict": Conflict("Sold out.", code="coupon-sold-out", title="Sold out"),
    "fields": ValidationFailed(
        "Some fields are missing or not valid.",
        errors=[{"field": "items[0].quantity", "message": "must be ≥ 1"}],
    ),
    "rate-limited": RateLimited(0.2),
    "our-503": Unavailable("The coupon counter is unavailable; retry shortly."),
    "redis-down": RedisConnectionError("Connection refused"),
    "redis-error": ResponseError("WRONGTYPE secret-key-name"),
    "database-down": OperationalError("SELECT 1", {}, Exception("server has gone away")),
    "bug": RuntimeError("password=hunter2"),
}


@pytest.fixture
def app() -> Quart:
    """An app with the error handlers and a route for each failure."""
    app = Quart(__name__)
    register_error_handlers(app)

    @app.get("/fail/<name>")
    async def fail(name: str) -> str:
        raise FAILURES[name]

    return app


async def call(app: Quart, path: str, method: str = "GET") -> tuple[int, dict[str, Any], Any]:
    """Status, body and headers of one request."""
    response = await app.test_client().open(path, method=method)
    assert response.content_type == PROBLEM_TYPE
    return response.status_code, json.loads(await response.get_data()), response.headers


async def test_a_domain_error_becomes_its_problem(app: Quart) -> None:
    status, body, _ = await call(app, "/fail/not-found")
    assert status == 404
    assert body == {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "code": "not-found",
        "detail": "Store 7 does not exist.",
    }


async def test_code_and_title_given_at_the_raise_win(app: Quart) -> None:
    status, body, _ = await call(app, "/fail/conflict")
    assert (status, body["type"], body["code"], body["title"]) == (
        409,
        "/problems/coupon-sold-out",
        "coupon-sold-out",
        "Sold out",
    )


async def test_field_errors_are_listed(app: Quart) -> None:
    status, body, _ = await call(app, "/fail/fields")
    assert status == 400 and body["code"] == "validation"
    assert body["errors"] == [
        {"field": "items[0].quantity", "message": "must be ≥ 1", "type": "invalid"}
    ]


async def test_rate_limited_says_when_to_retry_in_whole_seconds(app: Quart) -> None:
    status, body, headers = await call(app, "/fail/rate-limited")
    assert (status, body["code"], headers["Retry-After"]) == (429, "rate-limited", "1")
    assert body["detail"] == "Try again in 1 s."


async def test_framework_errors_are_problems_too(app: Quart) -> None:
    status, body, _ = await call(app, "/nowhere")
    assert (status, body["code"]) == (404, "not-found")
    status, body, headers = await call(app, "/fail/bug", method="DELETE")
    assert (status, body["code"], body["title"]) == (
        405,
        "method-not-allowed",
        "Method not allowed",
    )
    assert "GET" in headers["Allow"]


@pytest.mark.parametrize("name", ["redis-down", "database-down", "our-503"])
async def test_an_unreachable_dependency_is_503_safe_to_retry(app: Quart, name: str) -> None:
    status, body, headers = await call(app, f"/fail/{name}")
    assert (status, body["code"], headers["Retry-After"]) == (503, "unavailable", "1")
    assert "retry shortly" in body["detail"]


@pytest.mark.parametrize("name", ["bug", "redis-error"])
async def test_anything_else_is_500_and_tells_no_internals(app: Quart, name: str) -> None:
    status, body, _ = await call(app, f"/fail/{name}")
    assert (status, body["code"], body["title"]) == (500, "internal", "Internal server error")
    assert body["detail"].startswith("Something went wrong on our side. Request id: ")
    assert "hunter2" not in json.dumps(body) and "secret-key-name" not in json.dumps(body)


async def test_problem_keeps_non_ascii_and_omits_what_was_not_given() -> None:
    response = problem(400, "below-minimum-order", "Below the minimum order", "최소 ₩12,000")
    assert response.content_type == PROBLEM_TYPE
    raw = await response.get_data(as_text=True)
    assert "₩12,000" in raw and "최소" in raw
    assert json.loads(raw) == {
        "type": "/problems/below-minimum-order",
        "title": "Below the minimum order",
        "status": 400,
        "code": "below-minimum-order",
        "detail": "최소 ₩12,000",
    }
    bare = json.loads(await problem(409, "conflict", "Conflict").get_data(as_text=True))
    assert set(bare) == {"type", "title", "status", "code"}
