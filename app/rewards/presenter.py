"""Points, campaigns and coupons as the API shows them."""

from __future__ import annotations

from datetime import datetime

from app.rewards.models import Coupon, CouponCampaign, CouponStatus
from app.rewards.schemas import CampaignOut, CouponOut


def campaign_view(campaign: CouponCampaign) -> CampaignOut:
    """A campaign, with `remaining` from the database."""
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        discount=campaign.discount,
        min_order=campaign.min_order,
        quantity=campaign.quantity,
        remaining=max(0, campaign.quantity - campaign.issued),
        valid_days=campaign.valid_days,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
    )


def coupon_view(coupon: Coupon, campaign: CouponCampaign, *, now: datetime) -> CouponOut:
    """A customer's coupon; an issued coupon past its expiry shows as expired."""
    status = CouponStatus(coupon.status)
    if status == CouponStatus.ISSUED and coupon.expires_at <= now:
        status = CouponStatus.EXPIRED
    return CouponOut(
        id=coupon.id,
        campaign_id=coupon.campaign_id,
        name=campaign.name,
        discount=campaign.discount,
        min_order=campaign.min_order,
        status=status,
        expires_at=coupon.expires_at,
    )
