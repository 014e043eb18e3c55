"""Review use cases: a customer reviews a delivered order, an owner replies, anyone reads.

A review moves its store's `review_count` and `rating_sum` by one atomic UPDATE in the
transaction that adds it, so the mean shown with the store always equals the reviews table's,
however many reviews of the store arrive at once on however many nodes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.catalog.cache import CatalogCache
from app.catalog.models import Store
from app.catalog.service import list_scope, store_scope
from app.db import Database, UnitOfWork, replica_fallback, retrying, utcnow
from app.errors import Conflict, Forbidden, NotFound, ProblemCode
from app.orders.lifecycle import Status
from app.orders.models import Order, OrderTimeline
from app.outbox import emit
from app.reviews.models import Review
from app.reviews.presenter import review_view
from app.reviews.schemas import (
    REVIEW_WINDOW_HOURS,
    OrderReviewOut,
    ReviewOut,
    ReviewPageOut,
    ReviewPageQuery,
    ReviewRequest,
)

REVIEW_WINDOW = timedelta(hours=REVIEW_WINDOW_HOURS)
_REVIEW_COLUMNS = tuple(Review.__table__.c)


def store_stream(store_id: int) -> str:
    """The stream a store's review events go to (its owner follows it)."""
    return f"store:{store_id}"


def _invalidate(uow: UnitOfWork, cache: CatalogCache, *scopes: str) -> None:
    async def bump() -> None:
        await cache.bump(*scopes)

    uow.after_commit(bump)


async def _delivered_at(uow: UnitOfWork, order_id: int) -> datetime | None:
    delivered: datetime | None = await uow.session.scalar(
        select(func.max(OrderTimeline.at)).where(
            OrderTimeline.order_id == order_id, OrderTimeline.status == Status.DELIVERED
        )
    )
    return delivered


def _with_names() -> Select[Any]:
    return select(*_REVIEW_COLUMNS, User.name.label("customer_name")).join(
        User, User.id == Review.customer_id
    )


def _already_reviewed(order_id: int) -> Conflict:
    return Conflict(
        f"Order {order_id} has been reviewed already; an order is reviewed once.",
        code=ProblemCode.ALREADY_REVIEWED,
        title="Already reviewed",
    )


async def review_order(
    *, db: Database, cache: CatalogCache, customer_id: int, order_id: int, data: ReviewRequest
) -> ReviewOut:
    """Add the customer's review of their delivered order (once, within 72 h of delivery)."""

    async def attempt() -> ReviewOut:
        async with db.uow() as uow:
            # The order row first, as every change of an order locks it: two reviews of one
            # order sent at once queue here, and the second finds the first.
            order = (
                await uow.session.execute(
                    select(Order.customer_id, Order.store_id, Order.status)
                    .where(Order.id == order_id)
                    .with_for_update()
                )
            ).first()
            if order is None or order.customer_id != customer_id:
                raise NotFound(f"Order {order_id} does not exist.")
            taken = await uow.session.scalar(select(Review.id).where(Review.order_id == order_id))
            if taken is not None:
                raise _already_reviewed(order_id)
            if order.status != Status.DELIVERED:
                raise Conflict(
                    f"Order {order_id} is {order.status.replace('_', ' ')}; "
                    "you can review it once it has been delivered.",
                    code=ProblemCode.NOT_DELIVERED,
                    title="Not delivered",
                )
            delivered_at = await _delivered_at(uow, order_id)
            if delivered_at is None or utcnow() - delivered_at > REVIEW_WINDOW:
                hours = REVIEW_WINDOW_HOURS
                raise Conflict(
                    f"Order {order_id} was delivered more than {hours} hours ago; an order can "
                    f"be reviewed only in the {hours} hours after its delivery.",
                    code=ProblemCode.REVIEW_WINDOW_CLOSED,
                    title="Too late to review",
                )
            store_id = int(order.store_id)
            # The store row before the review row: inserting the review first would take a
            # shared lock on the store (its foreign key) that two reviews could not both raise
            # to this exclusive one without a deadlock.
            await uow.session.execute(
                update(Store)
                .where(Store.id == store_id)
                .values(
                    rating_sum=Store.rating_sum + data.rating,
                    review_count=Store.review_count + 1,
                )
                .execution_options(synchronize_session=False)
            )
            review = Review(
                order_id=order_id,
                store_id=store_id,
                customer_id=customer_id,
                rating=data.rating,
                text=data.text,
            )
            uow.session.add(review)
            try:
                await uow.flush()
            except IntegrityError:
                raise _already_reviewed(order_id) from None
            name = await uow.session.scalar(select(User.name).where(User.id == customer_id))
            view = review_view(review, str(name))
            await emit(uow, "review.created", [store_stream(store_id)], view)
            # Every store list and the store's page show its rating.
            _invalidate(uow, cache, list_scope(), store_scope(store_id))
            await uow.commit()
            return view

    return await retrying(attempt)


async def reply_to_review(
    *, db: Database, cache: CatalogCache, owner_id: int, review_id: int, text: str
) -> ReviewOut:
    """The store owner's one reply to a review of their store."""

    async def attempt() -> ReviewOut:
        async with db.uow() as uow:
            found = (
                await uow.session.execute(
                    select(Review.store_id, Store.owner_id)
                    .join(Store, Store.id == Review.store_id)
                    .where(Review.id == review_id)
                )
            ).first()
            if found is None:
                raise NotFound(f"Review {review_id} does not exist.")
            if found.owner_id != owner_id:
                raise Forbidden("Only the store's owner may reply to its reviews.")
            # Only the first reply lands, whichever node the others were sent to.
            moved = await uow.session.execute(
                update(Review)
                .where(Review.id == review_id, Review.reply_text.is_(None))
                .values(reply_text=text, replied_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(
                    f"Review {review_id} has a reply already; a review is answered once.",
                    code=ProblemCode.ALREADY_REPLIED,
                    title="Already replied",
                )
            row = (await uow.session.execute(_with_names().where(Review.id == review_id))).one()
            view = review_view(row, row.customer_name)
            await emit(uow, "review.replied", [store_stream(int(found.store_id))], view)
            _invalidate(uow, cache, store_scope(int(found.store_id)))
            await uow.commit()
            return view

    return await retrying(attempt)


@replica_fallback
async def store_reviews(*, db: Database, store_id: int, query: ReviewPageQuery) -> ReviewPageOut:
    """A page of the store's reviews, newest first, below `query.before_id`; 404 if no store."""
    async with db.read_uow() as uow:
        if await uow.session.scalar(select(Store.id).where(Store.id == store_id)) is None:
            raise NotFound(f"Store {store_id} does not exist.")
        stmt = _with_names().where(Review.store_id == store_id)
        if query.before_id is not None:
            stmt = stmt.where(Review.id < query.before_id)
        # One more than asked for says whether an older page exists.
        rows = (
            await uow.session.execute(stmt.order_by(Review.id.desc()).limit(query.limit + 1))
        ).all()
    page = rows[: query.limit]
    return ReviewPageOut(
        reviews=[review_view(row, row.customer_name) for row in page],
        next_before_id=int(page[-1].id) if len(rows) > query.limit else None,
    )


async def order_review(*, db: Database, customer_id: int, order_id: int) -> OrderReviewOut:
    """The customer's review of their order (null until written), and until when it may be."""
    async with db.uow() as uow:
        order = (
            await uow.session.execute(select(Order.customer_id).where(Order.id == order_id))
        ).first()
        if order is None or order.customer_id != customer_id:
            raise NotFound(f"Order {order_id} does not exist.")
        delivered_at = await _delivered_at(uow, order_id)
        row = (await uow.session.execute(_with_names().where(Review.order_id == order_id))).first()
    return OrderReviewOut(
        review=None if row is None else review_view(row, row.customer_name),
        reviewable_until=None if delivered_at is None else delivered_at + REVIEW_WINDOW,
    )
