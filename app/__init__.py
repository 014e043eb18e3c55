"""The delivery platform's Quart application and its composition root."""

from __future__ import annotations

import importlib
import logging
import uuid
from pathlib import Path

from quart import Quart, Response, g, request
from quart_schema import QuartSchema

from app.config import Settings
from app.errors import Conflict, register_error_handlers
from app.lifecycle import within_budget
from app.resources import Resources

ROOT = Path(__file__).resolve().parent.parent
# The parts of the business, each a package with `register(app)`.
PARTS = (
    "app.auth",
    "app.catalog",
    "app.payments",
    "app.rewards",
    "app.orders",
    "realtime",
    "dispatch",
    "app.web",
)
log = logging.getLogger("delivery")


def create_app(settings: Settings | None = None) -> Quart:
    """Build the app; resources open in `before_serving` and close in `after_serving`."""
    settings = settings or Settings()
    app = Quart(
        __name__,
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
        template_folder="templates",
    )
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["settings"] = settings
    QuartSchema(
        app,
        openapi_path="/api/openapi.json",
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "Delivery API", "version": "1"},
    )
    register_error_handlers(app)

    from app.ops import bp as ops_bp
    from app.ops import install_metrics

    metrics = install_metrics(app)
    app.register_blueprint(ops_bp)

    @app.before_request
    async def _request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex

    @app.after_request
    async def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    @app.before_serving
    async def _open() -> None:
        resources = await open_resources(settings)
        resources.extra["metrics"] = metrics
        app.extensions["delivery"] = resources
        await _bootstrap_admin(resources)

    @app.after_serving
    async def _close() -> None:
        resources = app.extensions.pop("delivery", None)
        if resources is not None:
            await resources.close()

    # Each part registers its blueprints and workers after the core resources open, so its
    # before_serving hooks run after `_open`.
    for part in PARTS:
        importlib.import_module(part).register(app)
    # Tear down in reverse: a part's workers stop before what they use (the gateway, the
    # database, Redis) is closed, so nothing is mid-query when its pool goes away.
    app.after_serving_funcs.reverse()
    app.after_serving_funcs = within_budget(app.after_serving_funcs)

    return app


async def open_resources(settings: Settings) -> Resources:
    """Connect to the database and the Redis servers named by `settings`."""
    from app.auth.login import CookieSessionLogin
    from app.auth.passwords import Passwords
    from app.auth.sessions import SessionStore
    from app.db import Database
    from app.ratelimit import RateLimiter
    from app.redis_clients import connect

    db = Database(settings.effective_database_url)
    session_redis = connect(settings.session_redis_url)
    cache_redis = connect(settings.cache_redis_url)
    # Cache and events share one Redis unless EVENTS_REDIS_URL names another.
    events_redis = connect(settings.events_redis_url) if settings.events_redis_url else cache_redis
    passwords = Passwords(
        time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
    )
    store = SessionStore(session_redis, ttl_seconds=settings.session_ttl_seconds)
    return Resources(
        settings=settings,
        db=db,
        session_redis=session_redis,
        cache_redis=cache_redis,
        events_redis=events_redis,
        passwords=passwords,
        login=CookieSessionLogin(
            store, secure=settings.secure_cookies, max_age=settings.session_ttl_seconds
        ),
        limiter=RateLimiter(cache_redis),
    )


async def _bootstrap_admin(resources: Resources) -> None:
    settings = resources.settings
    if not (settings.delivery_admin_email and settings.delivery_admin_password):
        return
    from app.auth.service import ensure_admin

    try:
        _, created = await ensure_admin(
            uow=resources.db.uow(),
            passwords=resources.passwords,
            email=settings.delivery_admin_email,
            password=settings.delivery_admin_password,
        )
    except Conflict:
        created = False  # another node created it at the same moment
    if created:
        log.info("created admin %s", settings.delivery_admin_email)
