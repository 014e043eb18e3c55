"""Request shapes for points and coupons."""

from __future__ import annotations

from pydantic import AwareDatetime, Field, StrictInt, ValidationInfo, field_validator

from app.rewards.ledger import CONVERSION_UNIT
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

    @field_validator("ends_at")
    @classmethod
    def _after_start(cls, value: AwareDatetime, info: ValidationInfo) -> AwareDatetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None and value <= starts_at:
            raise ValueError("must be after starts_at")
        return value
