"""Request and response shapes of the catalog, with every field's limits."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StrictBool, StrictInt, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.catalog.fees import (
    DEFAULT_RADIUS_KM as DEFAULT_DELIVERY_RADIUS_KM,
)
from app.catalog.fees import (
    MAX_RADIUS_KM,
    MAX_TIER_FEE,
    MAX_TIERS,
    MIN_RADIUS_KM,
)
from app.catalog.hours import DEFAULT_TIMEZONE, minutes_of, zone
from app.responses import Out, Timestamp, omitted_when_absent
from app.validation import Id, Partial, Schema


class Category(StrEnum):
    """The fixed list of store categories."""

    KOREAN = "korean"
    CHICKEN = "chicken"
    PIZZA = "pizza"
    BURGER = "burger"
    CHINESE = "chinese"
    JAPANESE = "japanese"
    ASIAN = "asian"
    SNACK = "snack"
    CAFE = "cafe"
    DESSERT = "dessert"


CATEGORIES = tuple(category.value for category in Category)
# Groups of digits with single dashes or spaces between, an optional leading +, and 7 to 15
# digits in all: 02-123-4567, +82-2-123-4567.
PHONE = re.compile(r"^\+?[0-9]{1,4}([- ]?[0-9]{1,4}){1,5}$")
MAX_MONEY = 10_000_000
MAX_FEE = 100_000
MAX_OPTIONS = 20
DEFAULT_RADIUS_KM = 5.0
DEFAULT_LIMIT = 50

Name = Annotated[str, Field(min_length=1, max_length=100)]
# Requests take the category as text and answer an unknown one with the list of known ones.
CategoryText = Annotated[str, Field(json_schema_extra={"enum": list(CATEGORIES)})]
Phone = Annotated[
    str,
    Field(
        max_length=20,
        json_schema_extra={"pattern": PHONE.pattern},
        description="7–15 digits in groups of 1–4, single dashes or spaces between, optional +.",
    ),
]
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


Radius = Annotated[
    float,
    Field(
        ge=MIN_RADIUS_KM,
        le=MAX_RADIUS_KM,
        allow_inf_nan=False,
        strict=True,
        description=f"How far from the store it delivers, {MIN_RADIUS_KM:g}–{MAX_RADIUS_KM:g} km.",
    ),
]


class FeeTierIn(Schema):
    """Up to `up_to_km` from the store (and beyond the tier before), the fee is `fee`."""

    up_to_km: float = Field(
        gt=0,
        le=MAX_RADIUS_KM,
        allow_inf_nan=False,
        strict=True,
        description="Kilometres, in steps of 0.1; ascending; the last equals the radius.",
    )
    fee: Annotated[StrictInt, Field(ge=0, le=MAX_TIER_FEE, description="Won.")]


FeeTiers = Annotated[
    list[FeeTierIn],
    Field(
        min_length=1,
        max_length=MAX_TIERS,
        description=f"1–{MAX_TIERS} tiers from near to far; fees never fall with distance. "
        "Left out when creating: one flat `delivery_fee` up to the radius.",
    ),
]


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
    category: CategoryText
    address: str = Field(min_length=1, max_length=200)
    lat: Lat
    lng: Lng
    phone: Phone
    min_order: Money
    delivery_fee: Fee
    delivery_radius_km: Radius = DEFAULT_DELIVERY_RADIUS_KM
    delivery_fee_tiers: FeeTiers | None = None


class StoreUpdate(StoreFields, Partial):
    _no_nulls = field_validator("*", mode="before")(_not_null)

    name: Name | None = None
    category: CategoryText | None = None
    address: str | None = Field(default=None, min_length=1, max_length=200)
    lat: Lat | None = None
    lng: Lng | None = None
    phone: Phone | None = None
    min_order: Money | None = None
    delivery_fee: Fee | None = Field(
        default=None,
        description="Sent alone: one flat fee up to the radius (the tiers go). With "
        "`delivery_fee_tiers`: must equal the first tier's fee.",
    )
    delivery_radius_km: Radius | None = None
    delivery_fee_tiers: FeeTiers | None = None
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


class ItemUpdate(Partial):
    _no_nulls = field_validator("*", mode="before")(_not_null)

    name: Name | None = None
    price: Money | None = None
    group: str | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)
    options: list[OptionIn] | None = Field(default=None, max_length=MAX_OPTIONS)
    sold_out: StrictBool | None = None


class StoreQuery(Partial):
    """GET /api/stores: filters, and a position for nearest-first with distances."""

    category: CategoryText | None = None
    q: str | None = Field(default=None, max_length=100)
    lat: QueryLat | None = None
    lng: QueryLng | None = None
    radius_km: float = Field(default=DEFAULT_RADIUS_KM, gt=0, le=50, allow_inf_nan=False)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=200)
    owner_id: Id | None = None

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


MAX_WEEKLY = 28
MAX_CLOSED_DATES = 100
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class WeeklyHoursIn(Schema):
    """One weekly opening, in the store's time zone; `closes` ≤ `opens` ends the next day."""

    day: Annotated[StrictInt, Field(ge=0, le=6, description="0 = Monday … 6 = Sunday.")]
    opens: str = Field(max_length=5, description="`HH:MM`, 24-hour, local time.")
    closes: str = Field(
        max_length=5,
        description="`HH:MM` (or `24:00`); earlier than `opens` means the next day: "
        "`17:00`–`02:00` is open until 2 a.m.",
    )

    @field_validator("opens")
    @classmethod
    def _opens(cls, value: str) -> str:
        minutes_of(value)
        return value

    @field_validator("closes")
    @classmethod
    def _closes(cls, value: str) -> str:
        minutes_of(value, closing=True)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> WeeklyHoursIn:
        if minutes_of(self.opens) == minutes_of(self.closes, closing=True) % (24 * 60):
            raise ValueError(
                "opens and closes are the same time; a whole day is opens 00:00, closes 24:00"
            )
        return self


def _calendar_date(value: str) -> str:
    if not DATE.match(value):
        raise ValueError("must be a date YYYY-MM-DD such as 2026-12-25")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a day of the calendar") from None
    return value


class HoursUpdate(Schema):
    """PUT /api/stores/{id}/hours: the whole schedule, replacing the one before."""

    weekly: list[WeeklyHoursIn] = Field(
        max_length=MAX_WEEKLY,
        description="The weekly openings; several a day are fine, overlapping ones are not. "
        "Empty: no schedule (open whenever the switch is on, except on closed dates).",
    )
    closed_dates: list[Annotated[str, Field(max_length=10), AfterValidator(_calendar_date)]] = (
        Field(
            default_factory=list,
            max_length=MAX_CLOSED_DATES,
            description="Local dates (`YYYY-MM-DD`) with no opening, from today to a year ahead.",
        )
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description=f"An IANA time zone name; omitted: unchanged (new stores: {DEFAULT_TIMEZONE}).",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value


class PauseRequest(Schema):
    """POST /api/stores/{id}/pause."""

    minutes: Annotated[
        StrictInt, Field(ge=5, le=240, description="How long to refuse new orders: 5–240.")
    ]


class WeeklyHoursOut(Out):
    """One weekly opening, in the store's time zone."""

    day: int = Field(description="0 = Monday … 6 = Sunday.")
    opens: str = Field(description="`HH:MM`, local time.")
    closes: str = Field(description="`HH:MM` (`24:00` = midnight); ≤ `opens`: the next day.")


class FeeTierOut(Out):
    """Up to `up_to_km` from the store (and beyond the tier before), the fee is `fee` won."""

    up_to_km: float
    fee: int


class DeliveryQuoteQuery(Partial):
    """GET /api/stores/{id}/delivery-quote: where the order would go."""

    lat: QueryLat
    lng: QueryLng


class DeliveryQuoteOut(Out):
    """What delivering to a point costs from this store, by the store's tiers."""

    distance_km: float = Field(
        description="Straight-line kilometres from the store, to 3 decimals."
    )
    delivery_fee: int | None = Field(description="Won; null when out of range.")
    in_range: bool = Field(description="Whether the point is within the store's radius.")
    radius_km: float = Field(description="The store's delivery radius, km.")


class StoreOut(Out):
    """A store."""

    id: int
    owner_id: int
    name: str
    category: Category
    address: str
    lat: float
    lng: float
    phone: str
    min_order: int = Field(description="Won.")
    delivery_fee: int = Field(description="Won.")
    open: bool = Field(description="The owner's switch.")
    image_url: str | None
    delivery_radius_km: float = Field(description="How far from the store it delivers, km.")
    delivery_fee_tiers: list[FeeTierOut] = Field(
        description="The fee by distance from the store, near to far; the last tier ends at "
        "the radius. `delivery_fee` is the first tier's."
    )
    rating: float | None = Field(
        description="The mean of its reviews' ratings, to one decimal; null below 3 reviews."
    )
    review_count: int = Field(ge=0, description="How many reviews the store has.")
    timezone: str = Field(description="IANA zone of `hours` and `closed_dates`.")
    hours: list[WeeklyHoursOut] = Field(description="Weekly openings; empty: no schedule.")
    closed_dates: list[str] = Field(description="Local dates closed all day, today onwards.")
    paused_until: Timestamp | None = Field(description="While a pause runs: when it ends.")
    open_now: bool = Field(
        description="Takes orders at this moment: the switch on, within the hours, not on a "
        "closed date, not paused, not suspended."
    )
    suspended: bool = Field(
        description="Suspended by the platform's operators (the store, or its owner's "
        "account): hidden from search, takes no orders."
    )
    next_open: Timestamp | None = Field(
        description="When closed: when it takes orders again by itself (null: not known, "
        "e.g. the switch is off)."
    )
    closes_at: Timestamp | None = Field(
        description="When open: when its hours end (null: no end in sight)."
    )


class ListedStoreOut(StoreOut):
    """A store in a search result."""

    distance_km: float | SkipJsonSchema[None] = omitted_when_absent(
        "Kilometres from the given lat/lng; present only when they were given."
    )


class StoreListOut(Out):
    """Stores matching a search: nearest first when a position was given, else by id."""

    stores: list[ListedStoreOut]


class OptionOut(Out):
    """A menu item's option, priced in won on top of the item."""

    id: int
    name: str
    price: int


class ItemOut(Out):
    """A menu item."""

    id: int
    store_id: int
    name: str
    price: int = Field(description="Won.")
    group: str
    description: str
    sold_out: bool
    image_url: str | None
    options: list[OptionOut]


class MenuGroupOut(Out):
    """The live items of one menu group."""

    group: str
    items: list[ItemOut]


class StorePageOut(StoreOut):
    """A store with its menu, groups in the order their first item was added."""

    menu: list[MenuGroupOut]


class ImageOut(Out):
    """Where an uploaded image is served (from every node)."""

    image_url: str
