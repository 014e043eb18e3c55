"""A customer's address book and favourite stores."""

from __future__ import annotations

from sqlalchemy import Boolean, Double, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdType


class Address(Base):
    """A saved delivery address; orders placed with it keep their own copy."""

    __tablename__ = "addresses"
    __table_args__ = (
        # `is_default` is true on one address and NULL on the others: the unique index lets
        # many NULLs through but never two defaults for one customer.
        UniqueConstraint("customer_id", "is_default", name="uq_addresses_customer_id_is_default"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    label: Mapped[str] = mapped_column(String(40), nullable=False)
    text: Mapped[str] = mapped_column(String(300), nullable=False)
    lat: Mapped[float] = mapped_column(Double, nullable=False)
    lng: Mapped[float] = mapped_column(Double, nullable=False)
    rider_note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_default: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Favourite(Base):
    """A store a customer marked with a heart."""

    __tablename__ = "favourites"
    __table_args__ = (
        UniqueConstraint("customer_id", "store_id", name="uq_favourites_customer_id_store_id"),
        Index("ix_favourites_store_id", "store_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    store_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False
    )
