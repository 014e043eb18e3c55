"""Socket.IO, stream logs, the outbox relay and cross-node fan-out."""

from __future__ import annotations

from quart import Quart

from realtime.fanout import publish_location

__all__ = ["publish_location", "register"]


def register(app: Quart) -> None:
    """Attach the socket server; start the relay and the fan-out listener with the app."""
    from realtime.eventlog import Replay, replay
    from realtime.fanout import Hub
    from realtime.relay import Relay
    from realtime.server import Realtime

    settings = app.extensions["settings"]
    manager = None
    if settings.realtime_fanout == "socketio-redis":
        import socketio

        from realtime.manager_fanout import MANAGER_CHANNEL

        manager = socketio.AsyncRedisManager(
            settings.events_redis_location, channel=MANAGER_CHANNEL
        )
    realtime = Realtime(app, client_manager=manager)
    app.extensions["socketio"] = realtime.sio
    app.extensions["realtime"] = realtime

    @app.before_serving
    async def _start_realtime() -> None:
        res = realtime.resources

        async def _replay(stream: str, after: int | None) -> Replay:
            return await replay(res.events_redis, res.db, stream, after)

        options = {
            "max_client_queue": settings.realtime_max_client_queue,
            "on_drop": res.extra["metrics"].slow_clients_dropped.inc,
        }
        if manager is None:
            hub = Hub(realtime.sio, res.events_redis, _replay, **options)
            relay = Relay(res.db, res.events_redis)
        else:
            from realtime.manager_fanout import ManagerFanout

            hub = baseline = ManagerFanout(realtime.sio, res.events_redis, _replay, **options)
            relay = Relay(res.db, res.events_redis, on_appended=baseline.publish)
        realtime.hub = hub
        res.db.event_listeners.append(relay.wake)
        res.extra["relay"] = relay
        res.extra["hub"] = hub
        relay.start()
        hub.start()
        # Anything committed while no relay ran (a node that died after committing).
        relay.wake()

    @app.after_serving
    async def _stop_realtime() -> None:
        res = app.extensions.get("delivery")
        if res is None:
            return
        hub = res.extra.pop("hub", None)
        relay = res.extra.pop("relay", None)
        if hub is not None:
            await hub.stop()
        if relay is not None:
            if relay.wake in res.db.event_listeners:
                res.db.event_listeners.remove(relay.wake)
            await relay.stop()
        realtime.hub = None
