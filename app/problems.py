"""Every error the API returns, as RFC 9457 problem+json, from one place."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema
from quart import Quart, Response, g
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from app.db import is_retryable
from app.errors import DomainError, ProblemCode
from app.responses import Out, omitted_when_absent

log = logging.getLogger("delivery.errors")

PROBLEM_TYPE = "application/problem+json"

# Each code's status, and when it happens (the API description and docs/api.md show these).
PROBLEMS: dict[ProblemCode, tuple[int, str]] = {
    ProblemCode.VALIDATION: (
        400,
        "malformed JSON, wrong types, out-of-range values, unknown fields or enum values, a "
        "missing required header or upload field; `errors` names each field",
    ),
    ProblemCode.BELOW_MINIMUM_ORDER: (400, "the order's subtotal is under the store's minimum"),
    ProblemCode.UNAUTHENTICATED: (401, "no session, an expired one, or a wrong email or password"),
    ProblemCode.PAYMENT_DECLINED: (402, "the card gateway declined; nothing was charged or used"),
    ProblemCode.FORBIDDEN: (
        403,
        "signed in, but not allowed: the wrong role, or not the store's owner or the order's party",
    ),
    ProblemCode.CSRF: (
        403,
        "a cookie-authenticated POST, PUT, PATCH or DELETE without the session's X-CSRF-Token",
    ),
    ProblemCode.NOT_FOUND: (404, "an unknown id, or one the caller may not know exists"),
    ProblemCode.METHOD_NOT_ALLOWED: (405, "the path exists but not with this method; see `Allow`"),
    ProblemCode.NOT_ACCEPTABLE: (406, "no representation matches the request's `Accept`"),
    ProblemCode.TIMEOUT: (408, "the request body did not arrive in time"),
    ProblemCode.EMAIL_TAKEN: (409, "an account with this email exists"),
    ProblemCode.STORE_CLOSED: (409, "the store is not taking orders"),
    ProblemCode.ITEM_UNAVAILABLE: (409, "an ordered item is sold out"),
    ProblemCode.INVALID_TRANSITION: (
        409,
        "the order's status (or rider search) does not allow this move now",
    ),
    ProblemCode.ALREADY_ASSIGNED: (409, "another rider won the order first"),
    ProblemCode.RIDER_BUSY: (409, "the rider is carrying another order"),
    ProblemCode.RIDER_OFFLINE: (409, "the rider is off shift"),
    ProblemCode.OFFER_CLOSED: (
        409,
        "the rider's offer is no longer open: it expired, was withdrawn, went to another rider "
        "who has since given the order back, or the rider gave the order back",
    ),
    ProblemCode.OFFER_BUNDLED: (
        409,
        "the order is offered to this rider together with another one: accept the bundle "
        "(`POST /api/dispatch/bundles/{bundle_id}/accept`), both orders or neither",
    ),
    ProblemCode.INSUFFICIENT_POINTS: (
        409,
        "not enough accrued (to convert) or usable (to pay) points",
    ),
    ProblemCode.COUPON_SOLD_OUT: (409, "the campaign has no coupons left"),
    ProblemCode.COUPON_ALREADY_CLAIMED: (409, "this customer already holds the campaign's coupon"),
    ProblemCode.COUPON_UNUSABLE: (
        409,
        "the campaign has not started or has ended, or the coupon is used, expired, not the "
        "caller's, or the order is under its minimum",
    ),
    ProblemCode.IDEMPOTENCY_IN_PROGRESS: (
        409,
        "a request with the same Idempotency-Key is still running; retry shortly",
    ),
    ProblemCode.CONFLICT: (
        409,
        "someone changed the same record at the same moment; reload, retry",
    ),
    ProblemCode.NOT_DELIVERED: (409, "only a delivered order can be reviewed"),
    ProblemCode.ALREADY_REVIEWED: (409, "the order has its review already (one per order)"),
    ProblemCode.REVIEW_WINDOW_CLOSED: (
        409,
        "the order was delivered more than 72 hours ago; it can no longer be reviewed",
    ),
    ProblemCode.ALREADY_REPLIED: (409, "the review has its reply already (one per review)"),
    ProblemCode.TOO_LARGE: (413, "the body is over the limit (uploads: 5 MiB)"),
    ProblemCode.UNSUPPORTED_MEDIA_TYPE: (
        415,
        "a body that is not JSON, or an upload that is not a JPEG, PNG or WebP image (checked by "
        "content)",
    ),
    ProblemCode.IDEMPOTENCY_MISMATCH: (422, "an Idempotency-Key reused with a different body"),
    ProblemCode.RATE_LIMITED: (
        429,
        "too many attempts (sign-in, sign-up, coupon claims, image uploads); see `Retry-After`",
    ),
    ProblemCode.HTTP_ERROR: (400, "any other refusal at the HTTP level (its status says which)"),
    ProblemCode.INTERNAL: (500, "a fault on the server's side; `detail` carries a request id"),
    ProblemCode.UNAVAILABLE: (
        503,
        "the database or a Redis is down or busy; nothing was changed, safe to retry",
    ),
    ProblemCode.LIMIT_REACHED: (
        409,
        "the caller already holds the most allowed: 20 saved addresses, 200 favourite stores",
    ),
    ProblemCode.EMPTY_MENU: (
        409,
        "a store cannot open with no menu item on sale (none, or all sold out or deleted)",
    ),
    ProblemCode.OUT_OF_RANGE: (
        409,
        "the delivery address is beyond the store's delivery radius; `distance_km` and "
        "`radius_km` say by how much",
    ),
    ProblemCode.REFUND_EXCEEDS_PAID: (
        409,
        "a refund would give back more than was paid (card and points, less earlier refunds), "
        "or more of a line than was ordered; `refundable` says how much is left",
    ),
    ProblemCode.ACCOUNT_SUSPENDED: (
        403,
        "the account is suspended by the platform's operators; it cannot sign in",
    ),
    ProblemCode.STORE_SUSPENDED: (
        409,
        "the store is suspended by the platform's operators and takes no orders",
    ),
}


class FieldError(Out):
    """One invalid field of a `validation` problem."""

    field: str = Field(description="Path of the field: `items[0].quantity`, `body`, a header.")
    message: str = Field(description="For people: a sentence saying what is wrong and what fits.")
    type: str = Field(
        default="invalid",
        description="Machine-readable kind of fault: pydantic's error type (`missing`, "
        "`less_than_equal`, `string_pattern_mismatch`, …) or one the API names.",
    )


class Problem(Out):
    """An RFC 9457 problem: every error the API returns."""

    type: str = Field(description="`/problems/{code}`", examples=["/problems/already-assigned"])
    title: str = Field(description="A short summary for people.")
    status: int = Field(description="The HTTP status.")
    code: ProblemCode = Field(description="Stable and machine-readable.")
    detail: str | SkipJsonSchema[None] = omitted_when_absent("What happened, for people.")
    errors: list[FieldError] | SkipJsonSchema[None] = omitted_when_absent(
        "Each invalid field (`validation` only)."
    )
    next_open: str | SkipJsonSchema[None] = omitted_when_absent(
        "`store-closed` only: when the store takes orders again (RFC 3339), when it will by itself."
    )
    distance_km: float | SkipJsonSchema[None] = omitted_when_absent(
        "`out-of-range` only: how far the address is from the store, km."
    )
    radius_km: float | SkipJsonSchema[None] = omitted_when_absent(
        "`out-of-range` only: how far the store delivers, km."
    )
    refundable: int | SkipJsonSchema[None] = omitted_when_absent(
        "`refund-exceeds-paid` only: the won that can still be refunded on the order."
    )


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Problem:
    """A problem with the stable machine-readable `code`."""
    return Problem(
        type=f"/problems/{code}",
        title=title,
        status=status,
        code=ProblemCode(code),
        detail=detail or None,
        errors=None if errors is None else [FieldError(**error) for error in errors],
        **(extra or {}),
    )


def problem_of(error: DomainError) -> Problem:
    """The problem a domain error answers with."""
    return problem_body(
        error.status, error.code, error.title, error.detail, errors=error.errors, extra=error.extra
    )


# Generic HTTP failures raised by the framework (routing, body limits, methods).
_HTTP_CODES: dict[int, tuple[ProblemCode, str]] = {
    400: (ProblemCode.VALIDATION, "The request is not valid"),
    401: (ProblemCode.UNAUTHENTICATED, "Sign-in required"),
    403: (ProblemCode.FORBIDDEN, "Not allowed"),
    404: (ProblemCode.NOT_FOUND, "Not found"),
    405: (ProblemCode.METHOD_NOT_ALLOWED, "Method not allowed"),
    406: (ProblemCode.NOT_ACCEPTABLE, "Not acceptable"),
    408: (ProblemCode.TIMEOUT, "Request timed out"),
    413: (ProblemCode.TOO_LARGE, "The request body is too large"),
    415: (ProblemCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    429: (ProblemCode.RATE_LIMITED, "Too many attempts"),
}


def problem_response(
    body: BaseModel, *, status: int, headers: dict[str, str] | None = None
) -> Response:
    """A problem+json response with this body."""
    response = Response(body.model_dump_json(), status=status, content_type=PROBLEM_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


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
    return problem_response(body, status=status, headers=headers)


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
        return problem_response(problem_of(error), status=error.status, headers=error.headers)

    @app.errorhandler(HTTPException)
    async def _http(error: HTTPException) -> Response:
        status = error.code or 500
        if status >= 500:
            return await _unexpected(error)
        code, title = _HTTP_CODES.get(status, (ProblemCode.HTTP_ERROR, error.name))
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
