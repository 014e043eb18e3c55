"""Addresses as the API shows them."""

from __future__ import annotations

from app.customers.models import Address
from app.customers.schemas import SavedAddressOut


def address_view(address: Address) -> SavedAddressOut:
    """The API's `address`."""
    return SavedAddressOut(
        id=address.id,
        label=address.label,
        text=address.text,
        lat=address.lat,
        lng=address.lng,
        rider_note=address.rider_note,
        default=bool(address.is_default),
    )
