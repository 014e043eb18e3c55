"""Request and response shapes of dispatch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, field_validator, model_validator

from app.orders.schemas import OrderOut
from app.responses import Out, Timestamp
from app.validation import Partial, Schema
from dispatch.models import EarningKind
from dispatch.period import Bound, parse_bound


class ShiftRequest(Schema):
    online: StrictBool
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _position_when_online(self) -> ShiftRequest:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("send both lat and lng, or neither")
        if self.online and self.lat is None:
            raise ValueError("lat and lng are required to go on shift")
        return self


class LocationRequest(Schema):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class ShiftOut(Out):
    """Whether the rider is on shift now."""

    online: bool


class OfferStoreOut(Out):
    """Where to pick the order up."""

    id: int
    name: str
    lat: float
    lng: float


class DropoffOut(Out):
    """Roughly where the order goes: the customer's point rounded to 0.01° (about 1 km), enough
    to judge the direction and the ride, not to find the door."""

    lat: float
    lng: float


class OfferOut(Out):
    """An order offered to the rider until `expires_at`. The street address and the
    customer's note come with the order once the rider has accepted it."""

    order_id: int
    store: OfferStoreOut
    dropoff: DropoffOut
    trip_km: float = Field(description="Kilometres from the store to the customer, straight.")
    distance_km: float = Field(description="Kilometres from the rider to the store.")
    fee: int = Field(
        description="Won the rider earns for the delivery: fixed for the order when it was "
        "first offered, and exactly what its delivery adds to the rider's earnings."
    )
    expires_at: Timestamp
    round: int = Field(description="The search round (the radius widens each round).")
    bundle_id: int | None = Field(
        default=None,
        description="Set when the order is offered together with another one to this rider: "
        "both are accepted at once with `POST /api/dispatch/bundles/{bundle_id}/accept`.",
    )


class OfferListOut(Out):
    """The rider's open offers, newest first (none while carrying an order); the two offers
    of a bundle share their `bundle_id`."""

    offers: list[OfferOut]


class BundleOfferOut(Out):
    """Two orders offered to one rider as one (the data of `offer.bundle_created`): both
    pickups, then both drop-offs, in the order given."""

    bundle_id: int
    offers: list[OfferOut] = Field(description="The two orders' offers, by order id.")
    pickups: list[int] = Field(description="Order ids in the order to pick them up.")
    dropoffs: list[int] = Field(description="Order ids in the order to deliver them.")
    fee: int = Field(description="Won for both deliveries: the sum of the two offers' fees.")
    expires_at: Timestamp


class BundleAcceptedOut(Out):
    """Both orders of an accepted bundle, now the rider's (in order id order)."""

    bundle_id: int
    orders: list[OrderOut]


class OfferWithdrawnOut(Out):
    """An offer that is no longer open (the data of `offer.withdrawn`)."""

    order_id: int
    round: int
    status: Literal["lost", "withdrawn"] = Field(
        description="`lost`: another rider won the order; `withdrawn`: the offer was called off."
    )
    reason: str = Field(
        description="`assigned`, `off-shift`, `bundle` (the other order of its bundle went "
        "to another rider or no longer needs one), or the order's status that ended the search "
        "(`cancelled`, `rejected`, …)."
    )


class EarningsQuery(Partial):
    """`from` and `to`: ISO dates (whole days in the platform's zone, `to` included) or RFC 3339
    date-times with an offset (`from` included, `to` not); neither: today."""

    from_: Bound | None = Field(
        default=None,
        alias="from",
        description="Start (included): a date (its midnight in Asia/Seoul) or a date-time.",
    )
    to: Bound | None = Field(
        default=None,
        description="End: a date (included, to its end in Asia/Seoul) or a date-time (excluded).",
    )

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _bound(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_bound(value)
        return value


class EarningEntryOut(Out):
    """One entry of the rider's earnings ledger."""

    order_id: int
    fee: int = Field(
        description="Won: the delivery's fee, or the amount of a correction (either sign)."
    )
    kind: EarningKind = Field(
        description="`delivery`: the order's fee; `correction`: a later adjustment."
    )
    at: Timestamp


class EarningsOut(Out):
    """A rider's earnings in a period: the entries newest first, their sum and deliveries."""

    time_zone: str = Field(description="The zone dates are whole days in (`Asia/Seoul`).")
    start: Timestamp = Field(description="The period's start (included).")
    end: Timestamp = Field(description="The period's end (excluded).")
    total: int = Field(description="Won: the sum of every entry's `fee`.")
    deliveries: int = Field(description="How many of the entries are deliveries.")
    entries: list[EarningEntryOut]
