"""Coupon campaigns and the customer's coupons."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import select

from app.db import Database, utcnow
from app.errors import NotFound
from app.rewards.counter import ClaimCounter
from app.rewards.models import Coupon, CouponCampaign
from app.rewards.presenter import campaign_view, coupon_view
from app.rewards.schemas import CampaignOut, CouponOut

log = logging.getLogger("delivery.rewards")

# Counters outlive the campaign by a day, then Redis forgets them on its own.
COUNTER_GRACE = timedelta(days=1)


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
) -> CampaignOut:
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
    return campaign_view(campaign)


async def list_campaigns(*, db: Database) -> list[CampaignOut]:
    """Every campaign, newest first."""
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(CouponCampaign).order_by(CouponCampaign.id.desc()))
        return [campaign_view(c) for c in rows]


async def my_coupons(*, db: Database, customer_id: int) -> list[CouponOut]:
    """The customer's coupons, newest first."""
    now = utcnow()
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(Coupon, CouponCampaign)
            .join(CouponCampaign, CouponCampaign.id == Coupon.campaign_id)
            .where(Coupon.customer_id == customer_id)
            .order_by(Coupon.id.desc())
        )
        return [coupon_view(coupon, campaign, now=now) for coupon, campaign in rows]


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
