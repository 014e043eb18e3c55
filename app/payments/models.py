"""Payment records, and the sandbox gateway's own ledger."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db import Base, IdType, UTCDateTime, utcnow


class PaymentStatus(StrEnum):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    # The order ended and the refund is owed: committed before the gateway is asked, so that
    # it survives a crash and the sweeper finishes it.
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    FAILED = "failed"


class Payment(Base):
    """Our record of how an order was paid; exactly one per order."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("orders.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    # Our reference, sent to the gateway with every call so that a retry never charges twice.
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    provider_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)


class GatewayBase(DeclarativeBase):
    """The sandbox gateway's own schema: its books, kept apart from ours (no Alembic)."""

    metadata = MetaData()


class SandboxCharge(GatewayBase):
    """The sandbox card gateway's ledger (the gateway's side, not ours)."""

    __tablename__ = "sandbox_charges"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    provider_reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    card_last4: Mapped[str] = mapped_column(String(4), nullable=False)
    # captured | declined | voided | refunded
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class SandboxRefund(GatewayBase):
    """A part refund of a sandbox charge, once per refund reference (the gateway's side)."""

    __tablename__ = "sandbox_refunds"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    charge_reference: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
