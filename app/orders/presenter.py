"""The contract's `order` shape."""

from __future__ import annotations

import json
from typing import Any

from app.db import rfc3339
from app.orders.models import Order


def order_view(order: Order) -> dict[str, Any]:
    """An order as the REST API and its events show it."""
    rider = None
    if order.rider is not None:
        rider = {
            "id": order.rider.id,
            "name": order.rider.name,
            "lat": order.rider_lat,
            "lng": order.rider_lng,
        }
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "store_id": order.store_id,
        "status": order.status,
        "items": [
            {
                "menu_item_id": line.menu_item_id,
                "name": line.name,
                "price": line.price,
                "quantity": line.quantity,
                "options": json.loads(line.options_json),
                "line_total": line.line_total,
            }
            for line in order.items
        ],
        "subtotal": order.subtotal,
        "delivery_fee": order.delivery_fee,
        "coupon_discount": order.coupon_discount,
        "points_used": order.points_used,
        "total": order.total,
        "paid_amount": order.paid_amount,
        "payment": order.payment.view() if order.payment is not None else None,
        "address": {"text": order.address_text, "lat": order.address_lat, "lng": order.address_lng},
        "rider": rider,
        "dispatch": order.dispatch,
        "prep_minutes": order.prep_minutes,
        "reason": order.reason,
        "timeline": [{"status": t.status, "at": rfc3339(t.at)} for t in order.timeline],
        "created_at": rfc3339(order.created_at),
        "stream_seq": order.stream_seq,
    }
