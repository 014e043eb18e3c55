"""A customer's review of one delivered order, with the store owner's reply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdType

MAX_TEXT = 1000


class Review(Base):
    __tablename__ = "reviews"
    # A store's reviews are read newest first, a page at a time below an id (keyset).
    __table_args__ = (Index("ix_reviews_store_id_id", "store_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # One review per order: the unique index is the last word when two arrive at once.
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    store_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    rating: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str | None] = mapped_column(String(MAX_TEXT), nullable=True)
    reply_text: Mapped[str | None] = mapped_column(String(MAX_TEXT), nullable=True)
    replied_at: Mapped[datetime | None] = mapped_column(nullable=True)
