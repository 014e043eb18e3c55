"""Reviews as the API and their events show them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from app.reviews.schemas import ReplyOut, ReviewOut


class ReviewLike(Protocol):
    """A review row (an ORM `Review`, or a row read with Core carrying the same columns)."""

    @property
    def id(self) -> int: ...
    @property
    def order_id(self) -> int: ...
    @property
    def store_id(self) -> int: ...
    @property
    def rating(self) -> int: ...
    @property
    def text(self) -> str | None: ...
    @property
    def reply_text(self) -> str | None: ...
    @property
    def replied_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime: ...


def review_view(review: ReviewLike, customer_name: str) -> ReviewOut:
    """The API's `review`; `customer_name` is the reviewer's account name."""
    reply = None
    if review.reply_text is not None and review.replied_at is not None:
        reply = ReplyOut(text=review.reply_text, created_at=review.replied_at)
    return ReviewOut(
        id=review.id,
        order_id=review.order_id,
        store_id=review.store_id,
        rating=review.rating,
        text=review.text,
        customer_name=customer_name,
        created_at=review.created_at,
        reply=reply,
    )
