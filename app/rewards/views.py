"""HTTP for points and coupons (CONTRACT §5)."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify
from quart_schema import tag
from redis.exceptions import RedisError

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.container import container
from app.errors import Unavailable
from app.ratelimit import RateLimiter
from app.rewards import claims, coupons, points
from app.rewards.schemas import CampaignRequest, ConvertRequest
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
@login_required(role=Role.CUSTOMER)
async def my_points(principal: Principal) -> Response:
    """The caller's accrued and usable points."""
    return jsonify(await points.read_balances(db=container().db, customer_id=principal.user_id))


@bp.post("/api/me/points/convert")
@tag(["points"])
@login_required(role=Role.CUSTOMER)
@body(ConvertRequest)
async def convert_points(principal: Principal, data: ConvertRequest) -> Response:
    """Move accrued points to usable, 1:1, in multiples of 5,000."""
    res = container()
    result = await points.convert(
        db=res.db, redis=res.cache_redis, customer_id=principal.user_id, amount=data.amount
    )
    return jsonify(result)


@bp.post("/api/coupon-campaigns")
@tag(["coupons"])
@login_required(role=Role.ADMIN)
@body(CampaignRequest)
async def create_campaign(principal: Principal, data: CampaignRequest) -> tuple[Response, int]:
    """Create a first-come coupon campaign."""
    campaign = await coupons.create_campaign(
        db=container().db, counter=_state().counter, **data.model_dump()
    )
    return jsonify(campaign), 201


@bp.get("/api/coupon-campaigns")
@tag(["coupons"])
async def list_campaigns() -> Response:
    """Every campaign with the coupons it has left."""
    return jsonify({"campaigns": await coupons.list_campaigns(db=container().db)})


@bp.post("/api/coupon-campaigns/<int:campaign_id>/claim")
@tag(["coupons"])
@login_required(role=Role.CUSTOMER)
async def claim(principal: Principal, campaign_id: int) -> tuple[Response, int]:
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
        return jsonify({"coupon": None, "pending": True, "campaign_id": campaign_id}), 202
    return jsonify(result.coupon), 201


@bp.get("/api/me/coupons")
@tag(["coupons"])
@login_required(role=Role.CUSTOMER)
async def my_coupons(principal: Principal) -> Response:
    """The caller's coupons with their status and expiry."""
    found = await coupons.my_coupons(db=container().db, customer_id=principal.user_id)
    return jsonify({"coupons": found})
