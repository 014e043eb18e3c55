"""Account tables."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdType


class Role(StrEnum):
    CUSTOMER = "customer"
    OWNER = "owner"
    RIDER = "rider"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    # Set by an admin (`PATCH /api/admin/users/{id}`): no sign-in, every session ended.
    suspended: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
