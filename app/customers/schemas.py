"""Request and response shapes of the address book and favourites."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, field_validator

from app.catalog.schemas import Lat, Lng, StoreOut
from app.responses import Out
from app.validation import Partial, Schema

MAX_ADDRESSES = 20
MAX_FAVOURITES = 200
NOTE_MAX = 200

Label = Annotated[str, Field(min_length=1, max_length=40, description="Home, Work, …")]
AddressText = Annotated[str, Field(min_length=1, max_length=300)]
Note = Annotated[
    str,
    Field(max_length=NOTE_MAX, description="For the rider (gate code, floor); empty for none."),
]


def _not_null(value: object) -> object:
    # In a PATCH an absent field means "unchanged"; an explicit null is a mistake.
    if value is None:
        raise ValueError("must not be null")
    return value


class AddressCreate(Schema):
    label: Label
    text: AddressText
    lat: Lat
    lng: Lng
    rider_note: Note = ""
    default: StrictBool = Field(
        default=False,
        description="Make it the default (the first address always is; the previous default "
        "stops being one).",
    )


class AddressUpdate(Partial):
    _no_nulls = field_validator("*", mode="before")(_not_null)

    label: Label | None = None
    text: AddressText | None = None
    lat: Lat | None = None
    lng: Lng | None = None
    rider_note: Note | None = None
    default: StrictBool | None = Field(
        default=None,
        description="`true` makes it the default; `false` is refused on the default (make "
        "another address the default instead: there is always exactly one).",
    )


class SavedAddressOut(Out):
    """A saved delivery address."""

    id: int
    label: str
    text: str
    lat: float
    lng: float
    rider_note: str | None = Field(description="For the rider; null when there is none.")
    default: bool = Field(description="Exactly one of a customer's addresses is the default.")


class AddressListOut(Out):
    """The caller's addresses, the default first, then in the order they were added."""

    addresses: list[SavedAddressOut]


class FavouriteListOut(Out):
    """The caller's favourite stores, the most recently added first."""

    stores: list[StoreOut]
