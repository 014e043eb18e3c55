"""Request shapes of the catalog, with every field's limits."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from app.validation import Schema

# The fixed list of store categories (documented in README.md).
CATEGORIES = (
    "korean",
    "chicken",
    "pizza",
    "burger",
    "chinese",
    "japanese",
    "asian",
    "snack",
    "cafe",
    "dessert",
)
# Groups of digits with single dashes or spaces between, an optional leading +, and 7 to 15
# digits in all: 02-123-4567, +82-2-123-4567.
PHONE = re.compile(r"^\+?[0-9]{1,4}([- ]?[0-9]{1,4}){1,5}$")
MAX_MONEY = 10_000_000
MAX_FEE = 100_000
MAX_OPTIONS = 20
DEFAULT_RADIUS_KM = 5.0
DEFAULT_LIMIT = 50

Name = Annotated[str, Field(min_length=1, max_length=100)]
Money = Annotated[StrictInt, Field(ge=0, le=MAX_MONEY)]
Fee = Annotated[StrictInt, Field(ge=0, le=MAX_FEE)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)]
Lng = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)]
# The query string carries text, so its coordinates are parsed from strings.
QueryLat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
QueryLng = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


def _not_null(value: object) -> object:
    # In a PATCH an absent field means "unchanged"; an explicit null is a mistake.
    if value is None:
        raise ValueError("must not be null")
    return value


def _category(value: str | None) -> str | None:
    if value is not None and value not in CATEGORIES:
        raise ValueError(f"must be one of {', '.join(CATEGORIES)}")
    return value


def _phone(value: str | None) -> str | None:
    digits = sum(c.isdigit() for c in value or "")
    if value is not None and (len(value) > 20 or not PHONE.match(value) or not 7 <= digits <= 15):
        raise ValueError("must be a phone number such as 02-123-4567 or +82-2-123-4567")
    return value


class StoreFields(Schema):
    """Fields shared by create and update; validators apply to both."""

    @field_validator("category", check_fields=False)
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        return _category(value)

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone_format(cls, value: str | None) -> str | None:
        return _phone(value)


class StoreCreate(StoreFields):
    name: Name
    category: str
    address: str = Field(min_length=1, max_length=200)
    lat: Lat
    lng: Lng
    phone: str
    min_order: Money
    delivery_fee: Fee


class StoreUpdate(StoreFields):
    _no_nulls = field_validator("*", mode="before")(_not_null)

    name: Name | None = None
    category: str | None = None
    address: str | None = Field(default=None, min_length=1, max_length=200)
    lat: Lat | None = None
    lng: Lng | None = None
    phone: str | None = None
    min_order: Money | None = None
    delivery_fee: Fee | None = None
    open: StrictBool | None = None


class OptionIn(Schema):
    name: str = Field(min_length=1, max_length=50)
    price: Annotated[StrictInt, Field(ge=0, le=1_000_000)]


class ItemCreate(Schema):
    name: Name
    price: Money
    group: str = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=500)
    options: list[OptionIn] = Field(default_factory=list, max_length=MAX_OPTIONS)


class ItemUpdate(Schema):
    _no_nulls = field_validator("*", mode="before")(_not_null)

    name: Name | None = None
    price: Money | None = None
    group: str | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)
    options: list[OptionIn] | None = Field(default=None, max_length=MAX_OPTIONS)
    sold_out: StrictBool | None = None


class StoreQuery(Schema):
    """GET /api/stores: filters, and a position for nearest-first with distances."""

    category: str | None = None
    q: str | None = Field(default=None, max_length=100)
    lat: QueryLat | None = None
    lng: QueryLng | None = None
    radius_km: float = Field(default=DEFAULT_RADIUS_KM, gt=0, le=50, allow_inf_nan=False)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=200)
    owner_id: int | None = Field(default=None, ge=1)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        return _category(value)

    @model_validator(mode="after")
    def _both_coordinates(self) -> StoreQuery:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("give both lat and lng, or neither")
        return self

    def key(self) -> str:
        """A canonical form of this query, for the cache key."""
        return self.model_dump_json()
