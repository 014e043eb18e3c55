"""Catalog tables: stores, their menu items and the items' options."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Double, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, IdType, UTCDateTime


class Store(Base):
    __tablename__ = "stores"
    # Nearby search narrows to a lat/lng bounding box first; this index serves that range scan.
    __table_args__ = (Index("ix_stores_lat_lng", "lat", "lng"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    category: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    address: Mapped[str] = mapped_column(String(200), nullable=False)
    lat: Mapped[float] = mapped_column(Double, nullable=False)
    lng: Mapped[float] = mapped_column(Double, nullable=False)
    phone: Mapped[str] = mapped_column(String(20), nullable=False)
    min_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    delivery_fee: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    open: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    image_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # The store's reviews, summed: both move together, by one atomic UPDATE in the
    # transaction that adds a review, so the mean never drifts from the reviews table.
    review_count: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    rating_sum: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default="0"
    )
    # Opening hours (app/catalog/hours.py): an IANA zone, the weekly openings and the closed
    # dates as JSON, and the end of a pause. A pause that ran out stays set until a sweeper
    # claims its end (and announces it); it counts only while it is in the future.
    timezone: Mapped[str] = mapped_column(
        String(64), nullable=False, default="Asia/Seoul", server_default=text("'Asia/Seoul'")
    )
    weekly_hours: Mapped[str] = mapped_column(
        String(2000), nullable=False, default="[]", server_default=text("'[]'")
    )
    closed_dates: Mapped[str] = mapped_column(
        String(2000), nullable=False, default="[]", server_default=text("'[]'")
    )
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    # Delivery (app/catalog/fees.py): how far from the store it delivers, and the fee by
    # distance as JSON `[{up_to_km, fee}]`; `[]` is one flat `delivery_fee` up to the radius.
    delivery_radius_km: Mapped[float] = mapped_column(
        Double, nullable=False, default=3.0, server_default=text("3")
    )
    delivery_fee_tiers: Mapped[str] = mapped_column(
        String(1000), nullable=False, default="[]", server_default=text("'[]'")
    )
    # Set by an admin: hidden from search, ordering refused (`store-suspended`).
    suspended: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    # Its owner's account is suspended: the store counts as suspended too (whatever
    # `suspended` says) until the account is restored. Written with the account's own flag, in
    # the transaction that suspends or restores it, so that no read of stores needs a join.
    owner_suspended: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )

    items: Mapped[list[MenuItem]] = relationship(
        back_populates="store", lazy="raise", order_by="MenuItem.id"
    )


class MenuItem(Base):
    __tablename__ = "menu_items"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    store_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    price: Mapped[int] = mapped_column(Integer, nullable=False)
    group: Mapped[str] = mapped_column(String(50), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    sold_out: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    image_key: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # Soft delete: orders placed earlier still point at this row and keep their copy.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    store: Mapped[Store] = relationship(back_populates="items", lazy="raise")
    options: Mapped[list[MenuOption]] = relationship(
        back_populates="item",
        lazy="selectin",
        order_by="MenuOption.id",
        cascade="all, delete-orphan",
    )


class MenuOption(Base):
    __tablename__ = "menu_options"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("menu_items.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    price: Mapped[int] = mapped_column(Integer, nullable=False)

    item: Mapped[MenuItem] = relationship(back_populates="options", lazy="raise")
