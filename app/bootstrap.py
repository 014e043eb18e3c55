"""The composition root: every service of a running app, built once, in dependency order.

Each service that holds a connection or a task registers its close on the caller's
`AsyncExitStack` as soon as it exists, so closing the stack stops them in exactly the reverse
order: background workers first, then what they use (gateway, storage, Redis, the database).
Nothing connects at import time; nothing else builds these services.
"""

from __future__ import annotations

import functools
import logging
from contextlib import AsyncExitStack

from redis.asyncio import Redis

from app.auth.login import CookieSessionLogin, LoginMechanism
from app.auth.passwords import Passwords
from app.auth.revocation import Revocations
from app.auth.service import ensure_admin
from app.auth.sessions import REPLICA_WAIT_MS, SessionStore
from app.auth.throttle import LoginThrottle
from app.catalog.cache import CatalogCache
from app.catalog.images import ImageDecoder
from app.catalog.pauses import PauseSweeper
from app.config import Settings
from app.container import Container
from app.db import Database
from app.errors import Conflict
from app.metrics import Metrics
from app.orders.hooks import OrderHooks
from app.orders.sweeper import Sweeper
from app.payments.gateway import PaymentGateway
from app.payments.sandbox import SandboxCardGateway
from app.ratelimit import RateLimiter
from app.redis_clients import connect, is_cluster, is_sentinel
from app.rewards.counter import ClaimCounter
from app.rewards.state import RewardsState
from app.storage import Storage, storage_from_settings
from dispatch.hooks import DispatchHooks
from dispatch.location import LocationSharing
from dispatch.worker import BatchWorker, SearchWorker
from realtime.control import ControlChannel
from realtime.eventlog import Replay, replay
from realtime.fanout import Hub, publish_location
from realtime.gate import Gate
from realtime.manager_fanout import ManagerFanout
from realtime.ops import publish_rider_location
from realtime.relay import Relay
from realtime.server import Realtime, Serving
from realtime.sharded import ShardedHub

log = logging.getLogger("delivery")


async def open_platform(
    settings: Settings, stack: AsyncExitStack, *, metrics: Metrics | None = None
) -> Container:
    """The database, the Redis clients and the account services (what the CLI needs too)."""
    db = Database(settings.effective_database_url, read_url=settings.database_read_url)
    stack.push_async_callback(db.close)
    session_redis = _redis(stack, settings.session_redis_url)
    cache_redis = _redis(stack, settings.cache_redis_url)
    # Cache and events share one Redis unless EVENTS_REDIS_URL names another.
    events_redis = (
        _redis(stack, settings.events_redis_url) if settings.events_redis_url else cache_redis
    )
    services = Container(
        settings=settings,
        db=db,
        session_redis=session_redis,
        cache_redis=cache_redis,
        events_redis=events_redis,
        metrics=metrics or Metrics(),
    )
    services.provide(
        Passwords(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)
    )
    sessions = services.provide(
        SessionStore(
            session_redis,
            ttl_seconds=settings.session_ttl_seconds,
            absolute_seconds=settings.session_absolute_seconds,
            # Behind Sentinel a replica is there to be promoted: a sign-in waits for it.
            replica_wait_ms=REPLICA_WAIT_MS if is_sentinel(session_redis) else None,
        )
    )
    services.provide(
        CookieSessionLogin(
            sessions,
            secure=settings.secure_cookies,
            max_age=min(settings.session_ttl_seconds, settings.session_absolute_seconds),
        ),
        LoginMechanism,
    )
    limiter = services.provide(RateLimiter(cache_redis))
    services.provide(LoginThrottle(limiter, settings))
    return services


async def open_catalog(services: Container, stack: AsyncExitStack) -> None:
    """The image storage and the catalog's read cache."""
    settings = services.settings
    storage = storage_from_settings(settings)
    await storage.open()
    stack.push_async_callback(storage.close)
    services.provide(storage, Storage)
    services.provide(
        ImageDecoder(slots=settings.image_decode_slots, wait=settings.image_decode_wait_seconds)
    )
    cache = services.provide(
        CatalogCache(
            services.cache_redis,
            enabled=settings.catalog_cache,
            ttl=settings.catalog_cache_ttl,
            # With a replica, a write's version bump carries the primary's position, so that
            # no rebuild reads a replica that has not applied the write yet.
            write_position=services.db.write_position if services.db.read_engine else None,
        )
    )
    # Ends pauses that ran out (announcing each once across the nodes).
    pauses = services.provide(PauseSweeper(db=services.db, cache=cache))
    pauses.start()
    stack.push_async_callback(pauses.stop)


async def open_services(
    settings: Settings, stack: AsyncExitStack, *, metrics: Metrics, realtime: Realtime
) -> Container:
    """Everything a serving node runs: the platform, then each part's services and workers."""
    services = await open_platform(settings, stack, metrics=metrics)
    db = services.db
    await open_catalog(services, stack)

    gateway = await _open_gateway(settings, stack)
    services.provide(gateway, PaymentGateway)

    rewards = services.provide(RewardsState(ClaimCounter(services.cache_redis)))
    rewards.start(db)
    stack.push_async_callback(rewards.stop)

    # Dispatch follows the order lifecycle through a hook the orders declare.
    worker = services.provide(SearchWorker(db=db, redis=services.cache_redis, settings=settings))
    hooks = services.provide(OrderHooks())
    hooks.on_moved(DispatchHooks(worker).order_moved)
    worker.start()
    stack.push_async_callback(worker.stop)
    if settings.dispatch_strategy == "batch":
        batches = services.provide(
            BatchWorker(db=db, redis=services.cache_redis, settings=settings)
        )
        batches.start()
        stack.push_async_callback(batches.stop)
    location = services.provide(
        LocationSharing(
            db,
            services.cache_redis,
            functools.partial(publish_location, services.events_redis),
            functools.partial(publish_rider_location, services.events_redis),
        )
    )
    stack.push_async_callback(location.close)

    sweeper = Sweeper(
        db=db, gateway=gateway, hooks=hooks, accept_timeout=settings.store_accept_timeout
    )
    sweeper.start()
    stack.push_async_callback(sweeper.stop)

    await _start_realtime(services, stack, realtime)
    await _bootstrap_admin(services)
    return services


def _redis(stack: AsyncExitStack, url: str | None) -> Redis:
    client = connect(url)
    stack.push_async_callback(client.aclose)
    return client


async def _open_gateway(settings: Settings, stack: AsyncExitStack) -> SandboxCardGateway:
    # The sandbox keeps its own books: in the embedded mode a SQLite file of its own, so that
    # an order's open transaction never waits on the gateway's writes.
    url = settings.database_url or (
        f"sqlite+aiosqlite:///{(settings.var_dir / 'sandbox-gateway.sqlite3').resolve()}"
    )
    gateway = SandboxCardGateway(Database(url), latency=settings.payment_latency_ms / 1000)
    await gateway.open()
    stack.push_async_callback(gateway.close)
    return gateway


async def _start_realtime(services: Container, stack: AsyncExitStack, realtime: Realtime) -> None:
    """Start the relay and the fan-out, then let the socket server answer."""
    settings, db, events = services.settings, services.db, services.events_redis
    sessions = services.get(SessionStore)
    # Changes of rights reach every node's sockets: signing out here, the rest by the parts
    # that make them.
    control = services.provide(ControlChannel(events), Revocations)
    sessions.on_destroyed(control.session_ended)

    async def _replay(stream: str, after: int | None) -> Replay:
        return await replay(db=db, redis=events, stream=stream, after=after)

    fanout: type[Hub] = Hub
    if settings.realtime_fanout == "socketio-redis":
        fanout = ManagerFanout
    elif is_cluster(events):
        # Sharded pub/sub: each node listens only to the streams its sockets follow.
        fanout = ShardedHub
    hub = fanout(
        realtime.sio,
        events,
        _replay,
        max_client_queue=settings.realtime_max_client_queue,
        on_drop=services.metrics.slow_clients_dropped.inc,
    )
    # python-socketio's manager publishes what this node's relay appended; the hub needs
    # nothing, the append script itself publishes.
    relay = Relay(db, events, on_appended=hub.publish if isinstance(hub, ManagerFanout) else None)
    services.provide(relay)
    services.provide(hub, Hub)
    db.event_listeners.append(relay.wake)
    relay.start()
    stack.push_async_callback(relay.stop)
    stack.callback(db.event_listeners.remove, relay.wake)
    gate = Gate(
        realtime.sio,
        realtime.principals,
        hub,
        db,
        sessions,
        sweep_interval=settings.realtime_session_sweep_seconds,
    )
    hub.control = gate
    hub.start()
    stack.push_async_callback(hub.stop)
    gate.start()
    stack.push_async_callback(gate.stop)
    realtime.bind(Serving(sessions=sessions, db=db, events_redis=events, hub=hub, gate=gate))
    stack.callback(realtime.unbind)
    # Anything committed while no relay ran (a node that died after committing).
    relay.wake()


async def _bootstrap_admin(services: Container) -> None:
    settings = services.settings
    if not (settings.delivery_admin_email and settings.delivery_admin_password):
        return
    try:
        _, created = await ensure_admin(
            db=services.db,
            passwords=services.get(Passwords),
            email=settings.delivery_admin_email,
            password=settings.delivery_admin_password,
        )
    except Conflict:
        created = False  # another node created it at the same moment
    if created:
        log.info("created admin %s", settings.delivery_admin_email)
