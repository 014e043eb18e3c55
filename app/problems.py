"""Every error the API returns, as RFC 9457 problem+json, from one place."""

from __future__ import annotations

import logging
import uuid

from quart import Quart, Response, g, json
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from app.db import is_retryable
from app.errors import DomainError, problem_body

log = logging.getLogger("delivery.errors")

PROBLEM_TYPE = "application/problem+json"


# Generic HTTP failures raised by the framework (routing, body limits, methods).
_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("validation", "The request is not valid"),
    401: ("unauthenticated", "Sign-in required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    408: ("timeout", "Request timed out"),
    413: ("too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many attempts"),
}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build a problem+json response."""
    body = problem_body(status, code, title, detail, errors=errors)
    response = Response(
        json.dumps(body, ensure_ascii=False), status=status, content_type=PROBLEM_TYPE
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def request_id() -> str:
    """This request's id (from the proxy's X-Request-ID when present)."""
    rid = getattr(g, "request_id", None)
    if rid is None:
        rid = g.request_id = uuid.uuid4().hex
    return str(rid)


def register_error_handlers(app: Quart) -> None:
    """Map domain errors, framework HTTP errors and anything unexpected to problem+json."""

    @app.errorhandler(DomainError)
    async def _domain(error: DomainError) -> Response:
        return problem(
            error.status,
            error.code,
            error.title,
            error.detail,
            errors=error.errors,
            headers=error.headers,
        )

    @app.errorhandler(HTTPException)
    async def _http(error: HTTPException) -> Response:
        status = error.code or 500
        if status >= 500:
            return await _unexpected(error)
        code, title = _HTTP_CODES.get(status, ("http-error", error.name))
        headers = {}
        if status == 405 and error.get_response().headers.get("Allow"):
            headers["Allow"] = error.get_response().headers["Allow"]
        return problem(status, code, title, error.description, headers=headers)

    @app.errorhandler(DBAPIError)
    async def _database(error: DBAPIError) -> Response:
        if is_retryable(error) or isinstance(error, OperationalError):
            log.warning(
                "database unavailable or contended (request %s): %s", request_id(), error.orig
            )
            return problem(
                503,
                "unavailable",
                "The database is busy or unreachable",
                "Nothing was changed; retry shortly.",
                headers={"Retry-After": "1"},
            )
        return await _unexpected(error)

    @app.errorhandler(RedisError)
    async def _redis(error: RedisError) -> Response:
        if isinstance(error, RedisConnectionError | RedisTimeoutError):
            log.warning("redis unavailable (request %s): %s", request_id(), error)
            return problem(
                503,
                "unavailable",
                "A dependency is unavailable",
                "A Redis server did not answer; retry shortly.",
                headers={"Retry-After": "1"},
            )
        return await _unexpected(error)

    @app.errorhandler(Exception)
    async def _unexpected(error: Exception) -> Response:
        rid = request_id()
        log.exception("unhandled error (request %s)", rid, exc_info=error)
        return problem(
            500,
            "internal",
            "Internal server error",
            f"Something went wrong on our side. Request id: {rid}.",
        )
