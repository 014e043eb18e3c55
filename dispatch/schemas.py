"""Request and response shapes of dispatch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, model_validator

from app.orders.schemas import AddressOut
from app.responses import Out, Timestamp
from app.validation import Schema


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


class OfferOut(Out):
    """An order offered to the rider until `expires_at`."""

    order_id: int
    store: OfferStoreOut
    address: AddressOut
    distance_km: float = Field(description="Kilometres from the rider to the store.")
    fee: int = Field(description="Won the rider earns for the delivery.")
    expires_at: Timestamp
    round: int = Field(description="The search round (the radius widens each round).")


class OfferListOut(Out):
    """The rider's open offers, newest first (none while carrying an order)."""

    offers: list[OfferOut]


class OfferWithdrawnOut(Out):
    """An offer that is no longer open (the data of `offer.withdrawn`)."""

    order_id: int
    round: int
    status: Literal["lost", "withdrawn"] = Field(
        description="`lost`: another rider won the order; `withdrawn`: the offer was called off."
    )
    reason: str = Field(
        description="`assigned`, `off-shift`, or the order's status that ended the search "
        "(`cancelled`, `rejected`, …)."
    )
