"""The ASGI application a node serves (`hypercorn 'app.asgi:build_asgi()'`)."""

from __future__ import annotations

from typing import Any

from app import create_app
from app.config import Settings


def build_asgi(settings: Settings | None = None) -> Any:
    """The app every node serves, behind the proxy fix when nginx is in front."""
    settings = settings or Settings()
    app: Any = create_app(settings)
    if settings.trusted_proxy_hops:
        from hypercorn.middleware import ProxyFixMiddleware

        app = ProxyFixMiddleware(app, mode="legacy", trusted_hops=settings.trusted_proxy_hops)
    return app
