"""HTTP for the operations console (admins only): overview, queues, interventions, audit log."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import tag

from app.admin import service
from app.admin.schemas import (
    AdminOrderListOut,
    AdminOrdersQuery,
    AdminRiderListOut,
    AdminUserOut,
    AssignRequest,
    AuditQuery,
    CancelRequest,
    OverviewOut,
    SuspendRequest,
)
from app.audit import service as audit
from app.audit.schemas import AuditListOut
from app.auth.guard import login_required
from app.auth.login import Principal
from app.auth.models import Role
from app.auth.revocation import Revocations
from app.auth.sessions import SessionStore
from app.catalog.cache import CatalogCache
from app.catalog.schemas import StoreOut
from app.container import container
from app.errors import ProblemCode
from app.orders.hooks import OrderHooks
from app.orders.schemas import OrderOut
from app.payments.gateway import PaymentGateway
from app.responses import problems, returns
from app.validation import body, query
from dispatch.worker import SearchWorker

bp = Blueprint("admin", __name__)
ADMIN = Role.ADMIN


@bp.get("/api/admin/overview")
@tag(["admin"])
@returns(OverviewOut)
@login_required(role=ADMIN)
async def overview(principal: Principal) -> OverviewOut:
    """Orders by status, riders on shift and busy, orders waiting for a store or a rider."""
    return await service.overview(db=container().db)


@bp.get("/api/admin/orders")
@tag(["admin"])
@returns(AdminOrderListOut)
@login_required(role=ADMIN)
@query(AdminOrdersQuery)
async def orders(principal: Principal, query: AdminOrdersQuery) -> AdminOrderListOut:
    """One queue of orders (unaccepted, searching or active), the longest waiting first."""
    listed = await service.list_orders(db=container().db, state=query.state, limit=query.limit)
    return AdminOrderListOut(orders=listed)


@bp.get("/api/admin/riders")
@tag(["admin"])
@returns(AdminRiderListOut)
@login_required(role=ADMIN)
async def riders(principal: Principal) -> AdminRiderListOut:
    """Every rider on shift, with their last known position and the order they carry."""
    res = container()
    return AdminRiderListOut(riders=await service.riders_on_shift(db=res.db, cache=res.cache_redis))


@bp.post("/api/admin/orders/<int:order_id>/assign")
@tag(["admin"])
@returns(OrderOut)
@problems(
    ProblemCode.NOT_FOUND,
    ProblemCode.ALREADY_ASSIGNED,
    ProblemCode.RIDER_BUSY,
    ProblemCode.RIDER_OFFLINE,
    ProblemCode.INVALID_TRANSITION,
)
@login_required(role=ADMIN)
@body(AssignRequest)
async def assign(principal: Principal, order_id: int, data: AssignRequest) -> OrderOut:
    """Give a searching order to a rider, or (with `from_rider_id`) move an assigned one not
    yet picked up to another rider; the same lock as a rider's accept decides any race."""
    res = container()
    return await service.assign(
        db=res.db,
        cache=res.cache_redis,
        worker=res.get(SearchWorker),
        revocations=res.get(Revocations),
        admin_id=principal.user_id,
        order_id=order_id,
        rider_id=data.rider_id,
        from_rider_id=data.from_rider_id,
    )


@bp.post("/api/admin/orders/<int:order_id>/cancel")
@tag(["admin"])
@returns(OrderOut)
@problems(ProblemCode.NOT_FOUND, ProblemCode.INVALID_TRANSITION)
@login_required(role=ADMIN)
@body(CancelRequest)
async def cancel(principal: Principal, order_id: int, data: CancelRequest) -> OrderOut:
    """Cancel an order not yet picked up, with a full refund (points, coupon and card)."""
    res = container()
    return await service.cancel(
        db=res.db,
        gateway=res.get(PaymentGateway),
        hooks=res.get(OrderHooks),
        admin_id=principal.user_id,
        order_id=order_id,
        reason=data.reason,
    )


@bp.patch("/api/admin/users/<int:user_id>")
@tag(["admin"])
@returns(AdminUserOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=ADMIN)
@body(SuspendRequest)
async def patch_user(principal: Principal, user_id: int, data: SuspendRequest) -> AdminUserOut:
    """Suspend an account (every session ends, every socket closes, on every node) or restore
    it; an owner's stores are suspended and restored with it. An admin account cannot be
    suspended (403)."""
    res = container()
    return await service.set_user_suspended(
        db=res.db,
        sessions=res.get(SessionStore),
        revocations=res.get(Revocations),
        cache=res.cache_redis,
        catalog=res.get(CatalogCache),
        admin_id=principal.user_id,
        user_id=user_id,
        suspended=data.suspended,
    )


@bp.patch("/api/admin/stores/<int:store_id>")
@tag(["admin"])
@returns(StoreOut)
@problems(ProblemCode.NOT_FOUND)
@login_required(role=ADMIN)
@body(SuspendRequest)
async def patch_store(principal: Principal, store_id: int, data: SuspendRequest) -> StoreOut:
    """Suspend a store (hidden from search, orders refused with `store-suspended`) or restore it."""
    res = container()
    return await service.set_store_suspended(
        db=res.db,
        cache=res.get(CatalogCache),
        admin_id=principal.user_id,
        store_id=store_id,
        suspended=data.suspended,
    )


@bp.get("/api/admin/audit")
@tag(["admin"])
@returns(AuditListOut)
@login_required(role=ADMIN)
@query(AuditQuery)
async def audit_log(principal: Principal, query: AuditQuery) -> AuditListOut:
    """Every admin action, newest first, as recorded with the action itself."""
    return await audit.read(db=container().db, limit=query.limit, before_id=query.before_id)
