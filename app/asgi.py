"""The ASGI application a node serves (`hypercorn 'app.asgi:build_asgi()'`)."""

from __future__ import annotations

from typing import Any

import socketio

from app import create_app
from app.config import Settings


def build_asgi(settings: Settings | None = None) -> Any:
    """One ASGI app per node: Socket.IO at /socket.io/, everything else (and lifespan) to Quart."""
    settings = settings or Settings()
    quart_app: Any = create_app(settings)
    app: Any = socketio.ASGIApp(
        quart_app.extensions["socketio"], other_asgi_app=quart_app, socketio_path="socket.io"
    )
    if settings.trusted_proxy_hops:
        from hypercorn.middleware import ProxyFixMiddleware

        app = ProxyFixMiddleware(app, mode="legacy", trusted_hops=settings.trusted_proxy_hops)
    return app
