"""Dispatch tables: rider states, the search of each order, offers, the history and the
riders' earnings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdType


class OfferStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    LOST = "lost"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    RELEASED = "released"


class HistoryKind(StrEnum):
    SEARCH_STARTED = "search_started"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    LOST = "lost"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    RELEASED = "released"
    WIDENED = "widened"
    FREED = "freed"
    # An operator gave the order to a rider (`POST /api/admin/orders/{id}/assign`).
    ASSIGNED = "assigned"


class RiderState(Base):
    """A rider's shift and load: `active_order_id` set means busy. `second_order_id` is set
    only by accepting a bundle (both orders at once); when either order is delivered, handed
    back or cancelled, the other one is left in `active_order_id`, so a rider with a second
    order always has a first."""

    __tablename__ = "rider_states"

    rider_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    online: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # No foreign key on purpose: InnoDB's check would share-lock the order row before the
    # accept's versioned UPDATE of it, and racing accepts would deadlock instead of losing.
    active_order_id: Mapped[int | None] = mapped_column(IdType, nullable=True, index=True)
    second_order_id: Mapped[int | None] = mapped_column(IdType, nullable=True)
    lat: Mapped[float | None] = mapped_column(nullable=True)
    lng: Mapped[float | None] = mapped_column(nullable=True)


class DispatchSearch(Base):
    """The rider search of one order: its round, radius and the current round's deadline."""

    __tablename__ = "dispatch_searches"
    __table_args__ = (Index("ix_dispatch_searches_active_deadline_at", "active", "deadline_at"),)

    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    round: Mapped[int] = mapped_column(nullable=False, default=0)
    radius_km: Mapped[float] = mapped_column(nullable=False, default=0.0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    deadline_at: Mapped[datetime] = mapped_column(nullable=False)
    # The rider's fee and the store-to-customer trip, fixed when the order is first offered:
    # a later change of the fee settings (or of the store's position) changes no fee already
    # offered, and the delivery earns exactly what the offers showed.
    rider_fee: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    trip_km: Mapped[float | None] = mapped_column(nullable=True)


class Offer(Base):
    """One order offered to one rider in one round. Two offers to one rider with the same
    `bundle_id` (the id of the first of them) are one bundle: accepted both at once, or
    neither."""

    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_rider_id_status", "rider_id", "status"),
        Index("ix_offers_order_id_status", "order_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    )
    rider_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    round: Mapped[int] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=OfferStatus.OFFERED)
    distance_km: Mapped[float] = mapped_column(nullable=False)
    fee: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    bundle_id: Mapped[int | None] = mapped_column(IdType, nullable=True, index=True)


class DispatchHistory(Base):
    """Append-only record of what happened in an order's dispatch, and when."""

    __tablename__ = "dispatch_history"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id"), nullable=False, index=True
    )
    rider_id: Mapped[int | None] = mapped_column(IdType, nullable=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    round: Mapped[int] = mapped_column(nullable=False, default=0)
    at: Mapped[datetime] = mapped_column(nullable=False)
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)


class EarningKind(StrEnum):
    DELIVERY = "delivery"
    CORRECTION = "correction"


class RiderEarning(Base):
    """One entry of a rider's earnings ledger: never edited, corrected by further entries.

    `delivery_of` is the order id on a `delivery` entry and NULL on a correction: its unique
    index lets one order's delivery be earned once, whichever node records it, while an order
    may have any number of corrections (NULLs never collide in a unique index).
    """

    __tablename__ = "rider_earnings"
    __table_args__ = (
        Index("ix_rider_earnings_rider_id_at", "rider_id", "at"),
        UniqueConstraint("delivery_of", name="uq_rider_earnings_delivery_of"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    rider_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True
    )
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    at: Mapped[datetime] = mapped_column(nullable=False)
    delivery_of: Mapped[int | None] = mapped_column(IdType, nullable=True)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
