"""Request and response shapes of reviews, with every field's limits."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, field_validator

from app.responses import Out, Timestamp
from app.reviews.models import MAX_TEXT
from app.validation import Id, Partial, Schema

DEFAULT_PAGE = 20
MAX_PAGE = 100
# How long after delivery its customer may review an order.
REVIEW_WINDOW_HOURS = 72

Rating = Annotated[StrictInt, Field(ge=1, le=5, description="1 (worst) to 5 (best) stars.")]


def _blank_is_none(value: str | None) -> str | None:
    return value or None


class ReviewRequest(Schema):
    """POST /api/orders/{id}/review."""

    rating: Rating
    text: str | None = Field(
        default=None,
        max_length=MAX_TEXT,
        description=f"Optional, at most {MAX_TEXT} characters; blank counts as none.",
    )

    _blank = field_validator("text")(_blank_is_none)


class ReplyRequest(Schema):
    """POST /api/reviews/{id}/reply."""

    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The store's answer.")


class ReviewPageQuery(Partial):
    """GET /api/stores/{id}/reviews: a page of reviews, newest first."""

    limit: int = Field(default=DEFAULT_PAGE, ge=1, le=MAX_PAGE)
    before_id: Id | None = Field(
        default=None,
        description="Only reviews older than this one: the `next_before_id` of the last page.",
    )

    def key(self) -> str:
        """A canonical form of this query, for the cache key."""
        return f"reviews:{self.limit}:{self.before_id or 0}"


class ReplyOut(Out):
    """The store owner's answer to a review."""

    text: str
    created_at: Timestamp


class ReviewOut(Out):
    """A customer's review of a delivered order, with the store's reply if any."""

    id: int
    order_id: int
    store_id: int
    rating: int = Field(ge=1, le=5)
    text: str | None
    customer_name: str = Field(description="The reviewer's account name.")
    created_at: Timestamp
    reply: ReplyOut | None


class ReviewPageOut(Out):
    """A page of a store's reviews, newest first."""

    reviews: list[ReviewOut]
    next_before_id: int | None = Field(
        description="Pass as `before_id` for the next (older) page; null on the last page."
    )


class OrderReviewOut(Out):
    """An order's review as its customer sees it, and until when it can be written."""

    review: ReviewOut | None = Field(description="Null until the order is reviewed.")
    reviewable_until: Timestamp | None = Field(
        description="72 hours after the delivery; null while the order is not delivered."
    )
