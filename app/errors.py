"""Every error the API returns, as RFC 9457 problem+json, from one place."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from quart import Quart, Response, g, json
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("delivery.errors")

PROBLEM_TYPE = "application/problem+json"


class DomainError(Exception):
    """A failure a client can cause or act on; becomes a problem+json response."""

    status: int = 400
    code: str = "validation"
    title: str = "Invalid request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or self.title)
        self.detail = detail
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.errors = errors
        self.headers = headers or {}


class ValidationFailed(DomainError):
    """Malformed input: wrong types, out-of-range values, unknown enum."""

    status, code, title = 400, "validation", "The request is not valid"


class Unauthenticated(DomainError):
    status, code, title = 401, "unauthenticated", "Sign-in required"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class CsrfFailed(DomainError):
    status, code, title = 403, "csrf", "Missing or wrong X-CSRF-Token"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    """A state conflict; always raised with a specific `code` from CONTRACT §1."""

    status, code, title = 409, "conflict", "Conflict"


class PaymentDeclined(DomainError):
    status, code, title = 402, "payment-declined", "The payment was declined"


class TooLarge(DomainError):
    status, code, title = 413, "too-large", "The request body is too large"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class IdempotencyMismatch(DomainError):
    status, code, title = 422, "idempotency-mismatch", "Idempotency-Key reused with another body"


class RateLimited(DomainError):
    status, code, title = 429, "rate-limited", "Too many attempts"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            detail or f"Try again in {retry_after} s.", headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after


class Unavailable(DomainError):
    status, code, title = 503, "unavailable", "A dependency is unavailable; safe to retry"


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
    body: dict[str, Any] = {"type": f"/problems/{code}", "title": title, "status": status}
    body["code"] = code
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
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
        from app.db import is_retryable

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
