"""Request shapes of orders."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.validation import Schema

CardNumber = Annotated[str, StringConstraints(pattern=r"^\d{16}$")]


class OrderLine(Schema):
    menu_item_id: int = Field(gt=0)
    quantity: int = Field(ge=1, le=99)
    option_ids: list[Annotated[int, Field(gt=0)]] = Field(default_factory=list, max_length=20)


class Address(Schema):
    text: str = Field(min_length=1, max_length=300)
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class CardPayment(Schema):
    method: Literal["card"]
    card_number: CardNumber


class PointsPayment(Schema):
    method: Literal["points"]


class PlaceOrderRequest(Schema):
    store_id: int = Field(gt=0)
    items: list[OrderLine] = Field(min_length=1, max_length=50)
    address: Address
    payment: CardPayment | PointsPayment = Field(discriminator="method")
    use_points: int = Field(default=0, ge=0, le=100_000_000)
    coupon_id: int | None = Field(default=None, gt=0)


class AcceptRequest(Schema):
    prep_minutes: int = Field(ge=5, le=90)


class ReasonRequest(Schema):
    reason: str = Field(default="", max_length=300)


class EmptyRequest(Schema):
    pass


class OrderListQuery(Schema):
    store_id: int | None = Field(default=None, gt=0)
    limit: int = Field(default=50, ge=1, le=200)
