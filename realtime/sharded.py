"""The fan-out on a Redis Cluster: sharded pub/sub, each node hearing only the streams it serves.

On a single server every node hears every event on one channel. On a cluster that would make
every master forward every event to every node, so publishing capacity would not grow with the
masters. Here each stream has its own shard channels, on the slot of its log (the hash tag
`{<stream>}`): `rt:events:{<stream>}` (published by the append script itself, SPUBLISH),
`rt:control:{<stream>}` (who may follow it changed) and, for an order, `rt:location:{<stream>}`
(its rider's position). A node SSUBSCRIBEs to a stream's channels when the first of its sockets
asks for the stream, before that socket's replay is read (and waits for the confirmation, so
nothing published after the replay's read is missed), and SUNSUBSCRIBEs when its last socket
leaves. Each master then carries only the streams of its slots, to only the nodes that serve
them: adding masters adds publishing capacity.

A stream's events and its control messages share its master's connection, so a node still acts
on a change of rights before any event published after it. Ended sessions and users (no stream
to name) go on the broadcast channel `rt:control`, as on a single server, and so do riders'
positions for the operators (`rt:ops-location`). The operators' `ops` stream hands on every
store's events, which no node hears all of here: the append script also publishes those on
the broadcast channel `rt:ops-events`, which a node listens to while it has an `ops` subscriber.

Any lost subscription (a master killed, a failover that moved its slots, which Redis announces
with an unrequested SUNSUBSCRIBE) makes the node read the cluster's slots again, subscribe
again to every stream it serves, re-check its sockets and fill from the logs what it missed
(`Hub._catch_up`), as after a blip on a single server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError, SlotNotCoveredError

from app.lifecycle import stop_tasks
from realtime.control import CONTROL_CHANNEL, stream_control_channel
from realtime.eventlog import location_channel, stream_channel
from realtime.fanout import Hub
from realtime.ops import OPS_EVENTS_CHANNEL, OPS_LOCATION_CHANNEL, OPS_STREAM

log = logging.getLogger("delivery.realtime.sharded")

# How long a subscriber waits for its master to confirm the subscription before reading its
# replay anyway (what it might miss meanwhile, the reconcile fills).
CONFIRM_TIMEOUT = 2.0
# How often the listener looks up from the broadcast channel for a lost shard subscription.
POLL = 0.25
LOST = (RedisError, OSError, RedisClusterException)


def stream_channels(stream: str) -> list[str]:
    """The shard channels a node listens to for `stream` (one slot: the stream's)."""
    channels = [stream_channel(stream), stream_control_channel(stream)]
    if stream.startswith("order:"):
        channels.append(location_channel(stream))
    return channels


def stream_of(channel: bytes | str) -> str:
    """The stream a shard channel belongs to (its hash tag)."""
    name = channel.decode() if isinstance(channel, bytes) else channel
    return name[name.index("{") + 1 : name.rindex("}")]


class ShardedHub(Hub):
    """The hub on a Redis Cluster: per-stream shard channels, subscribed while followed here."""

    channels = (CONTROL_CHANNEL, OPS_LOCATION_CHANNEL)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The streams this node listens to, and the master each one's channels are on.
        self.listening: dict[str, str] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        # SUNSUBSCRIBE confirmations this node asked for, per stream: any other is a moved slot.
        self._leaving: dict[str, int] = {}
        self._clients: dict[str, Redis] = {}
        self._shards: dict[str, PubSub] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._subscribing = asyncio.Lock()
        self._lost = asyncio.Event()
        self._syncs: set[asyncio.Task[None]] = set()
        # Whether this node listens to the operators' events (it has an `ops` subscriber).
        self._ops = False

    @property
    def cluster(self) -> RedisCluster:
        return self.redis  # type: ignore[return-value]

    # Subscriptions -------------------------------------------------------------------------

    def wanted(self) -> set[str]:
        """The streams some socket of this node follows or is about to."""
        return set(self.members) | set(self.pending)

    async def listen_for(self, stream: str) -> bool:
        """SSUBSCRIBE to `stream`'s channels unless this node already does, and wait for it.

        True when this node was not listening: a change of rights published before the
        subscription went unheard, so the caller reads the rights again.
        """
        if stream == OPS_STREAM:
            return await self._listen_for_ops()
        async with self._subscribing:
            confirmed = self._confirmed.get(stream)
            fresh = confirmed is None or stream not in self.listening
            if fresh:
                confirmed = self._confirmed.setdefault(stream, asyncio.Event())
                try:
                    await self._subscribe(stream)
                except LOST as error:
                    # The listener subscribes again to every stream served here, then fills.
                    log.warning("could not subscribe to %s: %s", stream, error)
                    self._lost.set()
                    return True
        assert confirmed is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONFIRM_TIMEOUT):
                await confirmed.wait()
        return fresh

    def unused(self, stream: str) -> None:
        """No socket here follows `stream` any more: unsubscribe (unless one comes back first)."""
        if stream in self.listening or (stream == OPS_STREAM and self._ops):
            task = asyncio.create_task(
                self._unsubscribe_unused(stream), name="realtime-sunsubscribe"
            )
            self._syncs.add(task)
            task.add_done_callback(self._syncs.discard)

    async def _subscribe(self, stream: str) -> None:
        channels = stream_channels(stream)
        node = self.cluster.get_node_from_key(channels[0])
        if node is None:
            raise SlotNotCoveredError(f"no master holds the slot of {stream}")
        pubsub = await self._shard(node)
        self._confirmed[stream].clear()
        self.listening[stream] = node.name
        await pubsub.ssubscribe(*channels)
        if node.name not in self._readers:
            self._readers[node.name] = asyncio.create_task(
                self._read(pubsub), name=f"realtime-shard-{node.name}"
            )

    async def _listen_for_ops(self) -> bool:
        async with self._subscribing:
            if self._ops:
                return False
            try:
                if self._pubsub is not None:
                    await self._pubsub.subscribe(OPS_EVENTS_CHANNEL)
                    self._ops = True
            except LOST as error:
                log.warning("could not subscribe to the operators' events: %s", error)
                self._lost.set()
            return True

    async def _unsubscribe_unused(self, stream: str) -> None:
        async with self._subscribing:
            if stream == OPS_STREAM:
                if OPS_STREAM not in self.wanted() and self._ops and self._pubsub is not None:
                    self._ops = False
                    try:
                        await self._pubsub.unsubscribe(OPS_EVENTS_CHANNEL)
                    except LOST as error:
                        log.warning("could not unsubscribe from the operators' events: %s", error)
                        self._lost.set()
                return
            if stream in self.wanted() or stream not in self.listening:
                return
            pubsub = self._shards.get(self.listening.pop(stream))
            self._confirmed.pop(stream, None)
            if pubsub is None:
                return
            self._leaving[stream] = self._leaving.get(stream, 0) + 1
            try:
                await pubsub.sunsubscribe(*stream_channels(stream))
            except LOST as error:
                log.warning("could not unsubscribe from %s: %s", stream, error)
                self._lost.set()

    async def _shard(self, node: ClusterNode) -> PubSub:
        pubsub = self._shards.get(node.name)
        if pubsub is None:
            client = self._clients[node.name] = self._client(node)
            pubsub = self._shards[node.name] = client.pubsub()
        return pubsub

    def _client(self, node: ClusterNode) -> Redis:
        # No retries: a lost connection must reach the listener, which subscribes again on the
        # slots' current masters (a reconnection to the same address would find a dead one).
        return Redis(
            host=node.host,
            port=int(node.port),
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=15,
            retry=Retry(NoBackoff(), 0),
        )

    # Listening -----------------------------------------------------------------------------

    async def _read(self, pubsub: PubSub) -> None:
        try:
            while not self._stopping:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    await self._on_shard_message(message)
        except LOST as error:
            if not self._stopping:
                log.warning("lost a shard of the events Redis: %s", error)
                self._lost.set()

    async def _hand_to_ops(self, event: dict[str, Any]) -> None:
        """Nothing from the shards: the operators' events come on their own channel."""

    async def _on_message(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if channel in (OPS_EVENTS_CHANNEL, OPS_EVENTS_CHANNEL.encode()):
            try:
                event = json.loads(message["data"])
            except (TypeError, ValueError):
                return
            async with self._lock:
                if OPS_STREAM in self.members:
                    await self._send(OPS_STREAM, "event", event)
            return
        await super()._on_message(message)

    async def _on_shard_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "smessage":
            await self._on_message(message)
            return
        channel = message["channel"]
        stream = stream_of(channel)
        if channel != stream_channel(stream).encode():
            return  # one confirmation per stream is enough
        if kind == "ssubscribe":
            confirmed = self._confirmed.get(stream)
            if confirmed is not None:
                confirmed.set()
        elif kind == "sunsubscribe":
            if self._leaving.get(stream):
                self._leaving[stream] -= 1
                if not self._leaving[stream]:
                    del self._leaving[stream]
            elif stream in self.listening:
                # Redis unsubscribes the clients of a slot that moved to another master.
                log.info("the slot of %s moved; subscribing again", stream)
                self._lost.set()

    async def _listen(self) -> None:
        failures = 0
        while not self._stopping:
            self._lost.clear()
            try:
                pubsub = await self._open(refresh=failures > 0)
                if failures:
                    log.info("fan-out listener back on every shard of the events Redis")
                    await self._catch_up()
                failures = 0
                while not self._stopping and not self._lost.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL)
                    if message is not None:
                        await self._on_message(message)
                if self._lost.is_set() and not self._stopping:
                    raise RedisClusterException("a shard subscription was lost")
            except LOST as error:
                if self._stopping:
                    return
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("fan-out listener lost the events Redis: %s", error)
                await asyncio.sleep(min(0.1 * failures, 1.0))
            finally:
                await self._close()

    async def _open(self, *, refresh: bool) -> PubSub:
        """Subscribe to the broadcast channel and every stream served (`refresh`: after a loss,
        reading the slots afresh first)."""
        if refresh:
            # After a failover the slot map this client holds may still name a dead master.
            # (Not otherwise: redis-py then recycles every connection of the client.)
            await self.cluster.nodes_manager.initialize()
        else:
            await self.cluster.initialize()
        async with self._subscribing:
            primary = self.cluster.get_primaries()[0]
            client = self._clients["broadcast"] = self._client(primary)
            broadcast = self._pubsub = client.pubsub()
            wanted = self.wanted()
            self._ops = OPS_STREAM in wanted
            await broadcast.subscribe(*self.channels, *([OPS_EVENTS_CHANNEL] if self._ops else []))
            for stream in sorted(wanted - {OPS_STREAM}):
                self._confirmed.setdefault(stream, asyncio.Event())
                await self._subscribe(stream)
        return broadcast

    async def _close(self) -> None:
        """Drop every subscription of this node (the listener makes them again)."""
        readers, self._readers = list(self._readers.values()), {}
        shards, self._shards = list(self._shards.values()), {}
        clients, self._clients = list(self._clients.values()), {}
        broadcast, self._pubsub = self._pubsub, None
        self.listening.clear()
        self._leaving.clear()
        self._ops = False
        for pubsub in [*shards, *([broadcast] if broadcast is not None else [])]:
            if pubsub.connection is not None:
                # Ends a read that would otherwise wait out its timeout (or miss its cancel).
                await pubsub.connection.disconnect(nowait=True)
        for task in readers:
            task.cancel()
        await stop_tasks(readers, grace=1.0)
        for pubsub in [*shards, *([broadcast] if broadcast is not None else [])]:
            with contextlib.suppress(*LOST, TimeoutError):
                async with asyncio.timeout(1.0):
                    await pubsub.aclose()
        for client in clients:
            with contextlib.suppress(*LOST, TimeoutError):
                await client.aclose()

    async def stop(self) -> None:
        """Stop listening, and drop every subscription."""
        await super().stop()
        for task in list(self._syncs):
            task.cancel()
        await stop_tasks(list(self._syncs), grace=1.0)
        await self._close()
