"""Orders, their lines and timeline, and idempotency records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Double, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.catalog.models import Store
from app.db import Base, IdType
from app.payments.models import Payment


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_id_id", "customer_id", "id"),
        Index("ix_orders_store_id_id", "store_id", "id"),
        Index("ix_orders_rider_id_id", "rider_id", "id"),
        Index("ix_orders_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id"), nullable=False)
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    dispatch: Mapped[str] = mapped_column(String(12), nullable=False, default="none")
    rider_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"), nullable=True)
    # Optimistic locking: every write checks and bumps it, so exactly one of two racing
    # transitions (accept vs cancel, two riders accepting) can win.
    version: Mapped[int] = mapped_column(nullable=False, default=1)

    subtotal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    delivery_fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    coupon_id: Mapped[int | None] = mapped_column(IdType, nullable=True)
    coupon_discount: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    points_used: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    paid_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The sum of the order's part refunds (points and card), kept with the order so that the
    # check against what was paid happens under the order's row lock.
    refunded_amount: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default="0"
    )

    address_text: Mapped[str] = mapped_column(String(300), nullable=False)
    # Doubles: a single-precision FLOAT moved the point by metres (and a saved address is kept
    # as a double).
    address_lat: Mapped[float] = mapped_column(Double, nullable=False)
    address_lng: Mapped[float] = mapped_column(Double, nullable=False)
    prep_minutes: Mapped[int | None] = mapped_column(nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The kitchen's clock: until when the store may answer (set when placed); when the kitchen
    # expects the food ready and the minutes the owner pushed that back in all; when the food
    # should arrive (set when accepted).
    accept_by: Mapped[datetime | None] = mapped_column(nullable=True)
    ready_by: Mapped[datetime | None] = mapped_column(nullable=True)
    delay_minutes: Mapped[int] = mapped_column(nullable=False, default=0)
    eta: Mapped[datetime | None] = mapped_column(nullable=True)
    stream_seq: Mapped[int] = mapped_column(nullable=False, default=0)

    rider_lat: Mapped[float | None] = mapped_column(nullable=True)
    rider_lng: Mapped[float | None] = mapped_column(nullable=True)
    rider_located_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The customer's requests: one for the kitchen, one for the rider (who sees it once
    # assigned); NULL when there is none.
    store_note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    rider_note: Mapped[str | None] = mapped_column(String(200), nullable=True)

    items: Mapped[list[OrderItem]] = relationship(
        lazy="selectin", order_by="OrderItem.id", cascade="all, delete-orphan"
    )
    timeline: Mapped[list[OrderTimeline]] = relationship(
        lazy="selectin", order_by="OrderTimeline.id", cascade="all, delete-orphan"
    )
    payment: Mapped[Payment | None] = relationship(lazy="selectin", uselist=False)
    rider: Mapped[User | None] = relationship(lazy="selectin", foreign_keys=[rider_id])
    refunds: Mapped[list[OrderRefund]] = relationship(
        lazy="selectin", order_by="OrderRefund.id", cascade="all, delete-orphan"
    )
    # Read for the store's name in the order's view; never written through the order.
    store: Mapped[Store] = relationship(lazy="selectin", viewonly=True)

    __mapper_args__: dict[str, Any] = {"version_id_col": version}  # noqa: RUF012


class OrderItem(Base):
    """A line of an order with copies of the name and prices as they were when ordered."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    menu_item_id: Mapped[int] = mapped_column(IdType, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    quantity: Mapped[int] = mapped_column(nullable=False)
    # JSON list of {id, name, price}: the chosen options as they were.
    options_json: Mapped[str] = mapped_column(Text, nullable=False)
    line_total: Mapped[int] = mapped_column(BigInteger, nullable=False)


class OrderTimeline(Base):
    """When the order reached each status."""

    __tablename__ = "order_timeline"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)


class RefundCardStatus(StrEnum):
    NONE = "none"  # all of it went back as points
    # Committed with the refund, before the gateway is asked, so that a crash leaves it for
    # the sweeper to finish, never a refund promised and forgotten.
    PENDING = "pending"
    REFUNDED = "refunded"


class OrderRefund(Base):
    """A refund of part of an order: points first, the rest to the card."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        UniqueConstraint(
            "order_id", "idempotency_key", name="uq_order_refunds_order_id_idempotency_key"
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    points: Mapped[int] = mapped_column(BigInteger, nullable=False)
    card: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # JSON list of {menu_item_id, name, quantity, amount}; NULL for a refund of an amount.
    lines_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(String(300), nullable=False)
    # Ours, sent to the gateway with the card part so that a retry refunds it once.
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    card_status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    refunded_by: Mapped[int] = mapped_column(IdType, nullable=False)
    # The caller's `Idempotency-Key` (one refund per key and order) and a digest of the request
    # sent with it, so that a retry gets this refund and another request under the key is told.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    request_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IdempotencyRecord(Base):
    """The first answer to an `Idempotency-Key`, per user, kept 24 h."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # in_progress | done
    state: Mapped[str] = mapped_column(String(12), nullable=False)
    response_status: Mapped[int | None] = mapped_column(nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The fencing token: the reference of the request that holds the key now. A retry that
    # takes the key over replaces it, so the request it took it from can no longer finish.
    payment_reference: Mapped[str] = mapped_column(String(64), nullable=False)
    # Until when the holder counts as alive; it renews the lease while it runs.
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime] = mapped_column(nullable=False, index=True)


class SupersededCharge(Base):
    """A payment reference whose request lost its Idempotency-Key to a retry.

    That request can no longer place its order (the key's fence stops it), but its node may
    have died after the gateway captured the charge: the sweeper voids what the gateway holds
    under this reference, so a crash never leaves money taken without an order.
    """

    __tablename__ = "superseded_charges"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # Set once the gateway holds nothing captured under the reference.
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
