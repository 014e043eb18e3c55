"""Offers as the API and the riders' streams show them."""

from __future__ import annotations

from app.orders.schemas import AddressOut
from dispatch.models import Offer, OfferStatus
from dispatch.schemas import OfferOut, OfferStoreOut, OfferWithdrawnOut


def offer_view(offer: Offer, store: OfferStoreOut, address: AddressOut) -> OfferOut:
    """An open offer (the data of `offer.created`, and an entry of the offers list)."""
    return OfferOut(
        order_id=offer.order_id,
        store=store,
        address=address,
        distance_km=offer.distance_km,
        fee=offer.fee,
        expires_at=offer.expires_at,
        round=offer.round,
    )


def withdrawn_view(offer: Offer, status: OfferStatus, reason: str) -> OfferWithdrawnOut:
    """A closed offer (the data of `offer.withdrawn`)."""
    return OfferWithdrawnOut(
        order_id=offer.order_id,
        round=offer.round,
        status="lost" if status == OfferStatus.LOST else "withdrawn",
        reason=reason,
    )
