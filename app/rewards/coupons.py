"""Coupon campaigns, their public shapes and the customer's coupons."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

from app.db import Database, rfc3339, utcnow
from app.errors import NotFound
from app.rewards.counter import ClaimCounter
from app.rewards.models import Coupon, CouponCampaign, CouponStatus

log = logging.getLogger("delivery.rewards")

# Counters outlive the campaign by a day, then Redis forgets them on its own.
COUNTER_GRACE = timedelta(days=1)


def campaign_public(campaign: CouponCampaign) -> dict[str, Any]:
    """The contract's campaign shape, with `remaining` from the database."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "discount": campaign.discount,
        "min_order": campaign.min_order,
        "quantity": campaign.quantity,
        "remaining": max(0, campaign.quantity - campaign.issued),
        "valid_days": campaign.valid_days,
        "starts_at": rfc3339(campaign.starts_at),
        "ends_at": rfc3339(campaign.ends_at),
    }


def coupon_public(coupon: Coupon, campaign: CouponCampaign, *, now: datetime) -> dict[str, Any]:
    """The contract's coupon shape; an issued coupon past its expiry shows as expired."""
    status = coupon.status
    if status == CouponStatus.ISSUED.value and coupon.expires_at <= now:
        status = CouponStatus.EXPIRED.value
    return {
        "id": coupon.id,
        "campaign_id": coupon.campaign_id,
        "name": campaign.name,
        "discount": campaign.discount,
        "min_order": campaign.min_order,
        "status": status,
        "expires_at": rfc3339(coupon.expires_at),
    }


async def create_campaign(
    *,
    db: Database,
    counter: ClaimCounter,
    name: str,
    discount: int,
    min_order: int,
    quantity: int,
    starts_at: datetime,
    ends_at: datetime,
    valid_days: int,
) -> dict[str, Any]:
    """Create a campaign and prime its counters (a later claim rebuilds them if this fails)."""
    async with db.uow() as uow:
        campaign = CouponCampaign(
            name=name,
            discount=discount,
            min_order=min_order,
            quantity=quantity,
            issued=0,
            valid_days=valid_days,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        uow.session.add(campaign)
        await uow.session.flush()
        await uow.commit()
    try:
        await counter.load(
            campaign.id, left=quantity, customers=(), ttl_seconds=counter_ttl(campaign)
        )
    except RedisError:
        log.warning(
            "campaign %s created without counters; the first claim rebuilds them", campaign.id
        )
    return campaign_public(campaign)


async def list_campaigns(*, db: Database) -> list[dict[str, Any]]:
    """Every campaign, newest first."""
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(CouponCampaign).order_by(CouponCampaign.id.desc()))
        return [campaign_public(c) for c in rows]


async def my_coupons(*, db: Database, customer_id: int) -> list[dict[str, Any]]:
    """The customer's coupons, newest first."""
    now = utcnow()
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(Coupon, CouponCampaign)
            .join(CouponCampaign, CouponCampaign.id == Coupon.campaign_id)
            .where(Coupon.customer_id == customer_id)
            .order_by(Coupon.id.desc())
        )
        return [coupon_public(coupon, campaign, now=now) for coupon, campaign in rows]


async def get_campaign(*, db: Database, campaign_id: int) -> CouponCampaign:
    """The campaign, or 404."""
    async with db.uow() as uow:
        campaign = await uow.session.get(CouponCampaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Campaign {campaign_id} does not exist.")
    return campaign


def counter_ttl(campaign: CouponCampaign) -> int:
    """Seconds the counters should live: until a day after the campaign ends."""
    return max(60, int((campaign.ends_at + COUNTER_GRACE - utcnow()).total_seconds()))
