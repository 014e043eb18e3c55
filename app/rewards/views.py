"""HTTP for points and coupons (docs/api.md)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import tag
from redis.exceptions import RedisError

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.container import container
from app.errors import ProblemCode, Unavailable
from app.ratelimit import RateLimiter
from app.responses import problems, returns
from app.rewards import claims, coupons, points
from app.rewards.schemas import (
    CampaignListOut,
    CampaignOut,
    CampaignRequest,
    ConvertRequest,
    CouponListOut,
    CouponOut,
    PendingClaimOut,
    PointsOut,
)
from app.rewards.state import RewardsState
from app.validation import body

bp = Blueprint("rewards", __name__)

# Per customer: a stampede client retrying in a loop is slowed, a person never notices.
CLAIM_LIMIT = 10
CLAIM_WINDOW_SECONDS = 60


def _state() -> RewardsState:
    state = container().get(RewardsState)
    return state


@bp.get("/api/me/points")
@tag(["points"])
@returns(PointsOut)
@login_required(role=Role.CUSTOMER)
async def my_points(principal: Principal) -> PointsOut:
    """The caller's accrued and usable points."""
    return await points.read_balances(db=container().db, customer_id=principal.user_id)


@bp.post("/api/me/points/convert")
@tag(["points"])
@returns(PointsOut)
@problems(ProblemCode.INSUFFICIENT_POINTS)
@login_required(role=Role.CUSTOMER)
@body(ConvertRequest)
async def convert_points(principal: Principal, data: ConvertRequest) -> PointsOut:
    """Move accrued points to usable, 1:1, in multiples of 5,000."""
    res = container()
    return await points.convert(
        db=res.db, redis=res.cache_redis, customer_id=principal.user_id, amount=data.amount
    )


@bp.post("/api/coupon-campaigns")
@tag(["coupons"])
@returns(CampaignOut, 201)
@login_required(role=Role.ADMIN)
@body(CampaignRequest)
async def create_campaign(principal: Principal, data: CampaignRequest) -> CampaignOut:
    """Create a first-come coupon campaign (admins)."""
    return await coupons.create_campaign(
        db=container().db, counter=_state().counter, **data.model_dump()
    )


@bp.get("/api/coupon-campaigns")
@tag(["coupons"])
@returns(CampaignListOut)
async def list_campaigns() -> CampaignListOut:
    """Every campaign with the coupons it has left."""
    return CampaignListOut(campaigns=await coupons.list_campaigns(db=container().db))


@bp.post("/api/coupon-campaigns/<int:campaign_id>/claim")
@tag(["coupons"])
@returns(CouponOut, 201)
@returns(PendingClaimOut, 202)
@problems(
    ProblemCode.NOT_FOUND,
    ProblemCode.COUPON_SOLD_OUT,
    ProblemCode.COUPON_ALREADY_CLAIMED,
    ProblemCode.COUPON_UNUSABLE,
    ProblemCode.RATE_LIMITED,
)
@login_required(role=Role.CUSTOMER)
async def claim(principal: Principal, campaign_id: int) -> CouponOut | tuple[PendingClaimOut, int]:
    """Claim one coupon: 201 coupon, 202 when recorded for replay, or 409 sold out / claimed."""
    res = container()
    state = _state()
    campaign = await state.campaign(res.db, campaign_id)
    try:
        await res.get(RateLimiter).hit(
            f"coupon-claim:{principal.user_id}", limit=CLAIM_LIMIT, window=CLAIM_WINDOW_SECONDS
        )
    except (RedisError, OSError) as error:
        raise Unavailable("The coupon counter is unavailable; try again.") from error
    result = await claims.claim_coupon(
        db=res.db, counter=state.counter, campaign=campaign, customer_id=principal.user_id
    )
    if result.coupon is None:
        return PendingClaimOut(coupon=None, pending=True, campaign_id=campaign_id), 202
    return result.coupon


@bp.get("/api/me/coupons")
@tag(["coupons"])
@returns(CouponListOut)
@login_required(role=Role.CUSTOMER)
async def my_coupons(principal: Principal) -> CouponListOut:
    """The caller's coupons with their status and expiry."""
    return CouponListOut(
        coupons=await coupons.my_coupons(db=container().db, customer_id=principal.user_id)
    )
