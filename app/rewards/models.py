"""Points and coupon tables."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, IdType


class LedgerReason(StrEnum):
    ACCRUAL = "accrual"
    CONVERSION = "conversion"
    ORDER = "order"
    REFUND = "refund"
    PART_REFUND = "part_refund"


class CouponStatus(StrEnum):
    ISSUED = "issued"
    USED = "used"
    EXPIRED = "expired"


class PointBalance(Base):
    """The customer's balances; every change also writes a `PointLedger` row."""

    __tablename__ = "point_balances"

    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    accrued: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    usable: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class PointLedger(Base):
    """One movement of points; (order_id, reason, refund_id) is unique so order movements apply
    once (and each part refund once)."""

    __tablename__ = "point_ledger"
    __table_args__ = (
        UniqueConstraint(
            "order_id", "reason", "refund_id", name="uq_point_ledger_order_id_reason_refund_id"
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    order_id: Mapped[int | None] = mapped_column(IdType, nullable=True)
    accrued_delta: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    usable_delta: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # The part refund that restored these points; 0 for every other movement (an order may
    # have several part refunds, and each restores its points once).
    refund_id: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default="0"
    )


class CouponCampaign(Base):
    """A first-come campaign; `issued` is the database's own guard against over-issue."""

    __tablename__ = "coupon_campaigns"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    discount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    min_order: Mapped[int] = mapped_column(BigInteger, nullable=False)
    quantity: Mapped[int] = mapped_column(BigInteger, nullable=False)
    issued: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    valid_days: Mapped[int] = mapped_column(nullable=False, default=30)
    starts_at: Mapped[datetime] = mapped_column(nullable=False)
    ends_at: Mapped[datetime] = mapped_column(nullable=False)


class Coupon(Base):
    """A claimed coupon; unique per campaign and customer."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id", name="uq_coupons_campaign_id_customer_id"),
        Index("ix_coupons_customer_id_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("coupon_campaigns.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=CouponStatus.ISSUED)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    order_id: Mapped[int | None] = mapped_column(IdType, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)

    campaign: Mapped[CouponCampaign] = relationship(lazy="raise")


class CouponClaimBacklog(Base):
    """A claim granted by the counter whose coupon insert failed; the reconciler replays it."""

    __tablename__ = "coupon_claim_backlog"
    __table_args__ = (
        UniqueConstraint(
            "campaign_id", "customer_id", name="uq_coupon_claim_backlog_campaign_id_customer_id"
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("coupon_campaigns.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    claimed_at: Mapped[datetime] = mapped_column(nullable=False)
