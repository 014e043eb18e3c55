"""HTTP for riders and dispatch (CONTRACT §6)."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify
from quart_schema import tag

from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.container import container
from app.validation import body
from dispatch import service
from dispatch.geo import place_rider, remove_rider, rider_position
from dispatch.location import LocationSharing
from dispatch.schemas import LocationRequest, ShiftRequest
from dispatch.service import Position
from dispatch.worker import SearchWorker

bp = Blueprint("dispatch", __name__)


@bp.put("/api/riders/me/shift")
@tag(["dispatch"])
@login_required(role=Role.RIDER)
@body(ShiftRequest)
async def put_shift(principal: Principal, data: ShiftRequest) -> Response:
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
    return jsonify(shift)


@bp.put("/api/riders/me/location")
@tag(["dispatch"])
@login_required(role=Role.RIDER)
@body(LocationRequest)
async def put_location(principal: Principal, data: LocationRequest) -> tuple[str, int]:
    """The rider's position now; shared with the order being carried."""
    sharing = container().get(LocationSharing)
    await sharing.update(rider_id=principal.user_id, lat=data.lat, lng=data.lng)
    return "", 204


@bp.get("/api/dispatch/offers")
@tag(["dispatch"])
@login_required(role=Role.RIDER)
async def get_offers(principal: Principal) -> Response:
    """The rider's open offers."""
    offers = await service.list_offers(db=container().db, rider_id=principal.user_id)
    return jsonify({"offers": offers})


@bp.post("/api/dispatch/offers/<int:order_id>/accept")
@tag(["dispatch"])
@login_required(role=Role.RIDER)
async def accept(principal: Principal, order_id: int) -> Response:
    """Accept an offer: 200 with the order, or 409 already-assigned / rider-busy."""
    res = container()
    where = await rider_position(res.cache_redis, principal.user_id)
    order = await service.accept_offer(
        db=res.db,
        worker=res.get(SearchWorker),
        rider_id=principal.user_id,
        order_id=order_id,
        position=Position(*where) if where else None,
    )
    return jsonify(order)


@bp.post("/api/dispatch/offers/<int:order_id>/release")
@tag(["dispatch"])
@login_required(role=Role.RIDER)
async def release(principal: Principal, order_id: int) -> Response:
    """Hand the order back before pickup; it is offered again."""
    services = container()
    order = await service.release_order(
        db=services.db,
        worker=services.get(SearchWorker),
        rider_id=principal.user_id,
        order_id=order_id,
    )
    return jsonify(order)
