"""The delivery platform's application: `create_app(settings)` returns one node's ASGI app."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import socketio
from quart import Quart, Response, g, request
from quart_schema import QuartSchema

from app import ops
from app.admin.views import bp as admin_bp
from app.auth.views import bp as auth_bp
from app.bootstrap import open_services
from app.catalog.views import bp as catalog_bp
from app.config import Settings
from app.container import EXTENSION, Container
from app.customers.views import bp as customers_bp
from app.lifecycle import ShutdownStack
from app.metrics import install_metrics
from app.openapi import DeliveryOpenAPI
from app.orders.views import bp as orders_bp
from app.problems import register_error_handlers
from app.proxies import TrustedProxies
from app.reviews.views import bp as reviews_bp
from app.rewards.views import bp as rewards_bp
from app.security_headers import SecurityHeaders
from app.validation import IdConverter
from app.web.views import bp as web_bp
from dispatch.views import bp as dispatch_bp
from realtime.manager_fanout import MANAGER_CHANNEL
from realtime.server import Realtime

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = (
    ops.bp,
    auth_bp,
    catalog_bp,
    rewards_bp,
    orders_bp,
    reviews_bp,
    dispatch_bp,
    admin_bp,
    web_bp,
    customers_bp,
)
log = logging.getLogger("delivery")

ASGIApp = Any  # an ASGI 3 callable: (scope, receive, send) -> awaitable


class DeliveryApp:
    """One node: Socket.IO at /socket.io/, everything else (and the lifespan) to Quart.

    The services open when serving starts (`app.bootstrap`) and close, in reverse, when it
    stops; `container` holds them meanwhile.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.realtime = Realtime(client_manager=_client_manager(settings))
        self.quart = _quart(settings, self.realtime)
        asgi: ASGIApp = SecurityHeaders(
            socketio.ASGIApp(
                self.realtime.sio, other_asgi_app=self.quart, socketio_path="socket.io"
            )
        )
        if settings.trusted_proxy_networks:
            asgi = TrustedProxies(asgi, settings.trusted_proxy_networks)
        self._asgi = asgi

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)

    @property
    def container(self) -> Container:
        """The open services (only while the app serves)."""
        found: Container | None = self.quart.extensions.get(EXTENSION)
        if found is None:
            raise RuntimeError("the app is not serving")
        return found


def create_app(settings: Settings | None = None) -> DeliveryApp:
    """Build one node's ASGI app; nothing connects until it starts serving."""
    return DeliveryApp(settings or Settings())


def _client_manager(settings: Settings) -> socketio.AsyncManager | None:
    # REALTIME_FANOUT=socketio-redis: python-socketio's own Redis manager, the measured baseline.
    if settings.realtime_fanout == "socketio-redis":
        return socketio.AsyncRedisManager(settings.events_redis_location, channel=MANAGER_CHANNEL)
    return None


def _quart(settings: Settings, realtime: Realtime) -> Quart:
    app = Quart(
        __name__,
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
        template_folder="templates",
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    # Every integer in a path is an id: one no row can have matches no route (404), never a
    # value the database refuses.
    app.url_map.converters["int"] = IdConverter
    QuartSchema(
        app,
        openapi_path="/api/openapi.json",
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "Delivery API", "version": "1"},
        openapi_provider_class=DeliveryOpenAPI,
    )
    register_error_handlers(app)
    metrics = install_metrics(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.before_request
    async def _request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex

    @app.after_request
    async def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    # A fresh stack per serving run: closes run in reverse order of opening, within one budget.
    stacks: list[ShutdownStack] = []

    @app.before_serving
    async def _open() -> None:
        stack = ShutdownStack()
        stacks.append(stack)
        try:
            services = await open_services(settings, stack, metrics=metrics, realtime=realtime)
        except BaseException:
            await stack.aclose()
            raise
        app.extensions[EXTENSION] = services

    @app.after_serving
    async def _close() -> None:
        app.extensions.pop(EXTENSION, None)
        while stacks:
            await stacks.pop().aclose()

    return app
