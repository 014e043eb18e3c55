"""Request and response shapes for points and coupons."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, StrictInt, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.responses import Out, Timestamp
from app.rewards.ledger import CONVERSION_UNIT
from app.rewards.models import CouponStatus
from app.validation import Schema


class ConvertRequest(Schema):
    amount: StrictInt = Field(gt=0, le=10**12)

    @field_validator("amount")
    @classmethod
    def _multiple_of_unit(cls, value: int) -> int:
        if value % CONVERSION_UNIT:
            raise ValueError(f"must be a positive multiple of {CONVERSION_UNIT}")
        return value


class CampaignRequest(Schema):
    name: str = Field(min_length=1, max_length=100)
    discount: StrictInt = Field(ge=1, le=10_000_000)
    min_order: StrictInt = Field(ge=0, le=100_000_000)
    quantity: StrictInt = Field(ge=1, le=10_000_000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    valid_days: StrictInt = Field(default=30, ge=1, le=365)

    @field_validator("min_order")
    @classmethod
    def _covers_discount(cls, value: int, info: ValidationInfo) -> int:
        # A discount above the minimum would pay for more than the food: the order would be
        # free, or the platform would owe the customer.
        discount = info.data.get("discount")
        if discount is not None and discount > value:
            raise PydanticCustomError(
                "discount_above_min_order",
                "The minimum order (₩{min_order}) must be at least the discount (₩{discount}): "
                "raise the minimum order or lower the discount.",
                {"min_order": f"{value:,}", "discount": f"{discount:,}"},
            )
        return value

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: AwareDatetime, info: ValidationInfo) -> AwareDatetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and value <= starts_at:
            raise ValueError("The campaign must end after it starts.")
        return value


class PointsOut(Out):
    """The customer's points: `accrued` converts to `usable` (1:1) in multiples of 5,000;
    `usable` pays for orders (1 point = 1 won)."""

    accrued: int
    usable: int


class CampaignOut(Out):
    """A first-come coupon campaign."""

    id: int
    name: str
    discount: int = Field(description="Won off an order.")
    min_order: int = Field(description="Won: the smallest subtotal the coupon applies to.")
    quantity: int = Field(description="Coupons it issues at most.")
    remaining: int = Field(description="Coupons left to claim.")
    valid_days: int = Field(description="Days a coupon stays usable after its claim.")
    starts_at: Timestamp
    ends_at: Timestamp


class CampaignListOut(Out):
    """Every campaign, newest first."""

    campaigns: list[CampaignOut]


class CouponOut(Out):
    """A customer's coupon; an issued coupon past `expires_at` shows as `expired`."""

    id: int
    campaign_id: int
    name: str
    discount: int = Field(description="Won off an order.")
    min_order: int = Field(description="Won: the smallest subtotal it applies to.")
    status: CouponStatus
    expires_at: Timestamp


class CouponListOut(Out):
    """The caller's coupons, newest first."""

    coupons: list[CouponOut]


class PendingClaimOut(Out):
    """The claim was recorded but not yet issued (the database was busy): it is issued
    within seconds, and shows in `GET /api/me/coupons`."""

    coupon: None
    pending: Literal[True]
    campaign_id: int
