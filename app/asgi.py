"""The ASGI application a node serves (`hypercorn 'app.asgi:build_asgi()'`)."""

from __future__ import annotations

from app import DeliveryApp, create_app
from app.config import Settings


def build_asgi(settings: Settings | None = None) -> DeliveryApp:
    """One node's ASGI app on the environment's settings."""
    return create_app(settings)
