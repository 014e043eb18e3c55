"""Cross-node fan-out: every node listens on the events Redis and delivers to its own rooms.

Why not python-socketio's `AsyncRedisManager`: its messages are published by whichever node
calls `emit`, after the fact, so two relays can publish one event twice or out of order, and a
Redis blip loses messages silently. Here the publish happens inside the same atomic script as
the log append (exactly once, in seq order), and each node keeps, per stream, the last seq it
delivered: a duplicate is dropped, a gap is filled from the log (or the outbox) before the
event that revealed it, and a periodic reconcile catches a tail lost while the node was
disconnected from Redis.

Subscribing races with live delivery, so a new subscriber is first registered as pending (live
events are buffered for it), then the log is read, then buffer and replay are merged by seq and
the socket joins the room, with no await between merge and join. Live events the subscriber
already got in its replay are skipped for it (`skip_sid`).

Control messages (`realtime.control`: rights that changed) come on the same subscription and are
handed to the node's `Control` under the delivery lock, so they take effect before any event
published after them is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import engineio
import socketio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from app.lifecycle import stop_tasks, wait_for_event
from app.redis_clients import is_cluster
from realtime.control import CONTROL_CHANNEL, Control
from realtime.eventlog import CHANNEL, LOCATION_CHANNEL, Replay, location_channel, read_heads
from realtime.ops import OPS_LOCATION_CHANNEL, OPS_STREAM, carried
from realtime.schemas import LocationMessage, RevokedMessage

log = logging.getLogger("delivery.realtime.fanout")

NAMESPACE = "/"
RECONCILE_INTERVAL = 1.0
# A client whose outgoing queue grows past this is disconnected; it reconnects and replays.
MAX_CLIENT_QUEUE = 1000

ReplayFn = Callable[[str, int | None], Awaitable[Replay]]


class Hub:
    """This node's subscriptions and the delivery of events to them."""

    # The events Redis channels this node listens on.
    channels: tuple[str, ...] = (CHANNEL, LOCATION_CHANNEL, OPS_LOCATION_CHANNEL, CONTROL_CHANNEL)

    def __init__(
        self,
        sio: socketio.AsyncServer,
        redis: Redis,
        replay: ReplayFn,
        *,
        max_client_queue: int = MAX_CLIENT_QUEUE,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        self.sio = sio
        self.redis = redis
        self.replay = replay
        self.max_client_queue = max_client_queue
        self.on_drop = on_drop
        # Set by the composition root once the socket server's gate exists.
        self.control: Control | None = None
        self.pending: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.skip_upto: dict[str, dict[str, int]] = {}
        self.last: dict[str, int] = {}
        self.members: dict[str, set[str]] = {}
        self.subscriptions: dict[str, set[str]] = {}
        self.delivered = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._stopping = False
        self._stop = asyncio.Event()
        self._pubsub: PubSub | None = None
        self._missed = False

    # Subscriptions -------------------------------------------------------------------------

    def begin(self, sid: str, stream: str) -> None:
        """Start buffering live events of `stream` for `sid` (before its replay is read)."""
        self.pending.setdefault(stream, {})[sid] = []

    async def listen_for(self, stream: str) -> bool:
        """Make sure this node hears `stream`'s live events (after `begin`, before the replay).

        True when it only starts to now, and so may have missed a change of rights to it.
        Every node hears every stream here; a hub on a Redis Cluster subscribes per stream.
        """
        return False

    def unused(self, stream: str) -> None:
        """Told when no socket of this node follows `stream` or waits to (after `leave`/`abort`)."""

    def finish(self, sid: str, stream: str, replay: Replay) -> Replay:
        """Merge the replay with what arrived meanwhile and join the room (no await inside)."""
        buffered = self.pending.get(stream, {}).pop(sid, [])
        self._forget_pending(stream)
        events = list(replay.events)
        last = replay.last_seq
        for event in sorted(buffered, key=lambda e: int(e["seq"])):
            if event["seq"] == last + 1:
                events.append(event)
                last += 1
        self.sio.manager.basic_enter_room(sid, NAMESPACE, stream)
        self.members.setdefault(stream, set()).add(sid)
        self.subscriptions.setdefault(sid, set()).add(stream)
        self.skip_upto.setdefault(stream, {})[sid] = last
        self.last.setdefault(stream, last)
        return Replay(events, replay.recovered, last)

    def abort(self, sid: str, stream: str) -> None:
        """Drop a pending subscription that failed."""
        self.pending.get(stream, {}).pop(sid, None)
        self._forget_pending(stream)

    def leave(self, sid: str, stream: str) -> None:
        """Unsubscribe `sid` from `stream`."""
        self.abort(sid, stream)
        self.sio.manager.basic_leave_room(sid, NAMESPACE, stream)
        self.subscriptions.get(sid, set()).discard(stream)
        self.skip_upto.get(stream, {}).pop(sid, None)
        members = self.members.get(stream)
        if members is not None:
            members.discard(sid)
            if not members:
                self.members.pop(stream, None)
                self.skip_upto.pop(stream, None)
                self.last.pop(stream, None)
                if stream not in self.pending:
                    self.unused(stream)

    def disconnect(self, sid: str) -> None:
        """Forget every subscription of a closed socket."""
        for stream in list(self.subscriptions.pop(sid, set())):
            self.leave(sid, stream)
        for stream in list(self.pending):
            self.abort(sid, stream)

    def _forget_pending(self, stream: str) -> None:
        if stream in self.pending and not self.pending[stream]:
            del self.pending[stream]
        if stream not in self.pending and stream not in self.members:
            self.unused(stream)

    # Delivery ------------------------------------------------------------------------------

    async def deliver(self, event: dict[str, Any]) -> None:
        """Deliver one event from the events Redis to this node's subscribers, in seq order."""
        async with self._lock:
            stream, seq = event["stream"], int(event["seq"])
            await self._hand_to_ops(event)
            for buffer in self.pending.get(stream, {}).values():
                buffer.append(event)
            current = self.last.get(stream)
            if current is None or seq <= current:
                return
            if seq > current + 1:
                await self._fill(stream, current, upto=seq - 1)
            await self._emit(event)

    async def _hand_to_ops(self, event: dict[str, Any]) -> None:
        if OPS_STREAM in self.members and carried(event["stream"]):
            # Live only, as it arrives (each event reaches each node once): `ops` keeps no
            # position per store to fill gaps from.
            await self._send(OPS_STREAM, "event", event)

    async def _fill(self, stream: str, after: int, *, upto: int | None = None) -> None:
        missed = await self.replay(stream, after)
        if not missed.recovered:
            log.warning("could not fill a gap in %s after seq %d", stream, after)
        for event in missed.events:
            if upto is not None and event["seq"] > upto:
                break
            for buffer in self.pending.get(stream, {}).values():
                buffer.append(event)
            await self._emit(event)

    async def _emit(self, event: dict[str, Any]) -> None:
        stream, seq = event["stream"], int(event["seq"])
        current = self.last.get(stream)
        if current is None or seq <= current:
            return
        self.last[stream] = seq
        skips = self.skip_upto.get(stream, {})
        skip = [sid for sid, upto in skips.items() if upto >= seq]
        for sid in [sid for sid, upto in skips.items() if upto <= seq]:
            del skips[sid]
        self.delivered += len(self.members.get(stream, ())) - len(skip)
        await self._send(stream, "event", event, skip=set(skip))

    async def _send(
        self, room: str, name: str, data: dict[str, Any], *, skip: set[str] | None = None
    ) -> None:
        """Queue one message to every socket of `room` on this node, encoded once.

        What `AsyncServer.emit` does, without its task per recipient: a socket's send only puts
        the packet on that socket's unbounded queue (its own writer drains it), so one loop
        serves a whole room in order, at a fraction of the cost per delivery.
        """
        frame = self.sio.packet_class(socketio.packet.EVENT, namespace=NAMESPACE, data=[name, data])
        message = engineio.packet.Packet(engineio.packet.MESSAGE, frame.encode())
        # A snapshot: sockets may leave the room while the loop awaits.
        for sid, eio_sid in list(self.sio.manager.get_participants(NAMESPACE, room)):
            if skip is None or sid not in skip:
                await self.sio.eio.send_packet(eio_sid, message)

    async def reconcile(self) -> None:
        """Catch up every stream whose log head is ahead of what this node delivered."""
        streams = list(self.last)
        if not streams:
            return
        heads = await read_heads(self.redis, streams)
        for stream, raw in zip(streams, heads, strict=True):
            current = self.last.get(stream)
            if raw is not None and current is not None and int(raw) > current:
                async with self._lock:
                    current = self.last.get(stream)
                    if current is not None:
                        await self._fill(stream, current)

    # Background tasks ----------------------------------------------------------------------

    def start(self) -> None:
        """Listen on the events Redis, reconcile periodically and watch for slow clients."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="realtime-listen"),
            asyncio.create_task(self._housekeeping(), name="realtime-housekeeping"),
        ]

    async def stop(self) -> None:
        """Stop the background tasks (and wake a listener that missed its cancellation)."""
        self._stopping = True
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=1.0)
        pubsub = self._pubsub
        if pending and pubsub is not None and pubsub.connection is not None:
            # redis-py's pub/sub read can lose a cancellation and wait on its socket forever
            # (seen on CPython 3.11); dropping the connection under it ends the read.
            await pubsub.connection.disconnect(nowait=True)
        await stop_tasks(pending, grace=1.0)

    async def _listen(self) -> None:
        failures = 0
        while not self._stopping:
            pubsub = self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self.channels)
                # redis-py also reconnects (and subscribes again) by itself after a blip.
                assert pubsub.connection is not None
                pubsub.connection.register_connect_callback(self._reconnected)
                if failures:
                    log.info("fan-out listener reconnected to the events Redis")
                    await self._catch_up()
                failures = 0
                while not self._stopping:
                    message = await pubsub.get_message(timeout=1.0)
                    if self._missed:  # before anything published since the reconnection
                        await self._catch_up()
                    if message is not None:
                        await self._on_message(message)
            except (RedisError, OSError) as error:
                if self._stopping:
                    return
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("fan-out listener lost the events Redis: %s", error)
                await asyncio.sleep(min(0.1 * failures, 1.0))
            finally:
                if pubsub.connection is not None:
                    pubsub.connection.deregister_connect_callback(self._reconnected)
                # Bounded: closing towards a hung Redis must not hold up a shutdown.
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await pubsub.aclose()

    async def _reconnected(self, _connection: Any) -> None:
        self._missed = True

    async def _catch_up(self) -> None:
        """After messages may have been missed: re-check rights, then fill what was missed."""
        self._missed = False
        # A socket that lost a stream unheard must not be sent what that stream missed.
        if self.control is not None:
            async with self._lock:
                try:
                    await self.control.recheck_all()
                except Exception:
                    log.exception("could not re-check this node's sockets")
        await self._drop_ops()
        await self.reconcile()

    async def _drop_ops(self) -> None:
        """Tell this node's `ops` subscribers they may have missed events: `ops` keeps no log
        to fill from, so each is dropped as `unavailable`, subscribes again and re-reads."""
        revoked = RevokedMessage(stream=OPS_STREAM, code="unavailable").model_dump()
        for sid in list(self.members.get(OPS_STREAM, ())):
            self.leave(sid, OPS_STREAM)
            await self.sio.emit("revoked", revoked, to=sid, namespace=NAMESPACE)

    async def _on_message(self, message: dict[str, Any]) -> None:
        try:
            payload = json.loads(message["data"])
        except (TypeError, ValueError):
            return
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        # By prefix: a hub on a Redis Cluster hears per-stream channels (`rt:events:{<stream>}`).
        if channel.startswith(CONTROL_CHANNEL):
            if self.control is not None and isinstance(payload, dict):
                async with self._lock:
                    try:
                        await self.control.apply(payload)
                    except Exception:
                        # A fault in acting on one message must not stop this node's delivery.
                        log.exception("could not act on the control message %s", payload)
            return
        if channel == OPS_LOCATION_CHANNEL:
            if OPS_STREAM in self.members:
                await self._send(OPS_STREAM, "location", payload)
            return
        if channel.startswith(LOCATION_CHANNEL):
            room = f"order:{payload.get('order_id')}"
            if room in self.members:
                await self._send(room, "location", payload)
            return
        await self.deliver(payload)

    async def _housekeeping(self) -> None:
        while not self._stopping:
            await wait_for_event(self._stop, RECONCILE_INTERVAL)
            if self._stopping:
                return
            try:
                await self.reconcile()
            except (RedisError, OSError) as error:
                log.debug("reconcile skipped: %s", error)
            await self.drop_slow_clients()

    async def drop_slow_clients(self) -> None:
        """Disconnect every client with more than `max_client_queue` packets waiting for it.

        A client that stops reading (a stalled tab, a dead link that TCP has not noticed yet)
        would otherwise make this node hold every event of its streams in memory. Packets queue
        in Engine.IO once the transport below is full: for a WebSocket, when the kernel buffers
        and the server's write buffer are; for long-polling, as soon as the client stops polling.
        """
        sockets = getattr(self.sio.eio, "sockets", {})
        for eio_sid, sock in list(sockets.items()):
            queue = getattr(sock, "queue", None)
            if queue is None or sock.closed or sock.closing:
                continue
            queued = queue.qsize()
            if queued > self.max_client_queue:
                log.warning("disconnecting a slow client with %d packets queued", queued)
                await self._drop(eio_sid, sock)

    async def _drop(self, eio_sid: str, sock: Any) -> None:
        # Not `eio.disconnect()`: that waits for the queue to drain, which a client that does
        # not read never lets happen (the housekeeping task would hang with it).
        await sock.close(wait=False, abort=True)  # fires `disconnect`: subscriptions go
        self.sio.eio.sockets.pop(eio_sid, None)
        while True:  # free what was queued for it
            try:
                sock.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            sock.queue.task_done()
        # Ends its WebSocket writer (or pending poll) once the transport lets go.
        sock.queue.put_nowait(None)
        if self.on_drop is not None:
            self.on_drop()


async def publish_location(redis: Redis, *, order_id: int, lat: float, lng: float, at: str) -> None:
    """Send a rider's position to the `order:{id}` subscribers on every node (latest wins)."""
    message = LocationMessage(order_id=order_id, lat=lat, lng=lng, at=datetime.fromisoformat(at))
    if is_cluster(redis):
        # Only the nodes serving the order's stream listen to its shard (`realtime.sharded`).
        await redis.spublish(location_channel(f"order:{order_id}"), message.model_dump_json())
        return
    await redis.publish(LOCATION_CHANNEL, message.model_dump_json())
