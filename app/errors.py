"""The failures a client can cause or act on; `app.problems` renders them as problem+json."""

from __future__ import annotations

from typing import Any


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

    def body(self) -> dict[str, Any]:
        """The RFC 9457 problem body of this error."""
        return problem_body(self.status, self.code, self.title, self.detail, errors=self.errors)


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


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """An RFC 9457 problem body with the stable machine-readable `code`."""
    body: dict[str, Any] = {"type": f"/problems/{code}", "title": title, "status": status}
    body["code"] = code
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return body
