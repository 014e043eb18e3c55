"""Every table, imported in one place so that Alembic and tests see the whole schema."""

from app.audit.models import AuditEntry
from app.auth.models import User
from app.catalog.models import MenuItem, MenuOption, Store
from app.customers.models import Address, Favourite
from app.db import Base
from app.orders.models import IdempotencyRecord, Order, OrderItem, OrderTimeline
from app.outbox import OutboxEvent, StreamHead
from app.payments.models import Payment
from app.reviews.models import Review
from app.rewards.models import (
    Coupon,
    CouponCampaign,
    CouponClaimBacklog,
    PointBalance,
    PointLedger,
)
from dispatch.models import DispatchHistory, DispatchSearch, Offer, RiderEarning, RiderState

__all__ = [
    "Address",
    "AuditEntry",
    "Base",
    "Coupon",
    "CouponCampaign",
    "CouponClaimBacklog",
    "DispatchHistory",
    "DispatchSearch",
    "Favourite",
    "IdempotencyRecord",
    "MenuItem",
    "MenuOption",
    "Offer",
    "Order",
    "OrderItem",
    "OrderTimeline",
    "OutboxEvent",
    "Payment",
    "PointBalance",
    "PointLedger",
    "Review",
    "RiderEarning",
    "RiderState",
    "Store",
    "StreamHead",
    "User",
]
