"""The failures a client can cause or act on; `app.problems` renders them as problem+json."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ProblemCode(StrEnum):
    """Every `code` a problem+json response can carry (docs/api.md says when each happens)."""

    VALIDATION = "validation"
    BELOW_MINIMUM_ORDER = "below-minimum-order"
    UNAUTHENTICATED = "unauthenticated"
    PAYMENT_DECLINED = "payment-declined"
    FORBIDDEN = "forbidden"
    CSRF = "csrf"
    NOT_FOUND = "not-found"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    NOT_ACCEPTABLE = "not-acceptable"
    TIMEOUT = "timeout"
    EMAIL_TAKEN = "email-taken"
    STORE_CLOSED = "store-closed"
    ITEM_UNAVAILABLE = "item-unavailable"
    INVALID_TRANSITION = "invalid-transition"
    ALREADY_ASSIGNED = "already-assigned"
    RIDER_BUSY = "rider-busy"
    RIDER_OFFLINE = "rider-offline"
    OFFER_CLOSED = "offer-closed"
    OFFER_BUNDLED = "offer-bundled"
    INSUFFICIENT_POINTS = "insufficient-points"
    COUPON_SOLD_OUT = "coupon-sold-out"
    COUPON_ALREADY_CLAIMED = "coupon-already-claimed"
    COUPON_UNUSABLE = "coupon-unusable"
    IDEMPOTENCY_IN_PROGRESS = "idempotency-in-progress"
    CONFLICT = "conflict"
    NOT_DELIVERED = "not-delivered"
    ALREADY_REVIEWED = "already-reviewed"
    REVIEW_WINDOW_CLOSED = "review-window-closed"
    ALREADY_REPLIED = "already-replied"
    TOO_LARGE = "too-large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    IDEMPOTENCY_MISMATCH = "idempotency-mismatch"
    RATE_LIMITED = "rate-limited"
    HTTP_ERROR = "http-error"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"
    LIMIT_REACHED = "limit-reached"
    EMPTY_MENU = "empty-menu"
    OUT_OF_RANGE = "out-of-range"
    REFUND_EXCEEDS_PAID = "refund-exceeds-paid"
    ACCOUNT_SUSPENDED = "account-suspended"
    STORE_SUSPENDED = "store-suspended"


class DomainError(Exception):
    """A failure a client can cause or act on; becomes a problem+json response."""

    status: int = 400
    code: str = ProblemCode.VALIDATION
    title: str = "Invalid request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or self.title)
        self.detail = detail
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.errors = errors
        self.headers = headers or {}
        # More members of the problem body (each one a field of `app.problems.Problem`).
        self.extra = extra or {}


class ValidationFailed(DomainError):
    """Malformed input: wrong types, out-of-range values, unknown enum."""

    status, code, title = 400, ProblemCode.VALIDATION, "The request is not valid"


class Unauthenticated(DomainError):
    status, code, title = 401, ProblemCode.UNAUTHENTICATED, "Sign-in required"


class Forbidden(DomainError):
    status, code, title = 403, ProblemCode.FORBIDDEN, "Not allowed"


class CsrfFailed(DomainError):
    status, code, title = 403, ProblemCode.CSRF, "Missing or wrong X-CSRF-Token"


class NotFound(DomainError):
    status, code, title = 404, ProblemCode.NOT_FOUND, "Not found"


class Conflict(DomainError):
    """A state conflict; raised with the specific `code` that names it (`rider-busy`, …)."""

    status, code, title = 409, ProblemCode.CONFLICT, "Conflict"


class PaymentDeclined(DomainError):
    status, code, title = 402, ProblemCode.PAYMENT_DECLINED, "The payment was declined"


class TooLarge(DomainError):
    status, code, title = 413, ProblemCode.TOO_LARGE, "The request body is too large"


class UnsupportedMediaType(DomainError):
    status, code, title = 415, ProblemCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"


class IdempotencyMismatch(DomainError):
    status, code, title = (
        422,
        ProblemCode.IDEMPOTENCY_MISMATCH,
        "Idempotency-Key reused with another body",
    )


class RateLimited(DomainError):
    status, code, title = 429, ProblemCode.RATE_LIMITED, "Too many attempts"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            detail or f"Try again in {retry_after} s.", headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after


class Unavailable(DomainError):
    """503: nothing was changed and the same request may be sent again. It always says when,
    in `Retry-After` (1 s unless the raiser knows better)."""

    status, code, title = 503, ProblemCode.UNAVAILABLE, "A dependency is unavailable; safe to retry"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers.setdefault("Retry-After", str(max(1, int(retry_after))))
