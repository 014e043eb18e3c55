"""Control messages: a change of rights, told to every node so each acts on its own sockets.

Published on the events Redis channel `rt:control`, which every node's fan-out listens on beside
the events (one subscription, read in order: a node acts on a control message before it
delivers any event published after it):

- `{"type": "streams", "streams": [...]}`: who may follow these streams changed; each node
  re-checks, against the database, the sockets that follow them (`realtime.gate`);
- `{"type": "session", "session": "<sha-256 of the id>"}`: a session ended; its sockets are
  disconnected (the id itself is a credential, and stays in the session Redis);
- `{"type": "user", "user_id": N}`: every socket of this user is disconnected.

On a Redis Cluster a `streams` message goes instead on each stream's own shard channel
(`rt:control:{<stream>}`, beside its events: `realtime.sharded`), heard by the nodes that serve it;
the others still go on `rt:control`, which reaches every node of a cluster too.

They are sent right after the change commits. A node that was not listening then re-checks
every socket when it reconnects, and each node sweeps its sockets' sessions periodically.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.redis_clients import is_cluster

log = logging.getLogger("delivery.realtime.control")

CONTROL_CHANNEL = "rt:control"


def stream_control_channel(stream: str) -> str:
    """The shard channel of the control messages about `stream` on a Redis Cluster."""
    return f"{CONTROL_CHANNEL}:{{{stream}}}"


def session_digest(session_id: str) -> str:
    """How a control message names a session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class Control(Protocol):
    """What acts on control messages for one node's sockets (`realtime.gate.Gate`)."""

    async def apply(self, message: dict[str, Any]) -> None:
        """Act on one control message."""

    async def recheck_all(self) -> None:
        """Re-check every socket (control messages may have been missed)."""


class ControlChannel:
    """Tells every node that rights changed (the platform's `Revocations`)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def streams_changed(self, streams: Sequence[str]) -> None:
        """Every node re-checks the sockets that follow `streams`."""
        if not streams:
            return
        if is_cluster(self.redis):
            # On each stream's shard, so that it is ordered with the stream's events.
            await self._publish_sharded(
                {stream_control_channel(s): {"type": "streams", "streams": [s]} for s in streams}
            )
            return
        await self._publish({"type": "streams", "streams": list(streams)})

    async def session_ended(self, session_id: str) -> None:
        """Every node disconnects this session's sockets."""
        await self._publish({"type": "session", "session": session_digest(session_id)})

    async def user_ended(self, user_id: int) -> None:
        """Every node disconnects every socket of this user."""
        await self._publish({"type": "user", "user_id": user_id})

    async def _publish(self, message: dict[str, Any]) -> None:
        # The change itself is committed: failing its request now would tell the client it
        # was not. The nodes' reconnect re-check and session sweep are what is left.
        try:
            await self.redis.publish(CONTROL_CHANNEL, json.dumps(message, separators=(",", ":")))
        except (RedisError, OSError) as error:
            log.error("could not tell the nodes of a change of rights %s: %s", message, error)

    async def _publish_sharded(self, messages: dict[str, dict[str, Any]]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for channel, message in messages.items():
                    pipe.spublish(channel, json.dumps(message, separators=(",", ":")))
                await pipe.execute()
        except (RedisError, OSError) as error:
            log.error("could not tell the nodes of a change of rights %s: %s", messages, error)
