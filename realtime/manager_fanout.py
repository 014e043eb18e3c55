"""python-socketio's `AsyncRedisManager` as the fan-out: `REALTIME_FANOUT=socketio-redis`.

This is the baseline `realtime.fanout.Hub` is measured against (`bench/realtime_bench.py
--fanout socketio-redis`); the default is the hub. Here the node whose relay appended an event
emits it through the manager, which publishes it on its own Redis pub/sub channel, and every
node's manager emits it to the subscribers of its room. That is at-most-once: a node that is not
listening at that moment (a Redis blip, a reconnect) never delivers the event, and nothing
notices the gap until the client itself reconnects and replays. Subscribing joins the room
before the log is read, so an event racing with the replay can only arrive twice, and clients
drop the second copy by seq.

Location updates, control messages (rights that changed), slow-client disconnection and replay
on subscribe work as with the hub.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.lifecycle import stop_task
from realtime.control import CONTROL_CHANNEL
from realtime.eventlog import LOCATION_CHANNEL, Replay
from realtime.fanout import NAMESPACE, Hub
from realtime.ops import OPS_LOCATION_CHANNEL, OPS_STREAM, carried

MANAGER_CHANNEL = "rt:socketio"


class ManagerFanout(Hub):
    """Room membership and delivery left to python-socketio's `AsyncRedisManager`."""

    channels = (LOCATION_CHANNEL, OPS_LOCATION_CHANNEL, CONTROL_CHANNEL)

    def begin(self, sid: str, stream: str) -> None:
        """Join the room first: a live event racing with the replay arrives, maybe twice."""
        self.sio.manager.basic_enter_room(sid, NAMESPACE, stream)

    def finish(self, sid: str, stream: str, replay: Replay) -> Replay:
        """Record the subscription; the replay goes out as read."""
        self.members.setdefault(stream, set()).add(sid)
        self.subscriptions.setdefault(sid, set()).add(stream)
        return replay

    def abort(self, sid: str, stream: str) -> None:
        """Leave the room a failed subscription joined."""
        if stream not in self.subscriptions.get(sid, set()):
            self.sio.manager.basic_leave_room(sid, NAMESPACE, stream)

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """Called by this node's relay after it appended `events` to their logs."""
        for event in events:
            await self.sio.emit("event", event, room=event["stream"], namespace=NAMESPACE)
            if carried(event["stream"]):
                await self.sio.emit("event", event, room=OPS_STREAM, namespace=NAMESPACE)

    async def reconcile(self) -> None:
        """Nothing: the manager keeps no per-stream position to catch up from."""

    def start(self) -> None:
        """Start the manager's listener as well as the location listener and housekeeping."""
        if not self.sio.manager_initialized:
            self.sio.manager_initialized = True
            self.sio.manager.initialize()
        super().start()

    async def stop(self) -> None:
        """Stop the manager's listener too."""
        await super().stop()
        listener = getattr(self.sio.manager, "thread", None)
        if isinstance(listener, asyncio.Task):
            await stop_task(listener)
