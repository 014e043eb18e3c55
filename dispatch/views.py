"""HTTP for riders and dispatch: shifts, positions, offers (docs/api.md)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import tag

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.auth.revocation import Revocations
from app.container import container
from app.db import utcnow
from app.errors import ProblemCode
from app.orders.schemas import OrderOut
from app.responses import no_content, problems, returns
from app.validation import body, query
from dispatch import bundle_accept, service
from dispatch.earnings import rider_earnings
from dispatch.geo import place_rider, remove_rider, rider_position
from dispatch.location import LocationSharing
from dispatch.period import period_of
from dispatch.schemas import (
    BundleAcceptedOut,
    EarningsOut,
    EarningsQuery,
    LocationRequest,
    OfferListOut,
    ShiftOut,
    ShiftRequest,
)
from dispatch.service import Position
from dispatch.worker import SearchWorker

bp = Blueprint("dispatch", __name__)


@bp.put("/api/riders/me/shift")
@tag(["dispatch"])
@returns(ShiftOut)
@problems(ProblemCode.RIDER_BUSY)
@login_required(role=Role.RIDER)
@body(ShiftRequest)
async def put_shift(principal: Principal, data: ShiftRequest) -> ShiftOut:
    """Go on shift (with a position) or off shift (refused while carrying an order)."""
    res = container()
    position = None if data.lat is None or data.lng is None else Position(data.lat, data.lng)
    shift = await service.set_shift(
        db=res.db, rider_id=principal.user_id, online=data.online, position=position
    )
    if data.online and position is not None:
        await place_rider(res.cache_redis, principal.user_id, position.lat, position.lng)
    elif not data.online:
        await remove_rider(res.cache_redis, principal.user_id)
    return shift


@bp.put("/api/riders/me/location")
@tag(["dispatch"])
@no_content
@login_required(role=Role.RIDER)
@body(LocationRequest)
async def put_location(principal: Principal, data: LocationRequest) -> tuple[str, int]:
    """The rider's position now; shared with the order being carried."""
    sharing = container().get(LocationSharing)
    await sharing.update(rider_id=principal.user_id, lat=data.lat, lng=data.lng)
    return "", 204


@bp.get("/api/riders/me/earnings")
@tag(["dispatch"])
@returns(EarningsOut)
@login_required(role=Role.RIDER)
@query(EarningsQuery)
async def get_earnings(principal: Principal, query: EarningsQuery) -> EarningsOut:
    """The rider's earnings ledger from `from` to `to` (default: today, in Asia/Seoul)."""
    period = period_of(query.from_, query.to, now=utcnow())
    return await rider_earnings(db=container().db, rider_id=principal.user_id, period=period)


@bp.get("/api/dispatch/offers")
@tag(["dispatch"])
@returns(OfferListOut)
@login_required(role=Role.RIDER)
async def get_offers(principal: Principal) -> OfferListOut:
    """The rider's open offers."""
    offers = await service.list_offers(db=container().db, rider_id=principal.user_id)
    return OfferListOut(offers=offers)


@bp.post("/api/dispatch/offers/<int:order_id>/accept")
@tag(["dispatch"])
@returns(OrderOut)
@problems(
    ProblemCode.NOT_FOUND,
    ProblemCode.ALREADY_ASSIGNED,
    ProblemCode.RIDER_BUSY,
    ProblemCode.RIDER_OFFLINE,
    ProblemCode.OFFER_CLOSED,
    ProblemCode.OFFER_BUNDLED,
    ProblemCode.INVALID_TRANSITION,
)
@login_required(role=Role.RIDER)
async def accept(principal: Principal, order_id: int) -> OrderOut:
    """Accept an open offer: 200 with the order, or a 409 that says why not.

    Sent again by the rider who won it (a retry after a lost answer): 200, the order unchanged.
    """
    res = container()
    where = await rider_position(res.cache_redis, principal.user_id)
    return await service.accept_offer(
        db=res.db,
        worker=res.get(SearchWorker),
        rider_id=principal.user_id,
        order_id=order_id,
        position=Position(*where) if where else None,
    )


@bp.post("/api/dispatch/bundles/<int:bundle_id>/accept")
@tag(["dispatch"])
@returns(BundleAcceptedOut)
@problems(
    ProblemCode.NOT_FOUND,
    ProblemCode.ALREADY_ASSIGNED,
    ProblemCode.RIDER_BUSY,
    ProblemCode.RIDER_OFFLINE,
    ProblemCode.OFFER_CLOSED,
    ProblemCode.INVALID_TRANSITION,
)
@login_required(role=Role.RIDER)
async def accept_bundle(principal: Principal, bundle_id: int) -> BundleAcceptedOut:
    """Accept a bundle offer: 200 with both orders, or a 409 that says why neither was taken.

    Sent again by the rider who won it: 200, the orders unchanged.
    """
    res = container()
    where = await rider_position(res.cache_redis, principal.user_id)
    return await bundle_accept.accept_bundle(
        db=res.db,
        worker=res.get(SearchWorker),
        rider_id=principal.user_id,
        bundle_id=bundle_id,
        position=Position(*where) if where else None,
    )


@bp.post("/api/dispatch/offers/<int:order_id>/release")
@tag(["dispatch"])
@returns(OrderOut)
@problems(ProblemCode.NOT_FOUND, ProblemCode.INVALID_TRANSITION)
@login_required(role=Role.RIDER)
async def release(principal: Principal, order_id: int) -> OrderOut:
    """Hand the order back before pickup; it is offered again (its rider)."""
    services = container()
    return await service.release_order(
        db=services.db,
        worker=services.get(SearchWorker),
        revocations=services.get(Revocations),
        rider_id=principal.user_id,
        order_id=order_id,
    )
