"""Offers as the API and the riders' streams show them."""

from __future__ import annotations

from dispatch.models import Offer, OfferStatus
from dispatch.schemas import DropoffOut, OfferOut, OfferStoreOut, OfferWithdrawnOut

# 0.01° is about 1.1 km north-south (less east-west away from the equator): the direction and
# the length of the ride, never the door.
DROPOFF_DECIMALS = 2


def dropoff_of(lat: float, lng: float) -> DropoffOut:
    """The customer's point as an offer may show it, before the rider is assigned."""
    return DropoffOut(lat=round(lat, DROPOFF_DECIMALS), lng=round(lng, DROPOFF_DECIMALS))


def offer_view(offer: Offer, store: OfferStoreOut, dropoff: DropoffOut, trip_km: float) -> OfferOut:
    """An open offer (the data of `offer.created`, and an entry of the offers list)."""
    return OfferOut(
        order_id=offer.order_id,
        store=store,
        dropoff=dropoff,
        trip_km=round(trip_km, 1),
        distance_km=offer.distance_km,
        fee=offer.fee,
        expires_at=offer.expires_at,
        round=offer.round,
        bundle_id=offer.bundle_id,
    )


def withdrawn_view(offer: Offer, status: OfferStatus, reason: str) -> OfferWithdrawnOut:
    """A closed offer (the data of `offer.withdrawn`)."""
    return OfferWithdrawnOut(
        order_id=offer.order_id,
        round=offer.round,
        status="lost" if status == OfferStatus.LOST else "withdrawn",
        reason=reason,
    )
