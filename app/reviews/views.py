"""HTTP for reviews: a customer reviews a delivered order, its store's owner replies, anyone
reads a store's reviews (docs/api.md)."""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import tag

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.catalog.cache import CatalogCache
from app.catalog.service import store_scope
from app.container import container
from app.errors import ProblemCode
from app.responses import problems, returns
from app.reviews import service
from app.reviews.schemas import (
    OrderReviewOut,
    ReplyRequest,
    ReviewOut,
    ReviewPageOut,
    ReviewPageQuery,
    ReviewRequest,
)
from app.validation import body, query

bp = Blueprint("reviews", __name__)

SERVED_BY = {"X-Cache": "How the cache served it: `hit`, `miss`, `wait` or `bypass`."}


@bp.post("/api/orders/<int:order_id>/review")
@tag(["reviews"])
@returns(ReviewOut, 201)
@problems(
    ProblemCode.NOT_FOUND,
    ProblemCode.NOT_DELIVERED,
    ProblemCode.ALREADY_REVIEWED,
    ProblemCode.REVIEW_WINDOW_CLOSED,
)
@login_required(role=Role.CUSTOMER)
@body(ReviewRequest)
async def review_order(principal: Principal, order_id: int, data: ReviewRequest) -> ReviewOut:
    """Rate a delivered order 1–5 with an optional text (its customer, once, within 72 h)."""
    services = container()
    return await service.review_order(
        db=services.db,
        cache=services.get(CatalogCache),
        customer_id=principal.user_id,
        order_id=order_id,
        data=data,
    )


@bp.get("/api/orders/<int:order_id>/review")
@tag(["reviews"])
@returns(OrderReviewOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=Role.CUSTOMER)
async def get_order_review(principal: Principal, order_id: int) -> OrderReviewOut:
    """The customer's review of their order, or null, and until when it can be written."""
    return await service.order_review(
        db=container().db, customer_id=principal.user_id, order_id=order_id
    )


@bp.get("/api/stores/<int:store_id>/reviews")
@tag(["reviews"])
@returns(ReviewPageOut, headers=SERVED_BY)
@problems(ProblemCode.NOT_FOUND)
@query(ReviewPageQuery)
async def store_reviews(store_id: int, query: ReviewPageQuery) -> Response:
    """A store's reviews with their replies, newest first, a page at a time."""
    services = container()
    db = services.db
    data, served = await services.get(CatalogCache).get_or_build(
        store_scope(store_id),
        query.key(),
        lambda: service.store_reviews(db=db, store_id=store_id, query=query),
    )
    response = Response(data, status=200, content_type="application/json")
    response.headers["X-Cache"] = served
    return response


@bp.post("/api/reviews/<int:review_id>/reply")
@tag(["reviews"])
@returns(ReviewOut)
@problems(ProblemCode.NOT_FOUND, ProblemCode.ALREADY_REPLIED)
@login_required(role=Role.OWNER)
@body(ReplyRequest)
async def reply(principal: Principal, review_id: int, data: ReplyRequest) -> ReviewOut:
    """Answer a review of one's store (its owner, once)."""
    services = container()
    return await service.reply_to_review(
        db=services.db,
        cache=services.get(CatalogCache),
        owner_id=principal.user_id,
        review_id=review_id,
        text=data.text,
    )
